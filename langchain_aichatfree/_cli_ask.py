"""``aichatfree ask``: one question, its answer streamed or printed as JSON.

The whole one-shot path is here: reading the question (arguments or stdin),
the conversation sent, the answer streamed to stdout within ``--timeout``
(`stream_answer`, which ``chat`` uses for each of its turns too) or awaited
whole for ``--json``.

A one-shot question does not build a `ChatAIChatFree`: its settings and
connections (`ModelConnections`, the model's base: the same fields, rules, env
defaults and sessions), its turns, the call's plan and the run (`PlannedCall`)
are the model's own steps, without LangChain's model classes, tracers and
langsmith to import.
``chat`` streams from the model (`model_pieces`).
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from langchain_aichatfree import _sync
from langchain_aichatfree._cli_model import make_settings
from langchain_aichatfree._cli_report import (
    ExitCode,
    LineTrackingWriter,
    UsageError,
    say,
)
from langchain_aichatfree._cli_wait import WaitingNotice

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from langchain_aichatfree._answer import PlannedCall
    from langchain_aichatfree._model_settings import ModelSettings
    from langchain_aichatfree._protocol import Turn
    from langchain_aichatfree.chat_models import ChatAIChatFree

T = TypeVar("T")

_EMPTY_ANSWER: Final = (
    "the deployment answered with no text (finish_reason 'empty'), most often "
    "because the model blocked the prompt; try rephrasing it"
)
_NO_QUESTION: Final = (
    'no question: give one (aichatfree "Hi!"), pipe one in '
    "(echo Hi | aichatfree), type or paste one (aichatfree -), or start "
    "a session (aichatfree chat)"
)


def conversation(
    system: str | None, history: Sequence[BaseMessage], question: str
) -> list[BaseMessage]:
    """The messages to send: the system instructions, the history, the question.

    Args:
        system: The system instructions, if any.
        history: The earlier turns.
        question: The new question.

    Returns:
        The messages.
    """
    from langchain_core.messages import HumanMessage, SystemMessage

    head: list[BaseMessage] = [SystemMessage(system)] if system else []
    return [*head, *history, HumanMessage(question)]


def one_shot_turns(system: str | None, question: str) -> list[Turn]:
    """The turns of a one-shot question: the system instructions, the question.

    The same turns `conversation`'s messages become (`_turns.message_turns`),
    made without LangChain's message classes.

    Args:
        system: The system instructions, if any.
        question: The question.

    Returns:
        The turns.

    Raises:
        ValueError: A text that cannot be sent (an unpaired surrogate).
    """
    from langchain_aichatfree._protocol import make_turn

    head = [make_turn("system", system, 0, "SystemMessage")] if system else []
    return [*head, make_turn("user", question, len(head), "HumanMessage")]


class HasText(Protocol):
    """A piece of an answer: a LangChain chunk, or a `Piece`."""

    @property
    def text(self) -> str:
        """The piece's text."""
        ...


HasTextT = TypeVar("HasTextT", bound=HasText)


@dataclass(frozen=True, slots=True)
class Piece:
    """A piece of an answer as the command shows it.

    Attributes:
        text: Its text ("" for the end).
        finish_reason: Why the answer ended, on its last piece.
    """

    text: str
    finish_reason: str | None = None


async def model_pieces(
    model: ChatAIChatFree, messages: list[BaseMessage]
) -> AsyncIterator[Piece]:
    """A model's streamed answer, as pieces (``chat``).

    Args:
        model: The model.
        messages: The conversation.

    Yields:
        A piece per chunk, the finish reason on the last.
    """
    async for chunk in model.astream(messages):
        yield Piece(chunk.text, chunk.response_metadata.get("finish_reason"))


async def plan_pieces(call: PlannedCall) -> AsyncIterator[Piece]:
    """A planned call's answer, as pieces (a one-shot question).

    Args:
        call: The planned call.

    Yields:
        A piece per piece of text, then the end with its finish reason.
    """
    from langchain_aichatfree._answer import AnswerEnd

    async for item in call.stream():
        if isinstance(item, AnswerEnd):
            yield Piece(item.text, item.metadata.finish_reason)
        else:
            yield Piece(item)


def deadline(args: argparse.Namespace) -> float | None:
    """``--timeout`` in seconds, or `None` for no limit (also ``inf``).

    Args:
        args: The parsed flags.

    Returns:
        The seconds one whole answer may take, or `None`.
    """
    seconds: float | None = getattr(args, "timeout", None)
    return None if seconds is None or math.isinf(seconds) else seconds


async def chunks_within(
    chunks: AsyncIterator[HasTextT], seconds: float | None
) -> AsyncIterator[HasTextT]:
    """The chunks, until the answer is complete or `seconds` have passed.

    Args:
        chunks: The answer's stream (closed however this ends).
        seconds: The deadline for the whole answer, or `None`.

    Yields:
        The chunks, as they come.

    Raises:
        DeadlineExceededError: The answer was not complete in time (the call,
            retries included, is cancelled).
    """
    import asyncio

    from langchain_aichatfree.errors import make_deadline_error

    loop = asyncio.get_running_loop()
    end = None if seconds is None else loop.time() + seconds
    shown: list[str] = []
    try:
        while True:
            step = anext(chunks)
            try:
                if end is None:
                    chunk = await step
                else:
                    chunk = await asyncio.wait_for(step, max(end - loop.time(), 0))
            except StopAsyncIteration:
                return
            except (asyncio.TimeoutError, TimeoutError) as e:
                assert seconds is not None  # noqa: S101 - only with a deadline
                raise make_deadline_error(seconds, "".join(shown)) from e
            shown.append(chunk.text)
            yield chunk
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


async def answer_within(answer: Coroutine[Any, Any, T], seconds: float | None) -> T:
    """Await a whole answer, for at most `seconds`.

    Args:
        answer: The call.
        seconds: The deadline, or `None`.

    Returns:
        The answer.

    Raises:
        DeadlineExceededError: The answer was not complete in time.
    """
    import asyncio

    from langchain_aichatfree.errors import make_deadline_error

    if seconds is None:
        return await answer
    try:
        return await asyncio.wait_for(answer, seconds)
    except (asyncio.TimeoutError, TimeoutError) as e:
        raise make_deadline_error(seconds) from e


def stream_answer(
    waited: ModelSettings,
    pieces: Callable[[], AsyncIterator[Piece]],
    out: LineTrackingWriter,
    *,
    seconds: float | None = None,
    notice: bool = True,
) -> str:
    """Stream an answer to `out`; return its text. Closes the stream however it ends.

    Args:
        waited: The settings of the model asked (for the waiting notice).
        pieces: Starts the answer's stream (`model_pieces`, `plan_pieces`).
        out: Where the text goes.
        seconds: The deadline for the whole answer (``--timeout``), if any.
        notice: Whether a person at a terminal may be told that it waits.

    Returns:
        The answer's text.
    """
    texts: list[str] = []
    finish_reason = None
    with WaitingNotice(waited, seconds, enabled=notice) as waiting:
        stream = _sync.iterate(lambda: chunks_within(pieces(), seconds))
        try:
            for piece in stream:
                if piece.text:
                    waiting.stop()
                texts.append(piece.text)
                out.write(piece.text)
                if piece.finish_reason is not None:
                    finish_reason = piece.finish_reason
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
    if finish_reason == "empty":
        say(_EMPTY_ANSWER)
    return "".join(texts)


def read_question(words: Sequence[str]) -> str:
    """The question: the words joined, else stdin (also for the word ``-``).

    Args:
        words: The command's positional arguments.

    Returns:
        The question, stripped.

    Raises:
        UsageError: There is no question, or it is empty.
    """
    if words and list(words) != ["-"]:
        question = " ".join(words)
    elif sys.stdin is None or (not words and sys.stdin.isatty()):
        raise UsageError(_NO_QUESTION)
    else:
        if sys.stdin.isatty():
            say(
                "type or paste the question, then press Ctrl-D at the start of "
                "a line (Ctrl-C cancels):"
            )
        question = sys.stdin.read()
    question = question.strip()
    if not question:
        raise UsageError("the question is empty")
    return question


def run_ask(args: argparse.Namespace, out: LineTrackingWriter) -> ExitCode:
    """Ask one question; stream its answer, or print it as one JSON object.

    The model's steps without the model: its settings and connections from
    the flags (`ModelConnections`, `ChatAIChatFree`'s base), the turns, the
    call's plan and the run, the connections closed at the end.

    Args:
        args: The parsed flags of ``ask``.
        out: Where the answer goes (stdout).

    Returns:
        `ExitCode.OK` (failures are raised).
    """
    question = read_question(args.question)
    settings = make_settings(args)
    try:
        turns = one_shot_turns(args.system, question)
        call = settings._run(settings._plan_call(turns, None, {}))
        seconds = deadline(args)
        if args.json:
            with WaitingNotice(settings, seconds, enabled=not args.verbose):
                end = _sync.run(answer_within(call.collect(), seconds))
            metadata = end.metadata
            out.write_json(
                {
                    "text": end.text,
                    "response_metadata": metadata.response,
                    "usage_metadata": metadata.usage,
                    "base_url": metadata.response.get("deployment", settings.base_url),
                    "dialect": settings.dialect,
                }
            )
        else:
            notice = not args.verbose
            pieces = functools.partial(plan_pieces, call)
            stream_answer(settings, pieces, out, seconds=seconds, notice=notice)
            out.end_line()
    finally:
        settings.close()
    return ExitCode.OK
