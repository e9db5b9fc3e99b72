"""`aichatfree` with a pool: --deployments FILE, --quota-store URL, `status`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from langchain_aichatfree._cli import ExitCode, main
from langchain_aichatfree.testing import LocalServer, Reply
from tests._redis import RedisServer

PASSWORD = "cli-pool-pw-6620"


@pytest.fixture
def pair() -> Iterator[tuple[LocalServer, LocalServer]]:
    with LocalServer(passwords=PASSWORD) as a, LocalServer() as b:
        yield a, b


@pytest.fixture
def pool_file(tmp_path: Path, pair: tuple[LocalServer, LocalServer]) -> Path:
    a, b = pair
    path = tmp_path / "pool.toml"
    path.write_text(
        f'[[deployments]]\nbase_url = "{a.url}"\npassword_env = "POOL_A_PW"\n\n'
        f'[[deployments]]\nbase_url = "{b.url}"\nquota_group = "proj-b"\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    monkeypatch.setenv("POOL_A_PW", PASSWORD)
    for name in (
        "AICHATFREE_BASE_URL",
        "AICHATFREE_PASSWORD",
        "AICHATFREE_QUOTA_STORE",
    ):
        monkeypatch.delenv(name, raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_ask_routes_over_the_file_and_status_shows_the_cooldown(
    run: Callable[..., tuple[int, str, str]],
    pool_file: Path,
    pair: tuple[LocalServer, LocalServer],
) -> None:
    a, b = pair
    a.script(Reply.rate_limited(retry_in=30))
    code, out, err = run("--deployments", str(pool_file), "--json", "hello")
    assert (code, err) == (0, "")
    answer = json.loads(out)
    assert answer["text"] == "Echo: hello"
    assert answer["base_url"] == b.url
    assert [r["outcome"] for r in answer["response_metadata"]["routing"]] == [
        "rate_limit",
        "ok",
    ]
    assert a.requests[0].payload["pass"] == PASSWORD  # from POOL_A_PW

    code, out, err = run("status", "--deployments", str(pool_file))
    assert (code, err) == (0, "")
    header, first, second = out.splitlines()
    assert header.split() == [
        "DEPLOYMENT",
        "QUOTA",
        "GROUP",
        "STATE",
        "RPM",
        "USED",
        "RPD",
        "USED",
    ]
    assert first.startswith(a.url)
    assert "cooling" in first
    assert "(retry hint)" in first
    assert second.split() == [b.url, "proj-b", "ok", "1", "1"]

    code, out, _ = run("status", "--deployments", str(pool_file), "--json")
    rows = json.loads(out)
    assert [r["reason"] for r in rows] == ["retry hint", None]
    assert PASSWORD not in out


def test_status_of_a_single_deployment(
    run: Callable[..., tuple[int, str, str]], pair: tuple[LocalServer, LocalServer]
) -> None:
    a, _ = pair
    code, out, _ = run("status", "--base-url", a.url, "--json")
    assert code == 0
    assert json.loads(out) == [
        {
            "base_url": a.url,
            "quota_group": a.url,
            "cooling_until": None,
            "reason": None,
            "rpm_used": 0,
            "rpd_used": 0,
        }
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--deployments", "{file}", "--base-url", "http://x.example", "hi"],
            "either deployments or base_url",
        ),
        (["--deployments", "{missing}", "hi"], "cannot read the deployments file"),
        (["--quota-store", "mem", "hi"], "--quota-store: quota_store must be"),
        (["status", "--quota-store", "http://h"], "quota_store must be"),
    ],
)
def test_pool_usage_errors(
    run: Callable[..., tuple[int, str, str]],
    pool_file: Path,
    tmp_path: Path,
    argv: list[str],
    message: str,
) -> None:
    argv = [
        arg.format(file=pool_file, missing=tmp_path / "missing.toml") for arg in argv
    ]
    code, _, err = run(*argv)
    assert code == ExitCode.USAGE
    assert message in err
    assert PASSWORD not in err


def test_status_sees_what_other_processes_did_through_redis(
    pool_file: Path,
    pair: tuple[LocalServer, LocalServer],
    redis_server: RedisServer,
) -> None:
    a, _ = pair
    a.script(Reply.rate_limited(retry_in=30))
    env = {**os.environ, "POOL_A_PW": PASSWORD}
    env.pop("AICHATFREE_QUOTA_STORE", None)

    def command(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "langchain_aichatfree", *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    store = ["--deployments", str(pool_file), "--quota-store", redis_server.url]
    asked = command(*store, "hello")
    assert (asked.returncode, asked.stdout) == (0, "Echo: hello\n")
    status = command("status", *store, "--json")
    assert status.returncode == 0, status.stderr
    first, second = json.loads(status.stdout)
    assert first["reason"] == "retry hint"
    assert (second["rpm_used"], second["rpd_used"]) == (1, 1)
    # Memory is this process's own: a new one knows nothing.
    alone = command("status", "--deployments", str(pool_file), "--json")
    assert [r["reason"] for r in json.loads(alone.stdout)] == [None, None]
    assert PASSWORD not in asked.stderr + status.stdout + status.stderr
