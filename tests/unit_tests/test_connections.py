"""`testing/_connections.py`: connections numbered, closed and woken (no sockets)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from langchain_aichatfree.testing._connections import ConnectionTracker


def handler() -> Any:
    return object()


def transport() -> Any:
    return SimpleNamespace()


def test_connections_are_numbered_from_one_in_the_order_made() -> None:
    tracker = ConnectionTracker()
    a, b = handler(), handler()
    tracker.made(a, transport())
    tracker.made(b, transport())
    assert (tracker.opened, len(tracker)) == (2, 2)
    request: Any = SimpleNamespace(protocol=b, transport=None)
    assert tracker.of(request).number == 2


def test_a_lost_connection_is_closed_woken_and_forgotten() -> None:
    tracker = ConnectionTracker()
    a = handler()
    tracker.made(a, transport())
    request: Any = SimpleNamespace(protocol=a, transport=None)
    connection = tracker.of(request)
    tracker.lost(a)
    assert connection.closed
    assert connection.wake.is_set()
    assert (tracker.opened, len(tracker)) == (1, 0)
    tracker.lost(a)  # twice: nothing more happens
    assert len(tracker) == 0


def test_a_request_on_an_unseen_connection_gets_number_zero() -> None:
    tracker = ConnectionTracker()
    seen = transport()
    request: Any = SimpleNamespace(protocol=handler(), transport=seen)
    connection = tracker.of(request)
    assert (connection.number, connection.transport, connection.closed) == (
        0,
        seen,
        False,
    )


def test_stopping_wakes_every_open_connection_without_closing_it() -> None:
    tracker = ConnectionTracker()
    handlers = [handler(), handler()]
    for each in handlers:
        tracker.made(each, transport())
    connections = [
        tracker.of(SimpleNamespace(protocol=each, transport=None))  # type: ignore[arg-type]
        for each in handlers
    ]
    tracker.wake_all()
    assert all(c.wake.is_set() and not c.closed for c in connections)
    assert len(tracker) == 2
