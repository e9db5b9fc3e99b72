"""The routing of one call over the pool: reserve, record, fail over, wait.

A call's `Route` goes on as the retrying call asks: after a rate limit the
deployment cools down (shared through the store) and the call fails over at
once to a deployment it has not tried; after a transient failure too. Only
when none is free does it back off (transient) or wait (up to `max_wait`) for
the earliest to come free. Bad requests are never retried. What the whole
process knows is the `Router`'s (`_router`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_aichatfree._constants import MAX_WAIT_STEP
from langchain_aichatfree._protocol import PreparedRequest
from langchain_aichatfree._route_choice import (
    Refusal,
    free_at,
    reason_text,
    takes_out,
)
from langchain_aichatfree._transport import CallOptions
from langchain_aichatfree.errors import (
    AIChatFreeError,
    DeploymentError,
    RateLimitError,
    pool_out_error,
    pool_rate_limit_error,
    pool_wait_error,
)

if TYPE_CHECKING:
    from langchain_aichatfree._quota import Grant
    from langchain_aichatfree._router import Endpoint, Router

__all__ = ["Route", "Target"]

logger = logging.getLogger("langchain_aichatfree")

_MIN_SLEEP = 0.005
"""Shortest sleep while waiting (a deadline just passed, a probe under way)."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where one attempt goes: the deployment, its options and its request.

    Attributes:
        index: The deployment's index in the pool.
        endpoint: The deployment and how to reach it.
        options: The call's options, with the deployment's URL and credentials.
        request: The conversation in the deployment's dialect.
        probe: Whether the attempt is the probe after a cooldown.
        lease: The probe lease's token (`Grant.lease`), when it is the probe.
    """

    index: int
    endpoint: Endpoint
    options: CallOptions
    request: PreparedRequest
    probe: bool
    lease: str | None = None


@dataclass(slots=True)
class Route:
    """The routing of one call: what it tried, and what it may try next.

    Attributes:
        records: One dict per attempt, for ``response_metadata["routing"]``:
            ``deployment`` (its URL), ``outcome`` (``"ok"``, ``"rate_limit"``,
            ``"auth"``, ``"transient"``, ``"error"``, ``"cancelled"``),
            ``error`` (the error's class name), ``waited`` (seconds waited
            for a free deployment before it), and after a rate limit
            ``cooldown_until`` (epoch seconds) and ``cooldown_reason``.
        waited: Seconds this call waited for a free deployment in all.
    """

    router: Router
    request: PreparedRequest
    options: CallOptions
    max_wait: float
    records: list[dict[str, Any]] = field(default_factory=list)
    waited: float = 0.0
    _tried: set[int] = field(default_factory=set)
    _unrecorded_wait: float = 0.0
    """Seconds waited since the last record (the next record's `waited`)."""
    _reserved: Target | None = None
    """The attempt reserved and not yet recorded (a cancel frees it)."""
    _last: Target | None = None
    """The target of the last recorded attempt."""
    _probing: Target | None = None
    """The attempt that holds the group's probe lease, until it ends."""

    @property
    def served_by(self) -> str | None:
        """The URL of the deployment whose answer succeeded, if one did."""
        if self.records and self.records[-1]["outcome"] == "ok":
            return str(self.records[-1]["deployment"])
        return None

    # -- reserving ------------------------------------------------------------

    def _target(self, index: int, grant: Grant) -> Target:
        """The attempt to deployment `index`: its URL, credentials and dialect."""
        endpoint = self.router.endpoints[index]
        options = self.options
        if not self.router.implicit:
            options = dataclasses.replace(
                options,
                url=endpoint.url,
                headers=endpoint.headers,
                secret=endpoint.secret,
                password=endpoint.password,
                dialect=endpoint.deployment.dialect,
            )
        request = self.request.for_dialect(endpoint.deployment.dialect)
        return Target(index, endpoint, options, request, grant.probe, grant.lease)

    async def _reserve(
        self, exclude: frozenset[int]
    ) -> tuple[Target | None, list[Refusal]]:
        """Reserve the best deployment that is free now.

        Returns:
            The target (or `None`), and why each other deployment not in
            `exclude` could not be reserved (when none was).
        """
        router = self.router
        now = time.time()
        candidates = router.order(now, exclude)
        refusals = router.refusals(now, exclude | frozenset(candidates))
        for index in candidates:
            deployment = router.endpoints[index].deployment
            grant = await router.store.acquire(
                deployment.group, rpm=deployment.rpm, rpd=deployment.rpd, now=now
            )
            if grant.ok:
                router.granted(index, now)
                target = self._target(index, grant)
                self._reserved = target
                if grant.probe:
                    self._probing = target
                self._tried.add(index)
                return target, []
            reason = grant.reason or "refused"
            router.refused(deployment.group, grant.free_at, reason)
            out = reason.startswith("out")
            refusals.append(Refusal(index, grant.free_at, reason, out=out))
        return None, refusals

    async def pick(self, error: AIChatFreeError | None = None) -> Target:
        """Reserve a deployment, waiting up to `max_wait` for one to come free.

        Args:
            error: The error of the attempt before, if any.

        Returns:
            The reserved target.

        Raises:
            AIChatFreeError: Every deployment is out (`error`, or an
                `AuthenticationError`), or none comes free within `max_wait`
                (a `RateLimitError` whose `retry_after` is the time until the
                earliest frees).
        """
        while True:
            target, refusals = await self._reserve(frozenset())
            if target is not None:
                return target
            now = time.time()
            live = [r for r in refusals if not r.out]
            if not live:
                raise self._all_out(error, refusals)
            earliest = min(free_at(r, now) for r in live)
            wait = earliest - now
            if wait > self.max_wait - self.waited:
                raise self._no_capacity(error, live, earliest, now)
            step = min(max(wait, _MIN_SLEEP), MAX_WAIT_STEP)
            started = time.monotonic()
            await self.router.sleep(step)
            slept = time.monotonic() - started
            self.waited += slept
            self._unrecorded_wait += slept

    async def failover(self) -> Target | None:
        """Reserve a deployment this call has not tried, if one is free now.

        Returns:
            The reserved target, or `None`.
        """
        target, _ = await self._reserve(frozenset(self._tried))
        return target

    # -- outcomes -------------------------------------------------------------

    def _record(self, target: Target, outcome: str, **extra: Any) -> None:
        """Add an attempt's record; the attempt is no longer reserved."""
        record: dict[str, Any] = {
            "deployment": target.endpoint.deployment.url,
            "outcome": outcome,
            "waited": round(self._unrecorded_wait, 3),
        }
        record.update(extra)
        self.records.append(record)
        self._unrecorded_wait = 0.0
        self._reserved = None
        self._last = target

    async def _end_probe(self, target: Target, *, success: bool) -> None:
        """Release the group's probe lease if `target` holds it; wake the waiters."""
        if target.probe and self._probing is target:
            self._probing = None
            await self.router.store.release(
                target.endpoint.deployment.group, success=success, lease=target.lease
            )
            self.router.wake()

    async def answering(self, target: Target) -> None:
        """The deployment accepted the attempt (a 200): it is not rate limited.

        A probe after a cooldown ends here, not when the answer ends, so the
        other callers waiting for the group go on at once.

        Args:
            target: The attempt's target.
        """
        await self._end_probe(target, success=True)

    async def succeeded(self, target: Target) -> None:
        """The attempt's answer reached its end.

        Args:
            target: The attempt's target.
        """
        self._record(target, "ok")
        await self.answering(target)

    async def failed(self, target: Target, error: AIChatFreeError) -> None:
        """Record a failed attempt: cool down, take out, or remember it.

        Args:
            target: The attempt's target.
            error: Its error.
        """
        router = self.router
        deployment = target.endpoint.deployment
        group = deployment.group
        if isinstance(error, RateLimitError):
            until, why = await router.store.cool_down(
                group, text=error.body or error.message, retry_after=error.retry_after
            )
            router.refused(group, until, f"cooling: {why}")
            self._record(
                target,
                "rate_limit",
                error=type(error).__name__,
                cooldown_until=until,
                cooldown_reason=why,
            )
        elif takes_out(error) and not router.implicit:
            reason = reason_text(error)
            if isinstance(error, DeploymentError):
                # The deployment's own upstream key: shared by every caller.
                await router.store.take_out(group, reason)
            router.take_out(target.index, reason)
            logger.warning(
                "AIChatFree deployment %s taken out of the pool: %s",
                deployment.url,
                reason,
            )
            self._record(target, "auth", error=type(error).__name__)
        elif error.is_retryable:
            router.failed_transiently(group)
            self._record(target, "transient", error=type(error).__name__)
        else:
            self._record(target, "error", error=type(error).__name__)
        await self._end_probe(target, success=False)

    def reroutes(self, error: AIChatFreeError) -> bool:
        """Whether a non-retryable error still lets the call go elsewhere.

        Args:
            error: The error of the attempt just failed.

        Returns:
            True for a refusal of one deployment's credentials (taken out)
            while others are not out.
        """
        router = self.router
        return takes_out(error) and not router.implicit and not router.all_out

    async def abandon(self) -> None:
        """End a call that stopped mid-attempt (cancelled): free a probe lease."""
        target = self._reserved
        if target is None:
            return
        self._record(target, "cancelled")
        await self._end_probe(target, success=False)

    # -- giving up ------------------------------------------------------------

    def _all_out(
        self, error: AIChatFreeError | None, refusals: Sequence[Refusal]
    ) -> AIChatFreeError:
        """The error when every deployment is out: the last attempt's, if any."""
        if error is not None:
            return error
        urls = "; ".join(
            f"{self.router.endpoints[r.index].deployment.url} ({r.reason})"
            for r in refusals
        )
        return pool_out_error(urls)

    def _no_capacity(
        self,
        error: AIChatFreeError | None,
        live: Sequence[Refusal],
        earliest: float,
        now: float,
    ) -> AIChatFreeError:
        """The error when no deployment frees within `max_wait`.

        After a rate limit, that rate limit (with the pool's `retry_after`
        unless its own is for the deployment that frees first); else a
        `RateLimitError` that names why each deployment is not free.
        """
        retry_after = max(earliest - now, 0.0)
        soonest = min(live, key=lambda r: free_at(r, now))
        if isinstance(error, RateLimitError):
            last = self._last
            same = last is not None and (
                self.router.endpoints[soonest.index].deployment.group
                == last.endpoint.deployment.group
            )
            if same and error.retry_after is not None:
                return error
            return pool_rate_limit_error(error, retry_after)
        reasons = "; ".join(
            f"{self.router.endpoints[r.index].deployment.url}: {r.reason}, free in "
            f"{max(free_at(r, now) - now, 0.0):.1f} s"
            for r in live
        )
        return pool_wait_error(self.max_wait, reasons, retry_after, cause=error)
