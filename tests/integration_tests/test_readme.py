"""README's code blocks run as written, each in a fresh interpreter.

Every ```python block is written to a file and run in a subprocess with
``AICHATFREE_BASE_URL`` pointing at a local server, as a user would run it after
``export AICHATFREE_BASE_URL=...``; a block with ``def test_`` in it is a test
file and is run by pytest. The server plays the model with the examples' own
scripts: the agent's tool calls when tools are described, the comedian's JSON
joke when one JSON object is asked for, otherwise an echo.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from langchain_aichatfree.testing import Reply, echo_responder

README = Path(__file__).parents[2] / "README.md"
EXAMPLES = README.parent / "examples"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def headed_blocks() -> list[tuple[str, str]]:
    """Each python block with the README heading it is under, as a test id."""
    found: list[tuple[str, str]] = []
    heading = "top"
    inside = False
    lines: list[str] = []
    for line in README.read_text().splitlines():
        if inside:
            if line.startswith("```"):
                found.append((heading, "\n".join(lines) + "\n"))
                inside = False
            else:
                lines.append(line)
        elif line.startswith("```python"):
            inside, lines = True, []
        elif line.startswith("#"):
            heading = re.sub(r"\W+", "-", line.lstrip("#").strip().lower()).strip("-")
    ids = [f"{i}-{heading}" for i, (heading, _) in enumerate(found)]
    return [(block_id, block) for block_id, (_, block) in zip(ids, found, strict=True)]


def test_testing_section_example_runs() -> None:
    [block] = [b for b in python_blocks() if "LocalServer(" in b]
    exec(compile(block, str(README), "exec"), {})


def test_quickstart_blocks_match_the_examples() -> None:
    """README's code is the examples' code (a block that is a test runs itself)."""
    examples = "\n".join(
        p.read_text() for p in (README.parent / "examples").glob("*.py")
    )
    for block in python_blocks():
        if "LocalServer(" in block or "def test_" in block:
            continue
        for line in block.splitlines():
            if line.strip():
                assert line.strip() in examples, line


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"readme_{name}", EXAMPLES / name)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def server_options() -> dict[str, Any]:
    agent = load_example("agent.py")
    comedian = load_example("structured_output.py")

    def play_model(turns: list[dict[str, str]]) -> str | Reply:
        prompt = turns[0]["text"]
        if "get_weather" in prompt:  # the agent's tools are described
            return str(agent.play_script(turns))
        if "Answer with one JSON object" in prompt:
            reply: Reply = comedian.play_comedian(turns)
            return reply
        return echo_responder(turns)

    return {"responder": play_model}


@pytest.mark.parametrize("block", [pytest.param(b, id=i) for i, b in headed_blocks()])
def test_readme_block_runs_as_written(
    block: str, module_server: Any, tmp_path: Path
) -> None:
    is_test = "def test_" in block
    path = tmp_path / ("test_readme_block.py" if is_test else "readme_block.py")
    path.write_text(block, encoding="utf-8")
    command = (
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", path.name]
        if is_test
        else [sys.executable, path.name]
    )
    env = {**os.environ, "AICHATFREE_BASE_URL": module_server.url}
    env.pop("PYTEST_ADDOPTS", None)
    result = subprocess.run(
        command,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_every_block_is_run() -> None:
    assert len(headed_blocks()) == len(python_blocks())
