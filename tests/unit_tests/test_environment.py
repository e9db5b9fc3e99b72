"""`tests/conftest.py` keeps the shell's ``AICHATFREE_*`` settings out of every test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ENV_KEPT

ROOT = Path(__file__).parents[2]


def test_no_aichatfree_setting_reaches_a_test() -> None:
    found = [name for name in os.environ if name.startswith("AICHATFREE_")]
    assert set(found) <= ENV_KEPT  # where the tests' Redis binary is


def test_a_developers_settings_are_cleared() -> None:
    env = {
        **os.environ,
        "AICHATFREE_BASE_URL": "https://chat.example.org",
        "AICHATFREE_PASSWORD": "developer-pw",
        "AICHATFREE_DIALECT": "chatgpt-demo",
    }
    env.pop("PYTEST_ADDOPTS", None)
    test = (
        f"{Path(__file__).relative_to(ROOT)}::test_no_aichatfree_setting_reaches_a_test"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
