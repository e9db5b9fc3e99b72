"""README's self-contained code blocks run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_testing_section_example_runs() -> None:
    [block] = [b for b in python_blocks() if "LocalServer(" in b]
    exec(compile(block, str(README), "exec"), {})


def test_quickstart_blocks_match_the_examples() -> None:
    examples = "\n".join(
        p.read_text() for p in (README.parent / "examples").glob("*.py")
    )
    for block in python_blocks():
        if "LocalServer(" in block:
            continue
        for line in block.splitlines():
            if line.strip():
                assert line.strip() in examples, line
