"""A one-shot question imports none of LangChain's model machinery (issue 11 item 6).

``python -m langchain_aichatfree "Hi"`` runs as a real process against the
local server, under ``-X importtime``, whose report names every module the
process imported: the answer must be right and the model classes, message
classes, tracers (langsmith) and requests never imported. What is imported, not
how long it takes (the time is measured by ``bench/coldstart.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import pytest

from langchain_aichatfree.testing import LocalServer

NEUTRAL_DIR = tempfile.gettempdir()
"""The process's working directory: not a checkout (``-m`` puts it on the path)."""

NEVER_IMPORTED = (
    "langchain_core.language_models",
    "langchain_core.messages",
    "langchain_core.utils",
    "langchain_core.tracers",
    "langsmith",
    "requests",
    "langchain_aichatfree.chat_models",
    "langchain_aichatfree._turns",
)
"""What a one-shot question does without: the model, messages, tracing."""


def imported_modules(importtime_report: str) -> set[str]:
    """The modules named in ``-X importtime``'s report (one line per import)."""
    names = set()
    for line in importtime_report.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def one_shot(server: LocalServer, *args: str) -> tuple[str, set[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICHATFREE_")}
    env.update(AICHATFREE_BASE_URL=server.url, PYTHONIOENCODING="utf-8")
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "langchain_aichatfree", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=NEUTRAL_DIR,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    modules = imported_modules(result.stderr)
    assert "langchain_aichatfree._answer" in modules  # the report was read
    return result.stdout, modules


@pytest.mark.parametrize(
    ("args", "answer"),
    [
        (("Hi",), "Echo: Hi\n"),
        (
            ("--system", "Be brief.", "Hi"),
            "Echo: [System instructions]\nBe brief.\n[End of system instructions]"
            "\n\nHi\n",
        ),
    ],
)
def test_a_one_shot_question_needs_no_langchain_model(
    server: LocalServer, args: tuple[str, ...], answer: str
) -> None:
    out, modules = one_shot(server, *args)
    assert out == answer
    assert sorted(m for m in NEVER_IMPORTED if m in modules) == []
    assert len(server.requests) == 1


def test_a_json_answer_needs_no_langchain_model(server: LocalServer) -> None:
    out, modules = one_shot(server, "--json", "Hi")
    answer = json.loads(out)
    assert answer["text"] == "Echo: Hi"
    assert answer["response_metadata"]["finish_reason"] == "stop"
    assert answer["usage_metadata"] == {
        "input_tokens": 1,
        "output_tokens": 2,
        "total_tokens": 3,
    }
    assert answer["base_url"] == server.url
    assert sorted(m for m in NEVER_IMPORTED if m in modules) == []
