"""Reliability under load, faults, cancellation and sync pressure.

Every test is bounded in count and time and talks only to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from langchain_aichatfree import (
    AIChatFreeError,
    APITimeoutError,
    ChatAIChatFree,
    InvalidRequestError,
    RateLimitError,
    StreamInterruptedError,
)
from langchain_aichatfree.testing import UPSTREAM_ERRORS, LocalServer, Reply

MAX_RETRIES = 2


def answer_text(i: int) -> str:
    # Multi-byte characters everywhere, so that any split shows; no capital I,
    # so that no shown text can be mistaken for the start of the sentinel.
    return f"answer {i}: héllo wörld — 你好 🌍 " * (3 + i % 5)


@dataclass(frozen=True)
class Case:
    """How the fake upstream behaves for one call, attempt by attempt."""

    kind: str
    stream: bool

    def reply(self, i: int, attempt: int) -> Reply:
        text = answer_text(i)
        size = 1 + i % 13
        ok = Reply(text, chunk_size=size)
        match self.kind:
            case "ok":
                return ok
            case "ok_1byte":
                return Reply(text, chunk_size=1)
            case "rate_once":
                return Reply.rate_limited(retry_in=0.05) if attempt == 1 else ok
            case "rate_always":
                return Reply.rate_limited(retry_in=0.05)
            case "transient_once":
                return (
                    Reply(error=UPSTREAM_ERRORS["upstream_503"]) if attempt == 1 else ok
                )
            case "bad_history":
                return Reply(error=UPSTREAM_ERRORS["bad_history"])
            case "sentinel_always":
                return Reply(text, chunk_size=8, fail_after=3)
            case "sentinel_once":
                return Reply(text, chunk_size=8, fail_after=3) if attempt == 1 else ok
            case "cut_once":
                return Reply(text, chunk_size=8, cut_after=3) if attempt == 1 else ok
            case "stall_first_byte_once":
                return Reply(text, first_byte_delay=5) if attempt == 1 else ok
            case "stall_mid_always":
                return Reply(text, chunk_size=8, stall_after=2, stall_seconds=5)
        raise AssertionError(self.kind)

    def expected(self) -> tuple[type[AIChatFreeError] | None, int]:
        """The error class (None: the exact text) and the requests the server sees."""
        attempts = MAX_RETRIES + 1
        interrupted_stream = (StreamInterruptedError, 1)
        return {
            "ok": (None, 1),
            "ok_1byte": (None, 1),
            "rate_once": (None, 2),
            "rate_always": (RateLimitError, attempts),
            "transient_once": (None, 2),
            "bad_history": (InvalidRequestError, 1),
            "sentinel_always": (
                interrupted_stream
                if self.stream
                else (StreamInterruptedError, attempts)
            ),
            "sentinel_once": interrupted_stream if self.stream else (None, 2),
            "cut_once": interrupted_stream if self.stream else (None, 2),
            "stall_first_byte_once": (None, 2),
            "stall_mid_always": (
                (APITimeoutError, 1) if self.stream else (APITimeoutError, attempts)
            ),
        }[self.kind]


KINDS = [
    "ok",
    "ok_1byte",
    "rate_once",
    "rate_always",
    "transient_once",
    "bad_history",
    "sentinel_always",
    "sentinel_once",
    "cut_once",
    "stall_first_byte_once",
    "stall_mid_always",
]
CALLS = 550


def case_of(i: int) -> Case:
    return Case(KINDS[i % len(KINDS)], stream=(i // len(KINDS)) % 2 == 0)


class FaultyUpstream:
    """Plays the model: each call's behaviour is named in its question."""

    def __init__(self) -> None:
        self.attempts: collections.Counter[int] = collections.Counter()

    def __call__(self, turns: list[dict[str, str]]) -> Reply:
        i = int(turns[-1]["text"].split("#")[1])
        self.attempts[i] += 1
        return case_of(i).reply(i, self.attempts[i])


@pytest.fixture
def faulty() -> Iterator[tuple[LocalServer, FaultyUpstream]]:
    upstream = FaultyUpstream()
    with LocalServer(responder=upstream, passwords="pw") as server:
        yield server, upstream


async def test_fault_matrix_under_load(
    faulty: tuple[LocalServer, FaultyUpstream],
) -> None:
    server, upstream = faulty
    threads_before = threading.active_count()
    model = ChatAIChatFree(
        base_url=server.url, password="pw", chunk_timeout=1.0, max_retries=MAX_RETRIES
    )

    async def call(i: int) -> str | BaseException:
        question = f"question #{i}#"
        try:
            if case_of(i).stream:
                return "".join([c.text async for c in model.astream(question)])
            return (await model.ainvoke(question)).text
        except Exception as e:
            return e

    start = time.monotonic()
    outcomes = await asyncio.wait_for(
        asyncio.gather(*(call(i) for i in range(CALLS))), timeout=90
    )
    elapsed = time.monotonic() - start

    failures = []
    for i, outcome in enumerate(outcomes):
        case = case_of(i)
        error_class, requests = case.expected()
        if error_class is None:
            ok = outcome == answer_text(i)
        else:
            ok = (
                type(outcome) is error_class
                and outcome.is_retryable == (error_class is not InvalidRequestError)
                and answer_text(i).startswith(outcome.partial_text)
            )
        # Under load an attempt can time out before it reaches the upstream (the
        # connect counts against chunk_timeout): the server then sees fewer.
        if not ok or not 1 <= upstream.attempts[i] <= requests:
            failures.append((i, case, repr(outcome)[:200], upstream.attempts[i]))
    assert not failures, failures[:5]
    assert max(upstream.attempts.values()) <= MAX_RETRIES + 1

    await model.aclose()
    await server.wait_idle(timeout=10)
    assert server.open_connections == 0
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert threading.active_count() <= threads_before + 1  # the sync bridge, at most
    short = sum(upstream.attempts[i] < case_of(i).expected()[1] for i in range(CALLS))
    print(
        f"\n{CALLS} calls in {elapsed:.1f} s, {len(server.requests)} requests, "
        f"{short} calls with an attempt lost before the upstream"
    )


async def test_cancelling_100_streams_frees_their_connections() -> None:
    with LocalServer() as server:
        server.script(*[Reply("x" * 10_000, chunk_size=10, chunk_delay=0.05)] * 100)
        model = ChatAIChatFree(base_url=server.url)
        started = asyncio.Semaphore(0)

        async def consume() -> None:
            first = True
            async for _ in model.astream("go"):
                if first:
                    started.release()
                    first = False

        tasks = [asyncio.create_task(consume()) for _ in range(100)]
        for _ in range(100):
            await asyncio.wait_for(started.acquire(), 20)
        assert server.open_connections == 100
        cancelled_at = time.monotonic()
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        await server.wait_for(lambda: server.disconnects == 100, timeout=5)
        await server.wait_idle(timeout=5)
        assert time.monotonic() - cancelled_at < 5
        assert server.open_connections == 0
        # Still usable afterwards.
        assert (await model.ainvoke("after")).text == "Echo: after"
        await model.aclose()


def test_sync_batch_of_200_without_leaked_threads() -> None:
    with LocalServer() as server:
        model = ChatAIChatFree(base_url=server.url)
        model.invoke("warm up")  # starts the one bridge thread
        before = threading.active_count()
        answers = model.batch([f"q{i}" for i in range(200)])
        assert [a.text for a in answers] == [f"Echo: q{i}" for i in range(200)]
        deadline = time.monotonic() + 5
        while threading.active_count() > before and time.monotonic() < deadline:
            time.sleep(0.05)  # the batch's worker threads wind down
        assert threading.active_count() == before
        model.close()
        assert server.connections_opened <= 200


def test_sync_calls_from_a_thread_running_a_loop() -> None:
    with LocalServer() as server:
        model = ChatAIChatFree(base_url=server.url)
        results: list[Any] = []

        async def handler(i: int) -> None:
            # An async web handler calling sync code: the loop is running.
            results.append(model.invoke(f"h{i}").text)
            results.append("".join(c.text for c in model.stream(f"s{i}")))

        def run_loop() -> None:
            async def main() -> None:
                for i in range(5):
                    await handler(i)

            asyncio.run(main())

        threads = [threading.Thread(target=run_loop) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads)
        assert sorted(results) == sorted(
            [f"Echo: h{i}" for i in range(5)] * 4
            + [f"Echo: s{i}" for i in range(5)] * 4
        )
        model.close()


async def test_cancellation_at_any_point_never_mixes_answers() -> None:
    # Cancel calls at every stage (connecting, posting, waiting for headers,
    # mid-body), then check that later calls on the same pooled connections
    # each get their own answer, never a leftover of a cancelled one.
    with LocalServer() as server:
        server.script(*[Reply("x" * 2000, chunk_size=50, chunk_delay=0.001)] * 150)
        model = ChatAIChatFree(base_url=server.url)

        async def doomed(i: int) -> None:
            task = asyncio.create_task(model.ainvoke(f"doomed {i}"))
            await asyncio.sleep((i % 30) * 0.001)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        await asyncio.gather(*(doomed(i) for i in range(150)))
        server.clear()
        answers = await asyncio.gather(*(model.ainvoke(f"q{i}") for i in range(200)))
        assert [a.text for a in answers] == [f"Echo: q{i}" for i in range(200)]
        await model.aclose()
        await server.wait_idle(timeout=10)
        assert server.open_connections == 0
