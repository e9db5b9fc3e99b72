"""`_sessions`: the session pool, on real event loops, without a network.

Making an aiohttp session opens no socket, so what is checked here is only when
each session is closed (the sockets, and the calls through them, are the
integration tests' business).
"""

from __future__ import annotations

import asyncio
import copy
import gc
import pickle
import threading

import aiohttp
import pytest

from langchain_aichatfree._sessions import SessionPool


def test_one_session_per_loop_reused_and_closed_by_aclose() -> None:
    pool = SessionPool()

    async def use() -> aiohttp.ClientSession:
        first = await pool.session()
        assert await pool.session() is first
        await pool.aclose()
        assert first.closed
        again = await pool.session()  # a new one after closing
        assert again is not first
        await pool.aclose()
        return again

    assert asyncio.run(use()).closed


def test_the_loop_ending_closes_its_session() -> None:
    pool = SessionPool()

    async def use() -> aiohttp.ClientSession:
        return await pool.session()

    session = asyncio.run(use())  # shutdown_asyncgens ends the closer
    assert session.closed


def test_close_from_sync_code_closes_a_running_loops_session() -> None:
    pool = SessionPool()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        session = asyncio.run_coroutine_threadsafe(pool.session(), loop).result(5)
        assert not session.closed
        pool.close()
        assert session.closed
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_close_after_the_loop_stopped_still_closes_the_session() -> None:
    pool = SessionPool()
    loop = asyncio.new_event_loop()
    session = loop.run_until_complete(pool.session())
    pool.close()  # the loop is not running: closed synchronously
    assert session.closed
    loop.close()


def test_a_closed_loops_session_is_pruned_on_next_use() -> None:
    pool = SessionPool()
    loop = asyncio.new_event_loop()
    stale = loop.run_until_complete(pool.session())
    loop.close()

    async def use() -> aiohttp.ClientSession:
        fresh = await pool.session()
        await pool.aclose()
        return fresh

    assert asyncio.run(use()) is not stale
    assert stale.closed


def test_garbage_collecting_the_pool_closes_its_sessions() -> None:
    pool = SessionPool()
    loop = asyncio.new_event_loop()
    session = loop.run_until_complete(pool.session())
    del pool
    gc.collect()
    assert session.closed
    loop.close()


def test_aclose_schedules_other_loops_sessions() -> None:
    pool = SessionPool()
    other = asyncio.new_event_loop()
    elsewhere = other.run_until_complete(pool.session())

    async def use() -> aiohttp.ClientSession:
        here = await pool.session()
        await pool.aclose()
        return here

    assert asyncio.run(use()).closed
    assert elsewhere.closed  # its loop was not running: closed at once
    other.close()


@pytest.mark.parametrize("duplicate", [copy.copy, copy.deepcopy, pickle.dumps])
def test_a_copied_pool_starts_empty(duplicate: object) -> None:
    pool = SessionPool()
    loop = asyncio.new_event_loop()
    session = loop.run_until_complete(pool.session())
    copied = duplicate(pool)  # type: ignore[operator]
    if isinstance(copied, bytes):
        copied = pickle.loads(copied)
    assert isinstance(copied, SessionPool)
    assert copied._sessions == {}
    pool.close()
    assert session.closed
    loop.close()
