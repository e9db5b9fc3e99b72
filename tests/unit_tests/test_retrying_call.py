"""`_retrying_call`'s pure part: `retry_delay`, as tables."""

from __future__ import annotations

import random

import pytest

from langchain_aichatfree._constants import (
    INITIAL_RETRY_DELAY,
    MAX_HINTED_RETRY_DELAY,
    MAX_RETRY_DELAY,
    RETRY_JITTER,
)
from langchain_aichatfree._retrying_call import retry_delay
from langchain_aichatfree.errors import (
    AIChatFreeError,
    APIConnectionError,
    APIError,
    APITimeoutError,
    RateLimitError,
)

BACKOFF = [
    # (attempt that failed, error, random() value, delay)
    (0, APIError("x"), 0.0, INITIAL_RETRY_DELAY),
    (1, APIError("x"), 0.0, INITIAL_RETRY_DELAY * 2),
    (2, APIConnectionError("x"), 0.0, INITIAL_RETRY_DELAY * 4),
    (3, APITimeoutError("x"), 0.0, INITIAL_RETRY_DELAY * 8),
    (4, APIError("x"), 0.0, MAX_RETRY_DELAY),  # 8 s: the cap
    (10, APIError("x"), 0.0, MAX_RETRY_DELAY),
    (60, APIError("x"), 0.0, MAX_RETRY_DELAY),  # no overflow far out
    (0, APIError("x"), 1.0, INITIAL_RETRY_DELAY * (1 - RETRY_JITTER)),
    (4, APIError("x"), 0.5, MAX_RETRY_DELAY * (1 - RETRY_JITTER / 2)),
    (0, RateLimitError("x"), 0.0, INITIAL_RETRY_DELAY),  # no hint: backoff
    (2, RateLimitError("x"), 1.0, INITIAL_RETRY_DELAY * 4 * (1 - RETRY_JITTER)),
]


@pytest.mark.parametrize(("attempt", "error", "draw", "expected"), BACKOFF)
def test_backoff_doubles_to_a_cap_less_jitter(
    monkeypatch: pytest.MonkeyPatch,
    attempt: int,
    error: AIChatFreeError,
    draw: float,
    expected: float,
) -> None:
    monkeypatch.setattr(random, "random", lambda: draw)
    assert retry_delay(attempt, error) == pytest.approx(expected)


HINTS = [
    # (retry_after hinted by the server, delay)
    (0.0, 0.0),
    (0.05, 0.05),
    (2.5, 2.5),
    (47.0, 47.0),  # longer than any backoff, still honoured
    (MAX_HINTED_RETRY_DELAY, MAX_HINTED_RETRY_DELAY),
    (MAX_HINTED_RETRY_DELAY + 0.001, None),  # not waited for: raised at once
    (3600.0, None),
]


@pytest.mark.parametrize(("hint", "expected"), HINTS)
@pytest.mark.parametrize("attempt", [0, 5])
def test_a_hint_is_honoured_within_its_bound(
    hint: float, expected: float | None, attempt: int
) -> None:
    error = RateLimitError("slow down", retry_after=hint)
    assert retry_delay(attempt, error) == expected


def test_jitter_stays_within_its_band() -> None:
    for attempt in range(6):
        ceiling = min(INITIAL_RETRY_DELAY * 2**attempt, MAX_RETRY_DELAY)
        for _ in range(200):
            delay = retry_delay(attempt, APIError("x"))
            assert delay is not None
            assert ceiling * (1 - RETRY_JITTER) <= delay <= ceiling
