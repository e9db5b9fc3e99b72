"""The pool benchmark: quota use, overhead, Redis round trips, Redis restarted.

Run by hand, never as a timed test (a few minutes in all)::

    python -m bench.pool                   # every figure
    python -m bench.pool quota overhead    # some of them

Figures (written to ``bench/results/pool-<date>-<time>.md``):

* ``quota``: 3 `LocalServer` deployments, each with a tight per-window quota
  (`Quota`, windows of WINDOW seconds), and 4 worker processes sharing a batch of
  CALLS calls (CONCURRENCY at a time each). Three ways: the pool with the Redis
  store (shared by the workers), the pool with the memory store (each worker
  alone), and a `with_fallbacks` chain of three single-deployment models.
  Reported: answers completed per window over the quota summed over the
  deployments (while the batch runs), rate-limit errors the callers saw, and the
  servers' rate-limit answers per completed call.
* ``overhead``: sequential `ainvoke` of a one-chunk reply from the lean bench
  server, this package (a pool of one, memory store) against `main`'s package
  before the pool (a path given with --before), in alternating processes; and
  the pool of one with the Redis store. Also Redis commands per call.
* ``restart``: the Redis pool batch with Redis stopped a third of the way in and
  started again (same port, empty) at two thirds, counted from the moment every
  worker runs: calls completed and failed, each worker's outage warnings, and
  how long after the restart each worker's store shares its state again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

RESULTS = Path(__file__).parent / "results"
WINDOW = 4.0
"""Seconds in the servers' and the model's per-minute window (shrunk)."""
RPM = 10
"""Requests each deployment's quota allows per window."""
DEPLOYMENTS = 3
WORKERS = 4
CALLS = 240
CONCURRENCY = 8
"""Calls in flight per worker."""
REPLY_DELAY = 0.05
"""Seconds the fake upstream takes to answer (first byte)."""


# -- the workers ---------------------------------------------------------------------


def _make_model(mode: str, urls: list[str], store: str) -> Any:
    from langchain_aichatfree import ChatAIChatFree, Deployment

    if mode == "fallbacks":
        # As before the pool: no waiting for a cooldown, the next model at once.
        models = [
            ChatAIChatFree(base_url=url, rpm_window=WINDOW, max_retries=0, max_wait=0)
            for url in urls
        ]
        return models[0].with_fallbacks(models[1:])
    return ChatAIChatFree(
        deployments=[Deployment(base_url=url, rpm=RPM) for url in urls],
        quota_store=store,
        rpm_window=WINDOW,
        max_wait=4 * WINDOW,
    )


class _StoreEvents(logging.Handler):
    """The quota store's outage and resume, as (time, "down" | "up") pairs."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.events: list[tuple[float, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = str(record.msg)
        if message.startswith("The Redis quota store"):
            state = "down" if record.levelno >= logging.WARNING else "up"
            self.events.append((record.created, state))


async def _work(mode: str, urls: list[str], store: str, calls: int) -> dict[str, Any]:
    from langchain_aichatfree import RateLimitError

    store_log = _StoreEvents()
    package_log = logging.getLogger("langchain_aichatfree")
    package_log.addHandler(store_log)
    package_log.setLevel(min(package_log.getEffectiveLevel(), logging.INFO))
    model = _make_model(mode, urls, store)
    done: list[float] = []
    errors: dict[str, int] = {}
    limited = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(calls):
        queue.put_nowait(n)

    async def worker() -> None:
        nonlocal limited
        while not queue.empty():
            n = queue.get_nowait()
            try:
                await model.ainvoke(f"call {n}")
                done.append(time.time())
            except RateLimitError:
                limited += 1
            except Exception as e:  # counted, reported
                errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1

    ready = time.time()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return {
        "ready": ready,
        "done": done,
        "limited": limited,
        "errors": errors,
        "store_events": store_log.events,
    }


def worker_main(argv: list[str]) -> None:
    mode, urls, store, calls = json.loads(argv[0])
    import langchain_aichatfree.chat_models  # noqa: F401 - imported before "ready"

    ready_dir = os.environ.get("BENCH_POOL_READY_DIR")
    if ready_dir:  # the restart figure's clock starts when every worker runs
        Path(ready_dir, str(os.getpid())).touch()
    if os.environ.get("BENCH_POOL_LOG"):  # every record of the package, stamped
        logging.basicConfig(
            level=logging.INFO,
            format=f"%(created).3f worker {os.getpid()} %(levelname)s %(message)s",
        )
    print(json.dumps(asyncio.run(_work(mode, urls, store, calls))), flush=True)


def _run_workers(
    mode: str,
    urls: list[str],
    store: str,
    calls: int,
    workers: int = WORKERS,
    ready_dir: str | None = None,
) -> list[dict[str, Any]]:
    share = [
        calls // workers + (1 if i < calls % workers else 0) for i in range(workers)
    ]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.pool",
                "_worker",
                json.dumps([mode, urls, store, n]),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "BENCH_POOL_READY_DIR": ready_dir or ""},
        )
        for n in share
    ]
    results = []
    for process in processes:
        out, _ = process.communicate(timeout=600)
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


# -- quota use -----------------------------------------------------------------------


@contextlib.contextmanager
def _deployments() -> Iterator[list[Any]]:
    from langchain_aichatfree.testing import LocalServer, Quota, Reply

    def respond(turns: list[dict[str, str]]) -> Reply:
        return Reply("ok", first_byte_delay=REPLY_DELAY)

    with ExitStack() as stack:
        yield [
            stack.enter_context(
                LocalServer(responder=respond, quota=Quota(rpm=RPM, window=WINDOW))
            )
            for _ in range(DEPLOYMENTS)
        ]


def _quota_run(mode: str, store: str, label: str, calls: int) -> dict[str, Any]:
    with _deployments() as servers:
        urls = [s.url for s in servers]
        results = _run_workers(mode, urls, store, calls)
        refused = sum(s.quota.refused for s in servers)
        served = sum(s.quota.served for s in servers)
    done = sorted(t for r in results for t in r["done"])
    limited = sum(r["limited"] for r in results)
    errors: dict[str, int] = {}
    for r in results:
        for name, count in r["errors"].items():
            errors[name] = errors.get(name, 0) + count
    # Completed per window while the batch runs, over the summed quota: from
    # the first worker ready (imports done) to the last answer. A sliding
    # window lets a full quota through at the start and one more per window
    # after it: at most quota x (span / window + 1) in the span.
    start = min(r["ready"] for r in results)
    span = (done[-1] - start) if done else 0.0
    use = len(done) / ((span / WINDOW + 1) * RPM * DEPLOYMENTS)
    return {
        "label": label,
        "completed": len(done),
        "calls": calls,
        "seconds": round(span, 1),
        "use": use,
        "limited": limited,
        "errors": errors,
        "refused": refused,
        "served": served,
        "refused_per_call": refused / len(done) if done else float("nan"),
    }


def quota_use(redis_url: str, calls: int) -> list[dict[str, Any]]:
    rows = []
    for mode, store, label in (
        ("pool", redis_url, "pool, Redis store (shared by the 4 workers)"),
        ("pool", "memory", "pool, memory store (each worker alone)"),
        ("fallbacks", "memory", "with_fallbacks of 3 single-deployment models"),
    ):
        print(f"quota use: {label} ...", flush=True)
        rows.append(_quota_run(mode, store, label, calls))
    return rows


# -- overhead --------------------------------------------------------------------------

_OVERHEAD_CALLS = 300


async def _per_call(url: str, store: str) -> float:
    from bench.spec import SECRET, Spec
    from langchain_aichatfree import ChatAIChatFree

    kwargs: dict[str, Any] = {} if store == "before" else {"quota_store": store}
    prompt = Spec(1, 16).prompt
    async with ChatAIChatFree(base_url=url, secret=SECRET, **kwargs) as model:
        for _ in range(30):
            await model.ainvoke(prompt)
        times = []
        for _ in range(5):
            start = time.process_time()
            for _ in range(_OVERHEAD_CALLS // 5):
                await model.ainvoke(prompt)
            times.append((time.process_time() - start) / (_OVERHEAD_CALLS // 5))
    return statistics.median(times) * 1e6


def overhead_main(argv: list[str]) -> None:
    url, store = argv
    print(json.dumps(asyncio.run(_per_call(url, store))), flush=True)


def _overhead_process(url: str, store: str, before: Path | None) -> float:
    env = dict(os.environ)
    if before is not None:
        env["PYTHONPATH"] = f"{before}{os.pathsep}{Path.cwd()}"
    out = subprocess.run(
        [sys.executable, "-m", "bench.pool", "_overhead", url, store],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=300,
    ).stdout
    return float(out.strip().splitlines()[-1])


def _round_trips(redis_url: str, run: Any) -> tuple[int, int]:
    """Commands clients sent to Redis while `run()` ran, and those Lua ran.

    Redis's MONITOR tells a client's command from one its Lua scripts ran (the
    statistics count both).
    """
    import redis

    # Built from host and port: redis 5.0's types give from_url no return type.
    where = urlsplit(redis_url)
    counts = {"client": 0, "lua": 0}
    stop = threading.Event()
    client = redis.Redis(
        host=where.hostname or "", port=where.port or 6379, socket_timeout=600
    )
    ready = threading.Event()

    def watch() -> None:
        with client.monitor() as monitor:
            ready.set()
            for command in monitor.listen():
                if stop.is_set():
                    return
                kind = "lua" if command.get("client_type") == "lua" else "client"
                counts[kind] += 1

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    ready.wait(5)
    time.sleep(0.2)
    run()
    stop.set()
    # One more line, to end the watch.
    redis.Redis(host=where.hostname or "", port=where.port or 6379).ping()
    thread.join(5)
    client.close()
    return counts["client"], counts["lua"]


def overhead(redis_url: str, before: Path | None, rounds: int) -> dict[str, Any]:
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.server"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = server.stdout.readline().split()[1]
        url = f"http://127.0.0.1:{port}"
        ratios, now_us, before_us, redis_us = [], [], [], []
        for n in range(rounds):
            print(f"overhead: round {n + 1} of {rounds} ...", flush=True)
            ours = _overhead_process(url, "memory", None)
            if before is not None:
                old = _overhead_process(url, "before", before)
                before_us.append(old)
                ratios.append(ours / old)
            now_us.append(ours)
            redis_us.append(_overhead_process(url, redis_url, None))
        calls = 30 + _OVERHEAD_CALLS
        sent, scripted = _round_trips(
            redis_url, lambda: _overhead_process(url, redis_url, None)
        )
    finally:
        server.terminate()
        server.wait()
    return {
        "rounds": rounds,
        "now_us": now_us,
        "before_us": before_us,
        "ratios": ratios,
        "redis_us": redis_us,
        "redis_round_trips_per_call": sent / calls,
        "redis_scripted_per_call": scripted / calls,
    }


# -- Redis stopped and restarted mid-batch ------------------------------------------


def restart(redis: Any, calls: int) -> dict[str, Any]:
    with _deployments() as servers, tempfile.TemporaryDirectory() as ready_dir:
        urls = [s.url for s in servers]
        expected = calls / (RPM * DEPLOYMENTS / WINDOW)  # seconds at full use
        events: dict[str, float] = {}

        finished = threading.Event()

        def chaos() -> None:
            # The clock starts when every worker has imported and runs (on a
            # busy machine that can take longer than the whole batch).
            while len(os.listdir(ready_dir)) < WORKERS:
                if finished.wait(0.05):
                    return
            events["ready"] = time.time()
            if finished.wait(expected / 3):
                return
            redis.stop()
            events["stopped"] = time.time()
            finished.wait(expected / 3)  # started again even if the batch ended
            redis.start()
            events["started"] = time.time()

        thread = threading.Thread(target=chaos)
        thread.start()
        try:
            results = _run_workers("pool", urls, redis.url, calls, ready_dir=ready_dir)
        finally:
            finished.set()
            thread.join()
        refused = sum(s.quota.refused for s in servers)
    done = sum(len(r["done"]) for r in results)
    limited = sum(r["limited"] for r in results)
    errors = sum(sum(r["errors"].values()) for r in results)
    started = events.get("started")
    ready = events.get("ready", min(r["ready"] for r in results))
    downs = [[t for t, e in r["store_events"] if e == "down"] for r in results]
    ups = [[t for t, e in r["store_events"] if e == "up"] for r in results]
    # How long after the restart each worker shared its state in Redis again
    # (its store logged "answers again"); None for one that never did.
    resumed = [
        round(min(t for t in up if t >= started) - started, 2)
        if started is not None and any(t >= started for t in up)
        else None
        for up in ups
    ]
    # A worker whose calls were all answered before Redis came back has nothing
    # to share: its figure is None, and its last answer shows why.
    last = [
        round(max(r["done"]) - started, 2) if started and r["done"] else None
        for r in results
    ]
    return {
        "calls": calls,
        "completed": done,
        "limited": limited,
        "errors": errors,
        "refused": refused,
        "last_answer_after_restart": last,
        "seconds": round(
            max((t for r in results for t in r["done"]), default=ready) - ready,
            1,
        ),
        "down_for": (
            round(started - events["stopped"], 1) if started is not None else None
        ),
        "outage_warnings": [len(d) for d in downs],
        "resumed_after": resumed,
    }


# -- the report ----------------------------------------------------------------------


def report(figures: dict[str, Any]) -> str:
    lines = [
        f"# Pool benchmark {figures['when']}",
        "",
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{figures['load']:.2f} at the start. Windows of {WINDOW:g} s; each of "
        f"{DEPLOYMENTS} deployments allows {RPM} requests per window; {WORKERS} "
        f"worker processes x {CONCURRENCY} calls in flight; {figures['calls']} calls.",
        "",
    ]
    if "quota" in figures:
        lines += [
            "## Quota use",
            "",
            "| setup | completed | completed per window ÷ summed quota | "
            "rate-limit errors seen by callers | server rate limits per completed "
            "call | other errors |",
            "|---|---|---|---|---|---|",
        ]
        for row in figures["quota"]:
            lines.append(
                f"| {row['label']} | {row['completed']}/{row['calls']} in "
                f"{row['seconds']} s | {row['use']:.2f} | {row['limited']} | "
                f"{row['refused_per_call']:.2f} ({row['refused']}) | "
                f"{sum(row['errors'].values())} |"
            )
        lines.append("")
    if "overhead" in figures:
        o = figures["overhead"]
        trips = o["redis_round_trips_per_call"]
        lines += [
            "## Overhead of the pool (sequential ainvoke, one-chunk reply; the "
            "client's CPU time per call)",
            "",
        ]
        if o["ratios"]:
            lines.append(
                f"- pool of one, memory store: {statistics.median(o['now_us']):.0f} "
                f"µs/call; before the pool (main): "
                f"{statistics.median(o['before_us']):.0f} µs/call; ratio median "
                f"{statistics.median(o['ratios']):.3f}× (min {min(o['ratios']):.3f}, "
                f"max {max(o['ratios']):.3f}) over {o['rounds']} alternating rounds "
                "(goal ≤ 1.05×)"
            )
        lines.append(
            f"- pool of one, Redis store: {statistics.median(o['redis_us']):.0f} "
            f"µs/call; Redis round trips per happy-path call: "
            f"{o['redis_round_trips_per_call']:.2f} (goal ≤ 1; connection set-up "
            "included), each a script that runs "
            f"{o['redis_scripted_per_call'] / max(trips, 1e-9):.1f}"
            " commands inside Redis"
        )
        lines.append("")
    if "restart" in figures:
        r = figures["restart"]
        lines += [
            "## Redis stopped and restarted mid-batch",
            "",
            f"- {r['completed']}/{r['calls']} completed in {r['seconds']} s; "
            f"{r['errors']} failed, {r['limited']} rate-limit errors seen by callers; "
            f"servers' rate limits: {r['refused']}",
            f"- Redis down for {r['down_for']} s (stopped a third of the way in, "
            "counted from the moment every worker ran); outage warnings per worker: "
            f"{r['outage_warnings']}; each worker shared its state in Redis again "
            f"{r['resumed_after']} s after the restart (its store's 'answers again'; "
            "None: no call of the worker's touched the store after the restart, its "
            f"last answer came {r['last_answer_after_restart']} s after it)",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "_worker":
        worker_main(argv[1:])
        return 0
    if argv and argv[0] == "_overhead":
        overhead_main(argv[1:])
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.pool", description=__doc__)
    parser.add_argument("figures", nargs="*", default=["quota", "overhead", "restart"])
    parser.add_argument(
        "--before",
        type=Path,
        help="a directory holding the package before the pool (for overhead)",
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=CALLS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from tests._redis import RedisServer, find_redis_server

    binary = find_redis_server()
    if binary is None:
        print("no redis-server found (install the test group: make test)")
        return 1
    figures: dict[str, Any] = {
        "when": datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S"),
        "load": os.getloadavg()[0],
        "calls": args.calls,
    }
    redis = RedisServer(binary)
    redis.start()
    try:
        if "quota" in args.figures:
            figures["quota"] = quota_use(redis.url, args.calls)
        if "overhead" in args.figures:
            figures["overhead"] = overhead(redis.url, args.before, args.rounds)
        if "restart" in args.figures:
            redis.flush()
            figures["restart"] = restart(redis, args.calls)
    finally:
        redis.close()
    text = report(figures)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    base = args.out / f"pool-{figures['when']}"
    base.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    base.with_suffix(".json").write_text(
        json.dumps(figures, indent=1), encoding="utf-8"
    )
    print(f"\nwritten to {base}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
