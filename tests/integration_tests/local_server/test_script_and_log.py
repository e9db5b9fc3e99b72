"""The script queue, the responder and the request log."""

from __future__ import annotations

import json
import time

import aiohttp
import pytest

from langchain_aichatfree.testing import (
    LocalServer,
    RecordedRequest,
    Reply,
    echo_responder,
)
from tests.integration_tests.local_server._helpers import (
    gemini_body,
    generate_url,
    hi,
    post,
)


async def test_script_queue_is_fifo_and_falls_back_to_the_responder(server, session):
    server.script("one", Reply(text="two"))
    server.script("three")
    assert (await post(session, server, hi())).body == b"one"
    bad = await post(session, server, {**hi(), "sign": "0" * 64})
    assert bad.status == 401
    assert (await post(session, server, hi())).body == b"two"
    assert (await post(session, server, hi())).body == b"three"
    assert (await post(session, server, hi())).body == b"Echo: hi"


async def test_clear_empties_log_and_queue(server, session):
    server.script("scripted")
    await post(session, server, {**hi(), "sign": "bad"})
    assert len(server.requests) == 1
    server.clear()
    assert server.requests == []
    assert (await post(session, server, hi())).body == b"Echo: hi"


async def test_responder_receives_the_turns():
    seen: list[list[dict[str, str]]] = []

    def responder(turns: list[dict[str, str]]) -> str | Reply:
        seen.append(turns)
        return Reply(text=f"{len(turns)} turns", chunk_size=1)

    async with LocalServer(responder=responder) as server, aiohttp.ClientSession() as s:
        body = gemini_body(("user", "a"), ("model", "b"), ("user", "c"))
        body["messages"][0]["parts"] = [
            {"text": "a1"},
            {"image": "..."},
            {"text": "a2"},
        ]
        assert (await post(s, server, body)).body == b"3 turns"
    assert seen == [
        [
            {"role": "user", "text": "a1a2"},
            {"role": "model", "text": "b"},
            {"role": "user", "text": "c"},
        ]
    ]


def test_echo_responder():
    assert echo_responder([{"role": "user", "text": "x"}]) == "Echo: x"
    turns = [{"role": "user", "text": "q"}, {"role": "assistant", "text": "a"}]
    assert echo_responder(turns) == "Echo: q"


async def test_failing_responder_is_an_upstream_error(caplog):
    def responder(turns: list[dict[str, str]]) -> str:
        raise RuntimeError("oops")

    async with LocalServer(responder=responder) as server, aiohttp.ClientSession() as s:
        answer = await post(s, server, hi())
    assert answer.status == 500
    assert "oops" in json.loads(answer.body)["error"]["message"]
    assert "responder failed" in caplog.text


async def test_request_log_fields(server, session):
    before = time.monotonic()
    body = json.dumps(hi()).encode()
    async with session.post(
        generate_url(server), data=body, headers={"X-Test": "yes", "Origin": "o"}
    ) as response:
        await response.read()
    after = time.monotonic()
    [record] = server.requests
    assert isinstance(record, RecordedRequest)
    assert before <= record.time <= after
    assert record.path == "/api/generate"
    assert record.headers["x-test"] == "yes"
    assert record.headers["Origin"] == "o"
    assert record.body == body
    assert record.payload == hi()
    assert (record.status, record.outcome) == (200, "ok")
    assert record.connection == 1
    with pytest.raises(AttributeError):
        record.outcome = "changed"  # type: ignore[misc]


async def test_not_json_is_logged_with_no_payload(server, session):
    await post(session, server, b"\xff not json")
    [record] = server.requests
    assert (record.payload, record.status, record.outcome) == (None, 500, "malformed")
    assert record.body == b"\xff not json"
