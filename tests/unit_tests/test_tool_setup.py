"""Binding tools: formats, tool_choice and the setup."""

from __future__ import annotations

from typing import Any

import pytest

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
