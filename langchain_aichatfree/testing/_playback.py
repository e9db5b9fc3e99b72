"""Reply playback: one `Reply` written to one response, as `Reply` documents.

First-byte delay, the writes (one HTTP chunk each) with their delays, and the
failures: a cut connection, the ``Internal server error`` sentinel, a stall.
A wait ends early when the client leaves or the server stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from aiohttp import web

from langchain_aichatfree.testing._checks import Rejection
from langchain_aichatfree.testing._connections import Connection
from langchain_aichatfree.testing._reply import Reply
from langchain_aichatfree.testing._request_log import RecordedRequest, RequestLog
from langchain_aichatfree.testing._upstream import FakeUpstream

SENTINEL: Final = b"Internal server error"
"""What the real server writes as its last chunk when the upstream fails."""

_STREAM_CONTENT_TYPE: Final = "text/plain; charset=utf-8"

WakeReason = Literal["elapsed", "gave_up", "lost", "stopping"]


@dataclass
class Playback:
    """The playing of one reply: what it is written to, and where it is logged.

    Attributes:
        request: The HTTP request being answered.
        connection: Its TCP connection.
        record: Its entry in the request log (replaced as the outcome changes).
        upstream: The fake upstream (its dialect, rechunking and timeout).
        log: The server's request log.
        is_stopping: Whether the server is stopping.
        response: The 200 stream, once its headers are under way.
    """

    request: web.BaseRequest
    connection: Connection
    record: RecordedRequest
    upstream: FakeUpstream
    log: RequestLog
    is_stopping: Callable[[], bool]
    response: web.StreamResponse | None = None

    async def play(self, reply: Reply) -> web.StreamResponse:
        """Play ``reply``: delays, writes and failures.

        Returns:
            The response aiohttp finishes.
        """
        try:
            return await self._play(reply)
        except ConnectionError:  # the client left while nothing caught it
            return self._abandon("lost")

    async def _play(self, reply: Reply) -> web.StreamResponse:
        woke = await self._wait(reply.first_byte_delay)
        if woke == "gave_up":
            return self._give_up()
        if woke != "elapsed":
            return self._abandon(woke)
        failure = self.upstream.failure(reply)
        if failure is not None:
            self._change_record(status=failure.status, outcome="error")
            return plain_response(failure)

        writes = reply.writes(self.upstream.rechunk)
        total = len(writes)
        for written in range(total + 1):
            if _is_due(reply.cut_after, written, total):
                self._change_record(outcome="cut")
                if self.connection.transport is not None:
                    self.connection.transport.abort()
                return self._response_so_far()
            if _is_due(reply.fail_after, written, total):
                return await self._end_cleanly(SENTINEL, "sentinel")
            if _is_due(reply.stall_after, written, total):
                woke = await self._wait(reply.stall_seconds)
                if woke in ("lost", "stopping"):
                    return self._abandon(woke)
                if self.response is None:
                    return self._give_up()
                return await self._end_cleanly(SENTINEL, "stalled")
            if written == total:
                return await self._end_cleanly(b"", "ok")
            if written > 0:
                woke = await self._wait(reply.chunk_delay)
                if woke == "gave_up":
                    return await self._end_cleanly(SENTINEL, "stalled")
                if woke != "elapsed":
                    return self._abandon(woke)
            try:
                if (
                    self.response is None
                ):  # the headers go out now: the client may be gone
                    self.response = await _start_stream(self.request)
                await self.response.write(writes[written])
            except ConnectionError:
                return self._abandon("lost")
            await asyncio.sleep(0)  # let each write leave as its own chunk
        raise AssertionError("unreachable")  # pragma: no cover

    async def _wait(self, seconds: float) -> WakeReason:
        """Wait like the server waits for its upstream.

        Returns ``"gave_up"`` when ``seconds`` reaches the upstream timeout
        (after waiting that long), ``"lost"``/``"stopping"`` as soon as the
        connection is lost or the server stops, else ``"elapsed"``.
        """
        if self.is_stopping():
            return "stopping"
        if self.connection.closed:
            return "lost"
        if seconds <= 0:
            return "elapsed"
        timeout = self.upstream.timeout
        try:
            await asyncio.wait_for(self.connection.wake.wait(), min(seconds, timeout))
        except asyncio.TimeoutError:
            return "gave_up" if seconds >= timeout else "elapsed"
        return "stopping" if self.is_stopping() else "lost"

    def _change_record(self, **changes: object) -> None:
        self.record = self.log.update(self.record, **changes)

    def _response_so_far(self) -> web.StreamResponse:
        return self.response if self.response is not None else web.Response()

    async def _end_cleanly(self, last: bytes, outcome: str) -> web.StreamResponse:
        """Write ``last`` (if any) and end the chunked body cleanly."""
        self._change_record(outcome=outcome)
        try:
            if self.response is None:
                self.response = await _start_stream(self.request)
            if last:
                await self.response.write(last)
            await self.response.write_eof()
        except ConnectionError:
            self.record = self.log.client_left(self.record)
        return self._response_so_far()

    def _give_up(self) -> web.StreamResponse:
        """The upstream stayed silent before its first token: a 500."""
        failure = self.upstream.gave_up_before_first_chunk()
        self._change_record(status=failure.status, outcome="stalled")
        return plain_response(failure)

    def _abandon(self, why: WakeReason) -> web.StreamResponse:
        """Stop a response whose client left, or because the server stops."""
        if why == "stopping":
            if self.connection.transport is not None:
                self.connection.transport.abort()
            self._change_record(outcome="server_stopped")
        else:
            self.record = self.log.client_left(self.record)
        # aiohttp finishes the returned response; on a closed transport that
        # fails quietly (it treats it as a premature client disconnection).
        return self._response_so_far()


def _is_due(count: int | None, written: int, total: int) -> bool:
    """Whether a failure set to happen after ``count`` writes is due now.

    A count past the last write triggers after the last write.
    """
    return count is not None and written == min(count, total)


async def _start_stream(request: web.BaseRequest) -> web.StreamResponse:
    """Start the 200 answer; aiohttp sends the headers with the first chunk."""
    response = web.StreamResponse(
        status=200, headers={"Content-Type": _STREAM_CONTENT_TYPE}
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    return response


def plain_response(rejection: Rejection) -> web.Response:
    """A whole (not streamed) response: a refusal or an error."""
    headers = (
        {"Content-Type": rejection.content_type}
        if rejection.content_type is not None
        else None
    )
    return web.Response(
        status=rejection.status, body=rejection.body or None, headers=headers
    )
