"""The one mapping from a response to an error: status, body and headers.

`make_status_error` knows what the servers' statuses and messages mean
(docs/protocol.md, section 4); the transport only reads the whole body and
raises what it returns. A 200 that is a page (`make_content_type_error`) and a
redirect not followed (`redirect_error`) are mapped here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from pydantic import SecretStr

from langchain_aichatfree._upstream_text import UpstreamKind, classify_upstream_message
from langchain_aichatfree.errors._advice import Advice, with_advice
from langchain_aichatfree.errors._body import read_body, redact
from langchain_aichatfree.errors._classes import (
    AIChatFreeError,
    APIError,
    AuthenticationError,
    DeploymentError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnexpectedResponseError,
)
from langchain_aichatfree.errors._table import ErrorRow, error_from_row

_UPSTREAM_ERRORS: Final[Mapping[UpstreamKind, ErrorRow]] = {
    UpstreamKind.RATE_LIMIT: ErrorRow(
        RateLimitError, "Rate limited by the upstream model: {shown} {where}"
    ),
    UpstreamKind.BAD_REQUEST: ErrorRow(
        InvalidRequestError, "The upstream model rejected the request: {shown} {where}"
    ),
    UpstreamKind.BAD_UPSTREAM_KEY: ErrorRow(
        DeploymentError,
        "The deployment's own model API key was refused: {shown} {where}",
        advice=Advice.OPERATOR,
    ),
    UpstreamKind.TRANSIENT: ErrorRow(APIError, "Upstream failure: {shown} {where}"),
}
"""What an upstream failure's text means: the class, the message, the advice."""


def _parse_retry_after(value: str) -> float | None:
    """Seconds from a `Retry-After` header given in seconds (dates are ignored)."""
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds < float("inf") else None


def _auth_advice(server_message: str | None, dialect: str | None) -> Advice:
    """What to do about a 401 from the site's own checks."""
    lowered = (server_message or "").lower()
    if "signature" in lowered:
        return Advice.SECRET_OR_DIALECT if dialect == "gemini" else Advice.SET_SECRET
    if not server_message or "password" in lowered:
        return Advice.SET_PASSWORD
    return Advice.CHECK_CREDENTIALS


def make_status_error(
    status: int,
    body: bytes | str,
    retry_after_header: str | None = None,
    *,
    dialect: str | None = None,
    redact_secrets: Iterable[SecretStr | str | None] = (),
) -> AIChatFreeError:
    """Map a non-200 response to the error a caller should see.

    This is the one place that knows what the server's statuses and messages
    mean (docs/protocol.md, section 4); the transport only reads the whole body
    and raises what this returns.

    Args:
        status: The HTTP status code.
        body: The response body (read in full, up to a bound, before calling this).
        retry_after_header: The response's `Retry-After` header, if any.
        dialect: The dialect the request was sent in, if known: it decides
            whether a refused signature or a body-less 500 may mean the wrong
            dialect.
        redact_secrets: Values never to show (the site password).

    Returns:
        The error to raise, carrying the server's own message.
    """
    text, server_message = read_body(body, redact_secrets)
    shown = server_message or (text.strip() or "empty body")
    where = f"(HTTP {status})"
    common: dict[str, Any] = {
        "status_code": status,
        "body": text,
        "server_message": server_message,
    }
    upstream_kind, hinted = (
        classify_upstream_message(server_message)
        if server_message is not None
        else (None, None)
    )

    if upstream_kind is UpstreamKind.BAD_UPSTREAM_KEY and (
        status == 401 or status >= 500
    ):
        # The site passed our checks; its own model key was refused (a Gemini
        # key in a 500, an OpenAI key forwarded as 401 by chatgpt-demo).
        return _upstream_error(upstream_kind, shown, where, None, common)
    if status == 401:
        advice = _auth_advice(server_message, dialect)
        return AuthenticationError(
            with_advice(f"{shown} {where}", advice), advice=advice, **common
        )
    if status == 403:
        return PermissionDeniedError(
            f"{shown} {where} The deployment refused access.", **common
        )
    if status == 429:
        retry_after = hinted
        if retry_after_header is not None:
            retry_after = _parse_retry_after(retry_after_header) or retry_after
        return RateLimitError(
            f"Rate limited: {shown} {where}", retry_after=retry_after, **common
        )
    if 300 <= status < 400:
        return InvalidRequestError(
            f"The deployment answered with a redirect {where} that has no "
            "`Location` to follow. Set `base_url` to the deployment's final "
            "address.",
            **common,
        )
    if status == 404:
        if server_message is not None:
            # chatgpt-demo forwards its upstream's 404: the model it is set to
            # use does not exist there.
            return NotFoundError(
                with_advice(
                    f"The deployment's upstream has no such model: {shown} {where}",
                    Advice.OPERATOR,
                ),
                advice=Advice.OPERATOR,
                **common,
            )
        return NotFoundError(
            with_advice(
                f"No chat endpoint at this address {where}.", Advice.CHECK_BASE_URL
            ),
            advice=Advice.CHECK_BASE_URL,
            **common,
        )
    if status < 500:
        return InvalidRequestError(f"{shown} {where}", **common)
    if upstream_kind is None:
        dialect_advice = (
            Advice.TRY_GEMINI_DIALECT
            if dialect == "chatgpt-demo" and not text.strip()
            else None
        )
        return APIError(
            with_advice(f"Server error {where}: {shown}", dialect_advice),
            advice=dialect_advice,
            **common,
        )
    return _upstream_error(upstream_kind, shown, where, hinted, common)


def _upstream_error(
    kind: UpstreamKind,
    shown: str,
    where: str,
    retry_after: float | None,
    common: dict[str, Any],
) -> AIChatFreeError:
    """The error for an upstream failure the deployment passed on."""
    row = _UPSTREAM_ERRORS[kind]
    extra = {"retry_after": retry_after} if row.cls is RateLimitError else {}
    return error_from_row(row, {"shown": shown, "where": where}, **common, **extra)


def make_content_type_error(
    content_type: str,
    body: bytes,
    *,
    redact_secrets: Iterable[SecretStr | str | None] = (),
) -> AIChatFreeError:
    """The error for a 200 answer that is a page (HTML, JSON), not an answer.

    Args:
        content_type: The response's `Content-Type`.
        body: The body, read in full up to a bound.
        redact_secrets: Values never to show (the site password).

    Returns:
        An `UnexpectedResponseError` (not retryable).
    """
    text, server_message = read_body(body, redact_secrets)
    shown = f": {server_message}" if server_message else ""
    return UnexpectedResponseError(
        f"The deployment answered 200 with {content_type!r} instead of plain text"
        f"{shown}. Is `base_url` the chat site itself, and not behind a login or "
        "captcha page?",
        status_code=200,
        body=text,
        server_message=server_message,
    )


def redirect_error(
    status: int,
    target: str,
    *,
    same_site: bool,
    redact_secrets: Iterable[SecretStr | str | None] = (),
) -> InvalidRequestError:
    """A redirect that is not followed.

    Args:
        status: The 3xx status.
        target: Where it points (absolute).
        same_site: Whether it points to the same scheme, host and port (then
            only because `follow_redirects` is off).
        redact_secrets: Values never to show (the site password).

    Returns:
        The error.
    """
    advice = (
        "Set follow_redirects=True to follow redirects on the same site, or set "
        "`base_url` to the final address."
        if same_site
        else "It points to another site and is never followed (the request carries "
        "the site password). Set `base_url` to the final address if you trust it."
    )
    shown = redact(target, tuple(redact_secrets))
    return InvalidRequestError(
        f"The deployment redirected the request (HTTP {status}) to {shown}. {advice}",
        status_code=status,
    )
