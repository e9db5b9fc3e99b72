"""`testing/_upstream.py`: the fake upstream's replies and its errors (no I/O)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from langchain_aichatfree.testing import UPSTREAM_ERRORS, Quota, Reply
from langchain_aichatfree.testing._checks import (
    Accepted,
    Rejection,
    openai_error,
    site_error,
    upstream_error,
)
from langchain_aichatfree.testing._reply import _PREFIX, echo_responder
from langchain_aichatfree.testing._upstream import FakeUpstream

HI = Accepted([{"role": "user", "text": "hi"}])


def upstream(**options: Any) -> FakeUpstream:
    settings: dict[str, Any] = {
        "dialect": "gemini",
        "responder": echo_responder,
        "quota": None,
        "rechunk": None,
        "timeout": 300.0,
        "lock": threading.Lock(),
    }
    settings.update(options)
    return FakeUpstream(**settings)


def test_scripted_replies_come_first_in_order_then_the_responder() -> None:
    fake = upstream()
    fake.queue(("one", Reply(text="two")))
    assert [fake.next_reply(HI).text for _ in range(3)] == ["one", "two", "Echo: hi"]


def test_clearing_the_script_leaves_the_responder() -> None:
    fake = upstream()
    fake.queue(("one",))
    fake.clear_script()
    assert fake.next_reply(HI) == Reply(text="Echo: hi")


def test_a_reply_of_another_type_is_refused_and_nothing_is_queued() -> None:
    fake = upstream()
    with pytest.raises(TypeError, match="expected str or Reply, got int"):
        fake.queue(("one", 2))  # type: ignore[arg-type]
    assert fake.next_reply(HI).text == "Echo: hi"


def test_the_quota_refuses_before_the_script_is_consumed() -> None:
    fake = upstream(quota=Quota(rpm=1))
    fake.queue(("one", "two"))
    assert fake.next_reply(HI).text == "one"
    refusal = fake.next_reply(HI)
    assert refusal.status == 429
    fake.quota = None
    assert fake.next_reply(HI).text == "two"


def failing_responder(turns: list[dict[str, str]]) -> str:
    raise RuntimeError("boom")


def wrong_responder(turns: list[dict[str, str]]) -> Any:
    return 42


@pytest.mark.parametrize(
    ("responder", "expected"),
    [
        (lambda turns: "plain", Reply(text="plain")),
        (lambda turns: Reply(text="x", chunk_size=1), Reply(text="x", chunk_size=1)),
        (failing_responder, Reply(error="responder failed: RuntimeError('boom')")),
        (wrong_responder, Reply(error="responder returned int")),
    ],
)
def test_what_the_responder_returns_becomes_a_reply(
    responder: Any, expected: Reply
) -> None:
    assert upstream(responder=responder).next_reply(HI) == expected


@pytest.mark.parametrize(
    ("dialect", "reply", "expected"),
    [
        ("gemini", Reply(text="ok"), None),
        ("gemini", Reply(error="bad"), upstream_error("bad")),
        ("gemini", Reply(status=403), site_error(403, "Forbidden")),
        ("gemini", Reply(status=401, error="no"), site_error(401, "no")),
        (
            "gemini",
            Reply(status=429),
            upstream_error(f"{_PREFIX}[429 Too Many Requests]"),
        ),
        ("gemini", Reply(status=529), upstream_error(f"{_PREFIX}[529 Error]")),
        ("chatgpt-demo", Reply(status=429), openai_error(429, "Too Many Requests")),
        ("chatgpt-demo", Reply(status=500, error="x"), openai_error(500, "x")),
        ("chatgpt-demo", Reply(error="bad"), upstream_error("bad")),
    ],
)
def test_a_failing_reply_makes_the_real_servers_error(
    dialect: Any, reply: Reply, expected: Rejection | None
) -> None:
    assert upstream(dialect=dialect).failure(reply) == expected


@pytest.mark.parametrize(
    ("dialect", "message"),
    [("gemini", UPSTREAM_ERRORS["fetch_failed"]), ("chatgpt-demo", "fetch failed")],
)
def test_a_silent_upstream_makes_a_fetch_failed_500(dialect: Any, message: str) -> None:
    rejection = upstream(dialect=dialect).gave_up_before_first_chunk()
    assert rejection == upstream_error(message)
    assert rejection.status == 500
