"""The Redis quota store: one quota state shared by every process that names it.

Every change is one server-side operation: a Lua script run with ``EVALSHA``
(``acquire``, ``cool_down``, ``release``), or a single ``SET ... PX`` for
``take_out``; the client never reads a value to write it back. So a cooldown
only moves later however reports interleave (LiteLLM #40130), and counters never
lose an increment (LiteLLM #8430). The happy path is one round trip per call.

The keys and the Lua scripts are in `langchain_aichatfree._quota_redis_scripts`;
the connections (one per event loop) in `langchain_aichatfree._redis_connection`.

Times come from the Redis server's clock (``TIME``) unless the caller passes
``now``, so processes whose clocks differ still share one window.

**Redis failing is not the call failing.** Connect and read timeouts are well
under a second and nothing is retried inside the client. On any Redis error the
store logs ONE warning and serves from a local `MemoryStore` for
`REDIS_RETRY_INTERVAL` seconds, then tries Redis again; when it answers, the
local state gathered meanwhile (cooldowns, take-outs, counted requests) is
merged into Redis and sharing resumes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from langchain_aichatfree._constants import (
    PROBE_LEASE,
    QUOTA_PREFIX,
    RECUR_WINDOW,
    REDIS_CONNECT_TIMEOUT,
    REDIS_RETRY_INTERVAL,
    REDIS_SOCKET_TIMEOUT,
    RPM_WINDOW,
    TAKEN_OUT_FOR,
)
from langchain_aichatfree._quota import Grant, GroupStatus, MemoryStore, QuotaStore
from langchain_aichatfree._quota_policy import (
    cooldown_for,
    default_cooldown,
    next_pacific_midnight,
    pacific_day,
)
from langchain_aichatfree._quota_redis_scripts import (
    DAY_KEY_GRACE,
    GroupKeys,
    group_keys,
)

try:
    from redis.asyncio import RedisError
    from redis.asyncio.connection import parse_url
except ImportError as e:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "A redis:// quota store needs the `redis` package: "
        "pip install 'langchain-aichatfree[redis]'"
    ) from e

from langchain_aichatfree._redis_connection import (
    RedisConnection,
    RedisConnections,
    redact_url,
    scrub,
)

__all__ = ["RedisStore", "shared_redis_store"]

_log = logging.getLogger("langchain_aichatfree")

T = TypeVar("T")

_MAX_STRIKES: Final = 8
"""Default cooldowns are precomputed for this many strikes (the cap is reached)."""


def _decoded(value: Any) -> str:
    """A Redis reply's text (redis-py returns bytes unless told to decode)."""
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStore(QuotaStore):
    """The quota store shared through Redis (see the module docstring).

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` (redis-py's URL forms;
            a password in it is never shown).
        prefix: Every key starts with it.
        rpm_window: The per-minute window's length in seconds.
        recur: See `langchain_aichatfree._quota_policy.strikes_after`.
        lease: How long a probe lease lasts at most, in seconds.
        out_for: How long a taken-out group stays out, in seconds.
        connect_timeout: Seconds to connect to Redis.
        socket_timeout: Seconds to wait for one Redis answer.
        retry_interval: After a failure, seconds on the local store before
            Redis is tried again.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = QUOTA_PREFIX,
        rpm_window: float = RPM_WINDOW,
        recur: float = RECUR_WINDOW,
        lease: float = PROBE_LEASE,
        out_for: float = TAKEN_OUT_FOR,
        connect_timeout: float = REDIS_CONNECT_TIMEOUT,
        socket_timeout: float = REDIS_SOCKET_TIMEOUT,
        retry_interval: float = REDIS_RETRY_INTERVAL,
    ) -> None:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                "a Redis quota store URL starts with redis://, rediss:// or unix://"
            )
        if rpm_window <= 0:
            raise ValueError("`rpm_window` must be positive")
        try:  # no I/O: a bad URL fails here, not in the first call
            parse_url(url)
        except ValueError as e:
            raise ValueError(
                f"invalid Redis quota store URL {redact_url(url)!r}: {e}"
            ) from None
        self._url = url
        self.prefix = prefix
        self.rpm_window = rpm_window
        self._recur = recur
        self._lease = lease
        self._out_for = out_for
        self._redis = RedisConnections(
            url, connect_timeout=connect_timeout, socket_timeout=socket_timeout
        )
        self._retry_interval = retry_interval
        self._lock = threading.Lock()
        self._fallback = self._new_fallback()
        self._down = False
        self._resuming = False
        self._retry_at = 0.0
        self.outages = 0
        """How many times Redis failed and the local store took over."""

    def __repr__(self) -> str:
        return (
            f"RedisStore({redact_url(self._url)!r}, prefix={self.prefix!r}, "
            f"rpm_window={self.rpm_window})"
        )

    @property
    def sharing(self) -> bool:
        """False while Redis is unreachable and the local store serves."""
        return not self._down

    def _new_fallback(self) -> MemoryStore:
        return MemoryStore(
            rpm_window=self.rpm_window,
            recur=self._recur,
            lease=self._lease,
            out_for=self._out_for,
        )

    def _keys(self, group: str) -> GroupKeys:
        return group_keys(self.prefix, group)

    # -- connection and fallback --------------------------------------------------

    def _start_outage(self, error: BaseException) -> None:
        """Redis failed: serve locally until `retry_interval` passes (warn once)."""
        with self._lock:
            self._retry_at = time.monotonic() + self._retry_interval
            if self._down:
                return
            self._down = True
            self.outages += 1
        _log.warning(
            "The Redis quota store %s failed (%s: %s); this process uses its own "
            "quota state until Redis answers again (tried every %g s).",
            redact_url(self._url),
            type(error).__name__,
            scrub(str(error), self._url)[:200],
            self._retry_interval,
        )

    async def _run(
        self,
        remote: Callable[[RedisConnection], Awaitable[T]],
        local: Callable[[MemoryStore], Awaitable[T]],
    ) -> T:
        """Run ``remote`` on Redis, or ``local`` on the fallback while it fails."""
        if self._down and not self._try_resume():
            return await local(self._fallback)
        try:
            connection = await self._redis.current()
            if self._down:
                await self._resume(connection)
            return await remote(connection)
        except (RedisError, OSError, asyncio.TimeoutError) as e:
            self._start_outage(e)
            return await local(self._fallback)

    def _try_resume(self) -> bool:
        """Whether this call is the one to try Redis again (one at a time)."""
        with self._lock:
            if self._resuming or time.monotonic() < self._retry_at:
                return False
            self._resuming = True
            return True

    async def _resume(self, connection: RedisConnection) -> None:
        """Redis answers again: merge what the local store saw, then share."""
        try:
            await connection.client.ping()
            await self._merge(connection, self._fallback)
        finally:
            with self._lock:
                self._resuming = False
        with self._lock:
            self._fallback = self._new_fallback()
            self._down = False
        _log.info(
            "The Redis quota store %s answers again; quota state is shared.",
            redact_url(self._url),
        )

    async def _merge(self, connection: RedisConnection, gathered: MemoryStore) -> None:
        now = time.time()
        day = pacific_day(now)
        day_ttl = int(next_pacific_midnight(now) - now) + DAY_KEY_GRACE
        for group, state in gathered.export().items():
            keys = self._keys(group)
            if state.cooling_until is not None and state.cooling_until > now:
                delay = state.cooling_until - now
                await connection.cool_down(
                    keys=[keys.cool],
                    args=[
                        repr(now),
                        repr(self._recur),
                        state.reason or "rate limit",
                        repr(delay),
                    ],
                )
            if state.out_reason is not None and state.out_until > now:
                await connection.take_out(
                    keys.out, state.out_reason, state.out_until - now
                )
            stamps = [t for t in state.minute if t > now - self.rpm_window]
            count = state.day_count if state.day == day else 0
            if stamps or count:
                args: list[str] = [repr(self.rpm_window), str(count), str(day_ttl)]
                for stamp in stamps:
                    args += [repr(stamp), os.urandom(8).hex()]
                await connection.merge_counts(
                    keys=[keys.rpm, keys.rpd(day)],
                    args=args,
                )

    # -- the interface --------------------------------------------------------------

    async def _acquire(
        self, group: str, rpm: int | None, rpd: int | None, now: float | None
    ) -> Grant:
        clock = time.time() if now is None else now
        day = pacific_day(clock)
        midnight = next_pacific_midnight(clock)
        keys = self._keys(group)

        async def remote(c: RedisConnection) -> Grant:
            reply = await c.acquire(
                keys=[keys.cool, keys.lease, keys.rpm, keys.rpd(day), keys.out],
                args=[
                    "" if now is None else repr(now),
                    "" if rpm is None else str(rpm),
                    "" if rpd is None else str(rpd),
                    repr(self.rpm_window),
                    os.urandom(8).hex(),
                    str(max(1, int(self._lease * 1000))),
                    str(int(midnight - clock) + DAY_KEY_GRACE),
                    repr(midnight),
                ],
            )
            ok, probe, free_at, reason, lease = reply
            return Grant(
                ok=bool(ok),
                probe=bool(probe),
                free_at=None if free_at is None else float(free_at),
                reason=None if reason is None else _decoded(reason),
                lease=None if lease is None else _decoded(lease),
            )

        return await self._run(
            remote, lambda m: m.acquire(group, rpm=rpm, rpd=rpd, now=now)
        )

    async def _release(self, group: str, success: bool, lease: str | None) -> None:
        keys = self._keys(group)

        async def remote(c: RedisConnection) -> None:
            await c.release(
                keys=[keys.cool, keys.lease],
                args=["1" if success else "0", lease or ""],
            )

        async def local(m: MemoryStore) -> None:
            await m.release(group, success=success, lease=lease)

        # The lease may have been taken on either side of an outage.
        await self._fallback.release(group, success=success, lease=lease)
        await self._run(remote, local)

    async def _cool_down(
        self, group: str, text: str | None, retry_after: float | None, now: float | None
    ) -> tuple[float, str]:
        clock = time.time() if now is None else now
        keys = self._keys(group)
        # One candidate delay per strike count; the script picks by the stored
        # strikes, so the policy stays in `cooldown_for` and the choice atomic.
        delays: list[str] = []
        reason = "rate limit"
        for strikes in range(1, _MAX_STRIKES + 1):
            deadline, reason = cooldown_for(
                text, retry_after, now=clock, strikes=strikes
            )
            delays.append(repr(deadline - clock))
            if reason != "rate limit" or default_cooldown(strikes) >= default_cooldown(
                strikes + 1
            ):
                break  # the same delay for any further strike

        async def remote(c: RedisConnection) -> tuple[float, str]:
            deadline, stored_reason = await c.cool_down(
                keys=[keys.cool],
                args=[
                    "" if now is None else repr(now),
                    repr(self._recur),
                    reason,
                    *delays,
                ],
            )
            return float(deadline), _decoded(stored_reason)

        return await self._run(
            remote,
            lambda m: m.cool_down(group, text=text, retry_after=retry_after, now=now),
        )

    async def _take_out(self, group: str, reason: str) -> None:
        keys = self._keys(group)

        async def remote(c: RedisConnection) -> None:
            await c.take_out(keys.out, reason, self._out_for)

        async def local(m: MemoryStore) -> None:
            await m.take_out(group, reason)

        await self._run(remote, local)

    async def _status(self, group: str, now: float | None) -> GroupStatus:
        day = pacific_day(time.time() if now is None else now)
        keys = self._keys(group)

        async def remote(c: RedisConnection) -> GroupStatus:
            cooling_until, reason, rpm_used, rpd_used, out = await c.status(
                keys=[keys.cool, keys.rpm, keys.rpd(day), keys.out],
                args=["" if now is None else repr(now), repr(self.rpm_window)],
            )
            return GroupStatus(
                cooling_until=None if cooling_until is None else float(cooling_until),
                reason=None if reason is None else _decoded(reason),
                rpm_used=int(rpm_used),
                rpd_used=int(rpd_used),
                out_reason=None if out is None else _decoded(out),
            )

        return await self._run(remote, lambda m: m.status(group, now=now))

    async def aclose(self) -> None:
        """Close this event loop's connections (others close with their loop)."""
        await self._redis.aclose()


_shared_lock: Final = threading.Lock()
_shared: dict[tuple[str, str, float], RedisStore] = {}


def shared_redis_store(
    url: str, *, prefix: str = QUOTA_PREFIX, rpm_window: float = RPM_WINDOW
) -> RedisStore:
    """The process's one `RedisStore` for this URL, prefix and window.

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://``.
        prefix: Every key starts with it.
        rpm_window: The per-minute window's length in seconds.

    Returns:
        The store (made on first use).
    """
    key = (url, prefix, rpm_window)
    with _shared_lock:
        store = _shared.get(key)
        if store is None:
            store = _shared[key] = RedisStore(url, prefix=prefix, rpm_window=rpm_window)
        return store
