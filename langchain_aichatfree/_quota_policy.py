"""The quota policy, pure: how long a rate-limited group cools down, and its day.

No I/O and no state beyond a one-day cache: every quota store (`MemoryStore`,
`RedisStore`) asks these functions, so the policy is written once.

- `cooldown_for`: the deadline and reason a rate limit earns (a daily cap, a
  server's hint, or `default_cooldown` for the strike count);
- `strikes_after`: the strike count a new rate limit makes;
- `pacific_day`, `next_pacific_midnight`: the per-day window, the calendar day in
  America/Los_Angeles like Gemini's daily quotas.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from langchain_aichatfree._constants import (
    COOLDOWN_JITTER,
    DEFAULT_COOLDOWN,
    MAX_DEFAULT_COOLDOWN,
    QUOTA_TIMEZONE,
)
from langchain_aichatfree._upstream_text import parse_retry_hint

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

__all__ = [
    "cooldown_for",
    "default_cooldown",
    "next_pacific_midnight",
    "pacific_day",
    "strikes_after",
]


_PER_DAY: Final = re.compile(r"PerDay|\bper day\b|\(RPD\)", re.IGNORECASE)
"""A daily quota: Gemini's ``...PerDay...`` quota id, OpenAI's "requests per day"."""

_zone: ZoneInfo | None = None


def _pacific() -> ZoneInfo:
    global _zone
    if _zone is None:
        from zoneinfo import ZoneInfo

        _zone = ZoneInfo(QUOTA_TIMEZONE)
    return _zone


_day_cache: tuple[float, float, str] = (0.0, 0.0, "")
"""The last Pacific day looked up: its start, its end (epoch seconds), its date."""


def _pacific_day_bounds(now: float) -> tuple[float, float, str]:
    """The Pacific day around ``now``: start, end and ISO date (cached)."""
    global _day_cache
    cached = _day_cache
    if cached[0] <= now < cached[1]:
        return cached
    zone = _pacific()
    date = datetime.fromtimestamp(now, zone).date()
    following = date + timedelta(days=1)
    start = datetime(date.year, date.month, date.day, tzinfo=zone).timestamp()
    end = datetime(
        following.year, following.month, following.day, tzinfo=zone
    ).timestamp()
    _day_cache = (start, end, date.isoformat())
    return _day_cache


def pacific_day(now: float) -> str:
    """The calendar day (``"2026-11-30"``) in America/Los_Angeles at ``now``.

    Args:
        now: Epoch seconds.

    Returns:
        The ISO date.
    """
    return _pacific_day_bounds(now)[2]


def next_pacific_midnight(now: float) -> float:
    """The next midnight in America/Los_Angeles after ``now``, in epoch seconds.

    Daylight saving time is honoured (a day may last 23 or 25 hours).

    Args:
        now: Epoch seconds.

    Returns:
        Epoch seconds of the next midnight.
    """
    return _pacific_day_bounds(now)[1]


def default_cooldown(strikes: int) -> float:
    """The cooldown for a rate limit that names no delay, before jitter.

    Args:
        strikes: How many rate limits in a row this one makes (1: the first;
            a rate limit soon after a cooldown ended is the next strike).

    Returns:
        `DEFAULT_COOLDOWN` doubled per strike after the first, at most
        `MAX_DEFAULT_COOLDOWN`.
    """
    exponent = min(max(strikes, 1) - 1, 30)
    return float(min(DEFAULT_COOLDOWN * 2**exponent, MAX_DEFAULT_COOLDOWN))


def cooldown_for(
    text: str | None,
    retry_after: float | None,
    *,
    now: float,
    strikes: int,
    rand: Callable[[], float] = random.random,
) -> tuple[float, str]:
    """Decide how long a rate-limited group cools down (pure).

    In this order (gemini-cli's, which gets daily caps right):

    1. a daily quota in the text (Gemini's ``PerDay`` quota id, OpenAI's
       "requests per day"): until the next midnight America/Los_Angeles,
       ``"daily cap"``, even when the text also has a short "retry in" hint
       (real daily caps carry one);
    2. a delay (``retry_after``, or "retry in N s" in the text; the longer if
       both): ``now + N`` plus up to `COOLDOWN_JITTER` of N, ``"retry hint"``;
    3. else `default_cooldown` for ``strikes`` plus jitter, ``"rate limit"``.

    Args:
        text: The server's error text, if any.
        retry_after: A delay in seconds the server asked for, if known.
        now: Epoch seconds.
        strikes: How many rate limits in a row this one makes (1: the first).
        rand: A random number in ``[0, 1)`` (for the jitter; tests pin it).

    Returns:
        The deadline (epoch seconds) and the reason.
    """
    if text and _PER_DAY.search(text):
        return next_pacific_midnight(now), "daily cap"
    hints = [
        d
        for d in (retry_after, parse_retry_hint(text))
        if d is not None and math.isfinite(d) and d >= 0
    ]
    if hints:
        delay, reason = max(hints), "retry hint"
    else:
        delay, reason = default_cooldown(strikes), "rate limit"
    return now + delay * (1 + COOLDOWN_JITTER * rand()), reason


def strikes_after(
    strikes: int, cooling_until: float | None, now: float, *, recur: float
) -> int:
    """The strike count a new rate limit makes (pure; both stores use it).

    Args:
        strikes: The stored count (0: none).
        cooling_until: The stored deadline, if a cooldown is remembered.
        now: Epoch seconds.
        recur: How long after a cooldown's end a rate limit is a recurrence.

    Returns:
        The same count while the cooldown lasts (a concurrent report of the
        same limit), one more soon after it ended, else 1.
    """
    if cooling_until is None or strikes < 1:
        return 1
    if now < cooling_until:
        return strikes
    if now < cooling_until + recur:
        return strikes + 1
    return 1
