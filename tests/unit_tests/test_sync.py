"""`_sync`: the one bridge that runs the async path for synchronous callers."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Generator

import pytest

from langchain_aichatfree import _sync


async def answer(value: int) -> int:
    await asyncio.sleep(0)
    return value


async def fail() -> None:
    await asyncio.sleep(0)
    raise ValueError("from the loop")


def test_run_returns_the_result_on_the_shared_background_loop() -> None:
    async def where() -> str:
        return threading.current_thread().name

    assert _sync.run(answer(7)) == 7
    assert _sync.run(where()) == "langchain-aichatfree-sync"
    assert _sync.run(where()) == "langchain-aichatfree-sync"  # the same thread


def test_run_raises_the_coroutines_exception_here() -> None:
    with pytest.raises(ValueError, match="from the loop"):
        _sync.run(fail())


def test_run_works_where_a_loop_is_already_running() -> None:
    async def caller() -> int:  # sync code called from async code
        return _sync.run(answer(3))

    assert asyncio.run(caller()) == 3


def test_a_call_from_the_bridge_loop_itself_is_refused() -> None:
    async def reenter() -> None:
        coro = answer(1)
        try:
            _sync.run(coro)
        finally:
            assert inspect.getcoroutinestate(coro) == "CORO_CLOSED"

    with pytest.raises(RuntimeError, match="use the async API"):
        _sync.run(reenter())


async def count(n: int, *, then: BaseException | None = None) -> AsyncIterator[int]:
    for i in range(n):
        await asyncio.sleep(0)
        yield i
    if then is not None:
        raise then


def test_iterate_yields_every_item_in_order() -> None:
    assert list(_sync.iterate(lambda: count(5))) == [0, 1, 2, 3, 4]
    assert list(_sync.iterate(lambda: count(0))) == []


def test_iterate_raises_the_iterators_exception_after_its_items() -> None:
    seen = []
    with pytest.raises(ValueError, match="late"):
        for item in _sync.iterate(lambda: count(2, then=ValueError("late"))):
            seen.append(item)
    assert seen == [0, 1]


def test_stopping_early_cancels_the_async_iterator() -> None:
    finished = threading.Event()

    async def endless() -> AsyncIterator[int]:
        try:
            i = 0
            while True:
                await asyncio.sleep(0.001)
                yield i
                i += 1
        finally:
            finished.set()  # what closes a connection runs here

    iterator = _sync.iterate(endless)
    assert next(iterator) == 0
    assert isinstance(iterator, Generator)
    iterator.close()  # what `break` does
    assert finished.wait(5)


def test_the_bridge_restarts_if_its_thread_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _sync.run(answer(0))  # started
    dead = threading.Thread(target=lambda: None)
    dead.start()
    dead.join()
    monkeypatch.setattr(_sync, "_thread", dead)
    monkeypatch.setattr(_sync, "_loop", _sync._loop)  # put back afterwards
    assert _sync.run(answer(5)) == 5
    restarted, loop = _sync._thread, _sync._loop
    assert restarted is not dead
    assert restarted is not None
    assert loop is not None
    loop.call_soon_threadsafe(loop.stop)
    restarted.join(5)
    loop.close()
