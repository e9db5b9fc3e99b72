"""The benchmark's driver: server, interleaved rounds and slices, table, results.

The server runs in its own process, and every client in its own processes. Each
round starts one process per client (and a fresh one per client for each
memory workload). A workload is cut into slices; slice 1 runs on every client
in turn, then slice 2, and so on, the order rotated from slice to slice and
round to round, so that the clients compared see the same machine load.

A client's ratio is its figure over the baseline's *in the same slice*; a
round's ratio is the median of its slices' ratios. The table shows, over the
rounds, the median figure and the median ratio with its min–max.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bench.workloads import WORKLOADS

RESULTS = Path(__file__).parent / "results"
CLIENTS = ("raw", "ours", "ours-sync", "lc+raw", "openai", "floor")


@dataclass(frozen=True)
class Target:
    """What the issue asks of a workload's row for `client`."""

    client: str
    text: str
    ratio: float | None = None
    rss_mib: float | None = None
    connections: int | None = None
    scaling: float | None = None


TARGETS: dict[str, Target] = {
    "a": Target("ours", "≤ 1.5× raw", 1.5),
    "b1": Target("ours", "≤ 1.15× raw", 1.15),
    "b2": Target("ours", "≤ 1.15× raw", 1.15),
    "c": Target("ours", "≤ 1.5× raw", 1.5),
    "d": Target("ours", "≤ 1.25× raw, 0 errors, +≤ 10 MiB, ≤ 200 conns", 1.25, 10, 200),
    "e": Target("ours", "completes, 0 errors, +≤ 40 MiB", rss_mib=40),
    "f1": Target("ours-sync", "≤ 1.2× ours async", 1.2),
    "f2": Target("ours-sync", "≤ 1.2× ours async", 1.2),
    "g": Target("ours", "linear: ≈ 256× or less, not 60,000×", scaling=300),
}

Results = dict[str, dict[str, list[dict[str, Any]]]]


class Process:
    """A child process speaking JSON lines."""

    def __init__(self, args: Sequence[str], *, first_line: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parent.parent,
        )
        self.first_line = first_line
        self.ready_line: str | None = None

    def ready(self) -> str:
        if self.ready_line is None:
            assert self.proc.stdout is not None
            line = self.proc.stdout.readline().strip()
            if not line.startswith(self.first_line):
                raise RuntimeError(f"{self.proc.args!r}: expected {self.first_line}")
            self.ready_line = line
        return self.ready_line

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        self.ready()
        stdin: IO[str] | None = self.proc.stdin
        assert stdin is not None
        assert self.proc.stdout is not None
        stdin.write(json.dumps(command) + "\n")
        stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            return {"metric": None, "errors": 1, "failure": "worker died"}
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_server() -> tuple[Process, str, str]:
    server = Process(["-m", "bench.server"], first_line="READY")
    _, port, control = server.ready().split()
    return server, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{control}/"


def stop_server(server: Process) -> None:
    server.proc.terminate()
    server.close()


def worker(client: str, url: str, control: str, *extra: str) -> Process:
    return Process(
        ["-m", "bench.worker", client, url, control, *extra], first_line="READY"
    )


def _rotated(names: list[str], shift: int) -> list[str]:
    shift %= len(names)
    return names[shift:] + names[:shift]


def run_rounds(
    keys: Sequence[str], clients: set[str], rounds: int, quick: bool
) -> Results:
    """Run every workload's slices on every client; return each slice's figures."""
    results: Results = {
        key: {c: [] for c in WORKLOADS[key].clients if c in clients} for key in keys
    }
    server, url, control = start_server()
    try:
        for round_ in range(rounds):
            shared = sorted(
                {
                    c
                    for key in keys
                    if not WORKLOADS[key].fresh_process
                    for c in results[key]
                }
            )
            workers = {c: worker(c, url, control) for c in shared}
            for process in workers.values():
                process.ready()
            for index, key in enumerate(keys):
                workload = WORKLOADS[key]
                names = list(results[key])
                slices = 1 if quick else workload.slices
                for slice_ in range(slices):
                    for client in _rotated(names, round_ + index + slice_):
                        if workload.heavy and client == "openai" and slice_ > 0:
                            continue
                        command = {"workload": key, "quick": quick, "warm": slice_ == 0}
                        if workload.fresh_process:
                            fresh = worker(client, url, control)
                            result = fresh.ask(command)
                            fresh.close()
                        else:
                            result = workers[client].ask(command)
                        result.update(round=round_, slice=slice_)
                        results[key][client].append(result)
                _progress(round_, key, results[key])
            for process in workers.values():
                process.close()
    finally:
        stop_server(server)
    return results


def _progress(
    round_: int, key: str, by_client: dict[str, list[dict[str, Any]]]
) -> None:
    shown = []
    for client, runs in by_client.items():
        metrics = [r["metric"] for r in runs if r["round"] == round_]
        if None in metrics:
            shown.append(f"{client} FAILED")
        else:
            shown.append(f"{client} {statistics.median(metrics):.1f}")
    print(f"  round {round_ + 1} {key:>2}: " + ", ".join(shown), file=sys.stderr)


def _round_figures(
    runs: list[dict[str, Any]], base_runs: list[dict[str, Any]]
) -> dict[int, tuple[float | None, float | None]]:
    """Each round's median figure and median same-slice ratio to the baseline."""
    base = {(r["round"], r["slice"]): r["metric"] for r in base_runs}
    figures = {}
    for round_ in sorted({r["round"] for r in runs}):
        mine = [r for r in runs if r["round"] == round_]
        metrics = [r["metric"] for r in mine if r["metric"] is not None]
        ratios = [
            r["metric"] / base[(round_, r["slice"])]
            for r in mine
            if r["metric"] is not None and base.get((round_, r["slice"]))
        ]
        figures[round_] = (
            statistics.median(metrics) if metrics else None,
            statistics.median(ratios) if ratios else None,
        )
    return figures


def summarise(results: Results) -> list[dict[str, Any]]:
    """One row per workload and client."""
    rows = []
    for key, by_client in results.items():
        workload = WORKLOADS[key]
        for client, runs in by_client.items():
            figures = _round_figures(runs, by_client.get(workload.baseline, []))
            metrics = [m for m, _ in figures.values() if m is not None]
            ratios = [r for _, r in figures.values() if r is not None]
            row: dict[str, Any] = {
                "workload": key,
                "client": client,
                "median": statistics.median(metrics) if metrics else None,
                "ratio": statistics.median(ratios) if ratios else None,
                "ratio_min": min(ratios) if ratios else None,
                "ratio_max": max(ratios) if ratios else None,
                "errors": sum(r.get("errors", 0) for r in runs),
                "failures": [r["failure"] for r in runs if "failure" in r]
                + [f for r in runs for f in r.get("failures", [])],
            }
            if any("rss_growth_mib" in r for r in runs):
                row["rss_growth_mib"] = max(r["rss_growth_mib"] for r in runs)
            if any("connections" in r for r in runs):
                per_round: dict[int, int] = {}
                for r in runs:
                    per_round[r["round"]] = per_round.get(r["round"], 0) + r.get(
                        "connections", 0
                    )
                row["connections"] = max(per_round.values())
            if any(r.get("pieces") is not None for r in runs):
                row["pieces"] = statistics.median(
                    r["pieces"] for r in runs if r.get("pieces") is not None
                )
            if client == "ours" and "lc+raw" in by_client:
                versus = _round_figures(runs, by_client["lc+raw"])
                over = [r for _, r in versus.values() if r is not None]
                row["over_lc_raw"] = statistics.median(over) if over else None
            if key == "g":
                row["small_ms"] = statistics.median(r["small_ms"] for r in runs)
                row["large_ms"] = statistics.median(r["large_ms"] for r in runs)
            row["holds"] = _holds(key, row)
            rows.append(row)
    return rows


def _holds(key: str, row: dict[str, Any]) -> bool | None:
    target = TARGETS.get(key)
    if target is None or target.client != row["client"]:
        return None
    ok = row["errors"] == 0 and row["median"] is not None
    if target.ratio is not None:
        ok = ok and row["ratio"] is not None and row["ratio"] <= target.ratio
    if target.rss_mib is not None:
        ok = ok and row.get("rss_growth_mib", 0) <= target.rss_mib
    if target.connections is not None:
        ok = ok and row.get("connections", 0) <= target.connections
    if target.scaling is not None:
        ok = ok and row["median"] <= target.scaling
    return ok


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| workload | client | median | ratio (min–max) | errors | notes | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        workload = WORKLOADS[row["workload"]]
        notes = []
        if "rss_growth_mib" in row:
            notes.append(f"RSS +{row['rss_growth_mib']:.1f} MiB")
        if "connections" in row:
            notes.append(f"{row['connections']} conns")
        if "pieces" in row and row["workload"] in ("b1", "b2", "d", "e"):
            notes.append(f"{row['pieces']:.0f} pieces")
        if row["workload"] == "g":
            notes.append(f"{row['small_ms']:.2f} ms → {row['large_ms']:.0f} ms")
        if row.get("over_lc_raw") is not None:
            notes.append(f"{row['over_lc_raw']:.2f}× lc+raw")
        if row["failures"]:
            notes.append("failed: " + row["failures"][0][:80])
        if row["client"] == workload.baseline:
            ratio = "1 (baseline)"
        elif row["ratio"] is None:
            ratio = "—"
        else:
            ratio = (
                f"{_fmt(row['ratio'])}× "
                f"({_fmt(row['ratio_min'])}–{_fmt(row['ratio_max'])})"
            )
        target = TARGETS.get(row["workload"])
        verdict = ""
        if row["holds"] is not None and target is not None:
            verdict = f"{target.text}: {'holds' if row['holds'] else 'MISSED'}"
        digits = 0 if row["workload"] == "g" else 1
        lines.append(
            f"| {workload.title} | {row['client']} | "
            f"{_fmt(row['median'], digits)} {workload.unit} | {ratio} | "
            f"{row['errors']} | {', '.join(notes)} | {verdict} |"
        )
    return "\n".join(lines)


def _environment() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    packages: dict[str, str | None] = {}
    for name in (
        "langchain-aichatfree",
        "langchain-core",
        "aiohttp",
        "langchain-openai",
        "openai",
        "httpx",
    ):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_before": list(os.getloadavg()),
        "packages": packages,
    }


# -- profiling ----------------------------------------------------------------

_GROUPS = (
    ("/langchain_aichatfree/", "ours (langchain_aichatfree)"),
    ("/langchain_core/", "langchain_core"),
    ("/pydantic", "pydantic"),
    ("/aiohttp/", "aiohttp"),
    ("/yarl/", "aiohttp (yarl, multidict)"),
    ("/multidict/", "aiohttp (yarl, multidict)"),
    ("/asyncio/", "asyncio (event loop)"),
    ("/selectors.py", "asyncio (event loop)"),
    ("/bench/", "bench harness"),
    ("/_weakrefset.py", "asyncio (event loop)"),
    ("/contextlib.py", "other (stdlib)"),
)


def _group(filename: str) -> str:
    for needle, label in _GROUPS:
        if needle in filename:
            return label
    return "other (stdlib)"


def _own_times(raw: dict[Any, Any]) -> dict[str, float]:
    """Own time per package; a builtin's goes to its callers' packages.

    `socket.send`, `str.find` or `gc.collect` are charged to whoever called
    them, so that "ours" includes the C work our code asks for. Waiting in
    epoll is left out: it is idle time.
    """
    groups: dict[str, float] = {}
    for (filename, _, name), (_, _, tottime, _, callers) in raw.items():
        if filename != "~":
            label = _group(filename)
            groups[label] = groups.get(label, 0.0) + tottime
            continue
        if "poll" in name or "select" in name:
            continue
        for (caller_file, _, _), edge in callers.items():
            label = _group(caller_file) if caller_file != "~" else "other (stdlib)"
            if name.startswith("<built-in method gc.collect"):
                label = "bench harness"
            groups[label] = groups.get(label, 0.0) + edge[2]
    return groups


def profile_summary(path: Path, title: str) -> str:
    """Where the time goes, by package, and our own top functions."""
    stats = pstats.Stats(str(path))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    groups = _own_times(raw)
    harness = groups.pop("bench harness", 0.0)
    busy = sum(groups.values())
    lines = [
        f"### {title}\n",
        "| where (own time, C calls charged to their caller) | share |",
        "|---|---|",
    ]
    for group, seconds in sorted(groups.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {group} | {seconds / busy:.0%} |")
    ours = sorted(
        (
            (tottime, f"`{Path(filename).name}:{line} {name}`")
            for (filename, line, name), (_, _, tottime, _, _) in raw.items()
            if "/langchain_aichatfree/" in filename
        ),
        reverse=True,
    )[:6]
    lines.append(
        f"\n(The bench harness's own {harness / (busy + harness):.0%} is left out.) "
        "Our top functions (own time, share): "
        + ", ".join(f"{label} {sec / busy:.1%}" for sec, label in ours)
    )
    return "\n".join(lines) + "\n"


def profile(keys: Sequence[str], quick: bool, out: Path) -> None:
    """Run "ours" under cProfile, one round, and print where its time goes."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    directory = out / f"profile-{stamp}"
    server, url, control = start_server()
    try:
        process = worker("ours", url, control, "--profile", str(directory))
        for key in keys:
            slices = 1 if quick else WORKLOADS[key].slices
            for slice_ in range(slices):
                process.ask({"workload": key, "quick": quick, "warm": slice_ == 0})
        process.close()
    finally:
        stop_server(server)
    report = [f"## Profile of `ours` ({stamp}, cProfile, warm-up included)\n"]
    for key in keys:
        path = directory / f"ours-{key}.prof"
        report.append(profile_summary(path, WORKLOADS[key].title))
    text = "\n".join(report)
    (directory / "summary.md").write_text(text)
    print(text)
    print(f"profiles in {directory}")


# -- the command --------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="one round, one slice each (smoke test)"
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="rounds (default 3; 1 with --quick)"
    )
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help=f"comma-separated, from {','.join(WORKLOADS)}",
    )
    parser.add_argument(
        "--clients",
        default=",".join(CLIENTS),
        help=f"comma-separated, from {','.join(CLIENTS)} (raw is always run)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile ours instead (cProfile)"
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="where the results are written"
    )
    args = parser.parse_args(argv)
    keys = [k.strip() for k in args.workloads.split(",") if k.strip()]
    unknown = [k for k in keys if k not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads {unknown}")
    clients = {c.strip() for c in args.clients.split(",") if c.strip()}
    clients |= {"raw", "ours"}
    if args.profile:
        profile(keys, args.quick, args.out)
        return 0
    rounds = args.rounds or (1 if args.quick else 3)
    environment = _environment()
    started = time.perf_counter()
    results = run_rounds(keys, clients, rounds, args.quick)
    elapsed = time.perf_counter() - started
    rows = summarise(results)
    markdown = table(rows)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}{'-quick' if args.quick else ''}"
    packages = ", ".join(f"{k} {v}" for k, v in environment["packages"].items() if v)
    header = (
        f"# Benchmark run {name}\n\n"
        f"{rounds} rounds, {elapsed:.0f} s. Python {environment['python']}, "
        f"{environment['cpus']} CPUs, load average {environment['load_before'][0]:.2f}"
        f" at the start; {packages}.\n\n"
        "median: the median over rounds of each round's median slice. ratio: the "
        "client's figure over the baseline's in the same slice, median per round; "
        "shown as the median (min–max) over rounds. `× lc+raw`: ours over the "
        "minimal LangChain integration, likewise (the cost of our own features). "
        "floor: LangChain alone, no I/O.\n\n"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.md").write_text(header + markdown + "\n")
    (args.out / f"{name}.json").write_text(
        json.dumps(
            {
                "environment": environment,
                "rounds": rounds,
                "quick": args.quick,
                "elapsed_s": elapsed,
                "rows": rows,
                "slices": results,
            },
            indent=1,
        )
    )
    print(header + markdown)
    print(f"\nwritten to {args.out / name}.md and .json")
    return 1 if any(row["holds"] is False for row in rows) else 0
