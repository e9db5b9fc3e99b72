"""The errors this package raises, and the one function that maps a response to one.

Every error is a subclass of a `langchain_core.exceptions.ModelError` class, so
callers and LangChain's retry middleware can read `is_retryable` without knowing
this package::

    AIChatFreeError (ModelError)
    ├── AuthenticationError (ModelAuthenticationError)     401, 403, bad upstream key
    ├── InvalidRequestError (ModelInvalidRequestError)     400, 404, bad history
    ├── RateLimitError (ModelRateLimitError)               quota exceeded   [retryable]
    ├── APIError (ModelAPIError)                           5xx              [retryable]
    │   └── StreamInterruptedError                         answer cut short [retryable]
    └── APIConnectionError (ModelConnectionError)          network          [retryable]
        └── APITimeoutError (ModelTimeoutError)            timeouts         [retryable]

Input that can be rejected before any request (an empty last message, an image
block) raises a plain `ValueError` instead: nothing was sent.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelRateLimitError,
    ModelTimeoutError,
)

from langchain_aichatfree._constants import ENV_PASSWORD, ENV_SECRET
from langchain_aichatfree._protocol import UpstreamKind, classify_upstream_message

__all__ = [
    "AIChatFreeError",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "InvalidRequestError",
    "RateLimitError",
    "StreamInterruptedError",
    "make_content_type_error",
    "make_status_error",
]

_MAX_BODY_IN_ERROR = 2000


class AIChatFreeError(ModelError):
    """Base class of every error raised by a call to an AIChatFree deployment.

    Attributes:
        message: What went wrong, with what to do where we know it.
        status_code: The HTTP status, if a response arrived.
        body: The response body as text (cut at 2,000 characters), if any.
        partial_text: The answer text received before the failure ("" if none).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body: str | None = None,
        partial_text: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.body = body
        self.partial_text = partial_text


class AuthenticationError(AIChatFreeError, ModelAuthenticationError):
    """The site password or the signing secret was refused (HTTP 401)."""


class InvalidRequestError(AIChatFreeError, ModelInvalidRequestError):
    """The deployment rejected the request as malformed; retrying will not help."""


class RateLimitError(AIChatFreeError, ModelRateLimitError):
    """The deployment's upstream quota is exhausted; retry later.

    Attributes:
        retry_after: Seconds the server asked to wait, if it said.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body: str | None = None,
        partial_text: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message, status_code=status_code, body=body, partial_text=partial_text
        )
        self.retry_after = retry_after


class APIError(AIChatFreeError, ModelAPIError):
    """The deployment or its upstream failed (HTTP 5xx).

    `is_retryable` is `False` on the instances that retrying cannot fix.
    """


class StreamInterruptedError(APIError):
    """The answer was cut short: the server's mid-stream failure, or a broken body.

    The text received so far is in `partial_text`; it is never returned as if it
    were the complete answer.
    """


class APIConnectionError(AIChatFreeError, ModelConnectionError):
    """The deployment could not be reached, or the connection broke."""


class APITimeoutError(APIConnectionError, ModelTimeoutError):
    """An attempt exceeded `timeout`, or the server was silent for `chunk_timeout`."""


def _error_message(body: str) -> str | None:
    """The `error.message` of a JSON error body, if there is one."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return None


def make_content_type_error(content_type: str, body: bytes) -> AIChatFreeError:
    """The error for a 200 answer that is not plain text (a web page, JSON).

    Args:
        content_type: The response's `Content-Type`.
        body: The start of the body.

    Returns:
        A non-retryable `APIError`: a captcha, login or error page will not turn
        into an answer by asking again.
    """
    text = body.decode("utf-8", "replace")[:_MAX_BODY_IN_ERROR]
    server_message = _error_message(text)
    shown = f": {server_message}" if server_message else ""
    error = APIError(
        f"The deployment answered 200 with {content_type!r} instead of plain text"
        f"{shown}. Is `base_url` the chat site itself, and not behind a login or "
        "captcha page?",
        status_code=200,
        body=text,
    )
    error.is_retryable = False
    return error


def _parse_retry_after(value: str) -> float | None:
    """Seconds from a `Retry-After` header given in seconds (dates are ignored)."""
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def make_status_error(
    status: int, body: bytes | str, retry_after_header: str | None = None
) -> AIChatFreeError:
    """Map a non-200 response to the error a caller should see.

    This is the one place that knows what the server's statuses and messages
    mean (PROTOCOL.md's error tables); the transport only reads the body and
    raises what this returns.

    Args:
        status: The HTTP status code.
        body: The response body (read in full before calling this).
        retry_after_header: The response's `Retry-After` header, if any.

    Returns:
        The error to raise, carrying the server's own message.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text[:_MAX_BODY_IN_ERROR]
    server_message = _error_message(text)
    shown = server_message or (text.strip() or "empty body")
    where = f"(HTTP {status})"
    kwargs: dict[str, Any] = {"status_code": status, "body": text}

    if status == 401:
        if server_message and "signature" in server_message.lower():
            hint = (
                f"Set `secret` (or {ENV_SECRET}) to the deployment's "
                "PUBLIC_SECRET_KEY, published in its browser code."
            )
        else:
            hint = (
                f"Set `password` (or {ENV_PASSWORD}) to the site password."
                if not server_message or "password" in server_message.lower()
                else "Check `password` and `secret`."
            )
        return AuthenticationError(f"{shown} {where} {hint}", **kwargs)
    if status == 403:
        return AuthenticationError(
            f"{shown} {where} The deployment refused access.", **kwargs
        )
    if status == 429:
        _, retry_after = classify_upstream_message(shown)
        if retry_after_header is not None:
            retry_after = _parse_retry_after(retry_after_header) or retry_after
        return RateLimitError(
            f"Rate limited: {shown} {where}", retry_after=retry_after, **kwargs
        )
    if 300 <= status < 400:
        return InvalidRequestError(
            f"The deployment redirected the request {where}; redirects are not "
            "followed. Set `base_url` to the deployment's final address.",
            **kwargs,
        )
    if status == 404:
        return InvalidRequestError(
            f"No chat endpoint at this address {where}. Check `base_url`: it "
            "should be the site's root, e.g. https://aichatfree.info.",
            **kwargs,
        )
    if status < 500:
        return InvalidRequestError(f"{shown} {where}", **kwargs)

    if server_message is None:
        return APIError(f"Server error {where}: {shown}", **kwargs)
    kind, retry_after = classify_upstream_message(server_message)
    if kind is UpstreamKind.RATE_LIMIT:
        return RateLimitError(
            f"Rate limited by the upstream model: {server_message} {where}",
            retry_after=retry_after,
            **kwargs,
        )
    if kind is UpstreamKind.BAD_REQUEST:
        return InvalidRequestError(
            f"The upstream model rejected the request: {server_message} {where}",
            **kwargs,
        )
    if kind is UpstreamKind.BAD_UPSTREAM_KEY:
        return AuthenticationError(
            f"The deployment's own Gemini API key is invalid: {server_message} "
            f"{where} This is the site operator's setting, not yours.",
            **kwargs,
        )
    return APIError(f"Upstream failure: {server_message} {where}", **kwargs)
