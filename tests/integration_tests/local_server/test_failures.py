"""Failures in the middle of an answer: the sentinel, cuts, stalls, timeouts."""

from __future__ import annotations

import time

import aiohttp
import pytest

from langchain_aichatfree.testing import (
    UPSTREAM_ERRORS,
    LocalServer,
    Reply,
)
from tests.integration_tests.local_server._helpers import (
    SENTINEL,
    generate_url,
    hi,
    post,
    raw_exchange,
    raw_request,
    upstream_body,
)


async def test_fail_after_writes_the_sentinel_and_ends_cleanly(server, session):
    server.script(Reply(chunks=["Hel", "lo"], fail_after=1))
    raw = await raw_exchange(server, raw_request(hi()))
    assert raw.chunks == [b"Hel", SENTINEL]
    assert raw.complete
    assert server.requests[-1].outcome == "sentinel"

    server.script(Reply(text="all", fail_after=5))  # beyond the end: after the last
    answer = await post(session, server, hi())
    assert (answer.status, answer.body) == (200, b"all" + SENTINEL)

    server.script(Reply(text="never", fail_after=0))
    assert (await post(session, server, hi())).body == SENTINEL


async def test_cut_after_leaves_an_incomplete_chunked_body(server, session):
    server.script(Reply(chunks=["a", "b", "c"], cut_after=1))
    async with session.post(generate_url(server), json=hi()) as response:
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    assert server.requests[-1].outcome == "cut"
    assert server.disconnects == 0

    server.script(Reply(text="x", cut_after=0))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post(session, server, hi())
    raw_server_side = server.requests[-1]
    assert raw_server_side.outcome == "cut"


async def test_stall_mid_stream_gives_up_with_the_sentinel(server, session):
    server.script(Reply(chunks=["a", "b"], stall_after=1, stall_seconds=0.1))
    started = time.monotonic()
    answer = await post(session, server, hi())
    assert time.monotonic() - started >= 0.1
    assert (answer.status, answer.body) == (200, b"a" + SENTINEL)
    assert server.requests[-1].outcome == "stalled"


async def test_stall_before_the_first_chunk_is_a_500(server, session):
    server.script(Reply(text="never", stall_after=0, stall_seconds=0.05))
    answer = await post(session, server, hi())
    assert answer.status == 500
    assert answer.body == upstream_body(UPSTREAM_ERRORS["fetch_failed"])
    assert (server.requests[-1].status, server.requests[-1].outcome) == (500, "stalled")


async def test_upstream_timeout_bounds_silences():
    async with (
        LocalServer(upstream_timeout=0.2) as server,
        aiohttp.ClientSession() as s,
    ):
        server.script(
            Reply(chunks=["a", "b"], chunk_delay=30),
            Reply(text="x", first_byte_delay=30),
            Reply(chunks=["a", "b"], stall_after=1),  # default 300 s stall
        )
        started = time.monotonic()
        assert (await post(s, server, hi())).body == b"a" + SENTINEL
        answer = await post(s, server, hi())
        assert answer.status == 500
        assert answer.body == upstream_body(UPSTREAM_ERRORS["fetch_failed"])
        assert (await post(s, server, hi())).body == b"a" + SENTINEL
        assert time.monotonic() - started < 3
        assert [r.outcome for r in server.requests] == ["stalled"] * 3


async def test_first_byte_delay_applies_to_errors(server, session):
    server.script(Reply(error="boom", first_byte_delay=0.2))
    started = time.monotonic()
    answer = await post(session, server, hi())
    assert time.monotonic() - started >= 0.2
    assert answer.body == upstream_body("boom")
