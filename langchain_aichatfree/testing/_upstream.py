"""The fake upstream: which `Reply` answers a request, and the error it makes.

The upstream refuses past its quota, else plays the next scripted reply, else
asks the responder. A failing reply becomes the error response the real server
sends for it (`failure`), in the server's dialect.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from http import HTTPStatus

from langchain_aichatfree.testing._checks import (
    Accepted,
    Dialect,
    Rejection,
    openai_error,
    site_error,
    upstream_error,
)
from langchain_aichatfree.testing._quota import Quota
from langchain_aichatfree.testing._reply import _PREFIX, UPSTREAM_ERRORS, Reply

_log = logging.getLogger("langchain_aichatfree.testing")

Responder = Callable[[list[dict[str, str]]], "str | Reply"]


class FakeUpstream:
    """The model behind the local server.

    Args:
        dialect: The web app family the server imitates.
        responder: Answers a request when nothing is scripted.
        quota: The upstream's limits, or ``None``.
        rechunk: Re-split every successful answer's body into writes of this
            many bytes, or ``None``.
        timeout: How long the server waits for a silent upstream.
        lock: Guards the script (the server's lock, shared with its log).
    """

    def __init__(
        self,
        *,
        dialect: Dialect,
        responder: Responder,
        quota: Quota | None,
        rechunk: int | None,
        timeout: float,
        lock: threading.Lock,
    ) -> None:
        self.dialect: Dialect = dialect
        self.quota = quota
        self.rechunk = rechunk
        self.timeout = timeout
        self._responder = responder
        self._script: deque[Reply] = deque()
        self._lock = lock

    def queue(self, replies: tuple[str | Reply, ...]) -> None:
        """Queue the next answers; a ``str`` means ``Reply(text=...)``.

        Raises:
            TypeError: A reply is neither ``str`` nor `Reply`.
        """
        queued = []
        for reply in replies:
            if isinstance(reply, str):
                reply = Reply(text=reply)
            if not isinstance(reply, Reply):
                raise TypeError(f"expected str or Reply, got {type(reply).__name__}")
            queued.append(reply)
        with self._lock:
            self._script.extend(queued)

    def clear_script(self) -> None:
        """Drop the queued answers (the caller holds the lock)."""
        self._script.clear()

    def next_reply(self, accepted: Accepted) -> Reply:
        """The answer to an accepted request.

        A quota refusal, else the next scripted reply, else the responder's.
        """
        if self.quota is not None:  # the upstream refuses before it answers
            refusal = self.quota.take(self.dialect)
            if refusal is not None:
                return refusal
        with self._lock:
            scripted = self._script.popleft() if self._script else None
        if scripted is not None:
            return scripted
        try:
            reply = self._responder(accepted.turns)
        except Exception as e:
            _log.exception("the LocalServer responder failed")
            return Reply(error=f"responder failed: {e!r}")
        if isinstance(reply, str):
            return Reply(text=reply)
        if isinstance(reply, Reply):
            return reply
        _log.error("the LocalServer responder returned %r", reply)
        return Reply(error=f"responder returned {type(reply).__name__}")

    def failure(self, reply: Reply) -> Rejection | None:
        """The error response a failing reply makes, or ``None`` if it succeeds."""
        if reply.status is not None:
            phrase = _reason(reply.status)
            if self.dialect == "chatgpt-demo":
                return openai_error(reply.status, reply.error or phrase)
            if reply.status != 429 and reply.status < 500:
                # A refusal of the site's own (401, 403...), sent as asked.
                return site_error(reply.status, reply.error or phrase)
            # The real GeminiProChat server answers 500 for an upstream failure.
            return upstream_error(reply.error or f"{_PREFIX}[{reply.status} {phrase}]")
        if reply.error is not None:
            return upstream_error(reply.error)
        return None

    def gave_up_before_first_chunk(self) -> Rejection:
        """The 500 the server sends when the upstream stays silent too long."""
        if self.dialect == "gemini":
            return upstream_error(UPSTREAM_ERRORS["fetch_failed"])
        return upstream_error("fetch failed")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # e.g. 529
        return "Error"
