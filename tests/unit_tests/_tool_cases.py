"""The tools and helpers the emulated-tool unit tests share."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import tool
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from langchain_aichatfree._tool_calls import ToolAnswer
from langchain_aichatfree._tool_setup import ToolSetup, build_tool_setup


@tool
def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"sunny in {city}"


@tool
def now() -> str:
    """Tell the time."""
    return "noon"


class Plan(BaseModel):
    """A plan."""

    steps: list[str]
    owner: dict[str, Any]


def make_setup(**kwargs: Any) -> ToolSetup:
    setup = build_tool_setup(**kwargs)
    assert setup is not None
    return setup


SETUP = make_setup(tools=[get_weather, now, Plan])

CALL = '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}'
PARIS = [("get_weather", {"city": "Paris"})]


def calls(answer: ToolAnswer) -> list[tuple[str, dict[str, Any]]]:
    return [(c["name"], c["args"]) for c in answer.tool_calls]


def invalid(answer: ToolAnswer) -> list[tuple[str | None, str]]:
    return [(c["name"], c["error"] or "") for c in answer.invalid_tool_calls]


class Person(BaseModel):
    """A person."""

    name: str = Field(description="Full name")


class PersonDict(TypedDict):
    """A person."""

    name: str


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b
