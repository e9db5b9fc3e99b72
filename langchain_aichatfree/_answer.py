"""Running a call plan (`PlannedCall`): the answer as chunks or as a `ChatResult`.

Three kinds of answer: plain text, streamed as it arrives; an answer read for
tool calls, whose text streams while a possible call is held back and whose
calls come on the last chunk; and an answer that must make a call, read whole
and re-asked once if it made none. Whichever it is, `answer_metadata` builds
its metadata once (finish reason, deployment, routing, usage, the re-ask's
flags), and the last chunk or the result is made from that.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from langchain_aichatfree._call_plan import CallPlan
from langchain_aichatfree._constants import PROVIDER
from langchain_aichatfree._protocol import PreparedRequest, tokens_for_bytes
from langchain_aichatfree._retrying_call import RetryingCall
from langchain_aichatfree._sessions import SessionPool
from langchain_aichatfree._stream import AnswerState
from langchain_aichatfree._tool_calls import ToolAnswer
from langchain_aichatfree._tool_reader import ToolAnswerReader, parse_answer

Ask = tuple[PreparedRequest, AnswerState]
"""One request of a call (the first, or the re-ask) and its final answer state."""


@dataclass(frozen=True, slots=True)
class AnswerMetadata:
    """An answer's metadata; the last chunk and the result are made from it.

    Attributes:
        response: ``response_metadata``: ``model_name``, ``finish_reason``,
            ``model_provider``, and ``deployment`` and ``routing`` when the
            answer was routed, ``tool_call_forced_retry`` and
            ``tool_call_missing`` after a re-ask.
        usage: The estimated usage, every request of the call counted.
    """

    response: dict[str, Any]
    usage: UsageMetadata

    @property
    def finish_reason(self) -> str:
        """Why the answer ended: ``"stop"``, ``"length"``, ``"tool_calls"``..."""
        return str(self.response["finish_reason"])

    def last_chunk(
        self, content: str = "", tool_answer: ToolAnswer | None = None
    ) -> ChatGenerationChunk:
        """The stream's last chunk: the metadata, and the calls if any.

        Args:
            content: Text not shown yet (a tool answer's, held back).
            tool_answer: The calls read out of the answer.

        Returns:
            The chunk.
        """
        calls: dict[str, Any] = {}
        if tool_answer is not None:
            calls["tool_call_chunks"] = tool_answer.tool_call_chunks()
        return ChatGenerationChunk(
            message=AIMessageChunk(
                content=content,
                **calls,
                chunk_position="last",
                response_metadata=self.response,
                usage_metadata=self.usage,
            ),
            generation_info={"finish_reason": self.finish_reason},
        )

    def result(self, content: str, tool_answer: ToolAnswer | None = None) -> ChatResult:
        """The whole answer as a result of one generation.

        Args:
            content: The answer's text (a tool answer's, without its calls).
            tool_answer: The calls read out of the answer.

        Returns:
            The result, its message carrying the metadata.
        """
        calls: dict[str, Any] = {}
        if tool_answer is not None:
            calls["tool_calls"] = tool_answer.tool_calls
            calls["invalid_tool_calls"] = tool_answer.invalid_tool_calls
        message = AIMessage(
            content=content,
            **calls,
            response_metadata=self.response,
            usage_metadata=self.usage,
        )
        return ChatResult(
            generations=[
                ChatGeneration(
                    message=message,
                    generation_info={"finish_reason": self.finish_reason},
                )
            ],
            llm_output={"model_name": self.response["model_name"]},
        )


def answer_metadata(
    plan: CallPlan, asks: Sequence[Ask], tool_answer: ToolAnswer | None = None
) -> AnswerMetadata:
    """The one builder of an answer's metadata.

    Args:
        plan: The call's plan.
        asks: Its requests and their answers' final states, the first request
            first (two after a re-ask: the last one is the answer).
        tool_answer: The calls read out of the last answer, if it was read for
            calls.

    Returns:
        The metadata: the finish reason is ``"tool_calls"`` for an answer that
        ended normally with calls; the usage counts every request.
    """
    state = asks[-1][1]
    finish_reason: str = state.finish_reason or "stop"
    if tool_answer is not None and tool_answer.tool_calls and finish_reason == "stop":
        finish_reason = "tool_calls"
    response: dict[str, Any] = {
        "model_name": plan.model,
        "finish_reason": finish_reason,
        "model_provider": PROVIDER,
    }
    if state.deployment is not None:
        response["deployment"] = state.deployment
        response["routing"] = list(state.routing)
    if len(asks) > 1:  # a required call was missing, and asked for again
        response["tool_call_forced_retry"] = True
        setup = plan.tools
        if tool_answer is None or setup is None or not tool_answer.satisfies(setup):
            response["tool_call_missing"] = True
    input_tokens = sum(tokens_for_bytes(r.input_text_bytes) for r, _ in asks)
    output_tokens = sum(tokens_for_bytes(s.text_bytes) for _, s in asks)
    usage = UsageMetadata(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
    )
    return AnswerMetadata(response, usage)


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """A call plan, run over the model's HTTP sessions.

    `stream` yields the text as it arrives, then a last chunk with the
    metadata (and the calls, for an answer read for them); `collect` returns
    the whole answer. An answer that must make a call is read whole, and
    re-asked once if it made none.

    Attributes:
        sessions: The model's HTTP sessions (one per event loop).
        plan: The call.
    """

    sessions: SessionPool
    plan: CallPlan

    async def stream(self) -> AsyncIterator[ChatGenerationChunk]:
        """The answer as chunks: its text as it arrives, then the last chunk.

        Yields:
            The chunks. An answer read for calls holds a possible call back,
            and its calls come on the last chunk; an answer that must make a
            call comes as one last chunk.
        """
        plan = self.plan
        if plan.requires_call:
            tool_answer, metadata = await self._ask_for_tool_calls()
            yield metadata.last_chunk(tool_answer.content, tool_answer)
        elif plan.reads_tool_calls:
            async for chunk in self._stream_reading_calls():
                yield chunk
        else:
            call = RetryingCall(self.sessions, plan.request, plan.options)
            async for piece in call.stream():
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
            yield answer_metadata(plan, [(plan.request, call.state)]).last_chunk()

    async def collect(self) -> ChatResult:
        """The whole answer.

        Returns:
            One generation, its message carrying the metadata (and the calls,
            for an answer read for them).
        """
        plan = self.plan
        if plan.reads_tool_calls:
            tool_answer, metadata = await self._ask_for_tool_calls()
            return metadata.result(tool_answer.content, tool_answer)
        state = await RetryingCall(self.sessions, plan.request, plan.options).collect()
        return answer_metadata(plan, [(plan.request, state)]).result(state.text)

    async def _stream_reading_calls(self) -> AsyncIterator[ChatGenerationChunk]:
        """Stream the text, each attempt through a fresh tool-call filter.

        The filter (a `ToolAnswerReader`'s `feed`) holds a possible call back:
        a retry after a failure inside a held-back call (nothing shown yet)
        starts reading afresh. The last attempt's reader gives the calls.
        """
        plan = self.plan
        assert plan.tools is not None  # noqa: S101 - only a plan with tools
        setup = plan.tools
        readers: list[ToolAnswerReader] = []

        def start_attempt_filter() -> Callable[[str], str]:
            readers.append(ToolAnswerReader(setup.names, parallel=setup.parallel))
            return readers[-1].feed

        call = RetryingCall(self.sessions, plan.request, plan.options)
        async for shown in call.stream(start_attempt_filter):
            yield ChatGenerationChunk(message=AIMessageChunk(content=shown))
        tool_answer = readers[-1].finish()
        metadata = answer_metadata(plan, [(plan.request, call.state)], tool_answer)
        yield metadata.last_chunk(tool_answer.content, tool_answer)

    async def _ask_for_tool_calls(self) -> tuple[ToolAnswer, AnswerMetadata]:
        """Get a whole answer and read its calls; re-ask once if a call is missing.

        The re-ask is a second request whose history holds the non-compliant
        answer and a short corrective user turn (`CallPlan.reask`). Its answer
        is returned as it is, with `tool_call_forced_retry` in the metadata
        (and `tool_call_missing` if it still makes no required call).
        """
        plan = self.plan
        assert plan.tools is not None  # noqa: S101 - only a plan with tools
        setup = plan.tools
        state = await RetryingCall(self.sessions, plan.request, plan.options).collect()
        tool_answer = parse_answer(state.text, setup)
        asks: list[Ask] = [(plan.request, state)]
        if setup.requires_call and not tool_answer.satisfies(setup):
            retry = plan.reask(state.text, tool_answer)
            limiter = plan.options.rate_limiter
            if limiter is not None:  # a new request, like any other
                await limiter.aacquire(blocking=True)
            state = await RetryingCall(self.sessions, retry, plan.options).collect()
            tool_answer = parse_answer(state.text, setup)
            asks.append((retry, state))
        return tool_answer, answer_metadata(plan, asks, tool_answer)
