"""Structured output in an LCEL chain, on a text-only deployment.

`with_structured_output` asks the model for one JSON object conforming to the
schema (the deployment has no JSON mode, so the schema travels in the prompt),
then parses and validates the answer. Streaming yields each new valid partial
object as the text arrives.

With AICHATFREE_BASE_URL set, a real deployment plays the model:

    AICHATFREE_BASE_URL=https://aichatfree.info python examples/structured_output.py

Without it, the example starts the package's local server, which plays a
comedian with the answers in `JOKES`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from langchain_core.prompts import ChatPromptTemplate
from pydantic import BaseModel, Field

from langchain_aichatfree import ChatAIChatFree
from langchain_aichatfree.testing import LocalServer, Reply


class Joke(BaseModel):
    """A joke to tell the user."""

    setup: str = Field(description="The question that sets up the joke")
    punchline: str = Field(description="The answer that resolves the joke")


JOKES = {
    "cats": {
        "setup": "Why do cats sit on laptops?",
        "punchline": "To keep an eye on the mouse.",
    },
    "rivers": {
        "setup": "Why are rivers so rich?",
        "punchline": "They have two banks.",
    },
}
"""The local server's answers, by topic: it plays the model."""


def play_comedian(turns: list[dict[str, str]]) -> Reply:
    """Answer with the joke about the topic asked for, a few bytes at a time."""
    question = turns[-1]["text"]
    topic = next((t for t in JOKES if t in question), "cats")
    return Reply(json.dumps(JOKES[topic]), chunk_size=6, chunk_delay=0.01)


LOCAL_SERVER: dict[str, Any] = {"responder": play_comedian}
"""How the local server is set up when no deployment is given."""


def run(model: ChatAIChatFree) -> None:
    """Tell a joke, then stream another one."""
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are a comedian."), ("human", "A joke about {topic}.")]
    )
    chain = prompt | model.with_structured_output(Joke)
    joke = chain.invoke({"topic": "cats"})
    print("joke:", joke)

    for partial in chain.stream({"topic": "rivers"}):
        print("partial:", partial)


def main() -> None:
    if os.environ.get("AICHATFREE_BASE_URL"):
        with ChatAIChatFree() as model:
            run(model)
    else:
        with (
            LocalServer(**LOCAL_SERVER) as server,
            ChatAIChatFree(base_url=server.url) as model,
        ):
            run(model)


if __name__ == "__main__":
    main()
