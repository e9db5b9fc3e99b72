"""Conversion, signing and error-text classification: pure functions, tables."""

from __future__ import annotations

import hashlib
import json

import pytest
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from pydantic import SecretStr

from langchain_aichatfree import generate_signature
from langchain_aichatfree._constants import (
    LEADING_USER_TURN,
    SYSTEM_PREFIX,
    SYSTEM_SUFFIX,
)
from langchain_aichatfree._protocol import (
    Turn,
    UpstreamKind,
    classify_upstream_message,
    convert_messages_to_openai_turns,
    convert_messages_to_turns,
    estimate_tokens,
    is_page_media_type,
    prepare_request,
)


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


CONVERSIONS: list[tuple[str, list[BaseMessage], list[Turn]]] = [
    ("single human", [HumanMessage("Hi")], [Turn("user", "Hi")]),
    (
        "alternating history",
        [HumanMessage("Hi"), AIMessage("Hello!"), HumanMessage("How are you?")],
        [Turn("user", "Hi"), Turn("model", "Hello!"), Turn("user", "How are you?")],
    ),
    (
        "system folded into the first user turn",
        [SystemMessage("Be brief."), HumanMessage("Hi")],
        [Turn("user", _system("Be brief.", "Hi"))],
    ),
    (
        "several systems, in order, even after the first turn",
        [
            SystemMessage("A"),
            HumanMessage("Hi"),
            AIMessage("Yo"),
            SystemMessage("B"),
            HumanMessage("Bye"),
        ],
        [
            Turn("user", _system("A\n\nB", "Hi")),
            Turn("model", "Yo"),
            Turn("user", "Bye"),
        ],
    ),
    (
        "consecutive humans merged, not dropped",
        [HumanMessage("one"), HumanMessage("two")],
        [Turn("user", "one\n\ntwo")],
    ),
    (
        "consecutive models merged",
        [HumanMessage("q"), AIMessage("a1"), AIMessage("a2"), HumanMessage("q2")],
        [Turn("user", "q"), Turn("model", "a1\n\na2"), Turn("user", "q2")],
    ),
    (
        "history starting with the model gets a neutral user turn",
        [AIMessage("Welcome!"), HumanMessage("Hi")],
        [
            Turn("user", LEADING_USER_TURN),
            Turn("model", "Welcome!"),
            Turn("user", "Hi"),
        ],
    ),
    (
        "system before a model-first history lands in the neutral turn",
        [SystemMessage("S"), AIMessage("Welcome!"), HumanMessage("Hi")],
        [
            Turn("user", _system("S", LEADING_USER_TURN)),
            Turn("model", "Welcome!"),
            Turn("user", "Hi"),
        ],
    ),
    (
        "list content text blocks joined",
        [HumanMessage(content=["a", {"type": "text", "text": "b"}, "c"])],
        [Turn("user", "abc")],
    ),
    (
        "reasoning blocks of a model turn are not sent",
        [
            HumanMessage("q"),
            AIMessage(
                content=[
                    {"type": "reasoning", "reasoning": "hmm"},
                    {"type": "text", "text": "a"},
                ]
            ),
            HumanMessage("q2"),
        ],
        [Turn("user", "q"), Turn("model", "a"), Turn("user", "q2")],
    ),
    (
        "empty turns before the last are skipped, neighbours merged",
        [HumanMessage("a"), AIMessage(""), HumanMessage("b")],
        [Turn("user", "a\n\nb")],
    ),
    (
        "chat message roles",
        [
            ChatMessage(role="system", content="S"),
            ChatMessage(role="user", content="u"),
            ChatMessage(role="assistant", content="m"),
            ChatMessage(role="human", content="u2"),
        ],
        [Turn("user", _system("S", "u")), Turn("model", "m"), Turn("user", "u2")],
    ),
    (
        "tool call and tool result keep ids and names",
        [
            HumanMessage("weather?"),
            AIMessage(
                "",
                tool_calls=[
                    {"name": "get_weather", "args": {"city": "Oslo"}, "id": "c1"}
                ],
            ),
            ToolMessage("rainy", tool_call_id="c1", name="get_weather"),
        ],
        [
            Turn("user", "weather?"),
            Turn(
                "model",
                '{"tool_calls": [{"id": "c1", "name": "get_weather", '
                '"arguments": {"city": "Oslo"}}]}',
            ),
            Turn("user", "[Tool result get_weather (call c1)]\nrainy"),
        ],
    ),
    (
        "tool error status",
        [
            HumanMessage("x"),
            AIMessage("", tool_calls=[{"name": "f", "args": {}, "id": "c2"}]),
            ToolMessage("boom", tool_call_id="c2", status="error"),
        ],
        [
            Turn("user", "x"),
            Turn(
                "model", '{"tool_calls": [{"id": "c2", "name": "f", "arguments": {}}]}'
            ),
            Turn("user", "[Tool error (call c2)]\nboom"),
        ],
    ),
    (
        "function message",
        [HumanMessage("x"), AIMessage("y"), FunctionMessage(content="42", name="calc")],
        [Turn("user", "x"), Turn("model", "y"), Turn("user", "[Tool result calc]\n42")],
    ),
]


@pytest.mark.parametrize(
    ("messages", "expected"),
    [pytest.param(m, e, id=name) for name, m, e in CONVERSIONS],
)
def test_convert_messages_to_turns(
    messages: list[BaseMessage], expected: list[Turn]
) -> None:
    assert convert_messages_to_turns(messages) == expected


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
        prepare_request(messages, dialect=dialect)  # type: ignore[arg-type]


def test_gemini_payload_is_signed_over_the_joined_last_text() -> None:
    request = prepare_request(
        [SystemMessage("Be brief."), HumanMessage(content=["Hel", "lo"])],
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
        prepare_request([HumanMessage("x")], dialect="gemini").body(1, "", None)
    )
    assert body["pass"] is None
    assert "temperature" not in body


def test_chatgpt_demo_payload_keeps_roles_and_temperature() -> None:
    request = prepare_request(
        [SystemMessage("S"), HumanMessage("u"), AIMessage("a"), HumanMessage("v")],
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


def test_openai_turns_keep_consecutive_roles() -> None:
    turns = convert_messages_to_openai_turns([HumanMessage("a"), HumanMessage("b")])
    assert turns == [Turn("user", "a"), Turn("user", "b")]


def test_body_keeps_non_ascii_as_utf8() -> None:
    body = prepare_request([HumanMessage("你好 🌍")], dialect="gemini").body(
        1, "", None
    )
    assert "你好 🌍".encode() in body


@pytest.mark.parametrize(
    ("text", "tokens"), [("", 0), ("abcd", 1), ("abcde", 2), ("你好", 2), ("🌍", 1)]
)
def test_estimate_tokens(text: str, tokens: int) -> None:
    assert estimate_tokens(text) == tokens


UPSTREAM = [
    (
        "[GoogleGenerativeAI Error]: Error fetching from  [429 Too Many Requests] "
        "Quota exceeded for quota metric 'Generate Content API requests per minute'",
        UpstreamKind.RATE_LIMIT,
        None,
    ),
    (
        "[GoogleGenerativeAI Error]: Error fetching from  [429 Too Many Requests] You "
        "exceeded your current quota, please check your plan and billing details. "
        "Quota exceeded for metric: generativelanguage... Please retry in 47.17s.",
        UpstreamKind.RATE_LIMIT,
        47.17,
    ),
    (
        "[GoogleGenerativeAI Error]: Error fetching from  [429 Too Many Requests] "
        "Resource has been exhausted (e.g. check quota).",
        UpstreamKind.RATE_LIMIT,
        None,
    ),
    (
        "[GoogleGenerativeAI Error]: Error fetching from  [500 Internal Server Error] "
        "An internal error has occurred. Please retry or report.",
        UpstreamKind.TRANSIENT,
        None,
    ),
    (
        "[GoogleGenerativeAI Error]: Error fetching from  [503 Service Unavailable] "
        "The model is overloaded. Please try again later.",
        UpstreamKind.TRANSIENT,
        None,
    ),
    (
        "[GoogleGenerativeAI Error]: Error fetching from  fetch failed",
        UpstreamKind.TRANSIENT,
        None,
    ),
    (
        "[GoogleGenerativeAI Error]: Error fetching from  [400 Bad Request] "
        "Please ensure that multiturn requests alternate between user and model.",
        UpstreamKind.BAD_REQUEST,
        None,
    ),
    ("Please use a valid role: user, model.", UpstreamKind.BAD_REQUEST, None),
    (
        "* GenerateContentRequest.contents[0].parts[0].data: required oneof field "
        "'data' must have one initialized field",
        UpstreamKind.BAD_REQUEST,
        None,
    ),
    (
        "API key not valid. Please pass a valid API key. [reason: API_KEY_INVALID]",
        UpstreamKind.BAD_UPSTREAM_KEY,
        None,
    ),
    ("Something nobody has seen before", UpstreamKind.TRANSIENT, None),
    ("rate limited, retry in 250ms", UpstreamKind.RATE_LIMIT, 0.25),
]


@pytest.mark.parametrize(("message", "kind", "retry_after"), UPSTREAM)
def test_classify_upstream_message(
    message: str, kind: UpstreamKind, retry_after: float | None
) -> None:
    assert classify_upstream_message(message) == (kind, retry_after)


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


@pytest.mark.parametrize(
    "message",
    [
        "API key not valid. Please pass a valid API key.",
        "Incorrect API key provided: sk-abc***wxyz. You can find your API key at",
        "You didn't provide an API key. You need to provide your API key in an",
    ],
)
def test_a_refused_upstream_key_in_either_dialect(message: str) -> None:
    assert classify_upstream_message(message)[0] is UpstreamKind.BAD_UPSTREAM_KEY
