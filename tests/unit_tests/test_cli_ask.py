"""The one-shot path (`_cli_ask`): the question, the deadline, the conversation."""

from __future__ import annotations

import argparse
import asyncio
import io
from collections.abc import AsyncIterator

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessageChunk,
    HumanMessage,
    SystemMessage,
)

from langchain_aichatfree._cli_ask import (
    answer_within,
    chunks_within,
    conversation,
    deadline,
    read_question,
)
from langchain_aichatfree._cli_report import UsageError
from langchain_aichatfree.errors import DeadlineExceededError


class Typed(io.StringIO):
    """Stdin at a terminal, already typed."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("words", "stdin", "question"),
    [
        (["What", "is", "2+2?"], "", "What is 2+2?"),
        (["  padded  "], "", "padded"),
        ([], "  piped\nquestion \n", "piped\nquestion"),
        (["-"], "from stdin", "from stdin"),
        (["-"], Typed("typed at a terminal"), "typed at a terminal"),
        (["-", "-"], "", "- -"),
    ],
)
def test_read_question(
    words: list[str],
    stdin: str | io.StringIO,
    question: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        "sys.stdin", io.StringIO(stdin) if isinstance(stdin, str) else stdin
    )
    assert read_question(words) == question


@pytest.mark.parametrize(
    ("words", "stdin", "message"),
    [
        ([], Typed(""), "no question: give one"),
        ([], None, "no question: give one"),
        (["-"], None, "no question: give one"),
        ([], io.StringIO(" \n"), "the question is empty"),
        (["  "], io.StringIO(""), "the question is empty"),
    ],
)
def test_read_question_refuses(
    words: list[str],
    stdin: io.StringIO | None,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", stdin)
    with pytest.raises(UsageError, match=message):
        read_question(words)


def test_a_person_at_a_terminal_is_told_how_to_end_the_question(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", Typed("pasted"))
    assert read_question(["-"]) == "pasted"
    assert "press Ctrl-D at the start of a line" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "seconds"),
    [
        ({}, None),
        ({"timeout": None}, None),
        ({"timeout": float("inf")}, None),
        ({"timeout": 2.5}, 2.5),
    ],
)
def test_deadline(flags: dict[str, float | None], seconds: float | None) -> None:
    assert deadline(argparse.Namespace(**flags)) == seconds


def test_conversation() -> None:
    history = [HumanMessage("Hi"), AIMessage("Hello!")]
    assert conversation("Be brief.", history, "And?") == [
        SystemMessage("Be brief."),
        *history,
        HumanMessage("And?"),
    ]
    assert conversation(None, [], "Q") == [HumanMessage("Q")]
    assert conversation("", [], "Q") == [HumanMessage("Q")]


class Source:
    """An answer's stream: pieces, then a wait; remembers being closed."""

    def __init__(self, pieces: list[str], then_wait: float = 0.0) -> None:
        self.closed = False
        self._pieces = pieces
        self._wait = then_wait

    async def chunks(self) -> AsyncIterator[BaseMessageChunk]:
        try:
            for piece in self._pieces:
                yield AIMessageChunk(content=piece)
            await asyncio.sleep(self._wait)
        finally:
            self.closed = True


async def test_chunks_within_passes_a_complete_answer() -> None:
    source = Source(["a", "b"])
    texts = [c.text async for c in chunks_within(source.chunks(), None)]
    assert texts == ["a", "b"]
    assert source.closed
    source = Source(["c"])
    assert [c.text async for c in chunks_within(source.chunks(), 30.0)] == ["c"]


async def test_chunks_within_ends_a_late_answer_with_what_was_shown() -> None:
    source = Source(["shown ", "so far"], then_wait=60)
    seen = []
    with pytest.raises(DeadlineExceededError) as caught:
        async for chunk in chunks_within(source.chunks(), 0.05):
            seen.append(chunk.text)
    assert seen == ["shown ", "so far"]
    assert caught.value.partial_text == "shown so far"
    assert caught.value.seconds == 0.05
    assert source.closed


async def test_answer_within() -> None:
    async def answer(wait: float) -> AIMessage:
        await asyncio.sleep(wait)
        return AIMessage("done")

    assert (await answer_within(answer(0), None)).text == "done"
    assert (await answer_within(answer(0), 30.0)).text == "done"
    with pytest.raises(DeadlineExceededError) as caught:
        await answer_within(answer(60), 0.05)
    assert caught.value.partial_text == ""
