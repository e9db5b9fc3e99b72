"""The quota policy (pure): cooldowns, strikes, the Pacific day, retry hints.

The stores themselves (memory and Redis, one shared suite) are tested in
tests/integration_tests/test_quota_store.py, against a real Redis.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime, timezone

import pytest

from langchain_aichatfree._constants import (
    COOLDOWN_JITTER,
    DEFAULT_COOLDOWN,
    MAX_DEFAULT_COOLDOWN,
)
from langchain_aichatfree._quota_policy import (
    cooldown_for,
    default_cooldown,
    next_pacific_midnight,
    pacific_day,
    strikes_after,
)
from langchain_aichatfree._upstream_text import (
    classify_upstream_message,
    parse_retry_hint,
)
from langchain_aichatfree.errors import RateLimitError, make_status_error
from langchain_aichatfree.testing import UPSTREAM_ERRORS


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


# 2026-11-30 10:00 UTC is 02:00 in Los Angeles (PST, UTC-8).
NOW = _epoch("2026-11-30T10:00:00+00:00")
MIDNIGHT_PST = _epoch("2026-12-01T00:00:00-08:00")

PER_DAY_WITH_SHORT_HINT = (
    "[GoogleGenerativeAI Error]: Error fetching from  [429 Too Many Requests] You "
    "exceeded your current quota, please check your plan and billing details. "
    "* Quota exceeded for metric: generativelanguage.googleapis.com/"
    "generate_content_free_tier_requests, limit: 250, model: gemini-2.5-flash\n"
    'Please retry in 38.2s. [{"@type":"type.googleapis.com/google.rpc.QuotaFailure",'
    '"violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_'
    'content_free_tier_requests","quotaId":"GenerateRequestsPerDayPerProjectPerModel'
    '-FreeTier"},{"quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}'
    ']},{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":'
    '"Learn more about Gemini API quotas","url":" '
)
PER_MINUTE = PER_DAY_WITH_SHORT_HINT.replace(
    "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
    "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
)
OPENAI_RPD = (
    "Rate limit reached for gpt-4o-mini in organization org-x on requests per day "
    "(RPD): Limit 200, Used 200, Requested 1. Please try again in 7m12s."
)
OPENAI_RPM = (
    "Rate limit reached for gpt-4o-mini in organization org-x on requests per min "
    "(RPM): Limit 3, Used 3, Requested 1. Please try again in 20s."
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Please retry in 41.5s.", 41.5),
        ("Please retry in 47.17s", 47.17),
        ("please RETRY IN 3 s", 3.0),
        ("Please try again in 20ms.", 0.02),
        ("Please try again in 1m26.4s.", 86.4),
        ("Please try again in 7m12s.", 432.0),
        ("Please try again in 1h2m3s.", 3723.0),
        ('{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"38s"}', 38),
        (UPSTREAM_ERRORS["quota_new"], 47.17),
        (UPSTREAM_ERRORS["quota_old"], None),
        (UPSTREAM_ERRORS["quota_short"], None),
        ("", None),
        (None, None),
        ("retry in a moment", None),
    ],
)
def test_parse_retry_hint(text: str | None, expected: float | None) -> None:
    assert parse_retry_hint(text) == (
        pytest.approx(expected) if expected is not None else None
    )


@pytest.mark.parametrize(
    ("now", "day", "midnight"),
    [
        # 02:00 PST: the day ends at 08:00 UTC the next day.
        (NOW, "2026-11-30", MIDNIGHT_PST),
        # 23:59:59 PST on Nov 30: still that day.
        (MIDNIGHT_PST - 1, "2026-11-30", MIDNIGHT_PST),
        # Exactly midnight: a new day, which ends 24 h later.
        (MIDNIGHT_PST, "2026-12-01", MIDNIGHT_PST + 86400),
        # Summer (PDT, UTC-7): 2026-07-01 12:00 UTC is 05:00 PDT.
        (
            _epoch("2026-07-01T12:00:00+00:00"),
            "2026-07-01",
            _epoch("2026-07-02T00:00:00-07:00"),
        ),
        # The day DST ends (Nov 1 2026) lasts 25 hours.
        (
            _epoch("2026-11-01T00:30:00-07:00"),
            "2026-11-01",
            _epoch("2026-11-02T00:00:00-08:00"),
        ),
        # The day DST starts (Mar 8 2026) lasts 23 hours.
        (
            _epoch("2026-03-08T00:30:00-08:00"),
            "2026-03-08",
            _epoch("2026-03-09T00:00:00-07:00"),
        ),
    ],
)
def test_pacific_day_and_midnight(now: float, day: str, midnight: float) -> None:
    assert pacific_day(now) == day
    assert next_pacific_midnight(now) == midnight


def test_day_lengths_around_dst() -> None:
    start = _epoch("2026-11-01T00:00:00-07:00")
    assert next_pacific_midnight(start) - start == 25 * 3600
    start = _epoch("2026-03-08T00:00:00-08:00")
    assert next_pacific_midnight(start) - start == 23 * 3600


@pytest.mark.parametrize(
    ("text", "retry_after", "strikes", "base", "reason"),
    [
        # A daily cap lasts until midnight Pacific, even with a short hint...
        (PER_DAY_WITH_SHORT_HINT, None, 1, None, "daily cap"),
        # ... and even with a short Retry-After, whatever the strikes.
        (PER_DAY_WITH_SHORT_HINT, 5.0, 4, None, "daily cap"),
        (
            "Quota exceeded for quota metric 'requests per day'",
            None,
            1,
            None,
            "daily cap",
        ),
        (OPENAI_RPD, None, 1, None, "daily cap"),
        # A per-minute limit with a hint: the hint.
        (PER_MINUTE, None, 1, 38.2, "retry hint"),
        (UPSTREAM_ERRORS["quota_new"], None, 3, 47.17, "retry hint"),
        (OPENAI_RPM, None, 1, 20.0, "retry hint"),
        # retry_after alone, and the longer of the two when both are known.
        (None, 12.0, 1, 12.0, "retry hint"),
        ("Please retry in 3s.", 12.0, 1, 12.0, "retry hint"),
        ("Please retry in 30s.", 12.0, 1, 30.0, "retry hint"),
        # No hint: the default, escalating with the strikes, capped.
        (UPSTREAM_ERRORS["quota_old"], None, 1, DEFAULT_COOLDOWN, "rate limit"),
        (UPSTREAM_ERRORS["quota_short"], None, 2, 2 * DEFAULT_COOLDOWN, "rate limit"),
        (None, None, 3, 4 * DEFAULT_COOLDOWN, "rate limit"),
        (None, None, 0, DEFAULT_COOLDOWN, "rate limit"),
        (None, None, 50, MAX_DEFAULT_COOLDOWN, "rate limit"),
        # A hint is not escalated by strikes.
        ("Please retry in 2s.", None, 5, 2.0, "retry hint"),
        # Nonsense delays are ignored.
        (None, float("nan"), 1, DEFAULT_COOLDOWN, "rate limit"),
        (None, -3.0, 1, DEFAULT_COOLDOWN, "rate limit"),
    ],
)
def test_cooldown_for(
    text: str | None,
    retry_after: float | None,
    strikes: int,
    base: float | None,
    reason: str,
) -> None:
    for rand in (0.0, 0.999999):
        deadline, got_reason = cooldown_for(
            text,
            retry_after,
            now=NOW,
            strikes=strikes,
            rand=(functools.partial(float, rand)),
        )
        assert got_reason == reason
        if base is None:
            assert deadline == MIDNIGHT_PST
        else:
            jitter = COOLDOWN_JITTER * base * rand
            assert deadline == pytest.approx(NOW + base + jitter)


def test_cooldown_jitter_spreads_deadlines() -> None:
    deadlines = {
        cooldown_for("Please retry in 10s.", None, now=NOW, strikes=1)[0]
        for _ in range(20)
    }
    assert len(deadlines) > 1
    assert all(NOW + 10 <= d <= NOW + 10 * (1 + COOLDOWN_JITTER) for d in deadlines)


@pytest.mark.parametrize(
    ("strikes", "cooling_until", "now", "expected"),
    [
        (0, None, 100.0, 1),  # first rate limit
        (3, None, 100.0, 1),  # nothing remembered
        (2, 150.0, 100.0, 2),  # still cooling: a concurrent report, same strike
        (2, 90.0, 100.0, 3),  # right after the end: one more strike
        (2, 90.0, 90.0 + 300.0, 1),  # long after: start again
        (0, 90.0, 100.0, 1),  # a probe succeeded since (strikes cleared)
    ],
)
def test_strikes_after(
    strikes: int, cooling_until: float | None, now: float, expected: int
) -> None:
    assert strikes_after(strikes, cooling_until, now, recur=300.0) == expected


def test_default_cooldown_escalates_to_its_cap() -> None:
    values = [default_cooldown(s) for s in range(1, 12)]
    assert values[0] == DEFAULT_COOLDOWN
    assert values == sorted(values)
    assert values[-1] == MAX_DEFAULT_COOLDOWN


def test_pacific_helpers_accept_utc_datetimes() -> None:
    now = datetime(2026, 11, 30, 7, 59, 59, tzinfo=timezone.utc).timestamp()
    assert pacific_day(now) == "2026-11-29"
    assert next_pacific_midnight(now) == now + 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (OPENAI_RPD, 432.0),
        ("Please try again in 1m26.4s.", 86.4),
        ("Please try again in 1h2m3s.", 3723.0),
        ("Please retry in 3 seconds", None),
    ],
)
def test_the_error_mapping_reads_compound_hints(
    text: str, expected: float | None
) -> None:
    """OpenAI's "try again in 1m26.4s" was read as no hint at all."""
    _, retry_after = classify_upstream_message(text)
    assert retry_after == (pytest.approx(expected) if expected is not None else None)
    error = make_status_error(429, json.dumps({"error": {"message": text}}))
    assert isinstance(error, RateLimitError)
    assert error.retry_after == retry_after
