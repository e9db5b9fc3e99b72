"""The model's tool API without a network: bind_tools, structured output, profile.

The bodies live in `_structured_output`; these tests go through the model's
methods, which LangChain users call.
"""

from __future__ import annotations

import pytest
from langchain_core.runnables import RunnableBinding

from langchain_aichatfree import ChatAIChatFree
from tests.unit_tests._tool_cases import Person, add, get_weather, now


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
