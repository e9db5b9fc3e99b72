"""The workloads, each timed inside a client process, one slice at a time.

A workload is cut into short slices (30 calls, one stream...). The driver runs
slice 1 on every client, then slice 2 on every client, and so on, so that two
clients' slices are seconds apart at most and see the same load from whatever
else runs on the machine. Every reply's text is checked against the expected
text (a wrong text counts as an error). ``metric`` is the figure compared across
clients; lower is better for all.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bench.spec import Spec

Slice = Callable[[Any, str, bool], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Workload:
    """One workload: what a slice does, and how many slices a round has.

    Attributes:
        key: Its name on the command line.
        title: Its row label.
        unit: The unit of ``metric``.
        run: Runs one slice on a client: ``run(client, control_url, quick)``.
        warm: Warms a client up before its first slice.
        clients: The clients measured.
        baseline: The client the others are compared with.
        slices: Slices per round (``quick`` mode: 1).
        heavy: ChatOpenAI runs only the first slice of each round (it is ~30-140×
            slower here; its ratio is then from that slice alone).
        fresh_process: One slice per round, in a new process per client (for
            memory figures).
    """

    key: str
    title: str
    unit: str
    run: Slice
    warm: Callable[[Any], Awaitable[None]]
    clients: tuple[str, ...] = ("raw", "ours", "lc+raw", "openai")
    baseline: str = "raw"
    slices: int = 3
    heavy: bool = False
    fresh_process: bool = False


# -- measuring ----------------------------------------------------------------


def connections(control: str) -> int:
    """TCP connections the server has accepted so far."""
    with urllib.request.urlopen(control, timeout=10) as response:
        return int(json.load(response)["opened"])


def _read_status(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def rss() -> int:
    return _read_status("VmRSS") or 0


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux), so that VmHWM is this run's."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def peak_rss() -> int:
    peak = _read_status("VmHWM")
    if peak is None:  # not Linux: the peak since the process started
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return peak


class _Clock:
    def __enter__(self) -> _Clock:
        self.wall0 = time.perf_counter()
        self.cpu0 = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0


# -- the workloads ------------------------------------------------------------

ONE_CHUNK = Spec(1, 48)
SEPARATE = Spec(20_000, 16, "separate")
BURST = Spec(20_000, 16, "burst")
PACED = Spec(200, 16, "paced")
SMALL = Spec(64, 16)
CONCURRENT = Spec(200, 16)
THOUSAND = Spec(100, 16)
SYNC_STREAM = Spec(1000, 16)
KB20 = Spec(20, 1024)
MB5 = Spec(5 * 1024, 1024)


def _warm_invoke(spec: Spec) -> Callable[[Any], Awaitable[None]]:
    async def warm(client: Any) -> None:
        for _ in range(10):
            await client.invoke(spec)

    return warm


def _warm_stream(spec: Spec) -> Callable[[Any], Awaitable[None]]:
    async def warm(client: Any) -> None:
        await client.stream(spec)

    return warm


async def invoke_calls(client: Any, control: str, quick: bool) -> dict[str, Any]:
    """30 sequential invokes of a one-chunk reply: µs per call."""
    calls, expected = 30, ONE_CHUNK.text
    before = connections(control)
    errors = 0
    with _Clock() as clock:
        for _ in range(calls):
            errors += await client.invoke(ONE_CHUNK) != expected
    return {
        "metric": clock.wall / calls * 1e6,
        "cpu": clock.cpu / calls * 1e6,
        "errors": errors,
        "connections": connections(control) - before,
    }


async def _one_stream(client: Any, spec: Spec) -> dict[str, Any]:
    gc.collect()
    with _Clock() as clock:
        text, pieces = await client.stream(spec)
    return {
        "metric": clock.wall * 1e3,
        "cpu": clock.cpu * 1e3,
        "pieces": pieces,
        "errors": int(text != spec.text),
    }


async def stream_separate(client: Any, control: str, quick: bool) -> dict[str, Any]:
    """One astream of 20,000 × 16 B, one server write per chunk: ms."""
    return await _one_stream(client, SEPARATE)


async def stream_burst(client: Any, control: str, quick: bool) -> dict[str, Any]:
    """One astream of 20,000 × 16 B, the server writing 64 KiB bursts: ms."""
    return await _one_stream(client, BURST)


async def stream_paced(client: Any, control: str, quick: bool) -> dict[str, Any]:
    """One astream of 200 chunks ~1 ms apart: client CPU µs per chunk."""
    result = await _one_stream(client, PACED)
    result["wall"] = result["metric"]
    result["metric"] = result["cpu"] * 1e3 / PACED.n
    return result


async def _concurrent(
    client: Any, control: str, streams: int, spec: Spec, waves: int
) -> dict[str, Any]:
    expected = spec.text
    await client.stream(spec)  # warm: imports, one pooled connection
    gc.collect()
    base = rss()
    exact_peak = reset_peak()
    before = connections(control)
    walls, errors, failures, pieces = [], 0, [], []
    for _ in range(waves):
        with _Clock() as clock:
            results = await asyncio.gather(
                *(client.stream(spec) for _ in range(streams)), return_exceptions=True
            )
        walls.append(clock.wall)
        for result in results:
            if isinstance(result, BaseException):
                errors += 1
                failures.append(repr(result)[:200])
            elif result[0] != expected:
                errors += 1
            else:
                pieces.append(result[1])
    peak = peak_rss()
    return {
        "metric": sum(walls) * 1e3,
        "waves": [w * 1e3 for w in walls],
        "errors": errors,
        "failures": sorted(set(failures))[:3],
        "rss_growth_mib": (peak - base) / 2**20,
        "peak_exact": exact_peak,
        "pieces": statistics.mean(pieces) if pieces else None,
        "connections": connections(control) - before,
    }


async def concurrent_200(client: Any, control: str, quick: bool) -> dict[str, Any]:
    """200 concurrent astreams of 200 chunks, twice: ms for both waves."""
    return await _concurrent(client, control, 200, CONCURRENT, 2)


async def concurrent_1000(client: Any, control: str, quick: bool) -> dict[str, Any]:
    """1,000 concurrent astreams of 100 chunks: ms."""
    return await _concurrent(client, control, 1000, THOUSAND, 1)


async def sync_stream(client: Any, control: str, quick: bool) -> dict[str, Any]:
    """Two streams of 1,000 × 16 B: ms per stream."""
    errors = 0
    with _Clock() as clock:
        for _ in range(2):
            text, _ = await client.stream(SYNC_STREAM)
            errors += text != SYNC_STREAM.text
    return {
        "metric": clock.wall / 2 * 1e3,
        "cpu": clock.cpu / 2 * 1e3,
        "errors": errors,
    }


async def long_answer(client: Any, control: str, quick: bool) -> dict[str, Any]:
    """A 5 MB answer's time over a 20 KB answer's (median of 5), by astream."""
    small = [await _one_stream(client, KB20) for _ in range(5)]
    large = await _one_stream(client, MB5)
    small_ms = statistics.median(s["metric"] for s in small)
    return {
        "metric": large["metric"] / small_ms,
        "small_ms": small_ms,
        "large_ms": large["metric"],
        "errors": large["errors"] + sum(s["errors"] for s in small),
    }


async def _no_warm(client: Any) -> None:
    pass


WORKLOADS: dict[str, Workload] = {
    w.key: w
    for w in (
        Workload(
            "a",
            "(a) ainvoke, one-chunk reply",
            "µs/call",
            invoke_calls,
            _warm_invoke(ONE_CHUNK),
            ("raw", "ours", "lc+raw", "openai", "floor"),
            slices=10,
        ),
        Workload(
            "b1",
            "(b) astream 20k×16 B, one write per chunk",
            "ms",
            stream_separate,
            _warm_stream(SMALL),
            heavy=True,
        ),
        Workload(
            "b2",
            "(b) astream 20k×16 B, 64 KiB bursts",
            "ms",
            stream_burst,
            _warm_stream(SMALL),
            heavy=True,
        ),
        Workload(
            "c",
            "(c) CPU per chunk, chunks ~1 ms apart",
            "µs/chunk",
            stream_paced,
            _warm_stream(SMALL),
            slices=4,
        ),
        Workload(
            "d",
            "(d) 200 concurrent astreams ×200 chunks, 2 waves",
            "ms",
            concurrent_200,
            _no_warm,
            ("raw", "ours", "lc+raw", "openai", "floor"),
            slices=1,
            fresh_process=True,
        ),
        Workload(
            "e",
            "(e) 1,000 concurrent astreams ×100 chunks",
            "ms",
            concurrent_1000,
            _no_warm,
            ("raw", "ours", "lc+raw", "floor"),
            slices=1,
            fresh_process=True,
        ),
        Workload(
            "f1",
            "(f) invoke (sync) vs ainvoke",
            "µs/call",
            invoke_calls,
            _warm_invoke(ONE_CHUNK),
            ("ours", "ours-sync"),
            baseline="ours",
            slices=10,
        ),
        Workload(
            "f2",
            "(f) stream (sync) vs astream, 1,000×16 B",
            "ms",
            sync_stream,
            _warm_stream(SMALL),
            ("ours", "ours-sync"),
            baseline="ours",
            slices=5,
        ),
        Workload(
            "g",
            "5 MB answer ÷ 20 KB answer (astream)",
            "× time",
            long_answer,
            _warm_stream(KB20),
            slices=2,
            heavy=True,
        ),
    )
}


async def run_workload(
    client: Any, key: str, control: str, quick: bool, warm: bool
) -> dict[str, Any]:
    """One slice of a workload (after warming up, if asked), never raising."""
    workload = WORKLOADS[key]
    try:
        if warm:
            await workload.warm(client)
        return await workload.run(client, control, quick)
    except Exception as e:  # reported, not hidden: the row shows the failure
        return {"metric": None, "errors": 1, "failure": repr(e)[:300]}
