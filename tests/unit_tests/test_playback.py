"""`testing/_playback.py`: a `Reply` played to a response (mocked request, no sockets).

The same behaviours over real TCP are in
``tests/integration_tests/local_server/`` (streaming, failures, connections).
"""

from __future__ import annotations

import threading
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from langchain_aichatfree.testing import UPSTREAM_ERRORS, Reply
from langchain_aichatfree.testing._checks import Rejection, upstream_error
from langchain_aichatfree.testing._connections import Connection
from langchain_aichatfree.testing._playback import (
    SENTINEL,
    Playback,
    _is_due,
    plain_response,
)
from langchain_aichatfree.testing._reply import echo_responder
from langchain_aichatfree.testing._request_log import RecordedRequest, RequestLog
from langchain_aichatfree.testing._upstream import FakeUpstream


@pytest.mark.parametrize(
    ("count", "written", "total", "due"),
    [
        (None, 0, 3, False),
        (0, 0, 3, True),
        (1, 0, 3, False),
        (1, 1, 3, True),
        (3, 3, 3, True),
        (9, 3, 3, True),  # past the last write: after the last write
        (9, 2, 3, False),
    ],
)
def test_a_failure_is_due_after_its_count_of_writes(
    count: int | None, written: int, total: int, due: bool
) -> None:
    assert _is_due(count, written, total) is due


def test_a_plain_response_carries_the_rejections_status_body_and_type() -> None:
    rejection = upstream_error("bad")
    response = plain_response(rejection)
    assert (response.status, response.body) == (500, rejection.body)
    assert response.headers["Content-Type"] == rejection.content_type


def test_an_empty_rejection_is_sent_without_body_or_type() -> None:
    response = plain_response(Rejection(404, b"", None, "not_found"))
    assert (response.status, response.body) == (404, None)


class Played:
    """One playback against a mocked request, with what was written."""

    def __init__(self, *, stopping: bool = False, closed: bool = False) -> None:
        self.chunks: list[bytes] = []
        writer = mock.Mock()
        writer.write_headers = mock.AsyncMock()
        writer.write = mock.AsyncMock(side_effect=self.chunks.append)
        writer.write_eof = mock.AsyncMock()
        writer.drain = mock.AsyncMock()
        self.writer = writer
        self.transport = mock.Mock()
        request = make_mocked_request(
            "POST", "/api/generate", writer=writer, transport=self.transport
        )
        self.connection = Connection(1, self.transport)
        self.connection.closed = closed
        self.log = RequestLog(threading.Lock())
        record = self.log.add(
            RecordedRequest(1.0, "/api/generate", {}, b"", None, 200, 1, "pending")
        )
        upstream = FakeUpstream(
            dialect="gemini",
            responder=echo_responder,
            quota=None,
            rechunk=None,
            timeout=300.0,
            lock=threading.Lock(),
        )
        self.playback = Playback(
            request=request,
            connection=self.connection,
            record=record,
            upstream=upstream,
            log=self.log,
            is_stopping=lambda: stopping,
        )

    async def play(self, reply: Reply) -> web.StreamResponse:
        return await self.playback.play(reply)

    @property
    def outcome(self) -> str:
        return self.log.records[-1].outcome


async def test_a_whole_answer_is_written_one_chunk_a_write_and_ended() -> None:
    played = Played()
    response = await played.play(Reply(chunks=["a", "b"]))
    assert response.status == 200
    assert b"".join(played.chunks).endswith(b"b")
    assert played.outcome == "ok"
    played.writer.write_eof.assert_awaited()


async def test_fail_after_writes_the_sentinel_and_ends_cleanly() -> None:
    played = Played()
    await played.play(Reply(chunks=["a", "b"], fail_after=1))
    assert SENTINEL in b"".join(played.chunks)
    assert b"b" not in b"".join(played.chunks).replace(SENTINEL, b"")
    assert played.outcome == "sentinel"


async def test_cut_after_aborts_the_connection() -> None:
    played = Played()
    await played.play(Reply(chunks=["a", "b"], cut_after=1))
    played.transport.abort.assert_called_once()
    assert played.outcome == "cut"


async def test_an_upstream_error_is_a_plain_response() -> None:
    played = Played()
    response = await played.play(Reply(error="bad"))
    assert (response.status, played.outcome) == (500, "error")
    assert played.log.records[-1].status == 500


async def test_a_stall_before_the_first_write_gives_up_with_a_500() -> None:
    played = Played()
    played.playback.upstream.timeout = 0.001
    response = await played.play(Reply(text="x", stall_after=0, stall_seconds=1))
    assert isinstance(response, web.Response)
    assert response.body == upstream_error(UPSTREAM_ERRORS["fetch_failed"]).body
    assert played.outcome == "stalled"


async def test_a_client_already_gone_is_counted_once() -> None:
    played = Played(closed=True)
    await played.play(Reply(text="x", first_byte_delay=1))
    assert (played.log.disconnects, played.outcome) == (1, "client_disconnected")
    assert played.chunks == []


async def test_a_stopping_server_aborts_the_response() -> None:
    played = Played(stopping=True)
    await played.play(Reply(text="x", first_byte_delay=1))
    played.transport.abort.assert_called_once()
    assert (played.log.disconnects, played.outcome) == (0, "server_stopped")
