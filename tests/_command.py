"""The ``aichatfree`` command, run for tests: a child's environment, runs.

Processes are slow to start, so a test module runs its cases of the real
command at once (`run_each`) and checks one per test; `Result` is what the
command's `main()` did when called in the test's own process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

COMMAND = [sys.executable, "-m", "langchain_aichatfree"]
"""The command, as a user's shell starts it (``aichatfree``)."""

T = TypeVar("T")


def child_env(**changes: str | None) -> dict[str, str]:
    """This environment without ``AICHATFREE_*``, a dumb terminal, UTF-8 output.

    Args:
        **changes: Variables to set (`None`: to remove).

    Returns:
        The child's environment.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICHATFREE_")}
    env.update(TERM="dumb", PYTHONIOENCODING="utf-8")
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_command(
    args: list[str], env: Mapping[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the command to its end (90 s at most), in a session of its own.

    Args:
        args: Its arguments.
        env: Its whole environment (`child_env`).
        stdin: What is piped to it, if anything.

    Returns:
        The finished process, its output as text.
    """
    return subprocess.run(
        [*COMMAND, *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=dict(env),
        timeout=90,
        start_new_session=True,
        check=False,
    )


def run_each(cases: Mapping[str, Callable[[], T]]) -> dict[str, T]:
    """Run every case at once; their results by name.

    Args:
        cases: A run per name.

    Returns:
        Each case's result.
    """
    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        futures = {name: pool.submit(case) for name, case in cases.items()}
        return {name: future.result() for name, future in futures.items()}


@dataclass
class Result:
    """What `main()` did when called in this process."""

    returncode: int
    stdout: str
    stderr: str
