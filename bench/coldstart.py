"""Cold start of the package and the ``aichatfree`` command, in fresh processes.

``python -m bench.coldstart`` runs, each in a new interpreter and ``--rounds``
times, interleaved so that a busy machine slows every variant alike:

* the floor: ``python -c pass``, an interpreter that imports nothing;
* ``import``: ``python -c "import langchain_aichatfree"``, wall time;
* ``--help``: ``python -m langchain_aichatfree --help``, wall time;
* ``one-shot``: ``python -m langchain_aichatfree "Hi"`` against a local server
  in this process: the time from starting the process to the request arriving
  at the server (``first byte sent``; the server stamps it with
  ``time.monotonic()``, a clock shared by every process), and to the exit.

``--compare DIR`` runs the same with the package found in ``DIR`` first on the
path (a checkout of another revision, e.g. ``git archive main | tar -x -C
DIR``), so a change's before and after are measured in the same run. The
machine's load average is recorded before and after (on a shared machine every
figure moves with it; compare within a run). Then, for this tree, one more
``--help`` and one-shot run each under ``python -X importtime`` list the
``--importtime N`` imports that took longest, cumulative (what a faster start
would have to avoid). The tables (medians, min-max) go to stdout and to
``bench/results/coldstart-<time>.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from langchain_aichatfree.testing import LocalServer

RESULTS = Path(__file__).parent / "results"


def _env(source: str | None, base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICHATFREE_")}
    env["AICHATFREE_BASE_URL"] = base_url
    if source is not None:
        env["PYTHONPATH"] = source
    return env


NEUTRAL_DIR = tempfile.gettempdir()
"""The processes' working directory: not a checkout, which would come first on
the path of ``python -c`` and ``-m``."""


def _wall(command: list[str], env: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run(
        command, env=env, check=True, stdout=subprocess.DEVNULL, cwd=NEUTRAL_DIR
    )
    return time.monotonic() - started


def _one_shot(server: LocalServer, env: dict[str, str]) -> tuple[float, float]:
    before = len(server.requests)
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "langchain_aichatfree", "Hi"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=NEUTRAL_DIR,
    )
    ended = time.monotonic()
    [request] = server.requests[before:]
    return request.time - started, ended - started


def _slowest_imports(
    command: list[str], env: dict[str, str], most: int
) -> list[tuple[int, int, int, str]]:
    """The `most` imports of `command` that took longest, children included.

    Returns:
        ``(cumulative µs, self µs, depth, module)``, slowest first; depth 0 is
        imported by the command itself, 1 by one of those, and so on.
    """
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *command],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=NEUTRAL_DIR,
    )
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|", 2)
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        rows.append((int(cumulative), int(own), depth, name.strip()))
    return sorted(rows, reverse=True)[:most]


def _import_table(title: str, rows: list[tuple[int, int, int, str]]) -> list[str]:
    lines = [
        f"### {title}",
        "",
        "| cumulative | self | depth | module |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {cumulative / 1e6:.3f} s | {own / 1e6:.3f} s | {depth} | `{name}` |"
        for cumulative, own, depth, name in rows
    ]
    return [*lines, ""]


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def _row(name: str, values: list[float]) -> str:
    return (
        f"| {name} | {statistics.median(values):.3f} s | "
        f"{min(values):.3f}–{max(values):.3f} s |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.coldstart")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--compare", metavar="DIR", help="also time the package found in DIR"
    )
    parser.add_argument(
        "--importtime",
        type=int,
        default=10,
        metavar="N",
        help="list the N slowest imports of --help and one-shot (0: none)",
    )
    args = parser.parse_args(argv)
    load_before = _load()
    variants: dict[str, str | None] = {"this tree": None}
    if args.compare:
        variants = {f"{args.compare}": args.compare, **variants}
    figures: dict[tuple[str, str], list[float]] = {}
    with LocalServer() as server:
        for _ in range(args.rounds):
            for label, source in variants.items():
                env = _env(source, server.url)
                runs = {
                    "python -c pass (the floor)": _wall(
                        [sys.executable, "-c", "pass"], env
                    ),
                    "import": _wall(
                        [sys.executable, "-c", "import langchain_aichatfree"], env
                    ),
                    "--help": _wall(
                        [sys.executable, "-m", "langchain_aichatfree", "--help"], env
                    ),
                }
                first_byte, total = _one_shot(server, env)
                runs["one-shot: first byte sent"] = first_byte
                runs["one-shot: answered, exited"] = total
                for what, seconds in runs.items():
                    figures.setdefault((label, what), []).append(seconds)
        load_after = _load()
        imports: list[str] = []
        if args.importtime > 0:
            env = _env(None, server.url)
            module = ["-m", "langchain_aichatfree"]
            imports = [
                "## The slowest imports (this tree, one run each)",
                "",
                *_import_table(
                    "`--help`",
                    _slowest_imports([*module, "--help"], env, args.importtime),
                ),
                *_import_table(
                    '`aichatfree "Hi"` (one-shot)',
                    _slowest_imports([*module, "Hi"], env, args.importtime),
                ),
            ]
    lines = [
        f"# Cold start, {time.strftime('%Y-%m-%d %H:%M:%S')}",
        "",
        f"`python -m bench.coldstart --rounds {args.rounds}"
        + (f" --compare {args.compare}`" if args.compare else "`")
        + f"; Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {load_before:.1f} at the start, {load_after:.1f} at the "
        f"end (1 minute). Median and min–max of "
        f"{args.rounds} fresh processes each.",
        "",
    ]
    for label in variants:
        lines += [f"## {label}", "", "| what | median | min–max |", "|---|---|---|"]
        lines += [
            _row(what, values)
            for (where, what), values in figures.items()
            if where == label
        ]
        lines.append("")
    text = "\n".join([*lines, *imports])
    print(text)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"coldstart-{time.strftime('%Y%m%d-%H%M%S')}.md"
    path.write_text(text, encoding="utf-8")
    print(f"written to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
