"""The errors of a call over a pool of deployments that none could take."""

from __future__ import annotations

from langchain_aichatfree.errors._classes import (
    AIChatFreeError,
    AuthenticationError,
    RateLimitError,
)


def pool_out_error(reasons: str) -> AuthenticationError:
    """The error of a call whose every deployment is out of the pool.

    Args:
        reasons: Each deployment's URL and why it is out (no secrets).

    Returns:
        A non-retryable `AuthenticationError`: only new credentials help.
    """
    return AuthenticationError(
        f"Every deployment of the pool is out: {reasons}. Fix their credentials "
        "and make a new model."
    )


def pool_wait_error(
    max_wait: float,
    reasons: str,
    retry_after: float,
    cause: AIChatFreeError | None = None,
) -> RateLimitError:
    """The error of a call no deployment could take within `max_wait`.

    Args:
        max_wait: The call's `max_wait`, in seconds.
        reasons: Each deployment's URL, why it is not free, and for how long.
        retry_after: Seconds until the earliest deployment frees.
        cause: The error of the call's last attempt, if it made one.

    Returns:
        A `RateLimitError` with that `retry_after`, caused by `cause`.
    """
    error = RateLimitError(
        f"No deployment comes free within max_wait={max_wait:g} s ({reasons}). "
        f"Retry in {retry_after:.1f} s.",
        retry_after=retry_after,
    )
    error.__cause__ = cause
    return error


def pool_rate_limit_error(error: RateLimitError, retry_after: float) -> RateLimitError:
    """A call's last rate limit, raised for the pool: retry when one frees.

    The last attempt's own `retry_after` (if any) says when its deployment
    frees; the call's caller wants to know when any deployment of the pool
    does. The attempt's error is left as it was.

    Args:
        error: The last attempt's rate limit.
        retry_after: Seconds until the earliest deployment of the pool frees.

    Returns:
        A `RateLimitError` like `error` (message, status, body, partial text),
        with that `retry_after`, caused by `error`.
    """
    pooled = RateLimitError(
        error.message,
        retry_after=retry_after,
        status_code=error.status_code,
        body=error.body,
        partial_text=error.partial_text,
        server_message=error.server_message,
        advice=error.advice,
    )
    pooled.__cause__ = error
    return pooled
