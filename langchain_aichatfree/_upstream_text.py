"""What an upstream's error text means: its kind, and the delay it asks for. Pure.

A deployment passes its upstream model's failures on as text (Gemini's inside
a 500, OpenAI's forwarded by chatgpt-demo); `classify_upstream_message` reads
the kind of failure from it and `parse_retry_hint` the delay it names.
"""

from __future__ import annotations

import enum
import re
from typing import Final

__all__ = ["UpstreamKind", "classify_upstream_message", "parse_retry_hint"]


class UpstreamKind(enum.Enum):
    """What an upstream error text inside a 500 means for the client."""

    RATE_LIMIT = "rate_limit"
    TRANSIENT = "transient"
    BAD_REQUEST = "bad_request"
    BAD_UPSTREAM_KEY = "bad_upstream_key"


_UPSTREAM_PATTERNS: Final = (
    (
        re.compile(
            r"\b429\b|quota|resource has been exhausted|rate.?limit|too many requests",
            re.IGNORECASE,
        ),
        UpstreamKind.RATE_LIMIT,
    ),
    (
        # Gemini's text in a 500; OpenAI's, forwarded as a 401 by chatgpt-demo.
        re.compile(
            r"API key not valid|Incorrect API key provided|"
            r"You didn't provide an API key",
            re.IGNORECASE,
        ),
        UpstreamKind.BAD_UPSTREAM_KEY,
    ),
    (
        re.compile(
            r"alternate between user and model|valid role|required oneof field"
            r"|invalid message history|invalid argument|\[400 Bad Request\]",
            re.IGNORECASE,
        ),
        UpstreamKind.BAD_REQUEST,
    ),
)
"""Checked in order; anything else in a 500 is a transient upstream failure."""

_HINT: Final = re.compile(
    r"(?:retry|try again) in\s+((?:[0-9]+(?:\.[0-9]+)?\s*(?:ms|h|m|s)(?![a-z])\s*)+)"
    r"|\"retryDelay\":\s*\"([0-9]+(?:\.[0-9]+)?)s\"",
    re.IGNORECASE,
)
_HINT_PART: Final = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(ms|h|m|s)", re.IGNORECASE)
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_retry_hint(text: str | None) -> float | None:
    """The delay a rate-limit text asks for, in seconds, if it names one.

    Understands Gemini's "Please retry in 41.5s." and ``"retryDelay":"38s"``
    and OpenAI's "Please try again in 1m26.4s." / "in 20ms".

    Args:
        text: The error text.

    Returns:
        Seconds, or ``None`` when the text names no delay.

    Examples:
        >>> parse_retry_hint("Please retry in 41.5s.")
        41.5
        >>> parse_retry_hint("Please try again in 1m26.4s.")
        86.4
    """
    if not text:
        return None
    match = _HINT.search(text)
    if match is None:
        return None
    if match.group(2) is not None:
        return float(match.group(2))
    return sum(
        float(number) * _UNIT_SECONDS[unit.lower()]
        for number, unit in _HINT_PART.findall(match.group(1))
    )


def classify_upstream_message(message: str) -> tuple[UpstreamKind, float | None]:
    """Classify the upstream error text that a 500 carries.

    Args:
        message: The `error.message` of the server's JSON body.

    Returns:
        The kind of failure, and the delay in seconds the text asks for ("Please
        retry in 47.17s"), if it names one.
    """
    kind = UpstreamKind.TRANSIENT
    for pattern, pattern_kind in _UPSTREAM_PATTERNS:
        if pattern.search(message):
            kind = pattern_kind
            break
    return kind, parse_retry_hint(message)
