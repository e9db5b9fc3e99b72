"""`Quota`: the upstream's per-minute and per-day limits, played by `LocalServer`.

A real deployment's Gemini key has a free-tier quota counted per Google
project: a few requests per minute and a daily cap that resets at midnight
Pacific time. Past it, the upstream refuses with a 429 that the GeminiProChat
server forwards inside a 500, its URLs deleted (PROTOCOL.md). `Quota` counts the
requests that reach the fake upstream and, past a limit, answers with the same
text: Gemini's wording with the ``QuotaFailure`` quota id (``...PerMinute...``
or ``...PerDay...``) and a "Please retry in N s." hint computed from the
window; for the chatgpt-demo dialect, OpenAI's 429 with "Please try again in".

One `Quota` given to several servers is one project's quota shared by their
keys (a quota group). Windows can be shrunk for tests: ``window=2.0`` makes
"per minute" mean per 2 seconds, ``day=30.0`` makes a day last 30 seconds.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Final, Literal

from langchain_aichatfree._quota_policy import next_pacific_midnight, pacific_day
from langchain_aichatfree.testing._reply import _PREFIX, Reply, strip_urls

_METRIC: Final = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
_PER_MINUTE_ID: Final = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
_PER_DAY_ID: Final = "GenerateRequestsPerDayPerProjectPerModel-FreeTier"


def _seconds(value: float) -> str:
    """Gemini's form: ``41.5``, ``4.403`` (rounded up to the millisecond)."""
    text = f"{math.ceil(value * 1000) / 1000:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def _openai_duration(value: float) -> str:
    """OpenAI's form: ``20ms``, ``20s``, ``1m26.4s``, ``7h12m0s``."""
    if value < 1:
        return f"{max(1, math.ceil(value * 1000))}ms"
    hours, rest = divmod(value, 3600)
    minutes, seconds = divmod(rest, 60)
    out = f"{int(hours)}h" if hours else ""
    if hours or minutes:
        out += f"{int(minutes)}m"
    return out + f"{_seconds(seconds)}s"


def gemini_quota_error(
    *,
    quota_id: str,
    limit: int,
    retry_in: float,
    model: str = "gemini-2.5-flash",
) -> str:
    """The upstream's quota error as a GeminiProChat server forwards it.

    The Gemini client library appends the error's details as JSON; the server
    then deletes every URL up to the next whitespace, which removes the
    ``RetryInfo`` after the ``Help`` link but keeps the ``QuotaFailure``.

    Args:
        quota_id: E.g. ``"GenerateRequestsPerDayPerProjectPerModel-FreeTier"``.
        limit: The quota's value.
        retry_in: The hinted delay in seconds.
        model: The model named in the text.

    Returns:
        The ``error.message`` text.
    """
    delay = _seconds(retry_in)
    message = (
        "[429 Too Many Requests] You exceeded your current quota, please check "
        "your plan and billing details. For more information on this error, head "
        "to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your "
        "current usage, head to: https://ai.dev/usage?tab=rate-limit. \n"
        f"* Quota exceeded for metric: {_METRIC}, limit: {limit}, model: {model}\n"
        f"Please retry in {delay}s."
    )
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": _METRIC,
                    "quotaId": quota_id,
                    "quotaDimensions": {"location": "global", "model": model},
                    "quotaValue": str(limit),
                }
            ],
        },
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [
                {
                    "description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                }
            ],
        },
        {
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": f"{math.ceil(retry_in)}s",
        },
    ]
    text = f"{_PREFIX}{message} {json.dumps(details, separators=(',', ':'))}"
    return strip_urls(text)


def openai_quota_error(
    *, per: Literal["min", "day"], limit: int, retry_in: float, model: str
) -> str:
    """OpenAI's rate-limit message, as a chatgpt-demo deployment forwards it.

    Args:
        per: ``"min"`` (RPM) or ``"day"`` (RPD).
        limit: The limit.
        retry_in: The hinted delay in seconds.
        model: The model named in the text.

    Returns:
        The ``error.message`` text.
    """
    unit = "RPM" if per == "min" else "RPD"
    return (
        f"Rate limit reached for {model} in organization org-localserver on "
        f"requests per {per} ({unit}): Limit {limit}, Used {limit}, Requested 1. "
        f"Please try again in {_openai_duration(retry_in)}. Visit "
        "https://platform.openai.com/account/rate-limits to learn more."
    )


class Quota:
    """Per-minute and per-day request limits for `LocalServer` to play.

    Requests are counted when they reach the fake upstream (after the
    password and signature checks); a refused request is not counted. Give one
    `Quota` to several servers to make them share it, like deployments whose
    keys belong to one Google project. Thread-safe.

    Example:
        .. code-block:: python

            quota = Quota(rpm=2, window=1.0)  # 2 requests a second
            async with LocalServer(quota=quota) as server:
                ...  # the third request within a second is refused

    Args:
        rpm: Requests per window (a sliding minute), ``None`` for no limit.
        rpd: Requests per day, ``None`` for no limit.
        window: The per-minute window's length in seconds.
        day: ``None``: days end at midnight America/Los_Angeles, like Gemini's;
            a number: consecutive days of that many seconds from the quota's
            creation (for tests).
        model: The model the error texts name.
        clock: Returns the current time in epoch seconds (tests may pin it).

    Attributes:
        served: Requests let through to the upstream so far.
        refused_per_minute: Requests refused for the per-minute limit.
        refused_per_day: Requests refused for the daily cap.
    """

    def __init__(
        self,
        *,
        rpm: int | None = None,
        rpd: int | None = None,
        window: float = 60.0,
        day: float | None = None,
        model: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        for name, value in (("rpm", rpm), ("rpd", rpd)):
            if value is not None and value < 1:
                raise ValueError(f"`{name}` must be at least 1")
        if window <= 0:
            raise ValueError("`window` must be positive")
        if day is not None and day <= 0:
            raise ValueError("`day` must be positive")
        self.rpm = rpm
        self.rpd = rpd
        self.window = window
        self.day = day
        self.model = model
        self._clock = clock
        self._start = clock()
        self._lock = threading.Lock()
        self._minute: deque[float] = deque()
        self._day_key: str | int | None = None
        self._day_count = 0
        self.served = 0
        self.refused_per_minute = 0
        self.refused_per_day = 0

    def __repr__(self) -> str:
        return (
            f"Quota(rpm={self.rpm}, rpd={self.rpd}, window={self.window}, "
            f"day={self.day})"
        )

    @property
    def refused(self) -> int:
        """Requests refused for either limit."""
        return self.refused_per_minute + self.refused_per_day

    def _day_bounds(self, now: float) -> tuple[str | int, float]:
        """This day's key and when it ends."""
        if self.day is None:
            return pacific_day(now), next_pacific_midnight(now)
        index = int((now - self._start) // self.day)
        return index, self._start + (index + 1) * self.day

    def take(self, dialect: Literal["gemini", "chatgpt-demo"]) -> Reply | None:
        """Count one request, or return the upstream's refusal.

        Args:
            dialect: Which family's wording to refuse with.

        Returns:
            ``None`` when the request may go on (it was counted), else the
            reply carrying the quota error.
        """
        with self._lock:
            now = self._clock()
            while self._minute and self._minute[0] <= now - self.window:
                self._minute.popleft()
            day_key, day_end = self._day_bounds(now)
            if day_key != self._day_key:
                self._day_key, self._day_count = day_key, 0
            # The short hint a real daily cap carries too: when the minute frees.
            minute_free = (
                self._minute[0] + self.window - now if self._minute else self.window
            )
            if self.rpd is not None and self._day_count >= self.rpd:
                self.refused_per_day += 1
                return self._refusal(
                    dialect, "day", self.rpd, minute_free, day_end - now
                )
            if self.rpm is not None and len(self._minute) >= self.rpm:
                self.refused_per_minute += 1
                return self._refusal(dialect, "min", self.rpm, minute_free, minute_free)
            self._minute.append(now)
            self._day_count += 1
            self.served += 1
            return None

    def _refusal(
        self,
        dialect: Literal["gemini", "chatgpt-demo"],
        per: Literal["min", "day"],
        limit: int,
        gemini_hint: float,
        openai_hint: float,
    ) -> Reply:
        if dialect == "gemini":
            text = gemini_quota_error(
                quota_id=_PER_DAY_ID if per == "day" else _PER_MINUTE_ID,
                limit=limit,
                retry_in=gemini_hint,
                model=self.model or "gemini-2.5-flash",
            )
        else:
            text = openai_quota_error(
                per=per,
                limit=limit,
                retry_in=openai_hint,
                model=self.model or "gpt-4o-mini",
            )
        return Reply(error=text, status=429)
