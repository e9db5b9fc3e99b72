"""The one bridge from synchronous callers to the async main path.

aiohttp needs a running event loop, and a synchronous caller may be a plain
script or code that already runs a loop (a notebook cell, a sync helper called
from an async web handler), where `asyncio.run` is refused. So every sync call
runs its coroutine on one background event loop, in one daemon thread shared by
the whole process and started on first use; the caller's thread just waits.
Sessions made on that loop are pooled like any other loop's, so sync calls
reuse connections too.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def _bridge_loop() -> asyncio.AbstractEventLoop:
    """The background loop, started on first use."""
    global _loop, _thread
    with _lock:
        if _loop is None or _thread is None or not _thread.is_alive():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="langchain-aichatfree-sync", daemon=True
            )
            thread.start()
            _loop, _thread = loop, thread
        if threading.current_thread() is _thread:
            msg = (
                "A synchronous ChatAIChatFree call was made from inside its own "
                "background loop; use the async API (ainvoke, astream) there."
            )
            raise RuntimeError(msg)
        return _loop


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on the background loop and wait for its result.

    Args:
        coro: The coroutine.

    Returns:
        Its result; its exception is raised here.
    """
    try:
        loop = _bridge_loop()
    except RuntimeError:
        coro.close()
        raise
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        return future.result()
    except BaseException:
        future.cancel()
        raise


_ITEM, _END, _ERROR = 0, 1, 2


def iterate(factory: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
    """Iterate an async iterator from synchronous code.

    The iterator runs on the background loop and hands each item over as soon
    as it exists. If the caller stops early (or is interrupted), the async
    iterator is cancelled, which closes its connection.

    Args:
        factory: Makes the async iterator (on the background loop).

    Yields:
        Its items, in order; its exception is raised here.
    """
    loop = _bridge_loop()
    items: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()

    async def pump() -> None:
        try:
            async for item in factory():
                items.put((_ITEM, item))
        except BaseException as e:  # handed to the caller's thread
            items.put((_ERROR, e))
            if not isinstance(e, Exception):
                raise
        else:
            items.put((_END, None))

    future = asyncio.run_coroutine_threadsafe(pump(), loop)
    try:
        while True:
            kind, value = items.get()
            if kind == _ITEM:
                yield value
            elif kind == _END:
                return
            else:
                raise value
    finally:
        future.cancel()
