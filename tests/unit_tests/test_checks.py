"""`testing/_checks.py`: the real servers' request checks, as tables (no I/O).

The integration tests drive the same checks through HTTP; here each rule is
one row: a parsed body in, the exact rejection or the accepted turns out.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from langchain_aichatfree.testing import UPSTREAM_ERRORS
from langchain_aichatfree.testing._checks import (
    ERROR_CONTENT_TYPE,
    MALFORMED,
    OPENAI_CONTENT_TYPE,
    Accepted,
    Rejection,
    accepted_passwords,
    check_chatgpt_demo,
    check_gemini,
    check_request,
    openai_error,
    signature,
    upstream_error,
)
from langchain_aichatfree.testing._js import UNDEFINED

SECRET = "k"
PASSWORDS = accepted_passwords("pw")
LAST_ROLE = "Invalid message history: The last message must be from user role."


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def rejected(status: int, message: str) -> Rejection:
    body = json.dumps({"error": {"message": message}}, separators=(",", ":"))
    return Rejection(status, body.encode(), ERROR_CONTENT_TYPE, "rejected")


def gemini(*turns: tuple[str, str], **overrides: Any) -> dict[str, Any]:
    last = turns[-1][1] if turns else ""
    body = {
        "messages": [{"role": r, "parts": [{"text": t}]} for r, t in turns],
        "time": 1,
        "pass": "pw",
        "sign": sha(f"1:{last}:{SECRET}"),
    }
    body.update(overrides)
    return body


def demo(*turns: tuple[str, str], **overrides: Any) -> dict[str, Any]:
    last = turns[-1][1] if turns else ""
    body = {
        "messages": [{"role": r, "content": t} for r, t in turns],
        "time": 1,
        "pass": "pw",
        "sign": sha(f"1:{last}:{SECRET}"),
    }
    body.update(overrides)
    return body


# -- signature and passwords ---------------------------------------------------------

SIGNATURES = [
    # (time, text, secret, the string signed)
    (1, "hi", "", "1:hi:"),
    (1700000000000, "héllo", "s", "1700000000000:héllo:s"),
    (1.0, "x", "", "1:x:"),  # JavaScript prints 1.0 as 1
    (1.5, "x", "", "1.5:x:"),
    (None, "x", "", "null:x:"),
    (UNDEFINED, "x", "", "undefined:x:"),
    ("12", "x", "", "12:x:"),
    (True, "x", "", "true:x:"),
]


@pytest.mark.parametrize(("time", "text", "secret", "signed"), SIGNATURES)
def test_signature_is_sha256_of_what_javascript_prints(
    time: Any, text: str, secret: str, signed: str
) -> None:
    assert signature(time, text, secret) == sha(signed)


PASSWORD_SETTINGS = [
    (None, frozenset()),
    ("", frozenset()),
    ([], frozenset()),
    ("pw", frozenset({"pw"})),
    ("a,b", frozenset({"a,b", "a", "b"})),  # the whole setting is accepted too
    (["a", "b"], frozenset({"a,b", "a", "b"})),
]


@pytest.mark.parametrize(("setting", "accepted"), PASSWORD_SETTINGS)
def test_accepted_passwords(setting: Any, accepted: frozenset[str]) -> None:
    assert accepted_passwords(setting) == accepted


# -- GeminiProChat ------------------------------------------------------------------

GEMINI_ROWS = [
    # (name, body, result): in the real server's order of checks
    ("null body crashes", None, MALFORMED),
    ("no messages", {"pass": "pw"}, rejected(400, LAST_ROLE)),
    ("empty messages", gemini(), rejected(400, LAST_ROLE)),
    ("messages a string", gemini(messages="hi"), rejected(400, LAST_ROLE)),
    ("messages an object crashes", gemini(messages={"a": 1}), MALFORMED),
    ("null last message crashes", gemini(messages=[None]), MALFORMED),
    (
        "last from the model",
        gemini(("user", "a"), ("model", "b")),
        rejected(400, LAST_ROLE),
    ),
    (
        "role before password",
        gemini(("user", "a"), ("model", "b"), **{"pass": "wrong"}),
        rejected(400, LAST_ROLE),
    ),
    (
        "wrong password",
        gemini(("user", "hi"), **{"pass": "no"}),
        rejected(401, "Invalid password."),
    ),
    (
        "no password",
        gemini(("user", "hi"), **{"pass": None}),
        rejected(401, "Invalid password."),
    ),
    (
        "password before signature",
        gemini(("user", "hi"), sign="bad", **{"pass": "no"}),
        rejected(401, "Invalid password."),
    ),
    (
        "wrong signature",
        gemini(("user", "hi"), sign="bad"),
        rejected(401, "Invalid signature."),
    ),
    (
        "parts not a list crashes",
        gemini(("user", "hi"), messages=[{"role": "user", "parts": "hi"}]),
        MALFORMED,
    ),
    (
        "bad role upstream",
        gemini(("system", "s"), ("user", "hi")),
        upstream_error(UPSTREAM_ERRORS["bad_role"]),
    ),
    (
        "not alternating upstream",
        gemini(("user", "a"), ("user", "hi")),
        upstream_error(UPSTREAM_ERRORS["bad_history"]),
    ),
    (
        "starts with the model upstream",
        gemini(("model", "a"), ("user", "hi")),
        upstream_error(UPSTREAM_ERRORS["bad_history"]),
    ),
    (
        "empty text upstream",
        gemini(("user", ""), ("model", "b"), ("user", "hi")),
        upstream_error(UPSTREAM_ERRORS["empty_text"]),
    ),
    (
        "accepted",
        gemini(("user", "a"), ("model", "b"), ("user", "hi")),
        Accepted(
            [
                {"role": "user", "text": "a"},
                {"role": "model", "text": "b"},
                {"role": "user", "text": "hi"},
            ]
        ),
    ),
]


@pytest.mark.parametrize(
    ("body", "result"),
    [row[1:] for row in GEMINI_ROWS],
    ids=[r[0] for r in GEMINI_ROWS],
)
def test_gemini_checks(body: Any, result: Rejection | Accepted) -> None:
    assert check_gemini(body, secret=SECRET, passwords=PASSWORDS) == result


def test_gemini_without_a_password_setting_accepts_any_pass() -> None:
    body = gemini(("user", "hi"), **{"pass": "anything"})
    result = check_gemini(body, secret=SECRET, passwords=frozenset())
    assert isinstance(result, Accepted)


def test_gemini_signs_the_joined_parts_of_the_last_message() -> None:
    body = gemini(("user", "ab"))
    body["messages"][-1]["parts"] = [{"text": "a"}, {"text": "b"}]
    result = check_gemini(body, secret=SECRET, passwords=PASSWORDS)
    assert result == Accepted([{"role": "user", "text": "ab"}])


# -- chatgpt-demo -------------------------------------------------------------------


def invalid(message: str, param: str, code: str) -> Rejection:
    return openai_error(400, message, param=param, code=code)


DEMO_ROWS = [
    ("null body crashes", None, MALFORMED),
    ("no messages", {"pass": "pw"}, rejected(400, "No input text.")),
    ("empty messages", demo(), rejected(400, "No input text.")),
    (
        "wrong password",
        demo(("user", "hi"), **{"pass": "no"}),
        rejected(401, "Invalid password."),
    ),
    (
        "wrong signature",
        demo(("user", "hi"), sign="x"),
        rejected(401, "Invalid signature."),
    ),
    (
        "temperature a string",
        demo(("user", "hi"), temperature="hot"),
        invalid(
            "Invalid type for 'temperature': expected a decimal, but got a string "
            "instead.",
            "temperature",
            "invalid_type",
        ),
    ),
    (
        "temperature too high",
        demo(("user", "hi"), temperature=3),
        invalid(
            "Invalid 'temperature': decimal above maximum value. Expected a value "
            "<= 2, but got 3 instead.",
            "temperature",
            "decimal_above_max_value",
        ),
    ),
    (
        "temperature too low",
        demo(("user", "hi"), temperature=-0.5),
        invalid(
            "Invalid 'temperature': decimal below minimum value. Expected a value "
            ">= 0, but got -0.5 instead.",
            "temperature",
            "decimal_below_min_value",
        ),
    ),
    (
        "bad role",
        demo(("model", "a"), ("user", "hi")),
        invalid(
            "Invalid value: 'model'. Supported values are: 'system', 'assistant' "
            "and 'user'.",
            "messages[0].role",
            "invalid_value",
        ),
    ),
    (
        "content not a string",
        demo(
            ("user", "hi"),
            messages=[{"role": "user", "content": 1}],
            sign=sha(f"1:1:{SECRET}"),
        ),
        invalid(
            "Invalid type for 'messages[0].content': expected a string, but got an "
            "integer instead.",
            "messages[0].content",
            "invalid_type",
        ),
    ),
    (
        "same roles in a row accepted",
        demo(("system", "s"), ("user", "a"), ("user", "hi"), temperature=0.7),
        Accepted(
            [
                {"role": "system", "text": "s"},
                {"role": "user", "text": "a"},
                {"role": "user", "text": "hi"},
            ]
        ),
    ),
]


@pytest.mark.parametrize(
    ("body", "result"), [row[1:] for row in DEMO_ROWS], ids=[r[0] for r in DEMO_ROWS]
)
def test_chatgpt_demo_checks(body: Any, result: Rejection | Accepted) -> None:
    assert check_chatgpt_demo(body, secret=SECRET, passwords=PASSWORDS) == result


OPENAI_KINDS = [
    # (status, type, default code)
    (400, "invalid_request_error", None),
    (401, "invalid_request_error", "invalid_api_key"),
    (404, "invalid_request_error", "model_not_found"),
    (418, "invalid_request_error", None),  # by class
    (429, "requests", "rate_limit_exceeded"),
    (503, "server_error", "service_unavailable"),
    (529, "server_error", None),  # by class
]


@pytest.mark.parametrize(("status", "kind", "code"), OPENAI_KINDS)
def test_openai_error_type_and_code_by_status(
    status: int, kind: str, code: str | None
) -> None:
    error = openai_error(status, "m")
    assert (error.status, error.content_type, error.outcome) == (
        status,
        OPENAI_CONTENT_TYPE,
        "error",
    )
    assert json.loads(error.body) == {
        "error": {"message": "m", "type": kind, "param": None, "code": code}
    }


@pytest.mark.parametrize(
    ("dialect", "body"),
    [("gemini", gemini(("user", "hi"))), ("chatgpt-demo", demo(("user", "hi")))],
)
def test_check_request_runs_the_dialects_own_checks(dialect: Any, body: Any) -> None:
    check = check_gemini if dialect == "gemini" else check_chatgpt_demo
    expected = check(body, secret=SECRET, passwords=PASSWORDS)
    got = check_request(body, dialect=dialect, secret=SECRET, passwords=PASSWORDS)
    assert got == expected
    assert isinstance(got, Accepted)


def test_check_request_tells_the_dialects_apart() -> None:
    # A chatgpt-demo body has no `parts`: malformed for the Gemini server.
    body = demo(("user", "hi"))
    assert (
        check_request(body, dialect="gemini", secret=SECRET, passwords=PASSWORDS)
        == MALFORMED
    )
    assert isinstance(
        check_request(body, dialect="chatgpt-demo", secret=SECRET, passwords=PASSWORDS),
        Accepted,
    )
