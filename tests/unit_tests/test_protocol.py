"""`_protocol`: signing, the request per dialect, token estimates, page types."""

from __future__ import annotations

import hashlib
import json

import pytest
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
)
from pydantic import SecretStr

from langchain_aichatfree import generate_signature
from langchain_aichatfree._constants import SYSTEM_PREFIX, SYSTEM_SUFFIX
from langchain_aichatfree._protocol import (
    estimate_tokens,
    is_page_media_type,
    prepare_request,
)
from langchain_aichatfree._turns import message_turns


def test_signature_matches_protocol_vector() -> None:
    assert (
        generate_signature(1, "hi")
        == "b1ee74e587ce0ea68a55c8139688818b8f19d9f81db86c10dcd96d2bab297731"
    )


@pytest.mark.parametrize(
    ("time_ms", "text", "secret"),
    [(1732406400000, "Привет, как дела?", ""), (5, "a:b", "s3cr:et"), (0, "", "")],
)
def test_signature_is_sha256_of_time_text_secret(
    time_ms: int, text: str, secret: str
) -> None:
    expected = hashlib.sha256(f"{time_ms}:{text}:{secret}".encode()).hexdigest()
    assert generate_signature(time_ms, text, secret) == expected


def _system(text: str, first: str) -> str:
    return f"{SYSTEM_PREFIX}{text}{SYSTEM_SUFFIX}{first}"


REJECTED: list[tuple[str, list[BaseMessage], str]] = [
    ("no messages", [], "must end with a user message"),
    ("only system", [SystemMessage("S")], "must end with a user message"),
    ("ends with the model", [HumanMessage("q"), AIMessage("a")], "ends with AIMessage"),
    (
        "empty last message",
        [HumanMessage("q"), AIMessage("a"), HumanMessage("")],
        "empty",
    ),
    ("blank last message", [HumanMessage("  \n")], "empty"),
    (
        "image block",
        [
            HumanMessage(
                content=[
                    {"type": "text", "text": "what is this"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64,AA"},
                    },
                ]
            )
        ],
        "'image_url'",
    ),
    (
        "v1 image block",
        [HumanMessage(content=[{"type": "image", "url": "https://x/y.png"}])],
        "'image'",
    ),
    ("unknown role", [ChatMessage(role="critic", content="x")], "role 'critic'"),
    ("unpaired surrogate", [HumanMessage("bad \ud800 text")], "unpaired surrogate"),
]


@pytest.mark.parametrize(
    ("messages", "match"), [pytest.param(m, e, id=n) for n, m, e in REJECTED]
)
@pytest.mark.parametrize("dialect", ["gemini", "chatgpt-demo"])
def test_rejected_before_any_request(
    messages: list[BaseMessage], match: str, dialect: str
) -> None:
    with pytest.raises(ValueError, match=match):
        prepare_request(message_turns(messages), dialect=dialect)  # type: ignore[arg-type]


def test_gemini_payload_is_signed_over_the_joined_last_text() -> None:
    request = prepare_request(
        message_turns(
            [SystemMessage("Be brief."), HumanMessage(content=["Hel", "lo"])]
        ),
        dialect="gemini",
        temperature=0.3,
    )
    body = json.loads(request.body(1732406400000, "k", SecretStr("pw")))
    text = _system("Be brief.", "Hello")
    assert body == {
        "messages": [{"role": "user", "parts": [{"text": text}]}],
        "time": 1732406400000,
        "pass": "pw",
        "sign": generate_signature(1732406400000, text, "k"),
    }
    assert isinstance(body["time"], int)


def test_gemini_payload_without_password_sends_null() -> None:
    body = json.loads(
        prepare_request(message_turns([HumanMessage("x")]), dialect="gemini").body(
            1, "", None
        )
    )
    assert body["pass"] is None
    assert "temperature" not in body


def test_chatgpt_demo_payload_keeps_roles_and_temperature() -> None:
    request = prepare_request(
        message_turns(
            [SystemMessage("S"), HumanMessage("u"), AIMessage("a"), HumanMessage("v")]
        ),
        dialect="chatgpt-demo",
        temperature=0.5,
    )
    body = json.loads(request.body(7, "", None))
    assert body["messages"] == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "u"},
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "v"},
    ]
    assert body["temperature"] == 0.5
    assert body["sign"] == generate_signature(7, "v", "")


def test_body_keeps_non_ascii_as_utf8() -> None:
    body = prepare_request(
        message_turns([HumanMessage("你好 🌍")]), dialect="gemini"
    ).body(1, "", None)
    assert "你好 🌍".encode() in body


@pytest.mark.parametrize(
    ("text", "tokens"), [("", 0), ("abcd", 1), ("abcde", 2), ("你好", 2), ("🌍", 1)]
)
def test_estimate_tokens(text: str, tokens: int) -> None:
    assert estimate_tokens(text) == tokens


@pytest.mark.parametrize(
    ("media_type", "page"),
    [
        ("text/plain", False),
        ("application/octet-stream", False),  # a proxy's default for no type
        ("text/markdown", False),
        ("text/html", True),
        ("application/xhtml+xml", True),
        ("application/json", True),
        ("application/problem+json", True),
        ("text/xml", True),
        ("application/atom+xml", True),
    ],
)
def test_is_page_media_type(media_type: str, page: bool) -> None:
    assert is_page_media_type(media_type) is page
