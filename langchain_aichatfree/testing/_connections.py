"""Connection tracking: which TCP connection a request came on, and when it goes.

Connections are tracked by subclassing aiohttp's low-level `web.Server`, whose
``connection_made``/``connection_lost`` hooks every ``RequestHandler`` (one per
TCP connection) calls; a response that is waiting (a delay or a stall) also
wakes up when its connection is lost, so a client going away is seen at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web


class Connection:
    """What the server knows about one TCP connection."""

    __slots__ = ("closed", "number", "transport", "wake")

    def __init__(self, number: int, transport: asyncio.Transport | None) -> None:
        self.number = number
        self.transport = transport
        self.closed = False
        self.wake = asyncio.Event()
        """Set when the connection is lost or the server stops."""


class ConnectionTracker:
    """The open connections by handler, numbered from 1 in the order accepted."""

    def __init__(self) -> None:
        self.opened = 0
        self._open: dict[web.RequestHandler, Connection] = {}

    def __len__(self) -> int:
        return len(self._open)

    def made(self, handler: web.RequestHandler, transport: asyncio.Transport) -> None:
        """Number a new connection."""
        self.opened += 1
        self._open[handler] = Connection(self.opened, transport)

    def lost(self, handler: web.RequestHandler) -> None:
        """Mark a connection closed and wake whatever waits on it."""
        connection = self._open.pop(handler, None)
        if connection is not None:
            connection.closed = True
            connection.wake.set()

    def of(self, request: web.BaseRequest) -> Connection:
        """The connection a request came on (number 0 if it was never seen)."""
        connection = self._open.get(request.protocol)
        if connection is None:  # not seen through connection_made; be safe
            connection = Connection(0, request.transport)
        return connection

    def wake_all(self) -> None:
        """Wake every waiting response (the server stops)."""
        for connection in list(self._open.values()):
            connection.wake.set()


class TrackingServer(web.Server):
    """aiohttp's low-level server, telling a `ConnectionTracker` about connections."""

    def __init__(
        self,
        handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
        *,
        tracker: ConnectionTracker,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self._tracker = tracker

    def connection_made(
        self, handler: web.RequestHandler, transport: asyncio.Transport
    ) -> None:
        super().connection_made(handler, transport)
        self._tracker.made(handler, transport)

    def connection_lost(
        self, handler: web.RequestHandler, exc: BaseException | None = None
    ) -> None:
        super().connection_lost(handler, exc)
        self._tracker.lost(handler)
