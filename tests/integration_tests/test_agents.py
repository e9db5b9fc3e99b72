"""Agents on emulated tool calling, against the local server.

The server plays the model with scripted answers (`server.script(...)`), so
what is tested is the adapter: the instructions it sends, the calls it reads
back, the history it renders, and the tools an agent really runs.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.tools import BaseTool, tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from pydantic import BaseModel

from langchain_aichatfree import ChatAIChatFree
from langchain_aichatfree.testing import LocalServer, RecordedRequest, Reply

EXAMPLES = Path(__file__).parents[2] / "examples"


def make(server: LocalServer, **kwargs: Any) -> ChatAIChatFree:
    return ChatAIChatFree(base_url=server.url, chunk_timeout=5.0, **kwargs)


class Toolbox:
    """Two tools that record every call: proof that the agent ran them."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, Any]] = []

        @tool
        def get_weather(city: str) -> str:
            """Get the current weather in a city, in Celsius."""
            self.ran.append(("get_weather", city))
            return f"18 °C, sunny in {city}"

        @tool
        def celsius_to_fahrenheit(celsius: float) -> float:
            """Convert degrees Celsius to degrees Fahrenheit."""
            self.ran.append(("celsius_to_fahrenheit", celsius))
            return round(celsius * 9 / 5 + 32, 1)

        self.tools: list[BaseTool] = [get_weather, celsius_to_fahrenheit]


def envelope(*calls: tuple[str, dict[str, Any]]) -> str:
    items = [{"name": name, "arguments": args} for name, args in calls]
    return json.dumps({"tool_calls": items}, ensure_ascii=False)


WEATHER = envelope(("get_weather", {"city": "Paris"}))
CONVERT = envelope(("celsius_to_fahrenheit", {"celsius": 18}))
FINAL = "It is sunny in Paris, at 64.4 °F."
QUESTION = "What is the weather in Paris, in Fahrenheit?"


def turns(request: RecordedRequest) -> list[tuple[str, str]]:
    """A request's conversation as (role, text), in either dialect."""
    out = []
    for message in request.payload["messages"]:
        text = message.get("content")
        if text is None:
            text = "".join(part["text"] for part in message["parts"])
        out.append((message["role"], text))
    return out


def assert_alternates(request: RecordedRequest) -> None:
    roles = [role for role, _ in turns(request) if role != "system"]
    assert roles[0] == "user"
    assert roles[-1] == "user"
    assert all(a != b for a, b in itertools.pairwise(roles))


# -- create_agent ------------------------------------------------------------------


def test_create_agent_runs_two_tools_and_answers(server: LocalServer) -> None:
    box = Toolbox()
    server.script(WEATHER, f"Converting.\n```json\n{CONVERT}\n```", FINAL)
    with make(server) as model:
        agent = create_agent(model, box.tools)
        result = agent.invoke({"messages": [HumanMessage(QUESTION)]})
    messages: list[BaseMessage] = result["messages"]

    assert box.ran == [("get_weather", "Paris"), ("celsius_to_fahrenheit", 18.0)]
    assert [type(m) for m in messages] == [
        HumanMessage,
        AIMessage,
        ToolMessage,
        AIMessage,
        ToolMessage,
        AIMessage,
    ]
    first_call = messages[1].tool_calls[0]  # type: ignore[attr-defined]
    second_call = messages[3].tool_calls[0]  # type: ignore[attr-defined]
    assert messages[3].content == "Converting."
    assert messages[4].content == "64.4"
    assert messages[-1].content == FINAL

    # What the server saw last: the instructions, then the whole loop, rendered.
    assert len(server.requests) == 3
    last = server.requests[-1]
    assert_alternates(last)
    [(_, prompt), (_, call_1), (_, result_1), (_, call_2), (_, result_2)] = turns(last)
    assert '{"tool": "get_weather", "description": "Get the current' in prompt
    assert '{"tool": "celsius_to_fahrenheit"' in prompt
    assert prompt.endswith(QUESTION)
    assert json.loads(call_1) == {
        "tool_calls": [
            {
                "id": first_call["id"],
                "name": "get_weather",
                "arguments": {"city": "Paris"},
            }
        ]
    }
    assert result_1 == (
        f"[Tool result get_weather (call {first_call['id']})]\n18 °C, sunny in Paris"
    )
    assert call_2.startswith("Converting.\n{")
    assert second_call["id"] in call_2
    assert result_2 == (
        f"[Tool result celsius_to_fahrenheit (call {second_call['id']})]\n64.4"
    )


@pytest.mark.xfail(
    sys.version_info < (3, 11),
    reason=(
        "Python 3.10's asyncio cannot hand the run's context to LangGraph's tasks, "
        "so astream(stream_mode='messages') gets no live tokens from any chat model "
        "(langchain-core's GenericFakeChatModel too); LangGraph documents this limit"
    ),
    strict=True,
)
async def test_create_agent_streams_text_live_and_calls_on_the_last_chunk(
    server: LocalServer,
) -> None:
    box = Toolbox()
    server.script(
        Reply(WEATHER, chunk_size=5, chunk_delay=0.005),
        Reply(f"Let me convert.\n{CONVERT}", chunk_size=5, chunk_delay=0.005),
        Reply(FINAL, chunk_size=4, chunk_delay=0.005),
    )
    chunks: list[AIMessageChunk] = []
    async with make(server) as model:
        agent = create_agent(model, box.tools)
        async for chunk, _ in agent.astream(
            {"messages": [HumanMessage(QUESTION)]}, stream_mode="messages"
        ):
            if isinstance(chunk, AIMessageChunk):
                chunks.append(chunk)
    assert box.ran == [("get_weather", "Paris"), ("celsius_to_fahrenheit", 18.0)]
    texts = [c.text for c in chunks if c.text]
    assert "".join(texts) == "Let me convert." + FINAL
    assert len(texts) > len(FINAL) // 4  # the final answer came in pieces
    assert not any("tool_calls" in text for text in texts)  # envelopes held back
    with_calls = [c for c in chunks if c.tool_call_chunks]
    assert [c.tool_call_chunks[0]["name"] for c in with_calls] == [
        "get_weather",
        "celsius_to_fahrenheit",
    ]
    assert all(c.chunk_position == "last" for c in with_calls)


def test_parallel_calls_run_in_one_step_in_a_langgraph_graph(
    server: LocalServer,
) -> None:
    box = Toolbox()
    server.script(
        envelope(
            ("get_weather", {"city": "Paris"}),
            ("celsius_to_fahrenheit", {"celsius": 18}),
        ),
        FINAL,
    )
    with make(server) as model:
        model_with_tools = model.bind_tools(box.tools)

        def call_model(state: MessagesState) -> dict[str, Any]:
            return {"messages": [model_with_tools.invoke(state["messages"])]}

        graph = StateGraph(MessagesState)
        graph.add_node("model", call_model)
        graph.add_node("tools", ToolNode(box.tools))
        graph.add_edge(START, "model")
        graph.add_conditional_edges("model", tools_condition)
        graph.add_edge("tools", "model")
        result = graph.compile().invoke({"messages": [HumanMessage(QUESTION)]})

    assert sorted(box.ran) == [
        ("celsius_to_fahrenheit", 18.0),
        ("get_weather", "Paris"),
    ]
    assert result["messages"][-1].content == FINAL
    last = server.requests[-1]
    assert_alternates(last)
    roles = [role for role, _ in turns(last)]
    assert roles == ["user", "model", "user"]  # both results in one user turn
    results = turns(last)[2][1]
    assert results.startswith("[Tool result get_weather (call call_")
    assert "\n\n[Tool result celsius_to_fahrenheit (call call_" in results


def test_chatgpt_demo_dialect_sends_instructions_as_the_system_message() -> None:
    box = Toolbox()
    with LocalServer(dialect="chatgpt-demo") as server:
        server.script(WEATHER, FINAL)
        with make(server, dialect="chatgpt-demo") as model:
            agent = create_agent(model, box.tools, system_prompt="Be brief.")
            result = agent.invoke({"messages": [HumanMessage(QUESTION)]})
        last = server.requests[-1]
    assert box.ran == [("get_weather", "Paris")]
    assert result["messages"][-1].content == FINAL
    roles = [role for role, _ in turns(last)]
    assert roles == ["system", "user", "assistant", "user"]
    system = turns(last)[0][1]
    assert system.startswith("Be brief.\n\nYou can call tools.")
    assert turns(last)[1][1] == QUESTION


class Report(BaseModel):
    """A weather report."""

    city: str
    fahrenheit: float


def test_create_agent_structured_response_uses_the_tool_strategy(
    server: LocalServer,
) -> None:
    # The profile says: tool calling yes, native structured output no.
    box = Toolbox()
    report = {"city": "Paris", "fahrenheit": 64.4}
    server.script(WEATHER, envelope(("Report", report)))
    with make(server) as model:
        agent = create_agent(model, box.tools, response_format=Report)
        result = agent.invoke({"messages": [HumanMessage(QUESTION)]})
    assert box.ran == [("get_weather", "Paris")]
    assert result["structured_response"] == Report(**report)
    prompt = turns(server.requests[0])[0][1]
    assert '{"tool": "Report", "description": "A weather report."' in prompt
    assert "You must call at least one tool now" in prompt


def test_a_malformed_call_ends_the_agent_with_an_invalid_call(
    server: LocalServer,
) -> None:
    box = Toolbox()
    server.script(envelope(("search_web", {"q": "Paris weather"})))
    with make(server) as model:
        agent = create_agent(model, box.tools)
        result = agent.invoke({"messages": [HumanMessage(QUESTION)]})
    answer = result["messages"][-1]
    assert box.ran == []
    assert answer.tool_calls == []
    [bad] = answer.invalid_tool_calls
    assert bad["name"] == "search_web"
    assert "not a bound tool" in bad["error"]
    assert len(server.requests) == 1


# -- forcing a call ----------------------------------------------------------------


def test_a_required_call_is_asked_for_once_more(server: LocalServer) -> None:
    box = Toolbox()
    server.script("It is probably sunny.", WEATHER)
    with make(server) as model:
        answer = model.bind_tools(box.tools, tool_choice="any").invoke(QUESTION)
    assert [c["name"] for c in answer.tool_calls] == ["get_weather"]
    assert answer.response_metadata["tool_call_forced_retry"] is True
    assert "tool_call_missing" not in answer.response_metadata
    assert answer.response_metadata["finish_reason"] == "tool_calls"
    assert len(server.requests) == 2
    retry = turns(server.requests[1])
    assert [role for role, _ in retry] == ["user", "model", "user"]
    assert retry[0] == turns(server.requests[0])[0]
    assert retry[1][1] == "It is probably sunny."
    assert retry[2][1].startswith("Your answer did not call a tool. You must call")
    usage = answer.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] > len(retry[0][1]) // 4  # both requests counted


def test_a_named_call_is_asked_for_and_the_miss_is_flagged(
    server: LocalServer,
) -> None:
    box = Toolbox()
    server.script(WEATHER, "I cannot convert anything yet.")
    with make(server) as model:
        bound = model.bind_tools(box.tools, tool_choice="celsius_to_fahrenheit")
        answer = bound.invoke(QUESTION)
    assert answer.content == "I cannot convert anything yet."
    assert answer.tool_calls == []
    assert answer.response_metadata["tool_call_forced_retry"] is True
    assert answer.response_metadata["tool_call_missing"] is True
    prompt = turns(server.requests[0])[0][1]
    assert 'You must call the tool "celsius_to_fahrenheit" now' in prompt
    correction = turns(server.requests[1])[-1][1]
    assert correction.startswith('You did not call "celsius_to_fahrenheit".')
    assert len(server.requests) == 2


async def test_a_required_call_streams_as_one_last_chunk(server: LocalServer) -> None:
    box = Toolbox()
    server.script(Reply("Hmm.", chunk_size=2), Reply(WEATHER, chunk_size=3))
    async with make(server) as model:
        bound = model.bind_tools(box.tools, tool_choice="required")
        chunks = [chunk async for chunk in bound.astream(QUESTION)]
    [chunk] = chunks
    assert isinstance(chunk, AIMessageChunk)
    assert chunk.chunk_position == "last"
    assert [c["name"] for c in chunk.tool_calls] == ["get_weather"]
    assert chunk.response_metadata["tool_call_forced_retry"] is True
    assert len(server.requests) == 2


# -- streaming with tools bound ----------------------------------------------------


async def test_plain_text_streams_as_it_arrives_with_tools_bound(
    server: LocalServer,
) -> None:
    box = Toolbox()
    server.script(
        Reply(chunks=["It is ", "sunny ", "in Paris", " today."], chunk_delay=0.25)
    )
    arrivals: list[tuple[float, Any]] = []
    async with make(server) as model:
        start = time.monotonic()
        async for chunk in model.bind_tools(box.tools).astream(QUESTION):
            arrivals.append((time.monotonic() - start, chunk))
    texts = [c.text for _, c in arrivals if c.text]
    assert "".join(texts) == "It is sunny in Paris today."
    assert len(texts) >= 4
    first = next(t for t, c in arrivals if c.text)
    assert first < 0.6 < arrivals[-1][0]  # shown long before the answer ended
    assert [c.chunk_position for _, c in arrivals][-1] == "last"
    assert not any(c.tool_call_chunks for _, c in arrivals)


async def test_astream_events_show_text_and_calls(server: LocalServer) -> None:
    box = Toolbox()
    server.script(
        Reply(
            f"Checking Paris.\n```json\n{WEATHER}\n```", chunk_size=4, chunk_delay=0.005
        )
    )
    streamed: list[str] = []
    ended: list[Any] = []
    async with make(server) as model:
        bound = model.bind_tools(box.tools)
        async for event in bound.astream_events(QUESTION, version="v2"):
            if event["event"] == "on_chat_model_stream":
                streamed.append(event["data"]["chunk"].text)
            elif event["event"] == "on_chat_model_end":
                ended.append(event["data"]["output"])
    assert "".join(streamed) == "Checking Paris."
    [output] = ended
    assert output.content == "Checking Paris."
    assert [(c["name"], c["args"]) for c in output.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]


ANSWERS = [
    "Plain text, with {braces} and `code`.",
    f"Sure.\n```json\n{WEATHER}\n```\nOne moment.",
    envelope(
        ("get_weather", {"city": "東京"}), ("celsius_to_fahrenheit", {"celsius": 3})
    ),
    f"<tool_call>{WEATHER}</tool_call>",
    envelope(("search_web", {"q": "x"})),
    '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Pa',
]


@pytest.mark.parametrize("text", ANSWERS)
async def test_invoke_and_a_merged_stream_give_the_same_message(
    server: LocalServer, text: str
) -> None:
    box = Toolbox()
    server.script(Reply(text, chunk_size=3), Reply(text, chunk_size=3))
    async with make(server) as model:
        bound = model.bind_tools(box.tools)
        invoked = await bound.ainvoke(QUESTION)
        merged: Any = None
        async for chunk in bound.astream(QUESTION):
            merged = chunk if merged is None else merged + chunk
    assert merged.content == invoked.content
    assert [(c["name"], c["args"]) for c in merged.tool_calls] == [
        (c["name"], c["args"]) for c in invoked.tool_calls
    ]
    # LangChain rebuilds a stream's invalid calls from its chunks, without the
    # parse error; the call stays invalid, under the same name.
    assert [c["name"] for c in merged.invalid_tool_calls] == [
        c["name"] for c in invoked.invalid_tool_calls
    ]
    assert all(c["error"] for c in invoked.invalid_tool_calls)
    assert merged.response_metadata == invoked.response_metadata
    assert merged.usage_metadata == invoked.usage_metadata


def test_sync_stream_with_tools(server: LocalServer) -> None:
    box = Toolbox()
    server.script(Reply(f"On it. {WEATHER}", chunk_size=6))
    with make(server) as model:
        chunks = list(model.bind_tools(box.tools).stream(QUESTION))
    assert chunks[0].content == "On it."
    assert chunks[-1].tool_calls[0]["args"] == {"city": "Paris"}


async def test_concurrent_agents_do_not_mix_their_calls() -> None:
    def respond(turns: list[dict[str, str]]) -> str:
        city = turns[0]["text"].rsplit(" ", 1)[-1]
        if turns[-1]["text"].startswith("[Tool result"):
            return f"Done with {city}."
        return envelope(("get_weather", {"city": city}))

    box = Toolbox()
    with LocalServer(responder=respond) as server:
        async with make(server) as model:
            agent = create_agent(model, box.tools)
            cities = ["Paris", "Oslo", "Lima", "Kyiv"]
            results = await asyncio.gather(
                *(
                    agent.ainvoke({"messages": [HumanMessage(f"Weather in {c}")]})
                    for c in cities
                )
            )
    assert [r["messages"][-1].content for r in results] == [
        f"Done with {c}." for c in cities
    ]
    assert sorted(box.ran) == sorted(("get_weather", c) for c in cities)


# -- the example -----------------------------------------------------------------


def test_the_agent_example_runs_offline(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AICHATFREE_BASE_URL", raising=False)
    spec = importlib.util.spec_from_file_location(
        "agent_example", EXAMPLES / "agent.py"
    )
    assert spec is not None
    assert spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)

    example.main()
    output = capsys.readouterr().out
    assert "bind_tools: [{'name': 'get_weather', 'args': {'city': 'Paris'}" in output
    assert "18.0 °C, sunny" in output  # get_weather ran
    assert "\n64.4\n" in output  # celsius_to_fahrenheit ran
    assert output.rstrip().endswith(example.SCRIPT[-1])


async def test_stream_retries_a_failure_inside_a_held_back_envelope(
    server: LocalServer,
) -> None:
    # The first answer breaks inside the envelope: nothing was shown, so the
    # call is retried and the second answer's call arrives.
    server.script(Reply(WEATHER, chunk_size=8, cut_after=2), WEATHER)
    tools = Toolbox().tools
    async with make(server) as model:
        chunks = [c async for c in model.bind_tools(tools).astream(QUESTION)]
    assert len(server.requests) == 2
    assert "".join(c.text for c in chunks) == ""
    last = chunks[-1]
    assert isinstance(last, AIMessageChunk)
    [call] = last.tool_call_chunks
    assert call["name"] == "get_weather"
    assert json.loads(call["args"] or "{}") == {"city": "Paris"}
