"""The session pool: one `aiohttp.ClientSession` per event loop, closed cleanly.

A session is reused across calls on its loop (keep-alive). Each has a closer:
an async generator started on its loop and left suspended, whose end closes
the session. The loop's `shutdown_asyncgens()` ends it when the loop ends, and
`SessionPool.aclose()`, `close()` and garbage collection of the pool end it
otherwise, from any thread and whatever state the loop is in: a session is
never left for aiohttp to warn about.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncGenerator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp

__all__ = ["MAX_CONNECTIONS", "SessionClosed", "SessionPool"]

MAX_CONNECTIONS = 1000
"""Connections one session may keep open at once (a cap, not a pool size)."""

_BACKGROUND_TASKS: set[asyncio.Task[None]] = set()
"""Closers scheduled on their running loop, kept until they are done."""


class SessionClosed(aiohttp.ClientConnectionError):
    """Set on a body being read when its session is closed under it."""


@dataclass(slots=True)
class _PooledSession:
    """A session of the pool, with what closes it and what reads from it."""

    session: aiohttp.ClientSession
    closer: AsyncGenerator[None, None]
    """Suspended in the loop's care; ending it closes the session."""
    reading: set[aiohttp.StreamReader]
    """The bodies calls are reading from the session right now."""


async def _session_closer(
    session: aiohttp.ClientSession, reading: set[aiohttp.StreamReader]
) -> AsyncGenerator[None, None]:
    """Wait, suspended; when ended, end the bodies being read and close `session`."""
    try:
        yield
    finally:
        # aiohttp's connector drops a closed connection's body stream without
        # ending it: a read waiting on it would wait for `chunk_timeout` (or
        # forever), and a read started later raises a bare RuntimeError. End
        # each body being read first, so its call stops at once and can say why.
        for stream in list(reading):
            # On a closed loop (a pool closed after it) a waiting read's future
            # cannot be woken: that read will never run again anyway.
            with contextlib.suppress(RuntimeError):
                stream.set_exception(SessionClosed("the session was closed"))
        reading.clear()
        await session.close()


async def _end_closer(closer: AsyncGenerator[None, None]) -> None:
    """End a session's closer (so the session closes)."""
    await closer.aclose()


def _run_without_loop(awaitable: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine that needs no loop, here and now.

    Closing a session whose loop is closed or stopped does no real waiting:
    aiohttp closes the connector's transports synchronously before its first
    await, which marks the session closed. Should the coroutine still want to
    wait for something, that wait is abandoned (a stopped loop never finishes it).
    """
    try:
        awaitable.send(None)
    except StopIteration:
        return
    awaitable.close()


def _close_pooled(loop: asyncio.AbstractEventLoop, pooled: _PooledSession) -> None:
    """Close a pooled session from any thread, as its loop's state allows."""
    if loop.is_closed() or not loop.is_running():
        _run_without_loop(_end_closer(pooled.closer))
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        task = loop.create_task(_end_closer(pooled.closer))
        _BACKGROUND_TASKS.add(task)
        task.add_done_callback(_BACKGROUND_TASKS.discard)
        return
    future = asyncio.run_coroutine_threadsafe(_end_closer(pooled.closer), loop)
    with contextlib.suppress(Exception):
        future.result(timeout=2.0)


def _close_all(sessions: dict[asyncio.AbstractEventLoop, _PooledSession]) -> None:
    """Close every session of a pool (its finalizer: the pool is gone)."""
    for loop, pooled in list(sessions.items()):
        _close_pooled(loop, pooled)
    sessions.clear()


class SessionPool:
    """One aiohttp session per event loop, for one chat model.

    A session is made the first time a loop calls, and reused by every later
    call on that loop; it is closed as the module docstring says.
    """

    def __init__(self) -> None:
        self._sessions: dict[asyncio.AbstractEventLoop, _PooledSession] = {}
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _close_all, self._sessions)

    def __reduce__(self) -> tuple[type[SessionPool], tuple[()]]:
        # A copy or an unpickled model starts with no sessions of its own.
        return (SessionPool, ())

    async def session(self, *, verify_ssl: bool = True) -> aiohttp.ClientSession:
        """The current loop's session, made on first use.

        Args:
            verify_ssl: Whether TLS certificates are verified (the pool belongs to
                one model, whose setting does not change).

        Returns:
            The session.
        """
        loop = asyncio.get_running_loop()
        pooled = self._sessions.get(loop)
        if pooled is not None and not pooled.session.closed:
            return pooled.session
        self._prune()
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS, ssl=verify_ssl),
            auto_decompress=True,
        )
        reading: set[aiohttp.StreamReader] = set()
        pooled = _PooledSession(session, _session_closer(session, reading), reading)
        with self._lock:
            self._sessions[loop] = pooled
        await pooled.closer.__anext__()  # started: now the loop will end it
        return session

    def reading(self, session: aiohttp.ClientSession) -> set[aiohttp.StreamReader]:
        """Where a call registers the body it reads from a pooled `session`.

        Closing the session ends every body registered here with
        `SessionClosed`, so a call reading one stops at once.

        Args:
            session: A session this pool returned on the running loop.

        Returns:
            The set to add the body to while reading it (a throwaway set if the
            session is no longer the pool's, e.g. already closed).
        """
        pooled = self._sessions.get(asyncio.get_running_loop())
        if pooled is None or pooled.session is not session:
            return set()
        return pooled.reading

    def _remove(
        self, which: Callable[[asyncio.AbstractEventLoop], bool]
    ) -> list[tuple[asyncio.AbstractEventLoop, _PooledSession]]:
        """Take the sessions of the loops `which` selects out of the pool."""
        with self._lock:
            removed = [(loop, p) for loop, p in self._sessions.items() if which(loop)]
            for loop, _ in removed:
                del self._sessions[loop]
        return removed

    def _prune(self) -> None:
        """Close the sessions of loops that have closed."""
        for loop, pooled in self._remove(lambda loop: loop.is_closed()):
            _close_pooled(loop, pooled)

    async def aclose(self) -> None:
        """Close every session: the current loop's awaited, others scheduled."""
        current = asyncio.get_running_loop()
        for loop, pooled in self._remove(lambda _: True):
            if loop is current:
                await _end_closer(pooled.closer)
            else:
                _close_pooled(loop, pooled)

    def close(self) -> None:
        """Close every session from synchronous code."""
        for loop, pooled in self._remove(lambda _: True):
            _close_pooled(loop, pooled)
