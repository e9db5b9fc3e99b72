"""The chatgpt-demo dialect."""

from __future__ import annotations

import json
from typing import Any

import pytest

from langchain_aichatfree.testing import (
    LocalServer,
    Reply,
)
from tests.integration_tests.local_server._helpers import (
    BAD_PASSWORD,
    BAD_SIGNATURE,
    ERROR_CT,
    SENTINEL,
    STREAM_CT,
    raw_exchange,
    raw_request,
    sign,
    upstream_body,
)


def demo_body(
    *turns: tuple[str, str],
    secret: str = "",
    password: str | None = "pw",
    **extra: Any,
) -> dict[str, Any]:
    messages = [{"role": role, "content": text} for role, text in turns]
    last = turns[-1][1] if turns else ""
    return {
        "messages": messages,
        "time": 5,
        "pass": password,
        "sign": sign(5, last, secret),
        **extra,
    }


def openai_body(
    message: str, type_: str, code: str | None, param: str | None = None
) -> bytes:
    error = {"message": message, "type": type_, "param": param, "code": code}
    return json.dumps({"error": error}, separators=(",", ":")).encode()


@pytest.fixture(scope="module")
def server_options() -> dict[str, Any]:
    return {"dialect": "chatgpt-demo", "passwords": "pw", "secret": "k"}


DEMO_ROWS = [
    ("no_messages", {"pass": "pw"}, 400, b'{"error":{"message":"No input text."}}'),
    (
        "empty_messages",
        {"messages": [], "pass": "pw"},
        400,
        b'{"error":{"message":"No input text."}}',
    ),
    (
        "wrong_password",
        demo_body(("user", "hi"), secret="k", password="x"),
        401,
        BAD_PASSWORD,
    ),
    ("bad_signature", demo_body(("user", "hi"), secret="nope"), 401, BAD_SIGNATURE),
    (
        "password_before_signature",
        {**demo_body(("user", "hi")), "pass": None},
        401,
        BAD_PASSWORD,
    ),
    ("not_json", b"{", 500, b""),
]


@pytest.mark.parametrize(
    ("payload", "status", "body"),
    [row[1:] for row in DEMO_ROWS],
    ids=[row[0] for row in DEMO_ROWS],
)
async def test_chatgpt_demo_rows(server, payload, status, body):
    server.script("must not be consumed")
    raw = await raw_exchange(server, raw_request(payload))
    assert (raw.status, raw.body) == (status, body)
    assert raw.headers.get("content-type") == (ERROR_CT if body else None)
    raw = await raw_exchange(server, raw_request(demo_body(("user", "x"), secret="k")))
    assert raw.body == b"must not be consumed"


async def test_chatgpt_demo_success_and_turns():
    seen: list[list[dict[str, str]]] = []

    def responder(turns: list[dict[str, str]]) -> str:
        seen.append(turns)
        return "fine"

    async with LocalServer(dialect="chatgpt-demo", responder=responder) as server:
        payload = demo_body(
            ("system", "be brief"),
            ("user", "hi"),
            ("assistant", "hello"),
            ("user", "how are you?"),
            temperature=0.7,
        )
        raw = await raw_exchange(server, raw_request(payload))
        assert (raw.status, raw.body, raw.complete) == (200, b"fine", True)
        assert raw.headers["content-type"] == STREAM_CT
        assert raw.headers["transfer-encoding"] == "chunked"
        assert server.requests[-1].payload["temperature"] == 0.7
    assert seen == [
        [
            {"role": "system", "text": "be brief"},
            {"role": "user", "text": "hi"},
            {"role": "assistant", "text": "hello"},
            {"role": "user", "text": "how are you?"},
        ]
    ]


async def test_chatgpt_demo_default_responder_echoes_last_user_turn():
    async with LocalServer(dialect="chatgpt-demo") as server:
        payload = demo_body(("user", "q"), ("assistant", "a"), password=None)
        raw = await raw_exchange(server, raw_request(payload))
        # Signature over the LAST message's content, even if it is not a user turn.
        assert (raw.status, raw.body) == (200, b"Echo: q")


@pytest.mark.parametrize(
    ("payload", "body"),
    [
        (
            demo_body(("user", "hi"), secret="k", temperature="hot"),
            openai_body(
                "Invalid type for 'temperature': expected a decimal, but got a "
                "string instead.",
                "invalid_request_error",
                "invalid_type",
                "temperature",
            ),
        ),
        (
            demo_body(("user", "hi"), secret="k", temperature=3),
            openai_body(
                "Invalid 'temperature': decimal above maximum value. Expected a value "
                "<= 2, but got 3 instead.",
                "invalid_request_error",
                "decimal_above_max_value",
                "temperature",
            ),
        ),
        (
            demo_body(("model", "x"), ("user", "hi"), secret="k"),
            openai_body(
                "Invalid value: 'model'. Supported values are: 'system', 'assistant' "
                "and 'user'.",
                "invalid_request_error",
                "invalid_value",
                "messages[0].role",
            ),
        ),
    ],
    ids=["temperature_type", "temperature_range", "role"],
)
async def test_chatgpt_demo_openai_400s(server, payload, body):
    server.script("must not be consumed")
    raw = await raw_exchange(server, raw_request(payload))
    assert (raw.status, raw.body) == (400, body)
    assert server.requests[-1].outcome == "error"


async def test_chatgpt_demo_upstream_errors(server):
    limit = "Rate limit reached for gpt-4o-mini on requests per min (RPM)."
    server.script(
        Reply(status=429, error=limit),
        Reply(status=503),
        Reply(status=529),
        Reply(error="fetch failed"),
        Reply.rate_limited(retry_in=4),
        Reply(chunks=["par", "tial"], fail_after=1),
    )
    ok = raw_request(demo_body(("user", "hi"), secret="k"))
    raw = await raw_exchange(server, ok)
    assert (raw.status, raw.body) == (
        429,
        openai_body(limit, "requests", "rate_limit_exceeded"),
    )
    raw = await raw_exchange(server, ok)
    assert (raw.status, raw.body) == (
        503,
        openai_body("Service Unavailable", "server_error", "service_unavailable"),
    )
    raw = await raw_exchange(server, ok)
    assert (raw.status, raw.body) == (529, openai_body("Error", "server_error", None))
    raw = await raw_exchange(server, ok)
    assert (raw.status, raw.body) == (500, upstream_body("fetch failed"))
    raw = await raw_exchange(server, ok)
    assert raw.status == 429
    assert json.loads(raw.body)["error"]["message"].endswith("Please retry in 4s.")
    raw = await raw_exchange(server, ok)
    assert (raw.status, raw.chunks, raw.complete) == (200, [b"par", SENTINEL], True)
