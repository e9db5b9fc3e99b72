"""Pure routing choices: the order deployments are tried in, and what an error means.

No I/O, no clock: the router and each call's route ask these functions, and the
unit tests check them as tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from langchain_aichatfree._constants import PROBE_POLL
from langchain_aichatfree.errors import (
    AIChatFreeError,
    AuthenticationError,
    DeploymentError,
    RateLimitError,
)

__all__ = [
    "Refusal",
    "backs_off",
    "free_at",
    "order_candidates",
    "reason_text",
    "takes_out",
]

_MAX_REASON = 160
"""Characters of an error's first sentence kept as a routing reason."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why one deployment could not be reserved for an attempt.

    Attributes:
        index: The deployment's index in the pool.
        free_at: When the store says it frees (epoch seconds), if it said.
        reason: The store's reason (``"cooling: ..."``, ``"rpm"``,
            ``"probing"``, ``"out: ..."``, ...).
        out: Whether it is taken out (it will not free by waiting).
    """

    index: int
    free_at: float | None
    reason: str
    out: bool


def order_candidates(
    remaining: Sequence[float],
    failed_recently: Sequence[bool],
    usable: Sequence[bool],
    cursor: int,
) -> list[int]:
    """The order in which deployments are tried: a pure function.

    Args:
        remaining: Each deployment's budget left in the current window
            (``math.inf`` when undeclared).
        failed_recently: Whether each failed transiently a moment ago.
        usable: Whether each may be tried at all now.
        cursor: The round-robin position (after the one picked last).

    Returns:
        Indexes of the usable deployments, best first: not recently failed
        before recently failed, then most remaining budget, then round robin
        from `cursor`.
    """
    count = len(remaining)
    rotated = [(cursor + step) % count for step in range(count)] if count else []
    candidates = [i for i in rotated if usable[i]]
    return sorted(candidates, key=lambda i: (failed_recently[i], -remaining[i]))


def takes_out(error: AIChatFreeError) -> bool:
    """Whether an error condemns the deployment, not the call.

    Our password or signature refused (401, 403), or the site's own upstream
    key invalid: another deployment may well answer.

    Args:
        error: The error of an attempt.

    Returns:
        True if the deployment should be taken out of the pool.
    """
    return isinstance(error, (AuthenticationError, DeploymentError))


def backs_off(error: AIChatFreeError) -> bool:
    """Whether a retry after `error` sleeps first (a cooldown waits instead).

    Args:
        error: The error of the attempt just failed.

    Returns:
        False for rate limits and refusals, True otherwise.
    """
    return not isinstance(error, RateLimitError) and not takes_out(error)


def free_at(refusal: Refusal, now: float) -> float:
    """When a refused deployment may next be tried.

    A probe under way usually ends long before its lease: ask again soon.

    Args:
        refusal: Why it was refused.
        now: Epoch seconds.

    Returns:
        Epoch seconds.
    """
    if refusal.reason == "probing" or refusal.free_at is None:
        return now + PROBE_POLL
    return refusal.free_at


def reason_text(error: AIChatFreeError) -> str:
    """A short, secret-free reason for routing records and status.

    Args:
        error: The error that took a deployment out.

    Returns:
        Its class name and the first sentence of its message, bounded.
    """
    first = error.message.split(". ", 1)[0]
    if len(first) > _MAX_REASON:
        first = first[: _MAX_REASON - 3] + "..."
    return f"{type(error).__name__}: {first}"
