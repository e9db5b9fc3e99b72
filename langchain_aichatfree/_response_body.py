"""Reading a response's body: the chunk timeout's watchdog, and a bounded read.

Both work on aiohttp's `StreamReader` and do nothing else: the transport uses
`SilenceWatchdog` while it streams an answer, and `read_bounded` for a body it
only needs whole (an error, a page), up to a bound.
"""

from __future__ import annotations

import asyncio

import aiohttp

__all__ = ["MAX_ERROR_BODY", "SilenceWatchdog", "read_bounded"]


class SilenceWatchdog:
    """The chunk timeout while a body is read: the longest wait for bytes.

    aiohttp's `sock_read` re-arms a timer on every network read (a cancelled
    handle and a new one: 3-8 µs a read, the largest per-read cost after
    aiohttp's own). It still times the wait for the headers; then this
    watchdog takes over. It is armed once and re-armed only when it fires, at
    most once per `limit`: it then looks at how long the current read has been
    waiting and sleeps again for the rest if that is under `limit`. Only time
    spent waiting for the server counts: a caller that keeps a piece longer
    than `limit` does not make a server that then answers look silent. On
    expiry it fails the body stream with a timeout, as aiohttp's own read
    timeout does.
    """

    __slots__ = ("_handle", "_limit", "_loop", "_since", "_stream")

    def __init__(self, stream: aiohttp.StreamReader, limit: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._stream = stream
        self._limit = limit
        self._since: float | None = None
        self._handle = self._loop.call_at(self._loop.time() + limit, self._check)

    @classmethod
    def take_over(
        cls, response: aiohttp.ClientResponse, limit: float
    ) -> SilenceWatchdog:
        """Stop aiohttp's per-read timer for the rest of `response`; watch its body.

        The connection's `read_timeout` (which aiohttp's websocket client
        adjusts the same way) is set anew for every request on the connection.
        """
        connection = response.connection
        if connection is not None and connection.protocol is not None:
            connection.protocol.read_timeout = None
        return cls(response.content, limit)

    async def read(self) -> bytes:
        """The stream's `readany`, timed."""
        self._since = self._loop.time()
        try:
            return await self._stream.readany()
        finally:
            self._since = None

    def stop(self) -> None:
        """Disarm the watchdog (the body is done with)."""
        self._handle.cancel()

    def _check(self) -> None:
        """On its timer: fail the read if it has waited `limit`, else re-arm."""
        now = self._loop.time()
        since = self._since
        if since is None or now - since < self._limit:
            start = now if since is None else since
            self._handle = self._loop.call_at(start + self._limit, self._check)
            return
        self._stream.set_exception(
            aiohttp.ServerTimeoutError("Timeout on reading data from socket")
        )


MAX_ERROR_BODY = 64 * 1024
"""Bytes of an error body read (bodies are small; a hostile one is not read whole)."""


async def read_bounded(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """The whole body, or its first `limit` bytes: never just the first read.

    `StreamReader.read(n)` returns whatever is buffered, which behind a proxy
    that splits writes may be one byte of an error's JSON; a body is only
    classified once it is all in (or the bound is reached).

    Args:
        stream: The response's body.
        limit: Most bytes read.

    Returns:
        The bytes read.
    """
    parts: list[bytes] = []
    size = 0
    while size < limit:
        data = await stream.read(limit - size)
        if not data:
            break
        parts.append(data)
        size += len(data)
    return b"".join(parts)
