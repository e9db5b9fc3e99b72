"""The streaming reader: any split of an answer reads as the whole answer does."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_aichatfree._tool_calls import ToolAnswer
from langchain_aichatfree._tool_reader import ToolAnswerReader, parse_answer
from tests.unit_tests._tool_cases import PARIS, SETUP, calls
from tests.unit_tests.test_tool_calls import ALL_CASES


def read_in_pieces(text: str, cuts: list[int]) -> tuple[list[str], ToolAnswer]:
    reader = ToolAnswerReader(SETUP.names)
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    shown = [reader.feed(text[a:b]) for a, b in itertools.pairwise(points)]
    return shown, reader.finish()


def read_streamed(text: str, cuts: list[int]) -> ToolAnswer:
    """The answer as a stream split at `cuts` shows it: shown text, then the tail."""
    shown, tail = read_in_pieces(text, cuts)
    return dataclasses.replace(tail, content="".join(shown) + tail.content)


def comparable(answer: ToolAnswer) -> tuple[Any, ...]:
    return (
        answer.content,
        calls(answer),
        [(c["name"], c["args"], c["error"]) for c in answer.invalid_tool_calls],
    )


@pytest.mark.parametrize("text", ALL_CASES)
def test_one_character_at_a_time_reads_the_same(text: str) -> None:
    streamed = read_streamed(text, list(range(len(text))))
    assert comparable(streamed) == comparable(parse_answer(text, SETUP))


@settings(max_examples=200, deadline=None)
@given(
    index=st.integers(0, len(ALL_CASES) - 1),
    cuts=st.lists(st.integers(0, 10_000), max_size=12),
)
def test_any_split_reads_the_same(index: int, cuts: list[int]) -> None:
    text = ALL_CASES[index]
    streamed = read_streamed(text, cuts)
    assert comparable(streamed) == comparable(parse_answer(text, SETUP))


_TRICKY = st.sampled_from(
    [
        *("{", "}", "[", "]", '"', "\\", "`", "```", "<", "<tool_call>"),
        *("</tool_call>", " ", "\n", '"name": ', '"now"', '"arguments": ', "{}"),
        *("a", "é", "🌍"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(st.one_of(_TRICKY, st.text(max_size=5)), max_size=30),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
)
def test_text_is_never_lost_or_duplicated(parts: list[str], cuts: list[int]) -> None:
    text = "".join(parts)
    shown, tail = read_in_pieces(text, cuts)
    whole = parse_answer(text, SETUP)
    assert "".join(shown) + tail.content == whole.content
    if not whole.envelope:
        assert whole.content == text


def test_plain_text_is_shown_as_it_arrives() -> None:
    reader = ToolAnswerReader(SETUP.names)
    assert reader.feed("The weather ") == "The weather"
    assert reader.feed("is fine") == " is fine"
    assert reader.feed(". Let me check: ") == ". Let me check:"
    assert reader.feed('{"name": "get_wea') == ""  # held: may be a call
    assert reader.feed('ther", "arguments": {"city": "Paris"}}') == ""
    assert reader.feed("\nDone.") == " Done."
    tail = reader.finish()
    assert tail.content == ""
    assert calls(tail) == PARIS


def test_a_candidate_is_released_as_soon_as_it_is_ruled_out() -> None:
    reader = ToolAnswerReader(SETUP.names)
    assert reader.feed("Use `") == "Use"
    assert reader.feed("x` or {") == " `x` or"
    assert reader.feed(" y }") == " { y }"
    assert reader.feed(' {"a": 1}') == ' {"a": 1}'  # complete, and no call
    assert reader.feed("```python\n") == ""
    assert reader.feed("print(1)\n```") == "```python\nprint(1)"
    assert reader.finish().content == "\n```"
