"""The answer's metadata, built once (its chunk and result: test_answer_message).

No I/O: the states are fed bytes here, as the transport feeds them.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.messages.tool import tool_call

from langchain_aichatfree import ChatAIChatFree
from langchain_aichatfree._answer import answer_metadata
from langchain_aichatfree._call_plan import CallPlan, plan_call, pool_router
from langchain_aichatfree._protocol import tokens_for_bytes
from langchain_aichatfree._stream import AnswerState
from langchain_aichatfree._tool_calls import ToolAnswer
from langchain_aichatfree._turns import message_turns
from tests.unit_tests._tool_cases import get_weather

URL = "http://a.example"
CALL = tool_call(name="get_weather", args={"city": "Paris"}, id="call_1")
MADE = ToolAnswer("", [CALL], [], envelope=True)
"""An answer that made the required call."""
NONE_MADE = ToolAnswer("It is sunny.", [], [], envelope=False)
"""An answer that made no call."""


def make_plan(**kwargs: Any) -> CallPlan:
    model = ChatAIChatFree(base_url=URL)
    router = pool_router(model, None)[1]
    return plan_call(model, message_turns([HumanMessage("hi")]), None, kwargs, router)


def finished(body: bytes, *, routed: bool = False, **limits: Any) -> AnswerState:
    state = AnswerState(**limits)
    state.feed(body)
    if not state.done:
        state.finish()
    if routed:
        state.deployment = URL
        state.routing = [{"deployment": URL, "outcome": "ok"}]
    return state


TOOLS: dict[str, Any] = {"tools": [get_weather], "tool_choice": "any"}

METADATA: list[
    tuple[str, dict[str, Any], list[AnswerState], ToolAnswer | None, dict[str, Any]]
] = [
    ("a plain answer", {}, [finished(b"hello")], None, {"finish_reason": "stop"}),
    (
        "a stop sequence",
        {},
        [finished(b"hello", stop=("l",))],
        None,
        {"finish_reason": "stop"},
    ),
    (
        "max_tokens",
        {},
        [finished(b"abcdefghijkl", max_tokens=1)],
        None,
        {"finish_reason": "length"},
    ),
    ("an empty body", {}, [finished(b"")], None, {"finish_reason": "empty"}),
    ("calls", TOOLS, [finished(b"{}")], MADE, {"finish_reason": "tool_calls"}),
    (
        "calls cut by max_tokens",
        TOOLS,
        [finished(b"abcdefghijkl", max_tokens=1)],
        MADE,
        {"finish_reason": "length"},
    ),
    (
        "no calls",
        TOOLS,
        [finished(b"It is sunny.")],
        NONE_MADE,
        {"finish_reason": "stop"},
    ),
    (
        "a routed answer",
        {},
        [finished(b"hello", routed=True)],
        None,
        {
            "finish_reason": "stop",
            "deployment": URL,
            "routing": [{"deployment": URL, "outcome": "ok"}],
        },
    ),
    (
        "a re-ask that made the call",
        TOOLS,
        [finished(b"It is sunny."), finished(b"{}")],
        MADE,
        {"finish_reason": "tool_calls", "tool_call_forced_retry": True},
    ),
    (
        "a re-ask that made none",
        TOOLS,
        [finished(b"It is sunny."), finished(b"It is sunny.")],
        NONE_MADE,
        {
            "finish_reason": "stop",
            "tool_call_forced_retry": True,
            "tool_call_missing": True,
        },
    ),
]
"""(case, call arguments, each request's final state, calls read, metadata)."""


@pytest.mark.parametrize(
    ("case", "kwargs", "states", "tool_answer", "expected"),
    METADATA,
    ids=[row[0] for row in METADATA],
)
def test_the_answers_metadata(
    case: str,
    kwargs: dict[str, Any],
    states: list[AnswerState],
    tool_answer: ToolAnswer | None,
    expected: dict[str, Any],
) -> None:
    plan = make_plan(**kwargs)
    requests = [plan.request]
    if len(states) > 1:
        requests.append(plan.reask(states[0].text, NONE_MADE))
    asks = list(zip(requests, states, strict=True))
    metadata = answer_metadata(plan, asks, tool_answer)
    assert metadata.response == {
        "model_name": "gemini-1.5-pro",
        "model_provider": "aichatfree",
        **expected,
    }
    assert metadata.finish_reason == expected["finish_reason"]
    input_tokens = sum(tokens_for_bytes(r.input_text_bytes) for r in requests)
    output_tokens = sum(tokens_for_bytes(s.text_bytes) for s in states)
    assert metadata.usage == {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }


def test_the_metadatas_keys_come_in_one_order() -> None:
    plan = make_plan(**TOOLS)
    first, second = finished(b"no"), finished(b"still no", routed=True)
    asks = [(plan.request, first), (plan.reask("no", NONE_MADE), second)]
    assert list(answer_metadata(plan, asks, NONE_MADE).response) == [
        "model_name",
        "finish_reason",
        "model_provider",
        "deployment",
        "routing",
        "tool_call_forced_retry",
        "tool_call_missing",
    ]
