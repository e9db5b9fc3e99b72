"""LangChain's standard integration tests, against the local server.

The server plays the model with `play_model`: it reads the tool instructions in
the prompt and answers as a model that follows them would, so what is tested is
the adapter (instructions out, envelopes in), not a model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_aichatfree.testing import LocalServer, Reply, echo_responder
from tests.standard_capabilities import Capabilities

_SERVER: dict[str, LocalServer] = {}

JOKE = {"setup": "Why do cats sit on laptops?", "punchline": "To watch the mouse."}

ARGUMENTS: dict[str, dict[str, Any]] = {
    "magic_function": {"input": 3},
    "magic_function_no_args": {},
    "my_adder_tool": {"a": 1, "b": 2},
    "get_weather": {"location": "San Francisco, CA"},
    "greeting_generator": {"answer_style": "pirate"},
    "Joke": JOKE,
    "JokeDict": JOKE,
}
"""What the played model passes to each tool the standard tests bind."""


def play_model(turns: list[dict[str, str]]) -> str | Reply:
    """Answer like a model that follows the instructions it is given."""
    prompt, last = turns[0]["text"], turns[-1]["text"]
    tools = [
        json.loads(line)["tool"]
        for line in prompt.splitlines()
        if line.startswith('{"tool": ')
    ]
    if tools and not last.startswith("[Tool"):
        forced = re.search(r'You must call the tool "([^"]+)"', prompt)
        name = forced.group(1) if forced else tools[0]
        if name == "unicode_customer":  # the name is in the question
            quoted = re.search(r"'([^']+)'", last.splitlines()[-1])
            arguments = {"customer_name": quoted.group(1) if quoted else "?"}
            arguments["description"] = "A company"
        else:
            arguments = ARGUMENTS[name]
        call = {"name": name, "arguments": arguments}
        return json.dumps({"tool_calls": [call]}, ensure_ascii=False)
    if "Answer with one JSON object" in prompt:
        return Reply(json.dumps(JOKE), chunk_size=8)  # streams partial objects
    return echo_responder(turns)


@pytest.fixture(scope="module", autouse=True)
def _servers() -> Iterator[None]:
    """One local server per dialect, shared by the module's tests."""
    options: dict[str, Any] = {
        "secret": "standard-secret",
        "passwords": "standard-pw",
        "responder": play_model,
    }
    with (
        LocalServer(dialect="gemini", **options) as gemini,
        LocalServer(dialect="chatgpt-demo", **options) as chatgpt_demo,
    ):
        _SERVER["gemini"] = gemini
        _SERVER["chatgpt-demo"] = chatgpt_demo
        yield
        _SERVER.clear()


class TestChatAIChatFreeIntegration(Capabilities, ChatModelIntegrationTests):
    dialect = "gemini"

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "base_url": _SERVER[self.dialect].url,
            "dialect": self.dialect,
            "secret": "standard-secret",
            "password": "standard-pw",
            "model": "gemini-1.5-pro",
        }


class TestChatAIChatFreeIntegrationChatgptDemo(TestChatAIChatFreeIntegration):
    """The same standard suite against a chatgpt-demo deployment."""

    dialect = "chatgpt-demo"
