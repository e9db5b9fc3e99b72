"""The answer state machine: bytes split anywhere in, exact text out."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_aichatfree._constants import SERVER_SENTINEL
from langchain_aichatfree._stream import AnswerState
from langchain_aichatfree.errors import APIError, StreamInterruptedError

TEXT = "héllo wörld — 你好 🌍 Internal server errors are fine mid-answer."


def run(parts: Sequence[bytes], **kwargs: object) -> tuple[list[str], AnswerState]:
    state = AnswerState(**kwargs)  # type: ignore[arg-type]
    shown: list[str] = []
    for part in parts:
        shown.append(state.feed(part))
        if state.done:
            break
    if not state.done:
        shown.append(state.finish())
    return [s for s in shown if s], state


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64])
def test_multibyte_characters_split_anywhere_arrive_whole(size: int) -> None:
    shown, state = run(split(TEXT.encode(), size))
    assert "".join(shown) == TEXT
    assert state.text == TEXT
    assert all("\ufffd" not in s for s in shown)
    assert state.finish_reason is None


def test_one_byte_at_a_time_never_shows_half_a_character() -> None:
    state = AnswerState()
    shown = [state.feed(bytes([b])) for b in "🌍".encode()]
    assert shown == ["", "", "", "🌍"]


@pytest.mark.parametrize("size", [1, 4, 100])
def test_sentinel_at_the_end_raises_with_the_partial_text(size: int) -> None:
    body = ("partial answer " + SERVER_SENTINEL).encode()
    state = AnswerState()
    shown = "".join(state.feed(p) for p in split(body, size))
    assert SERVER_SENTINEL not in shown
    assert "Internal" not in shown
    with pytest.raises(StreamInterruptedError) as info:
        state.finish()
    assert info.value.partial_text == "partial answer "
    assert info.value.is_retryable


def test_sentinel_alone_raises_with_empty_partial() -> None:
    state = AnswerState()
    assert state.feed(SERVER_SENTINEL.encode()) == ""
    with pytest.raises(StreamInterruptedError) as info:
        state.finish()
    assert info.value.partial_text == ""


def test_sentinel_text_in_the_middle_is_ordinary_text() -> None:
    shown, _state = run([b"an ", b"Internal server error", b" happened"])
    assert "".join(shown) == "an Internal server error happened"


def test_sentinel_prefix_at_the_end_is_released() -> None:
    shown, _ = run([b"report: Internal server"])
    assert "".join(shown) == "report: Internal server"


@pytest.mark.parametrize("size", [1, 2, 3, 50])
def test_stop_sequence_split_across_chunks(size: int) -> None:
    shown, state = run(split(b"Hello, world! STOP and more", size), stop=["STOP"])
    assert "".join(shown) == "Hello, world! "
    assert state.finish_reason == "stop"
    assert state.text == "Hello, world! "


def test_earliest_stop_wins() -> None:
    shown, _state = run([b"aaa bb cc"], stop=["cc", "bb"])
    assert "".join(shown) == "aaa "


def test_stop_prefix_is_held_then_released() -> None:
    state = AnswerState(stop=["STOP"])
    assert state.feed(b"go ST") == "go "
    assert state.feed(b"ay") == "STay"
    assert state.finish() == ""
    assert state.finish_reason is None


def test_text_after_stop_is_ignored() -> None:
    state = AnswerState(stop=["\n"])
    assert state.feed(b"line one\nline two") == "line one"
    assert state.feed(b"more") == ""
    assert state.finish() == ""
    assert state.finish_reason == "stop"


def test_max_tokens_cuts_at_about_that_many_tokens() -> None:
    shown, state = run(split(b"x" * 100, 7), max_tokens=5)
    assert "".join(shown) == "x" * 20
    assert state.finish_reason == "length"


def test_max_tokens_never_cuts_inside_a_character() -> None:
    shown, state = run(["你好世界".encode()], max_tokens=2)  # 8 bytes allowed
    assert "".join(shown) == "你好"
    assert state.finish_reason == "length"


def test_invalid_utf8_is_replaced_and_flagged() -> None:
    shown, state = run([b"ok \xff\xfe ok"])
    assert "".join(shown) == "ok \ufffd\ufffd ok"
    assert state.replaced


def test_long_answer_is_not_quadratic_in_held_text() -> None:
    # Each feed only looks at the held tail, so the held text stays small.
    state = AnswerState(stop=["NEVER-APPEARS"])
    for _ in range(1000):
        state.feed(b"Intern")
        assert len(state.partial_text()) - len(state.text) <= len("NEVER-APPEARS")


@given(
    text=st.text(max_size=200),
    cuts=st.lists(st.integers(min_value=0, max_value=1000), max_size=20),
    stop=st.lists(st.text(min_size=1, max_size=4), max_size=2),
    sentinel=st.booleans(),
)
def test_any_split_matches_decoding_the_whole_body(
    text: str, cuts: list[int], stop: list[str], sentinel: bool
) -> None:
    text = text.encode("utf-8", "replace").decode("utf-8")  # drop surrogates
    body = (text + (SERVER_SENTINEL if sentinel else "")).encode()
    points = sorted({c % (len(body) + 1) for c in cuts})
    parts = [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]

    # The reference: the whole body at once. The answer is the body without a
    # final sentinel, and a stop sequence counts only inside the answer (issue
    # 10 item 1 changed this: a stop found inside the sentinel used to win).
    whole = body.decode()
    failed = whole.endswith(SERVER_SENTINEL)
    answer = whole[: -len(SERVER_SENTINEL)] if failed else whole
    cut = min((i for s in stop if (i := answer.find(s)) != -1), default=-1)

    state = AnswerState(stop=stop)
    shown = ""
    for part in parts:
        shown += state.feed(part)
        if state.done:
            break
    if cut == -1 and failed:
        with pytest.raises(StreamInterruptedError) as info:
            state.finish()
        assert info.value.partial_text == answer
        assert info.value.partial_text.startswith(shown)
        return
    shown += state.finish()
    if cut != -1:
        assert shown == answer[:cut]
        assert state.finish_reason == "stop"
    else:
        assert shown == whole
        assert SERVER_SENTINEL not in shown or not failed


@pytest.mark.parametrize(
    ("body", "kwargs"),
    [
        (TEXT.encode(), {}),  # whole and valid: counted without building the text
        (TEXT.encode(), {"stop": ["wörld"]}),
        (TEXT.encode(), {"max_tokens": 3}),
        (b"bad \xff byte", {}),
        ("cut 🌍".encode()[:-1], {}),  # a character cut at the end of the body
        (b"", {}),
    ],
)
def test_text_bytes_is_the_utf8_size_of_the_text(
    body: bytes, kwargs: dict[str, object]
) -> None:
    for size in (1, 3, len(body) or 1):
        _, state = run(split(body, size), **kwargs)
        assert state.text_bytes == len(state.text.encode())


def test_body_ending_inside_a_character_is_flagged() -> None:
    state = AnswerState()
    assert state.feed("ok 🌍".encode()[:-1]) == "ok "
    assert state.finish() == "\ufffd"
    assert state.replaced


# -- issue 10: a stop sequence never hides the server's failure ---------------


@pytest.mark.parametrize("stop", [" ", "I", "nal", "o I", "error", "Hello!"])
@pytest.mark.parametrize("size", [1, 2, 5, 100])
def test_a_stop_sequence_inside_the_sentinel_does_not_hide_the_failure(
    stop: str, size: int
) -> None:
    body = ("Hello" + SERVER_SENTINEL).encode()
    state = AnswerState(stop=[stop])
    shown = ""
    for part in split(body, size):
        shown += state.feed(part)
        assert not state.done
    with pytest.raises(StreamInterruptedError) as info:
        state.finish()
    assert info.value.partial_text == "Hello"
    assert shown == "Hello"[: len(shown)]  # no part of the sentinel shown
    assert state.finish_reason is None


@pytest.mark.parametrize("size", [1, 3, 100])
def test_a_stop_sequence_inside_the_answer_still_ends_it_before_a_failure(
    size: int,
) -> None:
    shown, state = run(
        split(("Hello world" + SERVER_SENTINEL).encode(), size), stop=[" "]
    )
    assert "".join(shown) == "Hello"
    assert state.finish_reason == "stop"


@pytest.mark.parametrize("size", [1, 2, 4, 100])
def test_the_stop_that_starts_first_wins_however_the_body_is_split(size: int) -> None:
    # "or" is complete before "World" is, but "World" starts first.
    shown, state = run(split(b"Hello World!", size), stop=["or", "World"])
    assert "".join(shown) == "Hello "
    assert state.finish_reason == "stop"
    # "World" never completes: "or" ends the answer, also at the end of the body.
    shown, state = run(split(b"Hello Wor", size), stop=["or", "World"])
    assert "".join(shown) == "Hello W"
    assert state.finish_reason == "stop"


# -- issue 10: the sentinel near max_response_bytes ---------------------------


@pytest.mark.parametrize("size", [1, 7, 90, 200])
def test_the_sentinel_after_an_answer_near_the_limit_is_an_interruption(
    size: int,
) -> None:
    body = ("a" * 90 + SERVER_SENTINEL).encode()
    state = AnswerState(max_bytes=100)
    shown = "".join(state.feed(part) for part in split(body, size))
    with pytest.raises(StreamInterruptedError) as info:
        state.finish()
    assert info.value.is_retryable
    assert info.value.partial_text == "a" * 90
    assert shown == "a" * 90


@pytest.mark.parametrize(
    "body",
    [
        "a" * 101,  # over the limit, no sentinel
        "a" * 101 + SERVER_SENTINEL,  # the answer alone is over the limit
        "a" * 95 + "Intern" + "b" * 10,  # looked like the sentinel, was not
        "a" * 200,
    ],
)
@pytest.mark.parametrize("size", [1, 7, 300])
def test_an_answer_over_the_limit_is_too_large(body: str, size: int) -> None:
    state = AnswerState(max_bytes=100)
    shown = ""
    with pytest.raises(APIError) as info:
        for part in split(body.encode(), size):
            shown += state.feed(part)
        state.finish()
    assert not isinstance(info.value, StreamInterruptedError)
    assert not info.value.is_retryable
    assert "max_response_bytes=100" in str(info.value)
    assert len(shown.encode()) <= 100
    assert info.value.partial_text == body[:100]


def test_a_stop_sequence_before_the_limit_ends_the_answer_in_time() -> None:
    shown, state = run([b"short. " + b"x" * 500], stop=["."], max_bytes=100)
    assert "".join(shown) == "short"
    assert state.finish_reason == "stop"


# -- issue 10: an empty body is marked, U+FFFD from the server is not invalid --


def test_an_empty_body_is_marked_empty() -> None:
    state = AnswerState()
    assert state.finish() == ""
    assert state.finish_reason == "empty"
    assert state.text == ""


def test_an_answer_of_whitespace_is_not_empty() -> None:
    _, state = run([b" "])
    assert state.finish_reason is None


@pytest.mark.parametrize("size", [1, 2, 3, 100])
def test_a_valid_replacement_character_is_not_invalid_utf8(size: int) -> None:
    body = "keep \ufffd as sent \ufffd\ufffd".encode()
    shown, state = run(split(body, size))
    assert "".join(shown) == "keep \ufffd as sent \ufffd\ufffd"
    assert not state.replaced
    assert state.text_bytes == len(body)


@pytest.mark.parametrize("size", [1, 2, 3, 100])
def test_invalid_bytes_next_to_a_valid_replacement_character_are_flagged(
    size: int,
) -> None:
    body = "ok \ufffd".encode() + b"\xff" + "\ufffd".encode()[:2] + b"!"
    shown, state = run(split(body, size))
    assert "".join(shown) == "ok \ufffd\ufffd\ufffd!"
    assert state.replaced


def test_max_tokens_reached_before_a_failure_ends_the_answer() -> None:
    body = ("Hello" + SERVER_SENTINEL).encode()
    shown, state = run(split(body, 1), max_tokens=1)  # 4 bytes
    assert "".join(shown) == "Hell"
    assert state.finish_reason == "length"
    state = AnswerState(max_tokens=2)  # 8 bytes: the answer ends first, failed
    assert state.feed(body) == "Hello"
    with pytest.raises(StreamInterruptedError):
        state.finish()


@pytest.mark.parametrize("size", [1, 3, 100])
def test_max_tokens_reached_in_text_held_before_a_failure_ends_the_answer(
    size: int,
) -> None:
    # "er" is held (it may start the stop sequence) when the sentinel arrives.
    body = ("abcdefger" + SERVER_SENTINEL).encode()
    shown, state = run(split(body, size), stop=["error"], max_tokens=2)
    assert "".join(shown) == "abcdefge"
    assert state.finish_reason == "length"


def test_a_whole_sentinel_is_never_in_the_partial_text() -> None:
    # A body cut (or timed out) after the sentinel, before its clean end.
    state = AnswerState()
    assert state.feed(("Hello" + SERVER_SENTINEL).encode()) == "Hello"
    assert state.partial_text() == "Hello"
    state = AnswerState(stop=["XYZ"])
    assert state.feed(b"Hello X") == "Hello "
    assert state.partial_text() == "Hello X"  # answer text that was held back


@given(
    text=st.text(max_size=60),
    cuts=st.lists(st.integers(min_value=0, max_value=1000), max_size=10),
    sentinel=st.booleans(),
    extra=st.integers(min_value=-30, max_value=30),
)
def test_max_bytes_decides_the_same_for_any_split(
    text: str, cuts: list[int], sentinel: bool, extra: int
) -> None:
    text = text.encode("utf-8", "replace").decode("utf-8")  # drop surrogates
    body = (text + (SERVER_SENTINEL if sentinel else "")).encode()
    whole = body.decode()
    failed = whole.endswith(SERVER_SENTINEL)
    answer = whole[: -len(SERVER_SENTINEL)] if failed else whole
    limit = max(0, len(answer.encode()) + extra)
    points = sorted({c % (len(body) + 1) for c in cuts})
    parts = [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]

    state = AnswerState(max_bytes=limit)
    shown: list[str] = []

    def read() -> None:
        shown.extend(state.feed(part) for part in parts)
        shown.append(state.finish())

    if len(answer.encode()) > limit:
        with pytest.raises(APIError) as too_large:
            read()
        assert not isinstance(too_large.value, StreamInterruptedError)
        assert len((too_large.value.partial_text or "").encode()) <= limit
    elif failed:
        with pytest.raises(StreamInterruptedError) as interrupted:
            read()
        assert interrupted.value.partial_text == answer
    else:
        read()
        assert "".join(shown) == whole
    assert len("".join(shown).encode()) <= limit


def _outcome(
    parts: Sequence[bytes], stop: list[str], max_tokens: int | None, limit: int
) -> tuple[object, ...]:
    state = AnswerState(stop=stop, max_tokens=max_tokens, max_bytes=limit)
    shown = ""
    try:
        for part in parts:
            shown += state.feed(part)
            if state.done:
                break
        shown += state.finish()
    except StreamInterruptedError as e:
        return ("interrupted", e.partial_text)
    except APIError:
        return ("too large",)
    return ("ok", shown, state.finish_reason)


_FRAGMENTS = st.sampled_from(
    ["I", "Inter", "nal s", " ", "e", "r", "é", "🌍", "ab", "xxxxxxxx", SERVER_SENTINEL]
)


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(_FRAGMENTS, max_size=10),
    cuts=st.lists(st.integers(min_value=0, max_value=1000), max_size=8),
    stop=st.lists(st.sampled_from(["I", " ", "nal", "er", "error", "xx"]), max_size=2),
    sentinel=st.booleans(),
    max_tokens=st.one_of(st.none(), st.integers(min_value=1, max_value=12)),
    limit=st.integers(min_value=0, max_value=80),
)
def test_stop_max_tokens_and_max_bytes_decide_the_same_for_any_split(
    parts: list[str],
    cuts: list[int],
    stop: list[str],
    sentinel: bool,
    max_tokens: int | None,
    limit: int,
) -> None:
    body = ("".join(parts) + (SERVER_SENTINEL if sentinel else "")).encode()
    points = sorted({c % (len(body) + 1) for c in cuts})
    pieces = [
        body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)
    ]
    whole = _outcome([body], stop, max_tokens, limit)
    assert _outcome(pieces, stop, max_tokens, limit) == whole
    assert _outcome(split(body, 1), stop, max_tokens, limit) == whole
