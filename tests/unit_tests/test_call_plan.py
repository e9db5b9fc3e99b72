"""The call plan: a call's arguments checked and converted, before any I/O.

Sockets are disabled here: planning never reaches the network.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from langchain_core.messages import HumanMessage
from pydantic import SecretStr, ValidationError

from langchain_aichatfree import ChatAIChatFree
from langchain_aichatfree._call_plan import CallPlan, plan_call, pool_router
from langchain_aichatfree._tool_calls import ToolAnswer
from langchain_aichatfree._turns import message_turns
from tests.unit_tests._tool_cases import get_weather, now

PASSWORD = "PW-call-plan-3f1a-recognisable"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AICHATFREE_BASE_URL", "AICHATFREE_SECRET", "AICHATFREE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def plan(model: ChatAIChatFree, kwargs: dict[str, Any]) -> CallPlan:
    """A plan for "hi", with `kwargs["stop"]` (if any) given as the stop argument."""
    kwargs = dict(kwargs)
    stop = kwargs.pop("stop", None)
    router = pool_router(model, None)[1]
    return plan_call(model, message_turns([HumanMessage("hi")]), stop, kwargs, router)


READ: dict[str, Callable[[CallPlan], Any]] = {
    "model": lambda p: p.model,
    "temperature": lambda p: p.temperature,
    "max_tokens": lambda p: p.options.max_tokens,
    "timeout": lambda p: p.options.timeout,
    "chunk_timeout": lambda p: p.options.chunk_timeout,
    "max_retries": lambda p: p.options.max_retries,
    "max_wait": lambda p: p.options.max_wait,
    "proxy": lambda p: p.options.proxy,
    "stop": lambda p: p.options.stop,
    "connector": lambda p: p.options.connector,
    "tools": lambda p: p.tools.names if p.tools is not None else None,
    "tool_choice": lambda p: (p.tools.mode, p.tools.forced) if p.tools else None,
    "parallel_tool_calls": lambda p: p.tools.parallel if p.tools else None,
    "json_mode": lambda p: p.tools.json_mode if p.tools else None,
}
"""Where a plan holds what each argument set."""

ACCEPTED: list[tuple[dict[str, Any], str, Any]] = [
    ({}, "model", "gemini-1.5-pro"),
    ({"model": "m"}, "model", "m"),
    ({}, "temperature", None),
    ({"temperature": 0.5}, "temperature", 0.5),
    ({"temperature": 0}, "temperature", 0.0),
    ({"max_tokens": 9}, "max_tokens", 9),
    ({"max_tokens": None}, "max_tokens", None),
    ({"timeout": 5}, "timeout", 5.0),
    ({"timeout": math.inf}, "timeout", None),
    ({"chunk_timeout": None}, "chunk_timeout", None),
    ({"chunk_timeout": math.inf}, "chunk_timeout", None),
    ({}, "max_retries", 2),
    ({"max_retries": 0}, "max_retries", 0),
    ({"max_wait": 0}, "max_wait", 0.0),
    ({"proxy": " http://proxy.example:3128 "}, "proxy", "http://proxy.example:3128"),
    ({"proxy": None}, "proxy", None),
    ({"stop": ["x", "y"]}, "stop", ("x", "y")),
    ({"stop": []}, "stop", ()),
    ({"connector": None}, "connector", None),
    ({"stream": True}, "model", "gemini-1.5-pro"),
    ({"ls_structured_output_format": {"schema": {}}}, "model", "gemini-1.5-pro"),
    ({}, "tools", None),
    ({"tools": []}, "tools", None),
    ({"tools": [get_weather]}, "tools", ("get_weather",)),
    ({"tools": [get_weather], "tool_choice": "any"}, "tool_choice", ("required", None)),
    (
        {"tools": [get_weather, now], "tool_choice": "now"},
        "tool_choice",
        ("required", "now"),
    ),
    ({"tools": [now], "tool_choice": "none"}, "tool_choice", ("none", None)),
    ({"tools": [now], "parallel_tool_calls": False}, "parallel_tool_calls", False),
    ({"response_format": {"type": "json_object"}}, "json_mode", True),
]
"""Good arguments, and what the plan takes from them."""

REFUSED: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"temprature": 0.5}, TypeError, "Did you mean 'temperature' for 'temprature'?"),
    ({"top_p": 0.9}, TypeError, "unexpected keyword arguments ['top_p']"),
    ({"base_url": "http://x.example"}, TypeError, "a call accepts stop and"),
    ({"connector": "tcp"}, TypeError, "connector must be an aiohttp connector"),
    ({"max_tokens": 0}, ValidationError, "greater than or equal to 1"),
    ({"max_tokens": True}, ValidationError, "valid integer"),
    ({"max_retries": -1}, ValidationError, "greater than or equal to 0"),
    ({"timeout": "5"}, ValidationError, "valid number"),
    ({"timeout": 0}, ValidationError, "greater than 0"),
    ({"chunk_timeout": math.nan}, ValidationError, "finite number"),
    ({"temperature": 3}, ValidationError, "less than or equal to 2"),
    ({"max_wait": -1}, ValidationError, "greater than or equal to 0"),
    ({"proxy": "socks5://127.0.0.1:1080"}, ValidationError, "must be an http(s) URL"),
    (
        {"proxy": f"http://u:{PASSWORD}@p.example:1"},
        ValidationError,
        "must not contain",
    ),
    ({"model": ""}, ValidationError, "at least 1 character"),
    ({"stop": [""]}, ValidationError, "non-empty strings"),
    ({"tool_choice": "any"}, ValueError, "requires tools"),
    ({"tools": [now], "tool_choice": "get_weather"}, ValueError, "not bound"),
    ({"response_format": {"type": "json_schema"}}, ValueError, "needs {'json_schema'"),
]
"""Bad arguments: the error's exact type, and a fragment of its message."""


@pytest.mark.parametrize(("kwargs", "name", "expected"), ACCEPTED)
def test_an_accepted_argument_reaches_the_plan(
    kwargs: dict[str, Any], name: str, expected: Any
) -> None:
    assert READ[name](plan(ChatAIChatFree(), kwargs)) == expected


@pytest.mark.parametrize(("kwargs", "error", "fragment"), REFUSED)
def test_a_refused_argument_is_the_right_error(
    kwargs: dict[str, Any], error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error) as info:
        plan(ChatAIChatFree(), kwargs)
    assert type(info.value) is error
    assert fragment in str(info.value)
    assert PASSWORD not in str(info.value)


async def test_an_aiohttp_connector_is_used_as_given() -> None:
    connector = aiohttp.TCPConnector()
    try:
        assert plan(ChatAIChatFree(), {"connector": connector}).options.connector is (
            connector
        )
    finally:
        await connector.close()


def test_the_re_ask_repeats_the_conversation_in_the_same_dialect() -> None:
    model = ChatAIChatFree(dialect="chatgpt-demo", temperature=0.3)
    planned = plan(model, {"tools": [get_weather], "tool_choice": "any"})
    assert planned.requires_call
    retry = planned.reask(
        "It is sunny.", ToolAnswer("It is sunny.", [], [], envelope=False)
    )
    assert retry.dialect == planned.request.dialect == "chatgpt-demo"
    assert retry.extra == planned.request.extra
    assert [m["role"] for m in retry.messages][-3:] == ["user", "assistant", "user"]
    assert retry.messages[-2]["content"] == "It is sunny."


def test_a_call_takes_the_models_settings_for_what_it_does_not_give() -> None:
    model = ChatAIChatFree(
        timeout=5, chunk_timeout=7, max_retries=4, stop=["x"], max_tokens=9
    )
    planned = model._plan([HumanMessage("hi")], None, {})
    options, name = planned.options, planned.model
    assert (options.timeout, options.chunk_timeout, options.max_retries) == (5, 7, 4)
    assert (options.stop, options.max_tokens, name) == (("x",), 9, "gemini-1.5-pro")
    planned = model._plan(
        [HumanMessage("hi")],
        [],
        {"timeout": None, "max_retries": 0, "max_tokens": None, "model": "m"},
    )
    options, name = planned.options, planned.model
    assert (options.timeout, options.max_retries, options.max_tokens) == (None, 0, None)
    assert (options.stop, name) == ((), "m")


@pytest.mark.parametrize("name", ["timeout", "chunk_timeout"])
def test_infinite_seconds_mean_no_limit(name: str) -> None:
    model = ChatAIChatFree(**{name: math.inf})
    assert getattr(model, name) is None
    options = (
        ChatAIChatFree()._plan([HumanMessage("hi")], None, {name: math.inf}).options
    )
    assert getattr(options, name) is None


def test_call_options_keep_the_password_secret() -> None:
    model = ChatAIChatFree(password=PASSWORD)
    options = model._plan([HumanMessage("hi")], None, {}).options
    assert isinstance(options.password, SecretStr)
    assert PASSWORD not in repr(options)
