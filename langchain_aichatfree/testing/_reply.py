"""What the local server's fake upstream answers: `Reply`, and Gemini's errors."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from langchain_aichatfree.testing._js import encode_utf8

_URL: Final = re.compile(r"https?://[^\s]+")
"""What the real server deletes from every upstream message (PROTOCOL.md)."""


def strip_urls(text: str) -> str:
    """Delete URLs as the real GeminiProChat server does: up to a whitespace.

    Args:
        text: The upstream's message.

    Returns:
        The message as the server forwards it.
    """
    return _URL.sub("", text)


_PREFIX: Final = "[GoogleGenerativeAI Error]: Error fetching from  "
"""What the Gemini SDK puts before every upstream error (the URL is removed)."""

_QUOTA_NEW_HEAD: Final = (
    _PREFIX + "[429 Too Many Requests] You exceeded your current quota, please "
    "check your plan and billing details. For more information on this error, "
    "head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your "
    "current usage, head to: https://ai.dev/usage?tab=rate-limit. \n"
    "* Quota exceeded for metric: "
    "generativelanguage.googleapis.com/generate_content_free_tier_requests, "
    "limit: 10, model: gemini-2.5-flash"
)

_EMPTY_TEXT: Final = (
    _PREFIX + "[400 Bad Request] * GenerateContentRequest.contents[{index}].parts[0]"
    ".data: required oneof field 'data' must have one initialized field"
)

_UPSTREAM_TEXTS: Final = MappingProxyType(
    {
        "quota_old": _PREFIX + "[429 Too Many Requests] Quota exceeded for quota "
        "metric 'Generate Content API requests per minute' and limit "
        "'GenerateContent request limit per minute for a region' of service "
        "'generativelanguage.googleapis.com' for consumer "
        "'project_number:123456789012'.",
        "quota_new": _QUOTA_NEW_HEAD + "\nPlease retry in 47.17s.",
        "quota_short": _PREFIX + "[429 Too Many Requests] Resource has been "
        "exhausted (e.g. check quota).",
        "upstream_500": _PREFIX + "[500 Internal Server Error] An internal error "
        "has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting",
        "upstream_503": _PREFIX + "[503 Service Unavailable] The model is "
        "overloaded. Please try again later.",
        "fetch_failed": _PREFIX + "fetch failed",
        "bad_history": _PREFIX + "[400 Bad Request] Please ensure that multiturn "
        "requests alternate between user and model.",
        "bad_role": _PREFIX + "[400 Bad Request] Please use a valid role: user, model.",
        "empty_text": _EMPTY_TEXT.format(index=0),
        "api_key_invalid": _PREFIX + "[400 Bad Request] API key not valid. Please "
        'pass a valid API key. [{"@type":"type.googleapis.com/google.rpc.ErrorInfo",'
        '"reason":"API_KEY_INVALID","domain":"googleapis.com",'
        '"metadata":{"service":"generativelanguage.googleapis.com"}}]',
    }
)

UPSTREAM_ERRORS: Final[Mapping[str, str]] = MappingProxyType(
    {name: strip_urls(text) for name, text in _UPSTREAM_TEXTS.items()}
)
"""The ``error.message`` texts the real server forwards from Gemini, by condition.

Each is what the gemini dialect puts in a 500 ``{"error":{"code":"Error",...}}``
body (see docs/protocol.md, section 4): ``quota_old``, ``quota_new`` (with
"Please retry in 47.17s."), ``quota_short``, ``upstream_500``, ``upstream_503``,
``fetch_failed``, ``bad_history``, ``bad_role``, ``empty_text`` (for
``contents[0]``) and ``api_key_invalid``. Use them as ``Reply(error=...)``.
"""


def empty_text_error(index: int) -> str:
    """Return Gemini's "required oneof field 'data'" text for ``contents[index]``."""
    return _EMPTY_TEXT.format(index=index)


def _format_seconds(seconds: float) -> str:
    text = repr(float(seconds))
    return text.removesuffix(".0")


@dataclass
class Reply:
    """One scripted answer of the local server's fake upstream.

    A plain ``str`` given to :meth:`LocalServer.script` means ``Reply(text=...)``.
    Failures are counted in writes (HTTP chunks) and checked after each write in
    the order ``cut_after``, ``fail_after``, ``stall_after``; a count larger than
    the number of writes triggers after the last one.

    Attributes:
        text: The answer. Sent as one write unless ``chunk_size`` is set.
        chunks: Explicit writes (``str`` is UTF-8 encoded, ``bytes`` sent as is);
            when given, ``text`` and ``chunk_size`` must be left unset. Empty
            writes are skipped, as the real server sends nothing for them.
        chunk_size: Split ``text``'s UTF-8 bytes into writes of this many bytes
            (a split may fall inside a multi-byte character).
        first_byte_delay: Seconds before the first write (or before the error
            response). Status line and headers are held back until then, like
            the real server does.
        chunk_delay: Seconds between writes.
        fail_after: After this many writes, write ``Internal server error`` as one
            last chunk and end the response cleanly (the real server's
            mid-stream failure).
        cut_after: After this many writes, abort the TCP connection: the client
            sees an incomplete chunked body (or no response at all for 0).
        stall_after: After this many writes, go silent for ``stall_seconds``
            (at most the server's ``upstream_timeout``), then give up like the
            real server: the sentinel and a clean end, or, when nothing was
            written yet, a 500 carrying ``UPSTREAM_ERRORS["fetch_failed"]``.
        stall_seconds: How long a stall lasts.
        error: Fail the upstream call before the first token. The gemini dialect
            answers 500 ``{"error":{"code":"Error","message":error}}``; the
            chatgpt-demo dialect too, unless ``status`` is set.
        status: The status to answer with. The chatgpt-demo dialect forwards
            it with an OpenAI-style body, e.g. 429. The gemini dialect answers
            429 and 5xx as the real server answers an upstream failure (a 500
            carrying ``error``, or Gemini's text for the status); any other
            status (401, 403, 404...) is sent as is, with the site's own
            ``{"error":{"message": error}}`` body.
    """

    text: str = ""
    chunks: Sequence[str | bytes] | None = None
    chunk_size: int | None = None
    first_byte_delay: float = 0.0
    chunk_delay: float = 0.0
    fail_after: int | None = None
    cut_after: int | None = None
    stall_after: int | None = None
    stall_seconds: float = 300.0
    error: str | None = None
    status: int | None = None

    def __post_init__(self) -> None:
        if self.chunks is not None and (self.text or self.chunk_size is not None):
            raise ValueError("give either `chunks` or `text` (with `chunk_size`)")
        if self.chunk_size is not None and self.chunk_size < 1:
            raise ValueError("`chunk_size` must be at least 1")
        for name in ("fail_after", "cut_after", "stall_after"):
            count = getattr(self, name)
            if count is not None and count < 0:
                raise ValueError(f"`{name}` must not be negative")
        for name in ("first_byte_delay", "chunk_delay", "stall_seconds"):
            if not getattr(self, name) >= 0:  # NaN too
                raise ValueError(f"`{name}` must not be negative (or NaN)")
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError("`status` must be an error status (400-599)")

    @classmethod
    def rate_limited(
        cls,
        retry_in: float | None = None,
        wording: Literal["old", "new", "short"] = "new",
    ) -> Reply:
        """Build the upstream's quota error.

        Args:
            retry_in: The delay Gemini hints at, in seconds; only the ``"new"``
                wording carries it ("Please retry in {retry_in}s.").
            wording: Which of Gemini's quota texts to send.

        Returns:
            A reply failing with that text (and status 429 for the chatgpt-demo
            dialect).

        Raises:
            ValueError: Unknown wording.
        """
        if wording == "new":
            text = strip_urls(_QUOTA_NEW_HEAD)
            if retry_in is not None:
                text += f"\nPlease retry in {_format_seconds(retry_in)}s."
        elif wording == "old":
            text = UPSTREAM_ERRORS["quota_old"]
        elif wording == "short":
            text = UPSTREAM_ERRORS["quota_short"]
        else:
            raise ValueError(f"unknown wording {wording!r}")
        return cls(error=text, status=429)

    def writes(self, rechunk: int | None = None) -> list[bytes]:
        """Return the body's writes, in order, empty ones dropped.

        Args:
            rechunk: Re-split the whole body into writes of this many bytes.

        Returns:
            The bytes of each write.
        """
        if self.chunks is not None:
            parts = [c if isinstance(c, bytes) else encode_utf8(c) for c in self.chunks]
        else:
            data = encode_utf8(self.text)
            parts = [data] if self.chunk_size is None else _split(data, self.chunk_size)
        if rechunk is not None:
            parts = _split(b"".join(parts), rechunk)
        return [part for part in parts if part]


def _split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def echo_responder(turns: list[dict[str, str]]) -> str:
    """Answer ``"Echo: <last user text>"``: the local server's default responder.

    Args:
        turns: The conversation as ``[{"role": ..., "text": ...}]``.

    Returns:
        The answer text.
    """
    for turn in reversed(turns):
        if turn["role"] == "user":
            return f"Echo: {turn['text']}"
    return "Echo: "
