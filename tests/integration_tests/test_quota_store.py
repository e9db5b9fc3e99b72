"""The quota stores: one suite run against both, then what only Redis does.

The Redis is real (tests/_redis.py starts redis-server on a loopback port).
Times are given explicitly (``now``) wherever a test needs them to pass.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis.asyncio as aioredis

from langchain_aichatfree._constants import (
    COOLDOWN_JITTER,
    DEFAULT_COOLDOWN,
    PROBE_LEASE,
)
from langchain_aichatfree._quota import MemoryStore, QuotaStore
from langchain_aichatfree._quota_policy import next_pacific_midnight
from langchain_aichatfree._quota_redis import RedisStore
from tests._redis import RedisServer

DAILY = (
    "[429 Too Many Requests] You exceeded your current quota. Please retry in 38s. "
    '[{"quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]'
)


async def _shared_state_store(
    kind: str, redis_server: RedisServer, **settings: Any
) -> AsyncIterator[QuotaStore]:
    """A store of `kind` for the shared-state tests, closed after the test."""
    made: QuotaStore
    if kind == "memory":
        made = MemoryStore(**settings)
    else:
        # These tests are about the shared state, not outages: timeouts a busy
        # CI machine meets (the defaults, 0.5 s, would turn a slow connect into
        # the local fallback and the test into a wrong count).
        made = RedisStore(
            redis_server.url,
            prefix=f"t{uuid.uuid4().hex[:8]}:",
            connect_timeout=10.0,
            socket_timeout=10.0,
            **settings,
        )
    try:
        yield made
        if isinstance(made, RedisStore):
            assert made.outages == 0, "Redis failed during the test: see the warning"
    finally:
        await made.aclose()


@pytest.fixture(params=["memory", "redis"])
async def store(
    request: pytest.FixtureRequest, redis_server: RedisServer
) -> AsyncIterator[QuotaStore]:
    async for made in _shared_state_store(request.param, redis_server):
        yield made


@pytest.fixture
async def make_store() -> AsyncIterator[Callable[..., RedisStore]]:
    """Make Redis stores; each is closed after the test."""
    made: list[RedisStore] = []

    def make(url: str, **kwargs: Any) -> RedisStore:
        made.append(RedisStore(url, **kwargs))
        return made[-1]

    yield make
    for store in made:
        await store.aclose()


@pytest.fixture
def t0() -> float:
    return time.time()


# -- the shared suite -----------------------------------------------------------------


async def test_rpm_is_never_exceeded_and_frees_when_the_oldest_leaves(
    store: QuotaStore, t0: float
) -> None:
    for i in range(3):
        grant = await store.acquire("g", rpm=3, rpd=None, now=t0 + i)
        assert grant.ok
        assert not grant.probe
    refused = await store.acquire("g", rpm=3, rpd=None, now=t0 + 10)
    assert not refused.ok
    assert refused.reason == "rpm"
    assert refused.free_at == pytest.approx(t0 + 60)
    # The window slides: at t0 + 60 the first request has left it.
    assert not (await store.acquire("g", rpm=3, rpd=None, now=t0 + 59.9)).ok
    assert (await store.acquire("g", rpm=3, rpd=None, now=t0 + 60)).ok
    status = await store.status("g", now=t0 + 60)
    assert status.rpm_used == 3  # t0+1, t0+2, t0+60
    assert status.rpd_used == 4


async def test_rpd_is_never_exceeded_and_resets_at_midnight_pacific(
    store: QuotaStore, t0: float
) -> None:
    midnight = next_pacific_midnight(t0)
    now = midnight - 30
    for i in range(2):
        assert (await store.acquire("g", rpm=None, rpd=2, now=now + i)).ok
    refused = await store.acquire("g", rpm=None, rpd=2, now=now + 5)
    assert (refused.ok, refused.reason) == (False, "rpd")
    assert refused.free_at == pytest.approx(midnight)
    # A refused request is counted nowhere.
    status = await store.status("g", now=now + 5)
    assert (status.rpm_used, status.rpd_used) == (2, 2)
    # A new Pacific day, a new budget.
    assert (await store.acquire("g", rpm=None, rpd=2, now=midnight + 1)).ok
    assert (await store.status("g", now=midnight + 1)).rpd_used == 1


async def test_no_declared_budget_counts_but_never_refuses(
    store: QuotaStore, t0: float
) -> None:
    for i in range(25):
        assert (await store.acquire("g", rpm=None, rpd=None, now=t0 + i / 100)).ok
    status = await store.status("g", now=t0 + 1)
    assert (status.rpm_used, status.rpd_used) == (25, 25)
    assert status.cooling_until is None
    assert status.out_reason is None


async def test_groups_are_independent(store: QuotaStore, t0: float) -> None:
    assert (await store.acquire("a", rpm=1, rpd=None, now=t0)).ok
    assert not (await store.acquire("a", rpm=1, rpd=None, now=t0)).ok
    assert (await store.acquire("b", rpm=1, rpd=None, now=t0)).ok
    await store.cool_down("a", text="Please retry in 30s.", retry_after=None, now=t0)
    assert (await store.status("b", now=t0)).cooling_until is None


async def test_unknown_group_status_is_empty(store: QuotaStore, t0: float) -> None:
    status = await store.status("never-seen", now=t0)
    assert status.cooling_until is None
    assert status.reason is None
    assert (status.rpm_used, status.rpd_used) == (0, 0)
    assert status.out_reason is None


async def test_cooling_refuses_until_the_deadline(store: QuotaStore, t0: float) -> None:
    deadline, reason = await store.cool_down(
        "g", text="Please retry in 30s.", retry_after=None, now=t0
    )
    assert reason == "retry hint"
    assert t0 + 30 <= deadline <= t0 + 30 * (1 + COOLDOWN_JITTER)
    grant = await store.acquire("g", rpm=None, rpd=None, now=t0 + 29)
    assert (grant.ok, grant.reason) == (False, "cooling: retry hint")
    assert grant.free_at == pytest.approx(deadline)
    status = await store.status("g", now=t0 + 1)
    assert status.cooling_until == pytest.approx(deadline)
    assert status.reason == "retry hint"
    assert (await store.acquire("g", rpm=None, rpd=None, now=deadline + 0.01)).ok
    assert (await store.status("g", now=deadline + 0.01)).cooling_until is None


async def test_a_shorter_cooldown_never_shortens_a_longer_one(
    store: QuotaStore, t0: float
) -> None:
    """LiteLLM #40130: a later, shorter cooldown replaced a longer one."""
    long_deadline, _ = await store.cool_down("g", text=None, retry_after=120.0, now=t0)
    deadline, reason = await store.cool_down(
        "g", text="Please retry in 2s.", retry_after=None, now=t0 + 1
    )
    assert deadline == pytest.approx(long_deadline)
    assert reason == "retry hint"
    grant = await store.acquire("g", rpm=None, rpd=None, now=t0 + 10)
    assert not grant.ok
    assert grant.free_at == pytest.approx(long_deadline)
    # A longer one does move it later.
    later, reason = await store.cool_down("g", text=DAILY, retry_after=None, now=t0 + 2)
    assert later == next_pacific_midnight(t0 + 2)
    assert reason == "daily cap"
    # And a short one after that leaves the daily cap in place.
    deadline, reason = await store.cool_down(
        "g", text=None, retry_after=1.0, now=t0 + 3
    )
    assert deadline == pytest.approx(later)
    assert reason == "daily cap"


async def test_a_daily_cap_cools_until_midnight_despite_a_short_hint(
    store: QuotaStore, t0: float
) -> None:
    deadline, reason = await store.cool_down("g", text=DAILY, retry_after=38.0, now=t0)
    assert deadline == pytest.approx(next_pacific_midnight(t0))
    assert reason == "daily cap"
    grant = await store.acquire("g", rpm=None, rpd=None, now=deadline - 1)
    assert grant.reason == "cooling: daily cap"


async def test_one_caller_probes_after_a_cooldown_while_others_wait(
    store: QuotaStore, t0: float
) -> None:
    deadline, _ = await store.cool_down("g", text=None, retry_after=5.0, now=t0)
    after = deadline + 0.5
    probe = await store.acquire("g", rpm=None, rpd=None, now=after)
    assert (probe.ok, probe.probe) == (True, True)
    other = await store.acquire("g", rpm=None, rpd=None, now=after + 0.1)
    assert (other.ok, other.reason) == (False, "probing")
    assert other.free_at is not None
    assert after < other.free_at <= after + 0.1 + PROBE_LEASE + 1
    await store.release("g", success=True)
    opened = await store.acquire("g", rpm=None, rpd=None, now=after + 0.2)
    assert (opened.ok, opened.probe) == (True, False)


async def test_a_failed_probe_lets_the_next_caller_probe(
    store: QuotaStore, t0: float
) -> None:
    deadline, _ = await store.cool_down("g", text=None, retry_after=5.0, now=t0)
    first = await store.acquire("g", rpm=None, rpd=None, now=deadline + 1)
    assert first.probe
    await store.release("g", success=False)  # e.g. a transient failure
    second = await store.acquire("g", rpm=None, rpd=None, now=deadline + 2)
    assert (second.ok, second.probe) == (True, True)


@pytest.fixture(params=["memory", "redis"])
async def short_lease_store(
    request: pytest.FixtureRequest, redis_server: RedisServer
) -> AsyncIterator[QuotaStore]:
    """A store whose probe lease lasts 0.3 s (real time, Redis's own clock too)."""
    async for made in _shared_state_store(request.param, redis_server, lease=0.3):
        yield made


async def test_a_probe_that_outlived_its_lease_leaves_the_next_probe_alone(
    short_lease_store: QuotaStore,
) -> None:
    store = short_lease_store
    await store.cool_down("g", text=None, retry_after=0.05)
    await asyncio.sleep(0.2)  # the cooldown ended: the next caller probes
    first = await store.acquire("g", rpm=None, rpd=None)
    assert (first.ok, first.probe) == (True, True)
    assert first.lease
    assert (await store.acquire("g", rpm=None, rpd=None)).reason == "probing"
    await asyncio.sleep(0.5)  # the first probe outlives its lease
    second = await store.acquire("g", rpm=None, rpd=None)
    assert (second.ok, second.probe) == (True, True)
    assert second.lease
    assert second.lease != first.lease
    # The late first probe fails and ends: the second still holds its lease.
    await store.release("g", success=False, lease=first.lease)
    assert (await store.acquire("g", rpm=None, rpd=None)).reason == "probing"
    await store.release("g", success=False, lease=second.lease)
    third = await store.acquire("g", rpm=None, rpd=None)
    assert (third.ok, third.probe) == (True, True)


async def test_a_probe_needs_budget_too(store: QuotaStore, t0: float) -> None:
    assert (await store.acquire("g", rpm=1, rpd=None, now=t0)).ok
    deadline, _ = await store.cool_down("g", text=None, retry_after=1.0, now=t0)
    refused = await store.acquire("g", rpm=1, rpd=None, now=deadline + 0.1)
    assert refused.reason == "rpm"
    # Refused for budget: it did not take the lease; the next caller probes.
    probe = await store.acquire("g", rpm=1, rpd=None, now=t0 + 61)
    assert (probe.ok, probe.probe) == (True, True)


async def test_the_default_cooldown_escalates_when_the_limit_recurs(
    store: QuotaStore, t0: float
) -> None:
    def base(deadline: float, now: float) -> float:
        """The cooldown before jitter (the jitter only ever adds)."""
        length = deadline - now
        assert length <= length // DEFAULT_COOLDOWN * DEFAULT_COOLDOWN * (
            1 + COOLDOWN_JITTER
        )
        return length // DEFAULT_COOLDOWN * DEFAULT_COOLDOWN

    first, reason = await store.cool_down("g", text=None, retry_after=None, now=t0)
    assert reason == "rate limit"
    assert DEFAULT_COOLDOWN <= first - t0 <= DEFAULT_COOLDOWN * (1 + COOLDOWN_JITTER)
    # A concurrent report of the same limit, while it cools: no new strike.
    same, _ = await store.cool_down("g", text=None, retry_after=None, now=t0 + 1)
    assert first <= same <= t0 + 1 + DEFAULT_COOLDOWN * (1 + COOLDOWN_JITTER)
    # It recurs right after the cooldown ended (the probe hit it): doubled.
    probe = await store.acquire("g", rpm=None, rpd=None, now=same + 0.1)
    assert probe.probe
    second, _ = await store.cool_down("g", text=None, retry_after=None, now=same + 0.2)
    await store.release("g", success=False)
    assert base(second, same + 0.2) == 2 * DEFAULT_COOLDOWN
    third, _ = await store.cool_down("g", text=None, retry_after=None, now=second + 0.2)
    assert base(third, second + 0.2) == 4 * DEFAULT_COOLDOWN
    # A successful probe clears the strikes: the next limit starts over.
    assert (await store.acquire("g", rpm=None, rpd=None, now=third + 0.1)).probe
    await store.release("g", success=True)
    fresh, _ = await store.cool_down("g", text=None, retry_after=None, now=third + 1)
    assert fresh - (third + 1) <= DEFAULT_COOLDOWN * (1 + COOLDOWN_JITTER) + 1e-6


async def test_a_group_taken_out_stays_out(store: QuotaStore, t0: float) -> None:
    await store.take_out("g", "401 Invalid password.")
    grant = await store.acquire("g", rpm=None, rpd=None)
    assert (grant.ok, grant.reason) == (False, "out: 401 Invalid password.")
    assert (await store.status("g")).out_reason == "401 Invalid password."
    assert (await store.acquire("other", rpm=None, rpd=None)).ok


async def test_concurrent_acquirers_get_exactly_the_budget(store: QuotaStore) -> None:
    grants = await asyncio.gather(
        *(store.acquire("g", rpm=17, rpd=40) for _ in range(60))
    )
    assert sum(g.ok for g in grants) == 17
    assert {g.reason for g in grants if not g.ok} == {"rpm"}
    status = await store.status("g")
    assert (status.rpm_used, status.rpd_used) == (17, 17)


async def test_threads_with_their_own_loops_get_exactly_the_budget(
    store: QuotaStore,
) -> None:
    """Eight threads, each its own event loop: the store is thread-safe too."""

    def worker() -> int:
        async def burst() -> int:
            grants = await asyncio.gather(
                *(store.acquire("g", rpm=33, rpd=None) for _ in range(10))
            )
            return sum(g.ok for g in grants)

        return asyncio.run(burst())

    with ThreadPoolExecutor(max_workers=8) as pool:
        granted = await asyncio.gather(
            *(asyncio.wrap_future(pool.submit(worker)) for _ in range(8))
        )
    assert sum(granted) == 33
    assert (await store.status("g")).rpm_used == 33


async def test_the_current_time_is_used_without_now(store: QuotaStore) -> None:
    assert (await store.acquire("g", rpm=1, rpd=None)).ok
    refused = await store.acquire("g", rpm=1, rpd=None)
    assert refused.free_at is not None
    assert time.time() + 50 < refused.free_at < time.time() + 61
    deadline, _ = await store.cool_down("g", text=None, retry_after=30.0)
    assert time.time() + 25 < deadline < time.time() + 40


# -- Redis only -------------------------------------------------------------------


async def _all_keys(url: str) -> dict[str, tuple[int, object]]:
    """Every key with its TTL in ms and its value (any type)."""
    client = aioredis.Redis.from_url(url, decode_responses=True)
    try:
        found: dict[str, tuple[int, object]] = {}
        async for key in client.scan_iter("*"):
            kind = await client.type(key)
            value: object
            if kind == "hash":
                value = await client.hgetall(key)
            elif kind == "zset":
                value = await client.zrange(key, 0, -1, withscores=True)
            else:
                value = await client.get(key)
            found[key] = (await client.pttl(key), value)
        return found
    finally:
        await client.aclose()


async def _exercise(store: QuotaStore, group: str) -> None:
    await store.acquire(group, rpm=5, rpd=50)
    await store.cool_down(group, text=DAILY + " SECRET-PROMPT", retry_after=1.0)
    await store.cool_down("other", text="Please retry in 1s.", retry_after=None)
    await asyncio.sleep(1.2)
    grant = await store.acquire("other", rpm=5, rpd=50)
    assert grant.probe
    await store.release("other", success=True)
    await store.cool_down("other", text=None, retry_after=None)
    await store.take_out("third", "401 Invalid password.")
    await store.status(group)


async def test_every_key_has_the_prefix_and_an_expiry(
    redis_server: RedisServer, make_store: Callable[..., RedisStore]
) -> None:
    store = make_store(redis_server.url, prefix="myteam:")
    await _exercise(store, "https://a.example")
    await store.acquire("lease-holder", rpm=None, rpd=None)
    await store.cool_down("lease-holder", text=None, retry_after=0.2)
    await asyncio.sleep(0.3)
    assert (await store.acquire("lease-holder", rpm=None, rpd=None)).probe
    await store.aclose()
    keys = await _all_keys(redis_server.url)
    assert any(k.endswith(":lease") for k in keys)
    assert any(":rpd:" in k for k in keys)
    assert len(keys) >= 8
    for key, (ttl, _) in keys.items():
        assert key.startswith("myteam:"), key
        assert ttl > 0, f"{key} has no expiry ({ttl})"


async def test_nothing_secret_is_written_to_redis(
    private_redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
    make_store: Callable[..., RedisStore],
) -> None:
    password = "s3cret-redis-pw"
    assert private_redis_server.command("CONFIG", "SET", "requirepass", password)
    url = f"redis://:{password}@127.0.0.1:{private_redis_server.port}/0"
    store = make_store(url)
    caplog.set_level(logging.DEBUG)
    await _exercise(store, "https://a.example")
    dump = repr(await _all_keys(url))
    assert "daily cap" in dump  # reason words are all a cooldown stores
    for secret in (password, "SECRET-PROMPT", "quotaId", "Please retry"):
        assert secret not in dump
    await store.aclose()
    private_redis_server.stop()
    assert (await store.acquire("g", rpm=None, rpd=None)).ok  # logs a warning
    assert "failed" in caplog.text
    assert password not in repr(store)
    assert password not in caplog.text
    assert "SECRET-PROMPT" not in caplog.text


async def test_processes_sharing_redis_never_lose_an_increment(
    redis_server: RedisServer, make_store: Callable[..., RedisStore]
) -> None:
    """Four processes, 40 concurrent acquirers each: exactly rpm granted.

    LiteLLM #8430: read-modify-write counters lost increments under load.
    """
    script = textwrap.dedent(
        """
        import asyncio, sys
        from langchain_aichatfree._quota_redis import RedisStore

        async def main():
            store = RedisStore(sys.argv[1], prefix="procs:")
            limited = await asyncio.gather(
                *(store.acquire("g", rpm=37, rpd=None) for _ in range(40))
            )
            free = await asyncio.gather(
                *(store.acquire("free", rpm=None, rpd=None) for _ in range(40))
            )
            print(sum(g.ok for g in limited), sum(g.ok for g in free))
            await store.aclose()

        asyncio.run(main())
        """
    )
    processes = [
        subprocess.Popen(  # noqa: ASYNC220 - started together, awaited below
            [sys.executable, "-c", script, redis_server.url],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = []
    try:
        for process in processes:
            out, _ = process.communicate(timeout=60)
            assert process.returncode == 0
            results.append(tuple(int(x) for x in out.split()))
    finally:
        for process in processes:
            process.kill()
            process.communicate()
    assert sum(r[0] for r in results) == 37
    assert sum(r[1] for r in results) == 160
    store = make_store(redis_server.url, prefix="procs:")
    status = await store.status("free")
    await store.aclose()
    assert (status.rpm_used, status.rpd_used) == (160, 160)


async def test_stores_in_two_processes_share_one_cooldown(
    redis_server: RedisServer, make_store: Callable[..., RedisStore]
) -> None:
    a = make_store(redis_server.url, prefix="share:")
    b = make_store(redis_server.url, prefix="share:")
    deadline, _ = await a.cool_down("g", text=None, retry_after=60.0)
    grant = await b.acquire("g", rpm=None, rpd=None)
    assert not grant.ok
    assert grant.free_at == pytest.approx(deadline)
    # Another prefix is another team: it does not see it.
    assert (
        await make_store(redis_server.url, prefix="x:").acquire("g", rpm=None, rpd=None)
    ).ok


async def test_redis_outage_falls_back_locally_warns_once_and_resumes(
    private_redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
    make_store: Callable[..., RedisStore],
) -> None:
    url = private_redis_server.url
    store = make_store(url, prefix="o:", retry_interval=0.3)
    caplog.set_level(logging.INFO, logger="langchain_aichatfree")
    assert (await store.acquire("g", rpm=100, rpd=None)).ok
    private_redis_server.stop()

    # Calls go on with the process's own state, and it is still enforced.
    grants = [await store.acquire("g", rpm=3, rpd=None) for _ in range(5)]
    assert [g.ok for g in grants] == [True, True, True, False, False]
    deadline, reason = await store.cool_down("g", text=None, retry_after=30.0)
    assert reason == "retry hint"
    await store.take_out("h", "401 Invalid password.")
    assert (await store.status("g")).cooling_until == pytest.approx(deadline)
    assert not store.sharing
    await asyncio.sleep(0.4)  # past the retry interval: it tries Redis again
    for _ in range(3):
        await store.acquire("x", rpm=None, rpd=None)
    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].levelno == logging.WARNING

    private_redis_server.start()
    resumed_at = time.monotonic()
    while not store.sharing:
        assert time.monotonic() - resumed_at < 10, "sharing did not resume"
        await asyncio.sleep(0.1)
        await store.acquire("x", rpm=None, rpd=None)
    # What the process learnt meanwhile is now shared with everyone.
    other = make_store(url, prefix="o:")
    status = await other.status("g")
    assert status.cooling_until == pytest.approx(deadline, abs=0.01)
    assert status.rpm_used == 3
    assert (await other.status("h")).out_reason == "401 Invalid password."
    assert [r.levelno for r in caplog.records if "is shared" in r.message] == [
        logging.INFO
    ]

    # A second outage warns again, once.
    private_redis_server.stop()
    for _ in range(3):
        await store.acquire("x", rpm=None, rpd=None)
    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 2
    assert store.outages == 2


@pytest.mark.skipif(sys.platform == "win32", reason="SIGSTOP")
async def test_a_hung_redis_costs_a_bounded_wait_then_the_local_store(
    private_redis_server: RedisServer, make_store: Callable[..., RedisStore]
) -> None:
    store = make_store(private_redis_server.url, prefix="h:", retry_interval=60)
    assert (await store.acquire("g", rpm=None, rpd=None)).ok
    pid = private_redis_server.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        grant = await asyncio.wait_for(store.acquire("g", rpm=None, rpd=None), 5)
        assert grant.ok
        assert not store.sharing
        # Later calls do not wait on Redis at all until the retry interval.
        grant = await asyncio.wait_for(store.acquire("g", rpm=None, rpd=None), 0.5)
        assert grant.ok
    finally:
        os.kill(pid, signal.SIGCONT)


async def test_the_store_works_from_several_event_loops(
    redis_server: RedisServer, make_store: Callable[..., RedisStore]
) -> None:
    store = make_store(redis_server.url, prefix="loops:")

    def in_thread() -> bool:
        async def go() -> bool:
            grant = await store.acquire("g", rpm=None, rpd=None)
            await store.aclose()  # this loop's connections
            return grant.ok

        return asyncio.run(go())

    assert await asyncio.to_thread(in_thread)
    assert (await store.acquire("g", rpm=None, rpd=None)).ok
    assert (await store.status("g")).rpm_used == 2
    assert store.sharing
    await store.aclose()


async def test_a_unix_socket_url(
    redis_server: RedisServer, make_store: Callable[..., RedisStore]
) -> None:
    path = f"/tmp/aichatfree-test-{uuid.uuid4().hex[:8]}.sock"
    server = RedisServer(redis_server.binary)
    server.extra_args = ["--unixsocket", path, "--unixsocketperm", "700"]
    server.start()
    try:
        store = make_store(f"unix://{path}", prefix="u:")
        assert (await store.acquire("g", rpm=1, rpd=None)).ok
        assert (await store.acquire("g", rpm=1, rpd=None)).reason == "rpm"
        assert store.sharing
        await store.aclose()
    finally:
        server.close()


def test_connections_close_with_the_loop_that_made_them(
    redis_server: RedisServer,
) -> None:
    """`asyncio.run` twice: each loop's connections close when it ends.

    Nothing is left for Python to warn about (warnings are errors here), and the
    store does not keep ended loops.
    """
    store = RedisStore(redis_server.url, prefix="runs:")

    async def call() -> bool:
        return (await store.acquire("g", rpm=None, rpd=None)).ok

    assert asyncio.run(call())
    assert asyncio.run(call())
    assert len(store._redis) == 1
    assert int(redis_server.command("DBSIZE").lstrip(":")) > 0
    assert redis_server.connected_clients() == 0
