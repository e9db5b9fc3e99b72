"""Connections: keep-alive, counting, disconnects, stopping, lifecycle errors."""

from __future__ import annotations

import re
import time

import aiohttp
import pytest

from langchain_aichatfree.testing import (
    LocalServer,
    Reply,
)
from tests.integration_tests.local_server._helpers import (
    generate_url,
    hi,
    open_raw,
    post,
    raw_request,
)


async def test_keep_alive_reuses_one_connection(server):
    async with aiohttp.ClientSession() as session:
        for _ in range(3):
            assert (await post(session, server, hi())).status == 200
        assert server.connections_opened == 1
        assert server.open_connections == 1
    assert {r.connection for r in server.requests} == {1}
    async with aiohttp.ClientSession() as session:
        await post(session, server, hi())
    assert server.connections_opened == 2
    assert server.requests[-1].connection == 2
    await server.wait_idle()
    assert server.open_connections == 0


async def test_open_connections_drop_to_zero_after_close(server):
    sessions = [aiohttp.ClientSession() for _ in range(2)]
    try:
        for session in sessions:
            await post(session, server, hi())
        assert server.open_connections == 2
    finally:
        for session in sessions:
            await session.close()
    await server.wait_idle(timeout=2)
    assert server.open_connections == 0
    assert server.connections_opened == 2


async def test_client_closing_mid_stream_counts_a_disconnect(server, session):
    server.script(Reply(chunks=["first", "second"], chunk_delay=30))
    started = time.monotonic()
    async with session.post(generate_url(server), json=hi()) as response:
        assert await response.content.readany() == b"first"
        response.close()  # drop the connection mid-body
    await server.wait_for(lambda: server.disconnects == 1, timeout=2)
    await server.wait_idle(timeout=2)
    assert time.monotonic() - started < 3
    assert server.requests[-1].outcome == "client_disconnected"


async def test_stop_ends_stalled_responses_at_once():
    server = LocalServer()
    await server.start()
    server.script(Reply(chunks=["a", "b"], stall_after=1))
    async with (
        aiohttp.ClientSession() as session,
        session.post(generate_url(server), json=hi()) as response,
    ):
        assert await response.content.readany() == b"a"
        started = time.monotonic()
        await server.stop()
        assert time.monotonic() - started < 2
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    assert server.requests[-1].outcome == "server_stopped"
    await server.stop()  # idempotent


async def test_url_and_lifecycle_errors():
    server = LocalServer()
    with pytest.raises(RuntimeError):
        _ = server.url
    async with server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
        with pytest.raises(RuntimeError):
            await server.start()


@pytest.mark.parametrize("how", ["abort", "close"])
async def test_client_dropping_before_the_headers_leaves_nothing_pending(
    server, caplog, how
):
    """Issue 10 item 15: the headers go out with the first write, which then
    found the transport closing: the request stayed "pending" and aiohttp
    logged the handler's traceback."""
    server.script("hello")
    _, writer = await open_raw(server)
    writer.write(raw_request(hi()))
    await writer.drain()
    if how == "abort":
        writer.transport.abort()
    else:
        writer.close()
    await server.wait_idle(timeout=2)
    await server.wait_for(
        lambda: bool(server.requests) and server.requests[-1].outcome != "pending",
        timeout=2,
    )
    assert server.requests[-1].outcome == "client_disconnected"
    assert server.disconnects == 1
    assert "Error handling request" not in caplog.text
    assert "Traceback" not in caplog.text
