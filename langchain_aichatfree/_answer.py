"""Running a call plan (`PlannedCall`): the answer's text, then how it ended.

Three kinds of answer: plain text, streamed as it arrives; an answer read for
tool calls, whose text streams while a possible call is held back and whose
calls come at the end; and an answer that must make a call, read whole and
re-asked once if it made none. Whichever it is, `answer_metadata` builds its
metadata once (finish reason, deployment, routing, usage, the re-ask's flags)
into an `AnswerEnd`. Plain data only: LangChain's chunks and results are made
from it by `_answer_message`, the command line prints it as it is. The tool
modules are imported only for a plan with tools.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from langchain_aichatfree._call_plan import CallPlan
from langchain_aichatfree._constants import PROVIDER
from langchain_aichatfree._protocol import PreparedRequest, tokens_for_bytes
from langchain_aichatfree._retrying_call import RetryingCall
from langchain_aichatfree._sessions import SessionPool
from langchain_aichatfree._stream import AnswerState

if TYPE_CHECKING:
    from langchain_aichatfree._tool_calls import ToolAnswer
    from langchain_aichatfree._tool_reader import ToolAnswerReader

Ask = tuple[PreparedRequest, AnswerState]
"""One request of a call (the first, or the re-ask) and its final answer state."""


class Usage(TypedDict):
    """The estimated usage (LangChain's `UsageMetadata` keys, no details)."""

    input_tokens: int
    output_tokens: int
    total_tokens: int


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
    usage: Usage

    @property
    def finish_reason(self) -> str:
        """Why the answer ended: ``"stop"``, ``"length"``, ``"tool_calls"``..."""
        return str(self.response["finish_reason"])


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
    usage = Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
    )
    return AnswerMetadata(response, usage)


@dataclass(frozen=True, slots=True)
class AnswerEnd:
    """How an answer ended: what is left of its text, its metadata, its calls.

    Attributes:
        text: The text not yielded yet: after `PlannedCall.stream`'s pieces,
            a held-back tool answer's text ("" for plain text); from
            `PlannedCall.collect`, the whole answer's text (a tool answer's
            without its calls).
        metadata: The answer's metadata.
        tool_answer: The calls read out of the answer, if it was read for them.
    """

    text: str
    metadata: AnswerMetadata
    tool_answer: ToolAnswer | None = None


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """A call plan, run over the model's HTTP sessions.

    `stream` yields the text as it arrives, then an `AnswerEnd` with the
    metadata (and the calls, for an answer read for them); `collect` returns
    the whole answer as one `AnswerEnd`. An answer that must make a call is
    read whole, and re-asked once if it made none.

    Attributes:
        sessions: The model's HTTP sessions (one per event loop).
        plan: The call.
    """

    sessions: SessionPool
    plan: CallPlan

    async def stream(self) -> AsyncIterator[str | AnswerEnd]:
        """The answer's text as it arrives, then how it ended.

        Yields:
            Pieces of text, then one `AnswerEnd`. An answer read for calls
            holds a possible call back, and its calls come at the end; an
            answer that must make a call comes whole, at the end.
        """
        plan = self.plan
        if plan.requires_call:
            yield await self._ask_for_tool_calls()
        elif plan.reads_tool_calls:
            async for piece in self._stream_reading_calls():
                yield piece
        else:
            call = RetryingCall(self.sessions, plan.request, plan.options)
            async for piece in call.stream():
                yield piece
            metadata = answer_metadata(plan, [(plan.request, call.state)])
            yield AnswerEnd("", metadata)

    async def collect(self) -> AnswerEnd:
        """The whole answer.

        Returns:
            Its text, metadata (and calls, for an answer read for them).
        """
        plan = self.plan
        if plan.reads_tool_calls:
            return await self._ask_for_tool_calls()
        state = await RetryingCall(self.sessions, plan.request, plan.options).collect()
        return AnswerEnd(state.text, answer_metadata(plan, [(plan.request, state)]))

    async def _stream_reading_calls(self) -> AsyncIterator[str | AnswerEnd]:
        """Stream the text, each attempt through a fresh tool-call filter.

        The filter (a `ToolAnswerReader`'s `feed`) holds a possible call back:
        a retry after a failure inside a held-back call (nothing shown yet)
        starts reading afresh. The last attempt's reader gives the calls.
        """
        from langchain_aichatfree._tool_reader import ToolAnswerReader

        plan = self.plan
        assert plan.tools is not None  # noqa: S101 - only a plan with tools
        setup = plan.tools
        readers: list[ToolAnswerReader] = []

        def start_attempt_filter() -> Callable[[str], str]:
            readers.append(ToolAnswerReader(setup.names, parallel=setup.parallel))
            return readers[-1].feed

        call = RetryingCall(self.sessions, plan.request, plan.options)
        async for shown in call.stream(start_attempt_filter):
            yield shown
        tool_answer = readers[-1].finish()
        metadata = answer_metadata(plan, [(plan.request, call.state)], tool_answer)
        yield AnswerEnd(tool_answer.content, metadata, tool_answer)

    async def _ask_for_tool_calls(self) -> AnswerEnd:
        """Get a whole answer and read its calls; re-ask once if a call is missing.

        The re-ask is a second request whose history holds the non-compliant
        answer and a short corrective user turn (`CallPlan.reask`). Its answer
        is returned as it is, with `tool_call_forced_retry` in the metadata
        (and `tool_call_missing` if it still makes no required call).
        """
        from langchain_aichatfree._tool_reader import parse_answer

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
        metadata = answer_metadata(plan, asks, tool_answer)
        return AnswerEnd(tool_answer.content, metadata, tool_answer)
