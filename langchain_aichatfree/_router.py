"""The process-wide router: a model's deployments, its quota store, what we know.

How a deployment is picked for an attempt (`Router.order`):

1. Deployments taken out are skipped, and so are the ones this process already
   knows to be cooling down or out of budget until a known time (a safe lower
   bound: a cooldown deadline only ever moves later, a spent window does not
   refill early).
2. The others are ranked by the budget they have left in the current minute
   (declared `rpm` minus the requests this process counted; undeclared counts as
   unlimited), most first; ties go round robin. One that failed transiently in
   the last `FAILED_RANK_SECONDS` goes last (`order_candidates`, pure).
3. They are reserved in that order, atomically, in the store (`acquire`); the
   first one granted gets the attempt. On the happy path that is one store
   operation per call, and nothing else is written.

Each call's own routing (what it tried, failing over, waiting) is its `Route`
(`_route`); the pure choices are in `_route_choice`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from langchain_aichatfree._constants import FAILED_RANK_SECONDS, RPM_WINDOW
from langchain_aichatfree._deployment import Deployment
from langchain_aichatfree._protocol import PreparedRequest
from langchain_aichatfree._quota import QuotaStore
from langchain_aichatfree._route import Route
from langchain_aichatfree._route_choice import Refusal, order_candidates
from langchain_aichatfree._transport import CallOptions

__all__ = ["Endpoint", "Router", "endpoints_for"]


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


@dataclass(slots=True)
class _LocalGroupState:
    """What this process knows about one quota group (for ranking only).

    Attributes:
        free_at: Not to be tried before (epoch seconds): a cooldown or a spent
            window the store reported.
        reason: Why, as the store said.
        window: The per-minute window `used` counts in.
        used: Requests this process counted in that window.
        failed_at: When it last failed transiently (epoch seconds).
    """

    free_at: float = 0.0
    reason: str | None = None
    window: int = -1
    used: int = 0
    failed_at: float = -math.inf


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
        self._groups: dict[str, _LocalGroupState] = {}
        self._out: dict[int, str] = {}
        self._cursor = 0
        """Where the round robin starts: after the deployment granted last."""
        self._window = float(getattr(store, "rpm_window", RPM_WINDOW))
        self._wake: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}
        self._wake_lock = threading.Lock()

    # -- waiting ----------------------------------------------------------------

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

    # -- what this process knows --------------------------------------------------

    def _group(self, group: str) -> _LocalGroupState:
        state = self._groups.get(group)
        if state is None:
            state = self._groups[group] = _LocalGroupState()
        return state

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
            known = self._group(deployment.group)
            used = known.used if known.window == window else 0
            remaining.append(
                math.inf if deployment.rpm is None else deployment.rpm - used
            )
            failed.append(now - known.failed_at < FAILED_RANK_SECONDS)
            usable.append(
                index not in exclude and index not in self._out and known.free_at <= now
            )
        return order_candidates(remaining, failed, usable, self._cursor)

    def granted(self, index: int, now: float) -> None:
        """Count a request the store granted a deployment; the round robin moves on.

        Args:
            index: The deployment's index.
            now: Epoch seconds.
        """
        known = self._group(self.endpoints[index].deployment.group)
        window = int(now // self._window)
        if known.window != window:
            known.window, known.used = window, 0
        known.used += 1
        self._cursor = index + 1

    def refused(self, group: str, free_at: float | None, reason: str) -> None:
        """Remember until when the store refused a group (to skip it until then).

        Cooldowns and spent windows end no earlier than the store said; a probe
        under way may end any time, so it is not remembered.

        Args:
            group: The quota group.
            free_at: When it frees (epoch seconds), if the store said.
            reason: The store's reason.
        """
        if free_at is not None and reason != "probing":
            known = self._group(group)
            if free_at > known.free_at:
                known.free_at, known.reason = free_at, reason

    def failed_transiently(self, group: str) -> None:
        """Rank a group last for a moment: it just failed transiently.

        Args:
            group: The quota group.
        """
        self._group(group).failed_at = time.time()

    def take_out(self, index: int, reason: str) -> None:
        """Take a deployment out of this process's pool for good.

        Args:
            index: The deployment's index.
            reason: Why (no secrets).
        """
        self._out[index] = reason

    @property
    def all_out(self) -> bool:
        """Whether every deployment is taken out."""
        return len(self._out) >= len(self.endpoints)

    def refusals(self, now: float, exclude: frozenset[int]) -> list[Refusal]:
        """Why each deployment not in `exclude` is not tried (what we know).

        Args:
            now: Epoch seconds.
            exclude: Indexes to leave out.

        Returns:
            One refusal per deployment taken out or known not free now.
        """
        refusals = []
        for index, endpoint in enumerate(self.endpoints):
            if index in exclude:
                continue
            if index in self._out:
                refusals.append(Refusal(index, None, self._out[index], out=True))
                continue
            known = self._group(endpoint.deployment.group)
            if known.free_at > now:
                reason = known.reason or "cooling"
                out = reason.startswith("out")
                refusals.append(Refusal(index, known.free_at, reason, out=out))
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
