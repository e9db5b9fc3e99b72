"""Binding tools: formats, tool_choice, the setup, and the model's tool API."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.runnables import RunnableBinding

from langchain_aichatfree import ChatAIChatFree
from langchain_aichatfree._tool_setup import (
    ToolSetup,
    build_tool_setup,
    format_tool,
    normalize_tool_choice,
)
from tests.unit_tests._tool_cases import (
    Person,
    PersonDict,
    add,
    get_weather,
    make_setup,
    now,
)


@pytest.mark.parametrize(
    ("tool_like", "name"),
    [
        (get_weather, "get_weather"),
        (add, "add"),
        (Person, "Person"),
        (PersonDict, "PersonDict"),
        (Person.model_json_schema(), "Person"),
        (
            {"type": "function", "function": {"name": "f", "parameters": {}}},
            "f",
        ),
        ({"type": "function", "name": "g", "parameters": {}}, "g"),
        ({"name": "h", "description": "d", "input_schema": {}}, "h"),
    ],
)
def test_format_tool_accepts_what_langchain_accepts(tool_like: Any, name: str) -> None:
    formatted = format_tool(tool_like)
    assert formatted["type"] == "function"
    assert formatted["function"]["name"] == name


def test_format_tool_refuses_builtin_tools() -> None:
    with pytest.raises(ValueError, match="only emulates function tools"):
        format_tool({"type": "web_search"})


NAMES = ("get_weather", "now")


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (None, ("auto", None)),
        ("auto", ("auto", None)),
        (False, ("auto", None)),
        ("none", ("none", None)),
        ("any", ("required", None)),
        ("required", ("required", None)),
        (True, ("required", None)),
        ("now", ("required", "now")),
        ({"type": "function", "function": {"name": "now"}}, ("required", "now")),
        ({"type": "tool", "name": "now"}, ("required", "now")),
        ({"type": "any"}, ("required", None)),
        ({"type": "auto"}, ("auto", None)),
    ],
)
def test_normalize_tool_choice(choice: Any, expected: tuple[str, str | None]) -> None:
    assert normalize_tool_choice(choice, NAMES) == expected


@pytest.mark.parametrize(
    ("choice", "match"),
    [("search", "not bound"), (3, "Unrecognised"), ({"type": "x"}, "Unrecognised")],
)
def test_bad_tool_choice(choice: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        normalize_tool_choice(choice, NAMES)


def test_build_tool_setup() -> None:
    assert build_tool_setup() is None
    assert build_tool_setup(tools=[]) is None
    with pytest.raises(ValueError, match="requires tools"):
        build_tool_setup(tools=[], tool_choice="any")
    setup = make_setup(tools=[now], tool_choice="none")
    assert not setup.parses_calls
    json_only = build_tool_setup(response_format={"type": "json_object"})
    assert json_only == ToolSetup(json_mode=True)
    assert not json_only.parses_calls
    from_schema = build_tool_setup(response_format=Person)
    assert from_schema is not None
    assert from_schema.json_schema is not None
    assert from_schema.json_schema["name"] == "Person"
    with pytest.raises(ValueError, match="json_schema"):
        build_tool_setup(response_format={"type": "json_schema"})


# -- the model's tool API, without a network ---------------------------------------


def test_bind_tools_binds_formatted_tools_and_options() -> None:
    model = ChatAIChatFree(base_url="http://127.0.0.1:9")
    bound = model.bind_tools(
        [get_weather, add, Person], tool_choice="add", parallel_tool_calls=False
    )
    assert isinstance(bound, RunnableBinding)
    assert [t["function"]["name"] for t in bound.kwargs["tools"]] == [
        "get_weather",
        "add",
        "Person",
    ]
    assert bound.kwargs["tool_choice"] == {
        "type": "function",
        "function": {"name": "add"},
    }
    assert bound.kwargs["parallel_tool_calls"] is False
    forced = model.bind_tools([now], tool_choice=True)
    assert isinstance(forced, RunnableBinding)
    assert forced.kwargs["tool_choice"] == "required"


def test_bind_tools_fails_early() -> None:
    model = ChatAIChatFree(base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="not bound"):
        model.bind_tools([now], tool_choice="get_weather")
    with pytest.raises(ValueError, match="only emulates function tools"):
        model.bind_tools([{"type": "code_interpreter"}])
    with pytest.raises(ValueError, match="requires tools"):
        model.invoke("hi", tools=[], tool_choice="any")


def test_with_structured_output_checks_its_arguments() -> None:
    model = ChatAIChatFree(base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="method must be"):
        model.with_structured_output(Person, method="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="strict"):
        model.with_structured_output(Person, method="json_mode", strict=True)
    with pytest.raises(ValueError, match="needs a schema"):
        model.with_structured_output(None)
    assert model.with_structured_output(None, method="json_mode") is not None


@pytest.mark.parametrize("dialect", ["gemini", "chatgpt-demo"])
def test_profile_tells_agents_the_truth(dialect: str) -> None:
    profile = ChatAIChatFree(dialect=dialect).profile
    assert profile is not None
    assert profile["tool_calling"] is True
    assert profile["tool_choice"] is True
    assert profile["structured_output"] is False
    assert profile["text_inputs"] is True
    assert profile["image_inputs"] is False
    assert profile["max_output_tokens"] == 8000
    assert profile["temperature"] is (dialect == "chatgpt-demo")
