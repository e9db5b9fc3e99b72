"""A TCP proxy on 127.0.0.1 that splits every server write into 1-byte writes.

A real proxy (or a slow network) may hand a response to the client a few bytes
at a time: a client that decides anything from its first read of a body then
sees a fraction of it. Requests pass through unchanged; each byte of the
response is written, and flushed, on its own, with the socket's Nagle delay
off, so the client reads the body in many small pieces.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

from yarl import URL


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, split: bool
) -> None:
    try:
        while data := await reader.read(65536):
            if not split:
                writer.write(data)
                await writer.drain()
                continue
            for index in range(len(data)):
                writer.write(data[index : index + 1])
                await writer.drain()
                await asyncio.sleep(0)  # let each byte leave as its own segment
    except ConnectionError:
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def split_proxy(target: str) -> AsyncIterator[str]:
    """Serve a proxy to `target`'s host and port; yield its base URL.

    Args:
        target: The server's base URL, e.g. ``"http://127.0.0.1:54321"``.

    Yields:
        The proxy's base URL, to use in place of `target`.
    """
    url = URL(target)
    assert url.host is not None
    assert url.port is not None
    host, port = url.host, url.port
    tasks: set[asyncio.Future[Any]] = set()

    async def handle(
        client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        sock = client_writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        server_reader, server_writer = await asyncio.open_connection(host, port)
        both = asyncio.gather(
            _pipe(client_reader, server_writer, split=False),
            _pipe(server_reader, client_writer, split=True),
        )
        tasks.add(both)
        try:
            await both
        finally:
            tasks.discard(both)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    proxy_port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{proxy_port}"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
