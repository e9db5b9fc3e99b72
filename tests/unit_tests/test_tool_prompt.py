"""What the model is told: the instructions, calls in history, the re-ask."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from langchain_aichatfree._protocol import prepare_request
from langchain_aichatfree._tool_prompt import (
    reask_messages,
    reask_text,
    render_envelope,
    render_instructions,
)
from langchain_aichatfree._tool_reader import parse_answer
from langchain_aichatfree._turns import message_turns
from tests.unit_tests._tool_cases import (
    SETUP,
    Person,
    Plan,
    calls,
    get_weather,
    make_setup,
    now,
)


def test_instructions_describe_each_tool_and_the_exact_format() -> None:
    setup = make_setup(tools=[get_weather, now], tool_choice="get_weather")
    text = render_instructions(setup)
    lines = text.splitlines()
    described = [json.loads(line) for line in lines if line.startswith('{"tool": ')]
    assert [t["tool"] for t in described] == ["get_weather", "now"]
    assert described[0]["description"] == "Get the weather in a city."
    schema = described[0]["arguments_schema"]
    assert schema["properties"] == {"city": {"type": "string"}}
    assert '{"tool_calls": [{"name": "<tool name>", "arguments": {<arguments>}}]}' in (
        lines
    )
    assert 'You must call the tool "get_weather" now' in text


@pytest.mark.parametrize(
    ("kwargs", "line"),
    [
        ({}, "Call a tool only when you need one"),
        ({"tool_choice": "any"}, "You must call at least one tool now"),
        ({"tool_choice": "none"}, "Do not call any tool in this answer"),
        ({"parallel_tool_calls": False}, "Call one tool at a time"),
        ({"parallel_tool_calls": True}, "To call several tools at once"),
        (
            {"response_format": Person},
            "When you answer without calling a tool:\nAnswer with one JSON object "
            'that conforms to this JSON schema ("Person": A person.)',
        ),
    ],
)
def test_instructions_follow_the_options(kwargs: dict[str, Any], line: str) -> None:
    setup = make_setup(tools=[now], **kwargs)
    assert line in render_instructions(setup)


def test_history_renders_calls_in_the_instructed_format() -> None:
    rendered = render_envelope([{"name": "now", "args": {}, "id": "c1"}])
    assert json.loads(rendered) == {
        "tool_calls": [{"id": "c1", "name": "now", "arguments": {}}]
    }
    assert calls(parse_answer(rendered, SETUP)) == [("now", {})]


def test_instructions_are_folded_like_system_text_in_both_dialects() -> None:
    messages = [SystemMessage("Be brief."), HumanMessage("Weather in Paris?")]
    gemini = prepare_request(
        message_turns(messages), dialect="gemini", instructions="TOOLS"
    )
    [turn] = gemini.messages
    text = turn["parts"][0]["text"]
    assert text.index("Be brief.") < text.index("TOOLS") < text.index("Weather")
    assert text.endswith("Weather in Paris?")
    assert gemini.signed_text == text
    demo = prepare_request(
        message_turns(messages), dialect="chatgpt-demo", instructions="TOOLS"
    )
    assert demo.messages == [
        {"role": "system", "content": "Be brief.\n\nTOOLS"},
        {"role": "user", "content": "Weather in Paris?"},
    ]
    demo = prepare_request(
        message_turns(messages[1:]), dialect="chatgpt-demo", instructions="T"
    )
    assert demo.messages[0] == {"role": "system", "content": "T"}


def test_an_agent_history_still_alternates_and_ends_with_the_user() -> None:
    history = [
        HumanMessage("Weather in Paris and the time?"),
        AIMessage(
            "",
            tool_calls=[
                {"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"},
                {"name": "now", "args": {}, "id": "c2"},
            ],
        ),
        ToolMessage("sunny", tool_call_id="c1", name="get_weather"),
        ToolMessage(
            [{"type": "text", "text": "clock broken"}],
            tool_call_id="c2",
            name="now",
            status="error",
        ),
    ]
    request = prepare_request(
        message_turns(history), dialect="gemini", instructions="TOOLS"
    )
    roles = [m["role"] for m in request.messages]
    assert roles == ["user", "model", "user"]
    model_turn = request.messages[1]["parts"][0]["text"]
    assert [c["id"] for c in json.loads(model_turn)["tool_calls"]] == ["c1", "c2"]
    assert request.messages[2]["parts"][0]["text"] == (
        "[Tool result get_weather (call c1)]\nsunny\n\n"
        "[Tool error now (call c2)]\nclock broken"
    )


def test_reask() -> None:
    setup = make_setup(tools=[now], tool_choice="now")
    text = reask_text(setup, parse_answer("It is noon.", setup))
    assert text.startswith("Your answer did not call a tool.")
    assert 'You must call the tool "now" now.' in text
    broken = reask_text(setup, parse_answer('{"name": "now", "arguments": [', setup))
    assert broken.startswith("Your tool call could not be used: Malformed")
    messages = reask_messages([HumanMessage("time?")], "It is noon.", text)
    assert [type(m) for m in messages] == [HumanMessage, AIMessage, HumanMessage]
    assert messages[1].content == "It is noon."


def test_the_instructions_repeated_by_the_model_are_not_calls() -> None:
    # Issue 10 item 17: the tool list used the shape of a bare call.
    for setup in (SETUP, make_setup(tools=[Plan], tool_choice="Plan")):
        text = render_instructions(setup)
        answer = parse_answer(f"You said:\n{text}\nhi", setup)
        assert answer.tool_calls == []
        assert answer.invalid_tool_calls == []
        assert answer.content == f"You said:\n{text}\nhi"
