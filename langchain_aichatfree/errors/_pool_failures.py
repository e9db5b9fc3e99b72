"""The errors of a call over a pool of deployments that none could take."""

from __future__ import annotations

from langchain_aichatfree.errors._classes import AuthenticationError, RateLimitError


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
    max_wait: float, reasons: str, retry_after: float
) -> RateLimitError:
    """The error of a call no deployment could take within `max_wait`.

    Args:
        max_wait: The call's `max_wait`, in seconds.
        reasons: Each deployment's URL, why it is not free, and for how long.
        retry_after: Seconds until the earliest deployment frees.

    Returns:
        A `RateLimitError` with that `retry_after`.
    """
    return RateLimitError(
        f"No deployment comes free within max_wait={max_wait:g} s ({reasons}). "
        f"Retry in {retry_after:.1f} s.",
        retry_after=retry_after,
    )
