"""Streaming: iterate the chunks, or let a callback handler receive the tokens.

A callback handler sees every token of every call it is attached to, wherever
the call is made (inside a chain, an agent, a `RunnableWithMessageHistory`...),
which suits logging, progress display and token counting. With
`streaming=True`, even `invoke` streams internally and fires `on_llm_new_token`.

    python examples/streaming_callbacks.py
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult
from langchain_core.prompts import ChatPromptTemplate

from langchain_aichatfree import ChatAIChatFree


class PrintTokens(BaseCallbackHandler):
    """Print each token as it arrives, then a one-line summary of the answer."""

    def __init__(self) -> None:
        self.chunks = 0

    def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        if token:
            self.chunks += 1
            print(token, end="", flush=True)

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        text = response.generations[0][0].text
        print(f"\n  [{self.chunks} chunks, {len(text)} characters]")
        self.chunks = 0


def main() -> None:
    # 1. Plain streaming: iterate the chunks yourself.
    model = ChatAIChatFree()
    print("stream: ", end="")
    for chunk in model.stream("Tell me a story"):
        print(chunk.text, end="", flush=True)
    print()
    model.close()

    # 2. A handler on the model: `invoke` streams into it (streaming=True).
    model = ChatAIChatFree(streaming=True, callbacks=[PrintTokens()])
    print("invoke with callbacks: ", end="")
    model.invoke([("system", "Answer briefly."), ("human", "Hi!")])

    model.close()

    # 3. A handler for one call only, in the call's config (here, of a chain).
    model = ChatAIChatFree(streaming=True)
    chain = ChatPromptTemplate.from_template("Name three {things}.") | model
    print("chain with callbacks: ", end="")
    chain.invoke({"things": "rivers"}, config={"callbacks": [PrintTokens()]})
    model.close()


if __name__ == "__main__":
    main()
