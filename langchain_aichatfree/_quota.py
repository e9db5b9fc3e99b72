"""The quota store: cooldowns, budgets and probes of quota groups.

A quota group is what one Google project's quota covers: every deployment whose
Gemini key belongs to that project (by default, one deployment). The store
answers one question atomically, `QuotaStore.acquire`: may one more request go
to this group now? If so, the request is counted in the group's per-minute and
per-day windows at the same moment, so concurrent callers never overshoot a
declared budget.

State changes only through the store's own atomic operations, never a
read-modify-write by the caller:

- `acquire`: refuse (taken out, cooling, another caller probing, budget spent)
  or count one request, taking the probe lease when a cooldown has just ended;
- `release`: a probe ended (success clears the strikes);
- `cool_down`: a rate limit was seen: the deadline `cooldown_for` gives is
  stored only if it is later than the one already there;
- `take_out`: the deployment refused our credentials (401).

The policy itself (how long a cooldown lasts, the strike count, the Pacific
day) is pure and lives in `langchain_aichatfree._quota_policy`.

Two implementations share this interface and one test suite: `MemoryStore`
(one per process, shared by every model in it) and
`langchain_aichatfree._quota_redis.RedisStore` (shared by every process that
names the same Redis). `store_from_url` picks one.

Times are epoch seconds (``time.time()``; the Redis store reads the Redis
server's clock, so machines sharing it agree). The per-minute window slides (no
60 s span ever holds more than ``rpm`` requests); the per-day window is the
calendar day in America/Los_Angeles, like Gemini's daily quotas. ``strikes``
count rate limits in a row (1: the first); a successful probe clears them.
"""

from __future__ import annotations

import abc
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Final

from langchain_aichatfree._constants import (
    PROBE_LEASE,
    QUOTA_PREFIX,
    RECUR_WINDOW,
    RPM_WINDOW,
    TAKEN_OUT_FOR,
)
from langchain_aichatfree._quota_policy import (
    cooldown_for,
    next_pacific_midnight,
    pacific_day,
    strikes_after,
)

__all__ = [
    "Grant",
    "GroupStatus",
    "MemoryStore",
    "QuotaStore",
    "store_from_url",
]


@dataclass(frozen=True)
class Grant:
    """The answer of `QuotaStore.acquire`.

    Attributes:
        ok: True: one request was counted against the group's budgets.
        probe: True: this caller holds the post-cooldown probe lease for the
            group, and must call `QuotaStore.release` with `lease` when its
            call ends.
        free_at: When not ok: epoch seconds when the group may next be usable
            (``None`` when unknown).
        reason: When not ok: ``"cooling: <reason>"``, ``"rpm"``, ``"rpd"``,
            ``"probing"`` or ``"out: <reason>"``.
        lease: When probe: the lease's token, so that `QuotaStore.release`
            ends this lease and no later one (a probe that outlived its lease
            must not end the next prober's).
    """

    ok: bool
    probe: bool = False
    free_at: float | None = None
    reason: str | None = None
    lease: str | None = None


@dataclass(frozen=True)
class GroupStatus:
    """What the store knows about one group (`QuotaStore.status`).

    Attributes:
        cooling_until: The cooldown's deadline (epoch seconds) while it lasts.
        reason: Why it cools down (``"daily cap"``, ``"retry hint"``,
            ``"rate limit"``), while it lasts.
        rpm_used: Requests counted in the current per-minute window.
        rpd_used: Requests counted today (Pacific time).
        out_reason: Set when a deployment of the group was taken out (401).
    """

    cooling_until: float | None
    reason: str | None
    rpm_used: int
    rpd_used: int
    out_reason: str | None


class QuotaStore(abc.ABC):
    """Cooldowns, budgets and probe leases of quota groups; every call atomic.

    ``now`` arguments exist for tests; leave them out in real use.

    The public methods are written once, here; a store implements the private
    ones (``_acquire``, ``_release``, ``_cool_down``, ``_take_out``,
    ``_status``) and `aclose`.
    """

    async def acquire(
        self,
        group: str,
        *,
        rpm: int | None,
        rpd: int | None,
        now: float | None = None,
    ) -> Grant:
        """Reserve one request's slot in the group, or say why not.

        Not ok when the group is taken out, is cooling down (deadline after
        ``now``), another caller holds the probe lease after a cooldown ended,
        or one more request would exceed ``rpm`` (sliding per-minute window) or
        ``rpd`` (the day ending at midnight America/Los_Angeles). Else the
        request is counted in both windows, and ``probe`` is True if the
        cooldown had ended and this caller took the probe lease.

        Args:
            group: The quota group.
            rpm: The declared per-minute budget, ``None`` for no limit.
            rpd: The declared per-day budget, ``None`` for no limit.
            now: Epoch seconds; the current time when left out.

        Returns:
            The grant.
        """
        return await self._acquire(group, rpm, rpd, now)

    async def release(
        self, group: str, *, success: bool, lease: str | None = None
    ) -> None:
        """End a call that held the probe lease.

        Args:
            group: The quota group.
            success: The probe got an answer: the strikes are cleared and the
                group is open to all. Else the group stays as it is (report a
                rate limit with `cool_down` first).
            lease: The grant's `Grant.lease`: the lease is cleared only while
                it is still this one (it lasts at most the store's ``lease``
                seconds, and another caller may hold the next). ``None``
                clears whichever lease is held.
        """
        await self._release(group, success, lease)

    async def cool_down(
        self,
        group: str,
        *,
        text: str | None,
        retry_after: float | None,
        now: float | None = None,
    ) -> tuple[float, str]:
        """Cool the group down after a rate limit (`cooldown_for` decides).

        The deadline only ever moves later: a shorter cooldown than the stored
        one leaves it as it is. A rate limit soon after a cooldown ended is a
        further strike (a longer default cooldown).

        Args:
            group: The quota group.
            text: The server's error text (it may name a daily cap or a delay).
            retry_after: A delay in seconds the server asked for, if known.
            now: Epoch seconds; the current time when left out.

        Returns:
            The effective deadline (epoch seconds) and its reason.
        """
        return await self._cool_down(group, text, retry_after, now)

    async def take_out(self, group: str, reason: str) -> None:
        """Take the group out (a 401): refused until restart or expiry.

        Args:
            group: The quota group.
            reason: Shown in `status` (no secrets: a few words).
        """
        await self._take_out(group, reason)

    async def status(self, group: str, *, now: float | None = None) -> GroupStatus:
        """What the store knows about the group, without changing it.

        Args:
            group: The quota group.
            now: Epoch seconds; the current time when left out.

        Returns:
            The group's status.
        """
        return await self._status(group, now)

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release connections; the store stays usable (it reconnects)."""

    @abc.abstractmethod
    async def _acquire(
        self, group: str, rpm: int | None, rpd: int | None, now: float | None
    ) -> Grant:
        """See `acquire`."""

    @abc.abstractmethod
    async def _release(self, group: str, success: bool, lease: str | None) -> None:
        """See `release`."""

    @abc.abstractmethod
    async def _cool_down(
        self, group: str, text: str | None, retry_after: float | None, now: float | None
    ) -> tuple[float, str]:
        """See `cool_down`."""

    @abc.abstractmethod
    async def _take_out(self, group: str, reason: str) -> None:
        """See `take_out`."""

    @abc.abstractmethod
    async def _status(self, group: str, now: float | None) -> GroupStatus:
        """See `status`."""


# -- the in-memory store ------------------------------------------------------------


@dataclass
class _Group:
    """One group's state in a `MemoryStore`."""

    minute: deque[float] = field(default_factory=deque)
    day: str = ""
    day_count: int = 0
    cooling_until: float | None = None
    reason: str | None = None
    strikes: int = 0
    probe_pending: bool = False
    lease_until: float = 0.0
    lease: str | None = None
    out_reason: str | None = None
    out_until: float = 0.0


class MemoryStore(QuotaStore):
    """The quota store of one process: a dict under a lock.

    Every operation runs under one `threading.Lock` without awaiting, so it is
    atomic for every task and thread of the process. `store_from_url`
    ("memory") gives the one shared instance per prefix.

    Args:
        rpm_window: The per-minute window's length in seconds (shorter for
            tests and benchmarks against a `LocalServer` with a short window).
        recur: See `langchain_aichatfree._quota_policy.strikes_after`.
        lease: How long a probe lease lasts at most, in seconds.
        out_for: How long a taken-out group stays out, in seconds.
    """

    def __init__(
        self,
        *,
        rpm_window: float = RPM_WINDOW,
        recur: float = RECUR_WINDOW,
        lease: float = PROBE_LEASE,
        out_for: float = TAKEN_OUT_FOR,
    ) -> None:
        if rpm_window <= 0:
            raise ValueError("`rpm_window` must be positive")
        self.rpm_window = rpm_window
        self._recur = recur
        self._lease = lease
        self._out_for = out_for
        self._lock = threading.Lock()
        self._groups: dict[str, _Group] = {}

    def __repr__(self) -> str:
        return f"MemoryStore(rpm_window={self.rpm_window})"

    def _group(self, group: str, now: float) -> _Group:
        state = self._groups.get(group)
        if state is None:
            state = self._groups[group] = _Group()
        while state.minute and state.minute[0] <= now - self.rpm_window:
            state.minute.popleft()
        if state.out_reason is not None and now >= state.out_until:
            state.out_reason = None
        if state.cooling_until is not None and now >= state.cooling_until + self._recur:
            # Forgotten, like the Redis key expires: no probe, no strikes.
            state.cooling_until, state.reason = None, None
            state.strikes, state.probe_pending = 0, False
        return state

    async def _acquire(
        self, group: str, rpm: int | None, rpd: int | None, now: float | None
    ) -> Grant:
        now = time.time() if now is None else now
        day = pacific_day(now)
        with self._lock:
            state = self._group(group, now)
            if state.out_reason is not None:
                return Grant(
                    ok=False, free_at=state.out_until, reason=f"out: {state.out_reason}"
                )
            if state.cooling_until is not None and state.cooling_until > now:
                return Grant(
                    ok=False,
                    free_at=state.cooling_until,
                    reason=f"cooling: {state.reason}",
                )
            probe = state.probe_pending
            if probe and state.lease_until > now:
                return Grant(ok=False, free_at=state.lease_until, reason="probing")
            if rpm is not None and len(state.minute) >= rpm:
                free_at = state.minute[0] + self.rpm_window if state.minute else None
                return Grant(ok=False, free_at=free_at, reason="rpm")
            if state.day != day:
                state.day, state.day_count = day, 0
            if rpd is not None and state.day_count >= rpd:
                return Grant(ok=False, free_at=next_pacific_midnight(now), reason="rpd")
            state.minute.append(now)
            state.day_count += 1
            if not probe:
                return Grant(ok=True)
            state.lease_until = now + self._lease
            state.lease = os.urandom(8).hex()
            return Grant(ok=True, probe=True, lease=state.lease)

    async def _release(self, group: str, success: bool, lease: str | None) -> None:
        with self._lock:
            state = self._groups.get(group)
            if state is None:
                return
            if lease is None or lease == state.lease:
                state.lease_until, state.lease = 0.0, None
            if success:
                state.probe_pending = False
                state.strikes = 0

    async def _cool_down(
        self, group: str, text: str | None, retry_after: float | None, now: float | None
    ) -> tuple[float, str]:
        now = time.time() if now is None else now
        with self._lock:
            state = self._group(group, now)
            strikes = strikes_after(
                state.strikes, state.cooling_until, now, recur=self._recur
            )
            deadline, reason = cooldown_for(text, retry_after, now=now, strikes=strikes)
            state.strikes = strikes
            state.probe_pending = True
            if state.cooling_until is None or deadline > state.cooling_until:
                state.cooling_until, state.reason = deadline, reason
            assert state.reason is not None  # noqa: S101 - set with the deadline
            return state.cooling_until, state.reason

    async def _take_out(self, group: str, reason: str) -> None:
        now = time.time()
        with self._lock:
            state = self._group(group, now)
            state.out_reason = reason
            state.out_until = now + self._out_for

    async def _status(self, group: str, now: float | None) -> GroupStatus:
        now = time.time() if now is None else now
        day = pacific_day(now)
        with self._lock:
            state = self._groups.get(group)
            if state is None:
                return GroupStatus(None, None, 0, 0, None)
            cooling = state.cooling_until is not None and state.cooling_until > now
            return GroupStatus(
                cooling_until=state.cooling_until if cooling else None,
                reason=state.reason if cooling else None,
                rpm_used=sum(1 for t in state.minute if t > now - self.rpm_window),
                rpd_used=state.day_count if state.day == day else 0,
                out_reason=state.out_reason if now < state.out_until else None,
            )

    async def aclose(self) -> None:
        """Nothing to release."""

    def export(self) -> dict[str, _Group]:
        """A copy of every group's state (the Redis store merges it back).

        Returns:
            Group name to state.
        """
        with self._lock:
            return {
                name: _Group(**{**vars(state), "minute": deque(state.minute)})
                for name, state in self._groups.items()
            }


_memory_lock: Final = threading.Lock()
_memory_stores: dict[tuple[str, float], MemoryStore] = {}


def store_from_url(
    url: str, *, prefix: str = QUOTA_PREFIX, rpm_window: float = RPM_WINDOW
) -> QuotaStore:
    """The quota store a URL names.

    Args:
        url: ``"memory"``: the process-wide in-memory store (one per prefix);
            ``redis://``, ``rediss://`` or ``unix://``: a `RedisStore` (one per
            URL and prefix in the process).
        prefix: Every Redis key starts with it; also tells memory stores apart.
        rpm_window: The per-minute window's length in seconds.

    Returns:
        The store.

    Raises:
        ValueError: Any other URL.
        ImportError: A Redis URL without the ``redis`` package installed.
    """
    if url == "memory":
        with _memory_lock:
            key = (prefix, rpm_window)
            store = _memory_stores.get(key)
            if store is None:
                store = _memory_stores[key] = MemoryStore(rpm_window=rpm_window)
            return store
    if url.startswith(("redis://", "rediss://", "unix://")):
        from langchain_aichatfree._quota_redis import shared_redis_store

        return shared_redis_store(url, prefix=prefix, rpm_window=rpm_window)
    # Only the scheme is shown: the rest of a URL may hold a password.
    shown = repr(url.split("://", 1)[0] + "://") if "://" in url else "that value"
    raise ValueError(
        f"unknown quota store {shown}: use 'memory' or a redis://, rediss:// or "
        "unix:// URL"
    )
