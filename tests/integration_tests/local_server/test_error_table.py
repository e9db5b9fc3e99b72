"""The error table (every refusal byte for byte) and the order of the checks."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from langchain_aichatfree.testing import (
    UPSTREAM_ERRORS,
    LocalServer,
    Reply,
)
from tests.integration_tests.local_server._helpers import (
    BAD_PASSWORD,
    BAD_SIGNATURE,
    ERROR_CT,
    LAST_ROLE,
    gemini_body,
    hi,
    post,
    raw_exchange,
    raw_request,
    upstream_body,
)


def _ok(*turns: tuple[str, str], **kwargs: Any) -> dict[str, Any]:
    return gemini_body(*turns, secret="k", password="pw", **kwargs)


ERROR_ROWS: list[tuple[str, Any, int, bytes, str | None]] = [
    ("not_json", b"{not json", 500, b"", None),
    ("nan_literal", b'{"messages":NaN}', 500, b"", None),
    ("json_null", b"null", 500, b"", None),
    ("empty_body", b"", 500, b"", None),
    (
        "last_without_parts",
        {"messages": [{"role": "user"}], "pass": "pw", "time": 1, "sign": "x"},
        500,
        b"",
        None,
    ),
    (
        "history_without_parts",
        {
            **_ok(("user", "a"), ("model", "b"), ("user", "c")),
            "messages": [
                {"role": "user", "parts": [{"text": "a"}]},
                {"role": "model"},
                {"role": "user", "parts": [{"text": "c"}]},
            ],
        },
        500,
        b"",
        None,
    ),
    ("no_messages", {"pass": "pw"}, 400, LAST_ROLE, ERROR_CT),
    ("empty_messages", {"messages": [], "pass": "pw"}, 400, LAST_ROLE, ERROR_CT),
    ("last_is_model", _ok(("user", "a"), ("model", "b")), 400, LAST_ROLE, ERROR_CT),
    (
        "wrong_password",
        {**_ok(("user", "hi")), "pass": "nope"},
        401,
        BAD_PASSWORD,
        ERROR_CT,
    ),
    (
        "missing_password",
        {**_ok(("user", "hi")), "pass": None},
        401,
        BAD_PASSWORD,
        ERROR_CT,
    ),
    (
        "wrong_secret",
        gemini_body(("user", "hi"), secret="other", password="pw"),
        401,
        BAD_SIGNATURE,
        ERROR_CT,
    ),
    (
        "system_role",
        _ok(("system", "be brief"), ("user", "hi")),
        500,
        upstream_body(UPSTREAM_ERRORS["bad_role"]),
        ERROR_CT,
    ),
    (
        "assistant_role",
        _ok(("user", "a"), ("assistant", "b"), ("user", "c")),
        500,
        upstream_body(UPSTREAM_ERRORS["bad_role"]),
        ERROR_CT,
    ),
    (
        "starts_with_model",
        _ok(("model", "hello"), ("user", "hi")),
        500,
        upstream_body(UPSTREAM_ERRORS["bad_history"]),
        ERROR_CT,
    ),
    (
        "two_users_in_a_row",
        _ok(("user", "a"), ("user", "b")),
        500,
        upstream_body(UPSTREAM_ERRORS["bad_history"]),
        ERROR_CT,
    ),
    (
        "empty_last_text",
        _ok(("user", "")),
        500,
        upstream_body(UPSTREAM_ERRORS["empty_text"]),
        ERROR_CT,
    ),
    (
        "empty_history_text",
        _ok(("user", "a"), ("model", ""), ("user", "c")),
        500,
        upstream_body(UPSTREAM_ERRORS["empty_text"].replace("[0]", "[1]", 1)),
        ERROR_CT,
    ),
]


@pytest.mark.parametrize(
    ("payload", "status", "body", "content_type"),
    [row[1:] for row in ERROR_ROWS],
    ids=[row[0] for row in ERROR_ROWS],
)
async def test_error_rows(payload, status, body, content_type):
    async with LocalServer(secret="k", passwords="pw,other") as server:
        server.script("must not be consumed")
        raw = await raw_exchange(server, raw_request(payload))
        assert raw.status == status
        assert raw.body == body
        assert raw.headers.get("content-type") == content_type
        if not body:
            assert raw.headers["content-length"] == "0"
        # Refused before the upstream call: the script is still there.
        raw = await raw_exchange(server, raw_request(_ok(("user", "hi"))))
        assert (raw.status, raw.body) == (200, b"must not be consumed")


async def test_accepted_passwords_split_on_commas():
    async with (
        LocalServer(passwords="pw,other") as server,
        aiohttp.ClientSession() as s,
    ):
        for password in ("pw", "other", "pw,other"):
            answer = await post(s, server, hi(password=password))
            assert answer.status == 200, password
    async with (
        LocalServer(passwords=["a", "b"]) as server,
        aiohttp.ClientSession() as s,
    ):
        assert (await post(s, server, hi(password="b"))).status == 200
        assert (await post(s, server, hi(password="c"))).body == BAD_PASSWORD


@pytest.mark.parametrize("key", sorted(UPSTREAM_ERRORS))
async def test_upstream_errors(server, session, key):
    server.script(Reply(error=UPSTREAM_ERRORS[key]))
    answer = await post(session, server, hi())
    assert answer.status == 500
    assert answer.body == upstream_body(UPSTREAM_ERRORS[key])
    assert answer.headers["Content-Type"] == ERROR_CT
    assert server.requests[-1].outcome == "error"
    assert server.requests[-1].status == 500


def test_upstream_error_texts():
    assert set(UPSTREAM_ERRORS) == {
        "quota_old",
        "quota_new",
        "quota_short",
        "upstream_500",
        "upstream_503",
        "fetch_failed",
        "bad_history",
        "bad_role",
        "empty_text",
        "api_key_invalid",
    }
    prefix = "[GoogleGenerativeAI Error]: Error fetching from  "
    assert UPSTREAM_ERRORS["quota_old"].startswith(
        prefix + "[429 Too Many Requests] Quota exceeded for quota metric"
    )
    assert UPSTREAM_ERRORS["quota_new"].startswith(
        prefix + "[429 Too Many Requests] You exceeded your current quota"
    )
    assert "Quota exceeded for metric: " in UPSTREAM_ERRORS["quota_new"]
    assert UPSTREAM_ERRORS["quota_new"].endswith("Please retry in 47.17s.")
    assert UPSTREAM_ERRORS["quota_short"] == (
        prefix
        + "[429 Too Many Requests] Resource has been exhausted (e.g. check quota)."
    )
    assert UPSTREAM_ERRORS["upstream_500"].startswith(
        prefix + "[500 Internal Server Error] An internal error has occurred."
    )
    assert UPSTREAM_ERRORS["upstream_503"] == (
        prefix + "[503 Service Unavailable] The model is overloaded. "
        "Please try again later."
    )
    assert UPSTREAM_ERRORS["fetch_failed"] == prefix + "fetch failed"
    assert UPSTREAM_ERRORS["bad_history"].endswith(
        "Please ensure that multiturn requests alternate between user and model."
    )
    assert UPSTREAM_ERRORS["bad_role"].endswith("Please use a valid role: user, model.")
    assert (
        "* GenerateContentRequest.contents[0].parts[0].data: required oneof field "
        "'data' must have one initialized field"
    ) in UPSTREAM_ERRORS["empty_text"]
    assert (
        "API key not valid. Please pass a valid API key."
        in (UPSTREAM_ERRORS["api_key_invalid"])
    )


def test_rate_limited_wordings():
    new = Reply.rate_limited(retry_in=2.5)
    assert new.error is not None
    assert new.error.endswith("\nPlease retry in 2.5s.")
    assert "You exceeded your current quota" in new.error
    assert str(Reply.rate_limited(retry_in=3).error).endswith("Please retry in 3s.")
    assert "Please retry" not in (Reply.rate_limited().error or "")
    assert Reply.rate_limited(wording="old").error == UPSTREAM_ERRORS["quota_old"]
    assert Reply.rate_limited(wording="short").error == UPSTREAM_ERRORS["quota_short"]
    assert new.status == 429


async def test_gemini_dialect_always_answers_500_for_upstream_failures(server, session):
    server.script(Reply.rate_limited(retry_in=1))
    answer = await post(session, server, hi())
    assert answer.status == 500
    assert json.loads(answer.body)["error"]["message"].endswith("Please retry in 1s.")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/generate"),
        ("OPTIONS", "/api/generate"),
        ("HEAD", "/api/generate"),
        ("POST", "/api/generate/"),
        ("POST", "/generate"),
        ("GET", "/nowhere"),
        ("POST", "/api/auth/"),
    ],
)
async def test_not_found(server, method, path):
    server.script("must not be consumed")
    raw = await raw_exchange(server, raw_request(hi(), method=method, path=path))
    assert raw.status == 404
    assert raw.body == b""
    assert "content-type" not in raw.headers
    assert [r.path for r in server.requests] == ([path] if method == "POST" else [])
    if method == "POST":
        assert (server.requests[0].status, server.requests[0].outcome) == (
            404,
            "not_found",
        )


async def test_double_slash_path_works(server, session):
    answer = await post(session, server, hi(), path="//api/generate")
    assert (answer.status, answer.body) == (200, b"Echo: hi")
    assert server.requests[-1].path == "//api/generate"


# -- order of the checks ---------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "status", "body"),
    [
        # bad last role AND bad password -> the role check wins
        (
            {**gemini_body(("user", "a"), ("model", "b")), "pass": "nope"},
            400,
            LAST_ROLE,
        ),
        # bad password AND bad signature -> password
        ({**hi(), "pass": "nope", "sign": "0" * 64}, 401, BAD_PASSWORD),
        # bad signature AND bad history -> signature
        (
            {
                **gemini_body(("model", "x"), ("user", "hi"), password="pw"),
                "sign": "0" * 64,
            },
            401,
            BAD_SIGNATURE,
        ),
        # last message without parts AND bad password -> password (read later)
        ({"messages": [{"role": "user"}], "pass": "nope"}, 401, BAD_PASSWORD),
    ],
    ids=[
        "role_before_password",
        "password_before_signature",
        "signature_before_history",
        "password_before_parts",
    ],
)
async def test_check_order(payload, status, body):
    async with LocalServer(passwords="pw") as server:
        raw = await raw_exchange(server, raw_request(payload))
        assert (raw.status, raw.body) == (status, body)


async def test_history_rules_come_before_the_scripted_upstream_answer(server, session):
    server.script(Reply(error=UPSTREAM_ERRORS["upstream_503"]), "second")
    answer = await post(session, server, gemini_body(("user", "a"), ("user", "b")))
    assert answer.body == upstream_body(UPSTREAM_ERRORS["bad_history"])
    answer = await post(session, server, hi())
    assert answer.body == upstream_body(UPSTREAM_ERRORS["upstream_503"])
    assert (await post(session, server, hi())).body == b"second"


async def test_gemini_reply_status_401_is_the_site_s_own_refusal(server):
    """Issue 10 item 15: a 4xx other than 429 is sent as asked, not as a 500."""
    server.script(
        Reply(status=401, error="Invalid password."),
        Reply(status=403),
        Reply(status=503),
        Reply.rate_limited(),
    )
    raw = await raw_exchange(server, raw_request(hi()))
    assert (raw.status, raw.body) == (401, BAD_PASSWORD)
    assert raw.headers["content-type"] == ERROR_CT
    raw = await raw_exchange(server, raw_request(hi()))
    assert (raw.status, raw.body) == (403, b'{"error":{"message":"Forbidden"}}')
    # Upstream failures stay what the real server makes of them: a 500.
    raw = await raw_exchange(server, raw_request(hi()))
    assert raw.status == 500
    assert b"[503 Service Unavailable]" in raw.body
    raw = await raw_exchange(server, raw_request(hi()))
    assert raw.status == 500
    assert b"429 Too Many Requests" in raw.body
    assert [r.status for r in server.requests] == [401, 403, 500, 500]
