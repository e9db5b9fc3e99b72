"""`_turns`: LangChain messages -> the turns each dialect accepts, as tables."""

from __future__ import annotations

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

from langchain_aichatfree._constants import (
    LEADING_USER_TURN,
    SYSTEM_PREFIX,
    SYSTEM_SUFFIX,
)
from langchain_aichatfree._protocol import Turn, gemini_turns, openai_turns
from langchain_aichatfree._turns import message_turns


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
    assert gemini_turns(message_turns(messages)) == expected


def test_openai_turns_keep_consecutive_roles() -> None:
    turns = openai_turns(message_turns([HumanMessage("a"), HumanMessage("b")]))
    assert turns == [Turn("user", "a"), Turn("user", "b")]
