"""One client process: runs the workloads it is sent, one JSON line each.

``python -m bench.worker CLIENT URL CONTROL_URL [--profile DIR]`` prints
``READY``, then for every line ``{"workload": KEY, "quick": BOOL, "warm":
BOOL}`` read from stdin runs one slice of that workload (warming up first if
asked) and prints one line of JSON with its figures. Everything runs on one
event loop, so a client keeps its pooled connections from slice to slice.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from bench.clients import make
from bench.server import raise_fd_limit
from bench.workloads import run_workload


def _drive(coro: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """Run a slice of a sync client as plain sync code: with no loop running.

    The sync client's methods are coroutines only in name: they block, and
    never wait on the loop, so the slice runs to its end in one step.
    """
    try:
        coro.send(None)
    except StopIteration as done:
        result: dict[str, Any] = done.value
        return result
    coro.close()
    raise RuntimeError("a sync client's slice waited on the event loop")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("client")
    parser.add_argument("url")
    parser.add_argument("control")
    parser.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args()
    raise_fd_limit()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    client = make(args.client, args.url)
    profilers: dict[str, cProfile.Profile] = {}
    print("READY", flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        key = command["workload"]
        coro = run_workload(
            client, key, args.control, command["quick"], command.get("warm", False)
        )
        run = _drive if getattr(client, "sync", False) else loop.run_until_complete
        if args.profile is not None:  # one profile per workload, over its slices
            profiler = profilers.setdefault(key, cProfile.Profile())
            result = profiler.runcall(run, coro)
            args.profile.mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(args.profile / f"{args.client}-{key}.prof")
        else:
            result = run(coro)
        print(json.dumps(result), flush=True)
    loop.run_until_complete(client.aclose())
    loop.close()


if __name__ == "__main__":
    main()
