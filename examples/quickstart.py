"""Quickstart: invoke, stream, an LCEL chain, a batch, and the async API.

Run against the public deployment, or any other with AICHATFREE_BASE_URL (and
AICHATFREE_PASSWORD / AICHATFREE_SECRET if it needs them):

    python examples/quickstart.py

`make demo` runs it against the package's local offline server.
"""

from __future__ import annotations

import asyncio

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

# pip install langchain-aichatfree
# The public site, unless AICHATFREE_BASE_URL names another deployment.
from langchain_aichatfree import ChatAIChatFree

model = ChatAIChatFree(max_retries=2, chunk_timeout=60)


def main() -> None:
    print("talking to", model.base_url)

    # 1. Invoke: one answer, with metadata.
    answer = model.invoke(
        [
            ("system", "You are a concise assistant."),
            ("human", "What is LangChain, in one sentence?"),
        ]
    )
    print("invoke:", answer.content)
    print("  metadata:", answer.response_metadata)
    print("  usage (estimated):", answer.usage_metadata)

    # 2. Stream: text as it arrives.
    print("stream: ", end="")
    for chunk in model.stream("Write a haiku about rivers."):
        print(chunk.text, end="", flush=True)
    print()

    # 3. An LCEL chain: prompt | model | parser, streamed.
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer in the style of {style}."), ("human", "{question}")]
    )
    chain = prompt | model | StrOutputParser()
    print("chain: ", end="")
    for piece in chain.stream(
        {"style": "a pirate", "question": "Why is the sea salty?"}
    ):
        print(piece, end="", flush=True)
    print()

    # 4. Batch: several questions at once.
    for question, reply in zip(
        ["Capital of France?", "2 + 2?"],
        model.batch(["Capital of France?", "2 + 2?"]),
        strict=True,
    ):
        print(f"batch: {question} -> {reply.content}")

    model.close()

    # 5. Async: the same calls on an event loop (the model is closed on exit).
    asyncio.run(async_main())


async def async_main() -> None:
    print("astream: ", end="")
    async with ChatAIChatFree() as model:
        answer = await model.ainvoke("Hi!")
        async for chunk in model.astream("Tell me a story"):
            print(chunk.text, end="", flush=True)
        print()
    print("ainvoke:", answer.content)


if __name__ == "__main__":
    main()
