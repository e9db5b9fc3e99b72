"""The request log: every POST the local server received, and how it ended."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    """One POST the local server received, and what it answered.

    The entry in `LocalServer.requests` is appended when the response is decided
    and replaced by an updated copy when the response ends (records are frozen,
    so a reference taken earlier keeps the outcome it had then). The final
    outcome is in place before the response's last byte is sent.

    Attributes:
        time: ``time.monotonic()`` when the request was received.
        path: The request path, e.g. ``"/api/generate"``.
        headers: The request headers (case-insensitive).
        body: The raw request body.
        payload: The parsed JSON body, or ``None`` when it is not JSON.
        status: The status sent (or being sent).
        connection: The TCP connection's number (1 for the server's first
            connection); the same across keep-alive requests.
        outcome: ``"pending"`` (the response is under way), ``"ok"`` (complete
            answer), ``"sentinel"`` (``fail_after``: ``Internal server error``
            then a clean end), ``"stalled"`` (the server gave up on a silent
            upstream), ``"cut"`` (TCP connection aborted), ``"error"`` (an
            upstream error before the first token), ``"rejected"`` (400/401
            from the checks), ``"malformed"`` (500 with an empty body),
            ``"not_found"`` (404), ``"client_disconnected"`` (the client went
            away first) or ``"server_stopped"`` (aborted by `LocalServer.stop`).
    """

    time: float
    path: str
    headers: Mapping[str, str]
    body: bytes
    payload: Any
    status: int
    connection: int
    outcome: str


class RequestLog:
    """The records, in order, and how many clients left before their answer ended.

    Args:
        lock: Guards ``records`` (the server's lock, shared with its script).
    """

    def __init__(self, lock: threading.Lock) -> None:
        self.records: list[RecordedRequest] = []
        self.disconnects = 0
        self._lock = lock

    def add(self, record: RecordedRequest) -> RecordedRequest:
        """Append a record and return it."""
        with self._lock:
            self.records.append(record)
        return record

    def update(self, record: RecordedRequest, **changes: Any) -> RecordedRequest:
        """Replace ``record`` by a copy with ``changes``; return the copy."""
        new = dataclasses.replace(record, **changes)
        with self._lock:
            for index in range(len(self.records) - 1, -1, -1):
                if self.records[index] is record:
                    self.records[index] = new
                    break
        return new

    def client_left(self, record: RecordedRequest) -> RecordedRequest:
        """Count a client that went away and record it as its outcome."""
        self.disconnects += 1
        return self.update(record, outcome="client_disconnected")
