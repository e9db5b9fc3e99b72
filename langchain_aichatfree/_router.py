"""Routing calls over a pool of deployments whose quotas live in a `QuotaStore`.

How a deployment is picked for an attempt (`Router.order`, pure):

1. Deployments taken out are skipped, and so are the ones this process already
   knows to be cooling down or out of budget until a known time (a safe lower
   bound: a cooldown deadline only ever moves later, a spent window does not
   refill early).
2. The others are ranked by the budget they have left in the current minute
   (declared `rpm` minus the requests this process counted; undeclared counts as
   unlimited), most first; ties go round robin. One that failed transiently in
   the last `FAILED_RANK_SECONDS` goes last.
3. They are reserved in that order, atomically, in the store (`acquire`); the
   first one granted gets the attempt. On the happy path that is one store
   operation per call, and nothing else is written.

A call (`Route`) then goes on as the transport's retry loop asks: after a rate
limit the deployment cools down (shared through the store) and the call fails
over at once to a deployment it has not tried; after a transient failure too.
Only when none is free does it back off (transient) or wait (up to `max_wait`)
for the earliest to come free. Bad requests are never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from langchain_aichatfree._constants import (
    FAILED_RANK_SECONDS,
    MAX_WAIT_STEP,
    PROBE_POLL,
    RPM_WINDOW,
)
from langchain_aichatfree._deployment import Deployment
from langchain_aichatfree._protocol import PreparedRequest
from langchain_aichatfree._quota import QuotaStore
from langchain_aichatfree._transport import CallOptions
from langchain_aichatfree.errors import (
    AIChatFreeError,
    AuthenticationError,
    DeploymentError,
    RateLimitError,
    pool_out_error,
    pool_wait_error,
)

__all__ = [
    "Endpoint",
    "Route",
    "Router",
    "Target",
    "order_candidates",
]

logger = logging.getLogger("langchain_aichatfree")

_MIN_SLEEP = 0.005
"""Shortest sleep while waiting (a deadline just passed, a probe under way)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A deployment and how to reach it (built once per model).

    Attributes:
        deployment: The deployment.
        url: Its generate endpoint.
        headers: The request headers for it.
        secret: Its signing key.
        password: Its site password, or `None`.
    """

    deployment: Deployment
    url: str
    headers: dict[str, str]
    secret: str
    password: SecretStr | None


@dataclass(frozen=True, slots=True)
class Target:
    """Where one attempt goes: the deployment, its options and its request."""

    index: int
    endpoint: Endpoint
    options: CallOptions
    request: PreparedRequest
    probe: bool


@dataclass(slots=True)
class _Known:
    """What this process knows about one quota group (for ranking only)."""

    free_at: float = 0.0
    reason: str | None = None
    window: int = -1
    used: int = 0
    failed_at: float = -math.inf


@dataclass(frozen=True, slots=True)
class _Refusal:
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


class Router:
    """A model's deployments, its quota store, and what this process knows.

    Args:
        endpoints: The deployments, in the order given.
        store: Where cooldowns, budgets and probes are kept.
        implicit: A pool of one made from the model's own fields (no
            `deployments`): nothing is taken out, as there is nowhere to go.
    """

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        store: QuotaStore,
        *,
        implicit: bool = False,
    ) -> None:
        self.endpoints = tuple(endpoints)
        self.store = store
        self.implicit = implicit
        self._known: dict[str, _Known] = {}
        self._out: dict[int, str] = {}
        self._cursor = 0
        """Where the round robin starts: after the deployment granted last."""
        self._window = float(getattr(store, "rpm_window", RPM_WINDOW))
        self._wake: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}
        self._wake_lock = threading.Lock()

    async def sleep(self, seconds: float) -> None:
        """Sleep, or less if this process frees capacity meanwhile.

        Args:
            seconds: The longest sleep.
        """
        loop = asyncio.get_running_loop()
        with self._wake_lock:
            event = self._wake.get(loop)
            if event is None:
                event = self._wake[loop] = asyncio.Event()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

    def wake(self) -> None:
        """Wake every call of this process waiting in `sleep` (a probe ended)."""
        with self._wake_lock:
            waiting = list(self._wake.items())
            self._wake.clear()
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop, event in waiting:
            if loop is running:
                event.set()
            elif not loop.is_closed():
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(event.set)

    def route(
        self, request: PreparedRequest, options: CallOptions, max_wait: float
    ) -> Route:
        """Start routing one call.

        Args:
            request: The call's conversation (any dialect: it is converted for
                each deployment's own).
            options: The call's options (their deployment fields are replaced
                per attempt).
            max_wait: Seconds the call may wait for a deployment to come free.

        Returns:
            The call's route.
        """
        return Route(self, request, options, max_wait)

    def _known_for(self, group: str) -> _Known:
        known = self._known.get(group)
        if known is None:
            known = self._known[group] = _Known()
        return known

    def order(self, now: float, exclude: frozenset[int] = frozenset()) -> list[int]:
        """Deployments to try now, best first (see the module docstring).

        Args:
            now: Epoch seconds.
            exclude: Indexes not to try (e.g. already tried by this call).

        Returns:
            Indexes into `endpoints`.
        """
        window = int(now // self._window)
        remaining: list[float] = []
        failed: list[bool] = []
        usable: list[bool] = []
        for index, endpoint in enumerate(self.endpoints):
            deployment = endpoint.deployment
            known = self._known_for(deployment.group)
            used = known.used if known.window == window else 0
            remaining.append(
                math.inf if deployment.rpm is None else deployment.rpm - used
            )
            failed.append(now - known.failed_at < FAILED_RANK_SECONDS)
            usable.append(
                index not in exclude and index not in self._out and known.free_at <= now
            )
        return order_candidates(remaining, failed, usable, self._cursor)

    def _counted(self, group: str, now: float) -> None:
        known = self._known_for(group)
        window = int(now // self._window)
        if known.window != window:
            known.window, known.used = window, 0
        known.used += 1

    def _refused(self, group: str, free_at: float | None, reason: str) -> None:
        # Cooldowns and spent windows end no earlier than the store said; a
        # probe under way may end any time, so it is not remembered.
        if free_at is not None and reason != "probing":
            known = self._known_for(group)
            if free_at > known.free_at:
                known.free_at, known.reason = free_at, reason

    def _refusals(self, now: float, exclude: frozenset[int]) -> list[_Refusal]:
        """Why each deployment not in `exclude` is not tried (what we know)."""
        refusals = []
        for index, endpoint in enumerate(self.endpoints):
            if index in exclude:
                continue
            if index in self._out:
                refusals.append(_Refusal(index, None, self._out[index], out=True))
                continue
            known = self._known_for(endpoint.deployment.group)
            if known.free_at > now:
                reason = known.reason or "cooling"
                out = reason.startswith("out")
                refusals.append(_Refusal(index, known.free_at, reason, out=out))
        return refusals

    async def status(self) -> list[dict[str, Any]]:
        """One dict per deployment, as `ChatAIChatFree.aquota_status` documents.

        Returns:
            The deployments' quota states, in the pool's order.
        """
        now = time.time()
        rows = []
        for index, endpoint in enumerate(self.endpoints):
            deployment = endpoint.deployment
            state = await self.store.status(deployment.group, now=now)
            reason = state.reason
            if state.out_reason is not None:
                reason = f"out: {state.out_reason}"
            if index in self._out:
                reason = f"out: {self._out[index]}"
            rows.append(
                {
                    "base_url": deployment.url,
                    "quota_group": deployment.group,
                    "cooling_until": state.cooling_until,
                    "reason": reason,
                    "rpm_used": state.rpm_used,
                    "rpd_used": state.rpd_used,
                }
            )
        return rows


def _takes_out(error: AIChatFreeError) -> bool:
    """Whether an error condemns the deployment, not the call.

    Our password or signature refused (401, 403), or the site's own upstream
    key invalid: another deployment may well answer.
    """
    return isinstance(error, (AuthenticationError, DeploymentError))


def _free_at(refusal: _Refusal, now: float) -> float:
    """When a refused deployment may next be tried.

    A probe under way usually ends long before its lease: ask again soon.
    """
    if refusal.reason == "probing" or refusal.free_at is None:
        return now + PROBE_POLL
    return refusal.free_at


def _reason_text(error: AIChatFreeError) -> str:
    """A short, secret-free reason for routing records and status."""
    first = error.message.split(". ", 1)[0]
    if len(first) > 160:
        first = first[:157] + "..."
    return f"{type(error).__name__}: {first}"


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
    """

    router: Router
    request: PreparedRequest
    options: CallOptions
    max_wait: float
    records: list[dict[str, Any]] = field(default_factory=list)
    waited: float = 0.0
    _tried: set[int] = field(default_factory=set)
    _pending_wait: float = 0.0
    _held: Target | None = None
    _last: Target | None = None
    _probing: Target | None = None

    @property
    def served_by(self) -> str | None:
        """The URL of the deployment whose answer succeeded, if one did."""
        if self.records and self.records[-1]["outcome"] == "ok":
            return str(self.records[-1]["deployment"])
        return None

    # -- reserving ------------------------------------------------------------

    def _target(self, index: int, probe: bool) -> Target:
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
        return Target(index, endpoint, options, request, probe)

    async def _reserve(
        self, exclude: frozenset[int]
    ) -> tuple[Target | None, list[_Refusal]]:
        """Reserve the best deployment that is free now.

        Returns:
            The target (or `None`), and why each other deployment not in
            `exclude` could not be reserved (when none was).
        """
        router = self.router
        now = time.time()
        candidates = router.order(now, exclude)
        refusals = router._refusals(now, exclude | frozenset(candidates))
        for index in candidates:
            deployment = router.endpoints[index].deployment
            grant = await router.store.acquire(
                deployment.group, rpm=deployment.rpm, rpd=deployment.rpd, now=now
            )
            if grant.ok:
                router._counted(deployment.group, now)
                router._cursor = index + 1
                target = self._target(index, grant.probe)
                self._held = target
                if grant.probe:
                    self._probing = target
                self._tried.add(index)
                return target, []
            reason = grant.reason or "refused"
            router._refused(deployment.group, grant.free_at, reason)
            out = reason.startswith("out")
            refusals.append(_Refusal(index, grant.free_at, reason, out=out))
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
            earliest = min(_free_at(r, now) for r in live)
            wait = earliest - now
            if wait > self.max_wait - self.waited:
                raise self._no_capacity(error, live, earliest, now)
            step = min(max(wait, _MIN_SLEEP), MAX_WAIT_STEP)
            started = time.monotonic()
            await self.router.sleep(step)
            slept = time.monotonic() - started
            self.waited += slept
            self._pending_wait += slept

    async def failover(self) -> Target | None:
        """Reserve a deployment this call has not tried, if one is free now.

        Returns:
            The reserved target, or `None`.
        """
        target, _ = await self._reserve(frozenset(self._tried))
        return target

    # -- outcomes -------------------------------------------------------------

    def _record(self, target: Target, outcome: str, **extra: Any) -> None:
        record: dict[str, Any] = {
            "deployment": target.endpoint.deployment.url,
            "outcome": outcome,
            "waited": round(self._pending_wait, 3),
        }
        record.update(extra)
        self.records.append(record)
        self._pending_wait = 0.0
        self._held = None
        self._last = target

    async def answering(self, target: Target) -> None:
        """The deployment accepted the attempt (a 200): it is not rate limited.

        A probe after a cooldown ends here, not when the answer ends, so the
        other callers waiting for the group go on at once.

        Args:
            target: The attempt's target.
        """
        if target.probe and self._probing is target:
            self._probing = None
            await self.router.store.release(
                target.endpoint.deployment.group, success=True
            )
            self.router.wake()

    async def _end_probe(self, target: Target) -> None:
        if target.probe and self._probing is target:
            self._probing = None
            await self.router.store.release(
                target.endpoint.deployment.group, success=False
            )
            self.router.wake()

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
            router._refused(group, until, f"cooling: {why}")
            self._record(
                target,
                "rate_limit",
                error=type(error).__name__,
                cooldown_until=until,
                cooldown_reason=why,
            )
        elif _takes_out(error) and not router.implicit:
            reason = _reason_text(error)
            if isinstance(error, DeploymentError):
                # The deployment's own upstream key: shared by every caller.
                await router.store.take_out(group, reason)
            router._out[target.index] = reason
            logger.warning(
                "AIChatFree deployment %s taken out of the pool: %s",
                deployment.url,
                reason,
            )
            self._record(target, "auth", error=type(error).__name__)
        elif error.is_retryable:
            router._known_for(group).failed_at = time.time()
            self._record(target, "transient", error=type(error).__name__)
        else:
            self._record(target, "error", error=type(error).__name__)
        await self._end_probe(target)

    def reroutes(self, error: AIChatFreeError) -> bool:
        """Whether a non-retryable error still lets the call go elsewhere.

        Args:
            error: The error of the attempt just failed.

        Returns:
            True for a refusal of one deployment's credentials (taken out)
            while others are not out.
        """
        router = self.router
        return (
            _takes_out(error)
            and not router.implicit
            and len(router._out) < len(router.endpoints)
        )

    @staticmethod
    def backs_off(error: AIChatFreeError) -> bool:
        """Whether a retry after `error` sleeps first (a cooldown waits instead).

        Args:
            error: The error of the attempt just failed.

        Returns:
            False for rate limits and refusals, True otherwise.
        """
        return not isinstance(error, RateLimitError) and not _takes_out(error)

    async def abandon(self) -> None:
        """End a call that stopped mid-attempt (cancelled): free a probe lease."""
        target = self._held
        if target is None:
            return
        self._record(target, "cancelled")
        await self._end_probe(target)

    # -- giving up ------------------------------------------------------------

    def _all_out(
        self, error: AIChatFreeError | None, refusals: Sequence[_Refusal]
    ) -> AIChatFreeError:
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
        live: Sequence[_Refusal],
        earliest: float,
        now: float,
    ) -> AIChatFreeError:
        retry_after = max(earliest - now, 0.0)
        soonest = min(live, key=lambda r: _free_at(r, now))
        if isinstance(error, RateLimitError):
            last = self._last
            same = last is not None and (
                self.router.endpoints[soonest.index].deployment.group
                == last.endpoint.deployment.group
            )
            if not same or error.retry_after is None:
                error.retry_after = retry_after
            return error
        reasons = "; ".join(
            f"{self.router.endpoints[r.index].deployment.url}: {r.reason}, free in "
            f"{max(_free_at(r, now) - now, 0.0):.1f} s"
            for r in live
        )
        failure = pool_wait_error(self.max_wait, reasons, retry_after)
        failure.__cause__ = error
        return failure


def endpoints_for(
    deployments: Sequence[Deployment],
    headers_for: Callable[[str], dict[str, str]],
    endpoint_path: str,
) -> list[Endpoint]:
    """Build each deployment's endpoint.

    Args:
        deployments: The pool.
        headers_for: The request headers for a base URL.
        endpoint_path: The generate path.

    Returns:
        One `Endpoint` per deployment.
    """
    return [
        Endpoint(
            deployment=d,
            url=d.base_url.rstrip("/") + endpoint_path,
            headers=headers_for(d.base_url),
            secret=d.secret,
            password=d.password,
        )
        for d in deployments
    ]
