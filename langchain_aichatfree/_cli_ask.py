"""``aichatfree ask``: one question, its answer streamed or printed as JSON.

The whole one-shot path is here: reading the question (arguments or stdin),
the conversation sent, the answer streamed to stdout within ``--timeout``
(`stream_answer`, which ``chat`` uses for each of its turns too) or awaited
whole for ``--json``. A faster one-shot path would replace what this module
calls, and nothing else.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import AsyncIterator, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Final

from langchain_aichatfree import _sync
from langchain_aichatfree._cli_model import make_model
from langchain_aichatfree._cli_report import (
    ExitCode,
    LineTrackingWriter,
    UsageError,
    say,
)
from langchain_aichatfree._cli_wait import WaitingNotice

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage, BaseMessageChunk

    from langchain_aichatfree.chat_models import ChatAIChatFree

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
    chunks: AsyncIterator[BaseMessageChunk], seconds: float | None
) -> AsyncIterator[BaseMessageChunk]:
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


async def answer_within(
    answer: Coroutine[Any, Any, BaseMessage], seconds: float | None
) -> BaseMessage:
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
    model: ChatAIChatFree,
    messages: list[BaseMessage],
    out: LineTrackingWriter,
    *,
    seconds: float | None = None,
    notice: bool = True,
) -> str:
    """Stream an answer to `out`; return its text. Closes the stream however it ends.

    Args:
        model: The model.
        messages: The conversation.
        out: Where the text goes.
        seconds: The deadline for the whole answer (``--timeout``), if any.
        notice: Whether a person at a terminal may be told that it waits.

    Returns:
        The answer's text.
    """
    pieces: list[str] = []
    finish_reason = None
    with WaitingNotice(model, seconds, enabled=notice) as waiting:
        stream = _sync.iterate(lambda: chunks_within(model.astream(messages), seconds))
        try:
            for chunk in stream:
                if chunk.text:
                    waiting.stop()
                pieces.append(chunk.text)
                out.write(chunk.text)
                metadata = chunk.response_metadata
                finish_reason = metadata.get("finish_reason", finish_reason)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
    if finish_reason == "empty":
        say(_EMPTY_ANSWER)
    return "".join(pieces)


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

    Args:
        args: The parsed flags of ``ask``.
        out: Where the answer goes (stdout).

    Returns:
        `ExitCode.OK` (failures are raised).
    """
    question = read_question(args.question)
    model = make_model(args)
    try:
        messages = conversation(args.system, [], question)
        seconds = deadline(args)
        if args.json:
            with WaitingNotice(model, seconds, enabled=not args.verbose):
                answer = _sync.run(answer_within(model.ainvoke(messages), seconds))
            out.write_json(
                {
                    "text": answer.text,
                    "response_metadata": answer.response_metadata,
                    "usage_metadata": getattr(answer, "usage_metadata", None),
                    "base_url": answer.response_metadata.get(
                        "deployment", model.base_url
                    ),
                    "dialect": model.dialect,
                }
            )
        else:
            notice = not args.verbose
            stream_answer(model, messages, out, seconds=seconds, notice=notice)
            out.end_line()
    finally:
        model.close()
    return ExitCode.OK
