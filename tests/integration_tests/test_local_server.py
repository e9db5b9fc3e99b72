"""The local server against PROTOCOL.md, through bare aiohttp clients and sockets."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from yarl import URL

import langchain_aichatfree.testing as testing
from langchain_aichatfree.testing import (
    UPSTREAM_ERRORS,
    LocalServer,
    RecordedRequest,
    Reply,
    echo_responder,
)

pytest_plugins = ["langchain_aichatfree.testing.pytest_plugin"]

ERROR_CT = "text/plain;charset=UTF-8"
STREAM_CT = "text/plain; charset=utf-8"
LAST_ROLE = (
    b'{"error":{"message":"Invalid message history: '
    b'The last message must be from user role."}}'
)
BAD_PASSWORD = b'{"error":{"message":"Invalid password."}}'
BAD_SIGNATURE = b'{"error":{"message":"Invalid signature."}}'
SENTINEL = b"Internal server error"
MULTIBYTE = "héllo wörld — 你好 🌍"


# -- helpers -------------------------------------------------------------------


def sign(time_text: object, text: str, secret: str = "") -> str:
    return hashlib.sha256(f"{time_text}:{text}:{secret}".encode()).hexdigest()


def gemini_body(
    *turns: tuple[str, str],
    time: Any = 1,
    secret: str = "",
    password: str | None = None,
    signature: str | None = None,
) -> dict[str, Any]:
    messages = [{"role": role, "parts": [{"text": text}]} for role, text in turns]
    last = turns[-1][1] if turns else ""
    return {
        "messages": messages,
        "time": time,
        "pass": password,
        "sign": signature or sign(time, last, secret),
    }


def hi(**kwargs: Any) -> dict[str, Any]:
    return gemini_body(("user", "hi"), **kwargs)


def upstream_body(message: str) -> bytes:
    error = {"error": {"code": "Error", "message": message}}
    return json.dumps(error, separators=(",", ":"), ensure_ascii=False).encode()


def generate_url(server: LocalServer, path: str = "/api/generate") -> str:
    return server.url + path


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


async def post(
    session: aiohttp.ClientSession,
    server: LocalServer,
    payload: Any,
    *,
    path: str = "/api/generate",
) -> Answer:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    async with session.post(
        generate_url(server, path),
        data=data,
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    ) as response:
        body = await response.read()
        return Answer(response.status, dict(response.headers), body)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    chunks: list[bytes]
    complete: bool

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


def raw_request(
    payload: Any, *, method: str = "POST", path: str = "/api/generate"
) -> bytes:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def parse_raw(raw: bytes) -> RawResponse:
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    chunks: list[bytes] = []
    complete = False
    if headers.get("transfer-encoding") == "chunked":
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                complete = rest == b"\r\n"
                break
            chunks.append(rest[:size])
            rest = rest[size + 2 :]
    else:
        complete = True
        if rest:
            chunks.append(rest)
    return RawResponse(int(status_line.split()[1]), headers, chunks, complete)


async def open_raw(
    server: LocalServer,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    url = URL(server.url)
    assert url.host is not None
    assert url.port is not None
    return await asyncio.open_connection(url.host, url.port)


async def close_raw(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):  # the server may have aborted
        await writer.wait_closed()


async def raw_exchange(server: LocalServer, request: bytes) -> RawResponse:
    reader, writer = await open_raw(server)
    try:
        writer.write(request)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 5)
    finally:
        await close_raw(writer)
    return parse_raw(raw)


@pytest.fixture
async def server():
    async with LocalServer() as server:
        yield server


@pytest.fixture
async def session(server):
    async with aiohttp.ClientSession() as session:
        yield session


# -- signature -----------------------------------------------------------------


async def test_signature_vector(server, session):
    vector = "b1ee74e587ce0ea68a55c8139688818b8f19d9f81db86c10dcd96d2bab297731"
    assert sign(1, "hi", "") == vector
    answer = await post(session, server, {**hi(), "sign": vector})
    assert (answer.status, answer.body) == (200, b"Echo: hi")


@pytest.mark.parametrize(
    ("time_json", "js_text"),
    [
        ("1", "1"),
        ("1732406400000", "1732406400000"),
        ("1.5", "1.5"),
        ("1.0e12", "1000000000000"),
        ("1e21", "1e+21"),
        ("1e-7", "1e-7"),
        ("0.000001", "0.000001"),
        ("-0.0", "0"),
        ("123456789012345678901234567890", "1.2345678901234568e+29"),
        ("null", "null"),
        ('"abc"', "abc"),
        ("true", "true"),
        ("[1,null,2]", "1,,2"),
        ("{}", "[object Object]"),
        (None, "undefined"),
    ],
)
async def test_time_is_signed_as_javascript_prints_it(
    server, session, time_json, js_text
):
    members = [
        '"messages":[{"role":"user","parts":[{"text":"hi"}]}]',
        f'"sign":"{sign(js_text, "hi")}"',
    ]
    if time_json is not None:
        members.append(f'"time":{time_json}')
    answer = await post(session, server, ("{" + ",".join(members) + "}").encode())
    assert (answer.status, answer.body) == (200, b"Echo: hi")


async def test_python_float_time_fails_the_signature(server, session):
    body = hi(time=1.0e12, signature=sign(str(1.0e12), "hi"))
    answer = await post(session, server, body)
    assert (answer.status, answer.body) == (401, BAD_SIGNATURE)


async def test_signature_covers_joined_text_parts_and_secret():
    async with LocalServer(secret="s3cret") as server, aiohttp.ClientSession() as s:
        parts = [{"text": "a"}, {"inline_data": {"data": "..."}}, {"text": "b"}]
        body = {
            "messages": [{"role": "user", "parts": parts}],
            "time": 7,
            "pass": None,
            "sign": sign(7, "ab", "s3cret"),
        }
        answer = await post(s, server, body)
        assert (answer.status, answer.body) == (200, b"Echo: ab")
        answer = await post(s, server, hi())  # signed without the secret
        assert (answer.status, answer.body) == (401, BAD_SIGNATURE)


# -- the error table -------------------------------------------------------------


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


# -- successful streaming -----------------------------------------------------------


async def test_success_headers(server, session):
    server.script(Reply(text="Hello", chunk_size=2))
    async with session.post(
        generate_url(server),
        json=hi(),
        headers={"Accept-Encoding": "gzip, deflate, br"},
    ) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == STREAM_CT
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert "Content-Length" not in response.headers
        assert "Content-Encoding" not in response.headers
        assert response.headers.get("Connection", "keep-alive").lower() != "close"
        assert await response.read() == b"Hello"


async def test_headers_are_held_until_the_first_chunk(server, session):
    server.script(Reply(text="late", first_byte_delay=0.5))
    reader, writer = await open_raw(server)
    try:
        started = time.monotonic()
        writer.write(raw_request(hi()))
        await writer.drain()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.read(1), 0.2)  # not a single byte yet
        raw = parse_raw(await asyncio.wait_for(reader.read(), 5))
        assert time.monotonic() - started >= 0.5
    finally:
        await close_raw(writer)
    assert (raw.status, raw.chunks, raw.complete) == (200, [b"late"], True)

    # An aiohttp client waiting 0.2 s for the status line gives up as well.
    server.script(Reply(text="late", first_byte_delay=0.5))
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(session.post(generate_url(server), json=hi()), 0.2)
    await server.wait_for(lambda: server.disconnects == 1)
    assert server.requests[-1].outcome == "client_disconnected"


async def test_rechunk_one_byte_reassembles_exact_utf8():
    async with LocalServer(rechunk=1) as server:
        server.script(Reply(text=MULTIBYTE, chunk_size=5))
        raw = await raw_exchange(server, raw_request(hi()))
        encoded = MULTIBYTE.encode()
        assert raw.complete
        assert len(raw.chunks) == len(encoded)
        assert all(len(chunk) == 1 for chunk in raw.chunks)
        assert raw.body == encoded
        async with aiohttp.ClientSession() as session:
            server.script(MULTIBYTE)
            answer = await post(session, server, hi())
            assert answer.body.decode("utf-8") == MULTIBYTE


async def test_chunk_size_splits_bytes_inside_characters(server):
    server.script(Reply(text="é€", chunk_size=2))
    raw = await raw_exchange(server, raw_request(hi()))
    assert raw.chunks == [b"\xc3\xa9", b"\xe2\x82", b"\xac"]


async def test_explicit_chunks_are_separate_writes(server):
    server.script(Reply(chunks=["ab", b"\xc3", "", b"\xa9", "c"]))
    raw = await raw_exchange(server, raw_request(hi()))
    assert raw.chunks == [b"ab", b"\xc3", b"\xa9", b"c"]
    assert raw.complete


async def test_empty_reply_is_an_empty_chunked_200(server):
    server.script("")
    raw = await raw_exchange(server, raw_request(hi()))
    assert (raw.status, raw.chunks, raw.complete) == (200, [], True)
    assert raw.headers["content-type"] == STREAM_CT


async def test_chunk_delay_spaces_the_writes(server):
    server.script(Reply(chunks=["a", "b", "c"], chunk_delay=0.1))
    started = time.monotonic()
    raw = await raw_exchange(server, raw_request(hi()))
    assert raw.chunks == [b"a", b"b", b"c"]
    assert time.monotonic() - started >= 0.2


# -- failures ---------------------------------------------------------------------


async def test_fail_after_writes_the_sentinel_and_ends_cleanly(server, session):
    server.script(Reply(chunks=["Hel", "lo"], fail_after=1))
    raw = await raw_exchange(server, raw_request(hi()))
    assert raw.chunks == [b"Hel", SENTINEL]
    assert raw.complete
    assert server.requests[-1].outcome == "sentinel"

    server.script(Reply(text="all", fail_after=5))  # beyond the end: after the last
    answer = await post(session, server, hi())
    assert (answer.status, answer.body) == (200, b"all" + SENTINEL)

    server.script(Reply(text="never", fail_after=0))
    assert (await post(session, server, hi())).body == SENTINEL


async def test_cut_after_leaves_an_incomplete_chunked_body(server, session):
    server.script(Reply(chunks=["a", "b", "c"], cut_after=1))
    async with session.post(generate_url(server), json=hi()) as response:
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    assert server.requests[-1].outcome == "cut"
    assert server.disconnects == 0

    server.script(Reply(text="x", cut_after=0))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post(session, server, hi())
    raw_server_side = server.requests[-1]
    assert raw_server_side.outcome == "cut"


async def test_stall_mid_stream_gives_up_with_the_sentinel(server, session):
    server.script(Reply(chunks=["a", "b"], stall_after=1, stall_seconds=0.1))
    started = time.monotonic()
    answer = await post(session, server, hi())
    assert time.monotonic() - started >= 0.1
    assert (answer.status, answer.body) == (200, b"a" + SENTINEL)
    assert server.requests[-1].outcome == "stalled"


async def test_stall_before_the_first_chunk_is_a_500(server, session):
    server.script(Reply(text="never", stall_after=0, stall_seconds=0.05))
    answer = await post(session, server, hi())
    assert answer.status == 500
    assert answer.body == upstream_body(UPSTREAM_ERRORS["fetch_failed"])
    assert (server.requests[-1].status, server.requests[-1].outcome) == (500, "stalled")


async def test_upstream_timeout_bounds_silences():
    async with (
        LocalServer(upstream_timeout=0.2) as server,
        aiohttp.ClientSession() as s,
    ):
        server.script(
            Reply(chunks=["a", "b"], chunk_delay=30),
            Reply(text="x", first_byte_delay=30),
            Reply(chunks=["a", "b"], stall_after=1),  # default 300 s stall
        )
        started = time.monotonic()
        assert (await post(s, server, hi())).body == b"a" + SENTINEL
        answer = await post(s, server, hi())
        assert answer.status == 500
        assert answer.body == upstream_body(UPSTREAM_ERRORS["fetch_failed"])
        assert (await post(s, server, hi())).body == b"a" + SENTINEL
        assert time.monotonic() - started < 3
        assert [r.outcome for r in server.requests] == ["stalled"] * 3


async def test_first_byte_delay_applies_to_errors(server, session):
    server.script(Reply(error="boom", first_byte_delay=0.2))
    started = time.monotonic()
    answer = await post(session, server, hi())
    assert time.monotonic() - started >= 0.2
    assert answer.body == upstream_body("boom")


# -- script queue, responder, request log ------------------------------------------


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


# -- connections ------------------------------------------------------------------


async def test_keep_alive_reuses_one_connection(server):
    async with aiohttp.ClientSession() as session:
        for _ in range(3):
            assert (await post(session, server, hi())).status == 200
        assert server.connections_opened == 1
        assert server.open_connections == 1
    assert {r.connection for r in server.requests} == {1}
    async with aiohttp.ClientSession() as session:
        await post(session, server, hi())
    assert server.connections_opened == 2
    assert server.requests[-1].connection == 2
    await server.wait_idle()
    assert server.open_connections == 0


async def test_open_connections_drop_to_zero_after_close(server):
    sessions = [aiohttp.ClientSession() for _ in range(2)]
    try:
        for session in sessions:
            await post(session, server, hi())
        assert server.open_connections == 2
    finally:
        for session in sessions:
            await session.close()
    await server.wait_idle(timeout=2)
    assert server.open_connections == 0
    assert server.connections_opened == 2


async def test_client_closing_mid_stream_counts_a_disconnect(server, session):
    server.script(Reply(chunks=["first", "second"], chunk_delay=30))
    started = time.monotonic()
    async with session.post(generate_url(server), json=hi()) as response:
        assert await response.content.readany() == b"first"
        response.close()  # drop the connection mid-body
    await server.wait_for(lambda: server.disconnects == 1, timeout=2)
    await server.wait_idle(timeout=2)
    assert time.monotonic() - started < 3
    assert server.requests[-1].outcome == "client_disconnected"


@pytest.mark.parametrize("how", ["abort", "close"])
async def test_client_dropping_before_the_headers_leaves_nothing_pending(
    server, caplog, how
):
    """Issue 10 item 15: the headers go out with the first write, which then
    found the transport closing: the request stayed "pending" and aiohttp
    logged the handler's traceback."""
    server.script("hello")
    _, writer = await open_raw(server)
    writer.write(raw_request(hi()))
    await writer.drain()
    if how == "abort":
        writer.transport.abort()
    else:
        writer.close()
    await server.wait_idle(timeout=2)
    await server.wait_for(
        lambda: bool(server.requests) and server.requests[-1].outcome != "pending",
        timeout=2,
    )
    assert server.requests[-1].outcome == "client_disconnected"
    assert server.disconnects == 1
    assert "Error handling request" not in caplog.text
    assert "Traceback" not in caplog.text


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


async def test_stop_ends_stalled_responses_at_once():
    server = LocalServer()
    await server.start()
    server.script(Reply(chunks=["a", "b"], stall_after=1))
    async with (
        aiohttp.ClientSession() as session,
        session.post(generate_url(server), json=hi()) as response,
    ):
        assert await response.content.readany() == b"a"
        started = time.monotonic()
        await server.stop()
        assert time.monotonic() - started < 2
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    assert server.requests[-1].outcome == "server_stopped"
    await server.stop()  # idempotent


async def test_url_and_lifecycle_errors():
    server = LocalServer()
    with pytest.raises(RuntimeError):
        _ = server.url
    async with server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
        with pytest.raises(RuntimeError):
            await server.start()


# -- thread mode, fixture, CLI -------------------------------------------------------


async def _client_roundtrip(url: str, payload: dict[str, Any]) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/api/generate", json=payload) as response,
    ):
        return response.status, await response.read()


def test_thread_mode():
    with LocalServer(secret="t") as server:
        server.script("from the thread")
        status, body = asyncio.run(_client_roundtrip(server.url, hi(secret="t")))
        assert (status, body) == (200, b"from the thread")
        server.wait_until(lambda: server.open_connections == 0)
        assert server.connections_opened == 1
        assert server.requests[-1].outcome == "ok"
        url = server.url
    with pytest.raises(aiohttp.ClientConnectionError):
        asyncio.run(_client_roundtrip(url, hi(secret="t")))


async def test_thread_mode_from_async_code():
    with LocalServer() as server:
        async with aiohttp.ClientSession() as session:
            assert (await post(session, server, hi())).body == b"Echo: hi"
        await server.wait_idle()


async def test_wait_until_refuses_to_block_its_own_loop(server):
    with pytest.raises(RuntimeError):
        server.wait_until(lambda: True)


def test_thread_mode_reports_startup_failure():
    with LocalServer() as first:
        port = URL(first.url).port
        with (
            pytest.raises(OSError, match="address already in use"),
            LocalServer(port=port or 0),
        ):
            pass


def test_fixture_in_sync_test(aichatfree_server):
    assert isinstance(aichatfree_server, LocalServer)
    aichatfree_server.script("fixture")
    status, body = asyncio.run(_client_roundtrip(aichatfree_server.url, hi()))
    assert (status, body) == (200, b"fixture")


async def test_fixture_in_async_test(aichatfree_server):
    async with aiohttp.ClientSession() as session:
        answer = await post(session, aichatfree_server, hi())
    assert answer.body == b"Echo: hi"
    await aichatfree_server.wait_idle()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_cli(signum):
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "langchain_aichatfree.testing",
        "--port",
        "0",
        "--password",
        "a",
        "b",
        "--secret",
        "s",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        match = re.fullmatch(
            r"AIChatFree local server listening on (http://127\.0\.0\.1:\d+)\n", line
        )
        assert match, line
        url = match.group(1)
        status, body = await _client_roundtrip(url, hi(secret="s", password="b"))
        assert (status, body) == (200, b"Echo: hi")
        status, body = await _client_roundtrip(url, hi(secret="s"))
        assert (status, body) == (401, BAD_PASSWORD)
    finally:
        if proc.returncode is None:
            proc.send_signal(signum)
        rc = await asyncio.wait_for(proc.wait(), 10)
    assert rc == 0
    assert await proc.stdout.read() == b""


# -- chatgpt-demo dialect ------------------------------------------------------------


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


@pytest.fixture
async def demo_server():
    async with LocalServer(dialect="chatgpt-demo", passwords="pw", secret="k") as s:
        yield s


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
async def test_chatgpt_demo_rows(demo_server, payload, status, body):
    demo_server.script("must not be consumed")
    raw = await raw_exchange(demo_server, raw_request(payload))
    assert (raw.status, raw.body) == (status, body)
    assert raw.headers.get("content-type") == (ERROR_CT if body else None)
    raw = await raw_exchange(
        demo_server, raw_request(demo_body(("user", "x"), secret="k"))
    )
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
async def test_chatgpt_demo_openai_400s(demo_server, payload, body):
    demo_server.script("must not be consumed")
    raw = await raw_exchange(demo_server, raw_request(payload))
    assert (raw.status, raw.body) == (400, body)
    assert demo_server.requests[-1].outcome == "error"


async def test_chatgpt_demo_upstream_errors(demo_server):
    limit = "Rate limit reached for gpt-4o-mini on requests per min (RPM)."
    demo_server.script(
        Reply(status=429, error=limit),
        Reply(status=503),
        Reply(status=529),
        Reply(error="fetch failed"),
        Reply.rate_limited(retry_in=4),
        Reply(chunks=["par", "tial"], fail_after=1),
    )
    ok = raw_request(demo_body(("user", "hi"), secret="k"))
    raw = await raw_exchange(demo_server, ok)
    assert (raw.status, raw.body) == (
        429,
        openai_body(limit, "requests", "rate_limit_exceeded"),
    )
    raw = await raw_exchange(demo_server, ok)
    assert (raw.status, raw.body) == (
        503,
        openai_body("Service Unavailable", "server_error", "service_unavailable"),
    )
    raw = await raw_exchange(demo_server, ok)
    assert (raw.status, raw.body) == (529, openai_body("Error", "server_error", None))
    raw = await raw_exchange(demo_server, ok)
    assert (raw.status, raw.body) == (500, upstream_body("fetch failed"))
    raw = await raw_exchange(demo_server, ok)
    assert raw.status == 429
    assert json.loads(raw.body)["error"]["message"].endswith("Please retry in 4s.")
    raw = await raw_exchange(demo_server, ok)
    assert (raw.status, raw.chunks, raw.complete) == (200, [b"par", SENTINEL], True)


# -- the public surface ---------------------------------------------------------------


def test_public_surface():
    assert sorted(testing.__all__) == sorted(
        [
            "LocalServer",
            "Quota",
            "Reply",
            "RecordedRequest",
            "SitePages",
            "SiteRequest",
            "UPSTREAM_ERRORS",
            "echo_responder",
        ]
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"text": "a", "chunks": ["a"]},
        {"chunks": ["a"], "chunk_size": 1},
        {"chunk_size": 0},
        {"fail_after": -1},
        {"chunk_delay": -1},
        {"status": 200},
    ],
)
def test_reply_validation(kwargs):
    with pytest.raises(ValueError, match=r"must|give either"):
        Reply(**kwargs)


def test_script_rejects_other_types():
    server = LocalServer()
    with pytest.raises(TypeError):
        server.script(42)  # type: ignore[arg-type]
