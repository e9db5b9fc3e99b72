"""An agent with two tools on a text-only deployment (tool calling is emulated).

The deployment only takes and returns text, so `ChatAIChatFree.bind_tools` puts
the tools' schemas and an exact answer format into the conversation, and reads
the calls back out of the answer. `create_agent` then runs its usual loop: the
model calls a tool, the agent runs it and sends the result back, and so on
until the model answers.

It needs `langchain` for `create_agent` (`pip install langchain`). With
AICHATFREE_BASE_URL set, a real deployment plays the model:

    AICHATFREE_BASE_URL=https://aichatfree.info python examples/agent.py

Without it, the example starts the package's local server, which answers with
`SCRIPT` below, so what you see run is the adapter and the agent, offline.
"""

from __future__ import annotations

import os
from typing import Any

# pip install langchain-aichatfree langchain
from langchain.agents import create_agent
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.tools import tool

from langchain_aichatfree import ChatAIChatFree
from langchain_aichatfree.testing import LocalServer

WEATHER = {"paris": (18.0, "sunny"), "oslo": (4.0, "snowing")}


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city, with the temperature in Celsius."""
    celsius, sky = WEATHER.get(city.lower(), (15.0, "cloudy"))
    return f"{celsius} °C, {sky}"


@tool
def celsius_to_fahrenheit(celsius: float) -> float:
    """Convert a temperature from degrees Celsius to degrees Fahrenheit."""
    return round(celsius * 9 / 5 + 32, 1)


SCRIPT = (
    '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}',
    "Paris is at 18 °C; let me convert that.\n"
    '```json\n{"tool_calls": [{"name": "celsius_to_fahrenheit", '
    '"arguments": {"celsius": 18}}]}\n```',
    "It is sunny in Paris, at 64.4 °F (18 °C).",
)
"""The local server's answers, one per model turn: it plays the model."""


def play_script(turns: list[dict[str, str]]) -> str:
    """Answer with the `SCRIPT` entry for the number of model turns so far."""
    answered = sum(turn["role"] in ("model", "assistant") for turn in turns)
    return SCRIPT[min(answered, len(SCRIPT) - 1)]


LOCAL_SERVER: dict[str, Any] = {"responder": play_script}
"""How the local server is set up when no deployment is given."""


def run(model: ChatAIChatFree) -> list[BaseMessage]:
    """Ask the agent the question; return the whole conversation."""
    # The model on its own: one answer, its tool calls parsed.
    model_with_tools = model.bind_tools([get_weather, celsius_to_fahrenheit])
    message = model_with_tools.invoke("What is the weather in Paris?")
    print("bind_tools:", message.tool_calls)

    # The agent: it runs the tools the model calls, until the model answers.
    agent = create_agent(model, [get_weather, celsius_to_fahrenheit])
    question = "What is the weather in Paris, in Fahrenheit?"
    result = agent.invoke({"messages": [HumanMessage(question)]})
    messages: list[BaseMessage] = result["messages"]
    return messages


def main() -> None:
    if os.environ.get("AICHATFREE_BASE_URL"):
        with ChatAIChatFree() as model:
            messages = run(model)
    else:
        with (
            LocalServer(**LOCAL_SERVER) as server,
            ChatAIChatFree(base_url=server.url) as model,
        ):
            messages = run(model)
    for message in messages:
        message.pretty_print()


if __name__ == "__main__":
    main()
