"""The LangChain clients: ours, ours-sync, lc+raw, floor and openai.

Kept apart from the raw client so that raw's processes never import LangChain
(whose objects every garbage collection would then walk too).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from bench.clients import Raw
from bench.spec import PACE, SECRET, STOP, Spec

FLOOR_GROUP = 16
"""The floor streams one piece per this many chunks: the server's write groups."""


def _text(message: BaseMessage) -> str:
    return cast("str", message.content)  # every client here answers in text


class _LangChainClient:
    """A chat model's `ainvoke` and `astream`, as a user would call them."""

    model: BaseChatModel

    async def invoke(self, spec: Spec) -> str:
        return _text(await self.model.ainvoke(spec.prompt))

    async def stream(self, spec: Spec) -> tuple[str, int]:
        parts = [_text(chunk) async for chunk in self.model.astream(spec.prompt)]
        parts = [part for part in parts if part]
        return "".join(parts), len(parts)

    async def aclose(self) -> None:
        pass


class Ours(_LangChainClient):
    def __init__(self, url: str) -> None:
        from langchain_aichatfree import ChatAIChatFree

        self.chat = ChatAIChatFree(
            base_url=url, secret=SECRET, stop=[STOP], timeout=300
        )
        self.model = self.chat

    async def aclose(self) -> None:
        await self.chat.aclose()


class OursSync(Ours):
    """The sync API, called as plain sync code (the worker runs it with no loop).

    Its methods are coroutines only to share the workloads' code; they never
    wait on a loop.
    """

    sync = True

    async def invoke(self, spec: Spec) -> str:
        return _text(self.chat.invoke(spec.prompt))

    async def stream(self, spec: Spec) -> tuple[str, int]:
        parts = [_text(chunk) for chunk in self.chat.stream(spec.prompt)]
        parts = [part for part in parts if part]
        return "".join(parts), len(parts)

    async def aclose(self) -> None:
        self.chat.close()


class OpenAI(_LangChainClient):
    def __init__(self, url: str) -> None:
        from langchain_openai import ChatOpenAI
        from pydantic import SecretStr

        self.chat = ChatOpenAI(
            model="bench", base_url=url + "/v1", api_key=SecretStr("bench")
        )
        self.model = self.chat

    async def aclose(self) -> None:
        client = self.chat.root_async_client
        if client is not None:
            await client.close()


class _Floor(BaseChatModel):
    """Answers from memory: what LangChain itself costs, with no I/O.

    `ainvoke` returns the text at once; `astream` yields it one piece per server
    write group (one per chunk, ~1 ms apart, when paced), letting other tasks
    run between pieces as a network wait would.
    """

    @property
    def _llm_type(self) -> str:
        return "bench-floor"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        raise NotImplementedError

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        spec = Spec.from_prompt(_text(messages[-1]))
        message = AIMessage(content=spec.text)
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        spec = Spec.from_prompt(_text(messages[-1]))
        chunks = spec.text_chunks()
        group = 1 if spec.mode == "paced" else FLOOR_GROUP
        delay = PACE if spec.mode == "paced" else 0
        for i in range(0, len(chunks), group):
            await asyncio.sleep(delay)
            piece = "".join(chunks[i : i + group])
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))


class Floor(_LangChainClient):
    def __init__(self, url: str) -> None:
        self.model = _Floor()


class _Minimal(BaseChatModel):
    """The raw client in a chat model: no stop, sentinel, retries or timeouts."""

    raw: Any

    @property
    def _llm_type(self) -> str:
        return "bench-minimal"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        raise NotImplementedError

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        spec = Spec.from_prompt(_text(messages[-1]))
        message = AIMessage(content=await self.raw.invoke(spec))
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        spec = Spec.from_prompt(_text(messages[-1]))
        async for piece in self.raw.pieces(spec):
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))


class LangChainRaw(_LangChainClient):
    """The least a LangChain integration of the protocol can cost.

    `ours` over this is the price of our own features, apart from LangChain's.
    """

    def __init__(self, url: str) -> None:
        self.raw = Raw(url)
        self.model = _Minimal(raw=self.raw)

    async def aclose(self) -> None:
        await self.raw.aclose()
