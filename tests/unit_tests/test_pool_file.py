"""The command's deployments file and status table (pure, no I/O but tmp files)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from langchain_aichatfree import Deployment
from langchain_aichatfree._pool_file import format_status, load_deployments

PASSWORD = "file-pw-3390"

TOML = """
[[deployments]]
base_url = "https://a.example"
password_env = "A_PASSWORD"
rpm = 10
rpd = 250

[[deployments]]
base_url = "https://b.example"
secret = "k"
quota_group = "proj-b"
dialect = "chatgpt-demo"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_toml_file(tmp_path: Path) -> None:
    path = write(tmp_path, "pool.toml", TOML)
    a, b = load_deployments(path, {"A_PASSWORD": PASSWORD})
    assert a.password is not None
    assert a.password.get_secret_value() == PASSWORD
    assert (a.rpm, a.rpd, a.group) == (10, 250, "https://a.example")
    assert b == Deployment(
        base_url="https://b.example",
        secret="k",
        quota_group="proj-b",
        dialect="chatgpt-demo",
    )


@pytest.mark.parametrize("wrapped", [True, False])
def test_json_file(tmp_path: Path, wrapped: bool) -> None:
    entries = [{"base_url": "https://a.example", "password_env": "P"}]
    data = {"deployments": entries} if wrapped else entries
    path = write(tmp_path, "pool.json", json.dumps(data))
    [a] = load_deployments(path, {"P": PASSWORD})
    assert a.password is not None
    assert a.password.get_secret_value() == PASSWORD


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("p.json", "{", "is not valid JSON"),
        ("p.toml", "[[deployments]\n", "is not valid TOML"),
        ("p.json", "[]", "non-empty list"),
        ("p.json", '{"deployments": {}}', "non-empty list"),
        ("p.json", '["https://a.example"]', "deployment 1: expected a table"),
        (
            "p.json",
            json.dumps([{"base_url": "https://a.example", "password": PASSWORD}]),
            "deployment 1: a literal `password` is not read",
        ),
        (
            "p.json",
            json.dumps([{"base_url": "https://a.example", "password_env": "NOPE"}]),
            "'NOPE' is not set",
        ),
        (
            "p.json",
            json.dumps([{"base_url": "https://a.example", "rmp": 3}]),
            "unknown settings ['rmp']",
        ),
        (
            "p.json",
            json.dumps([{"base_url": "https://a.example"}, {"base_url": "a.example"}]),
            "deployment 2: base_url: base_url must be an http",
        ),
        (
            "p.json",
            json.dumps([{"base_url": "https://a.example", "rpm": 0}]),
            "deployment 1: rpm: Input should be greater than or equal to 1",
        ),
    ],
)
def test_bad_files(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        load_deployments(path, {"P": PASSWORD})
    assert PASSWORD not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read the deployments file"):
        load_deployments(tmp_path / "nope.toml", {})


def test_status_table() -> None:
    rows: list[dict[str, object]] = [
        {
            "base_url": "https://a.example",
            "quota_group": "https://a.example",
            "cooling_until": 1_000_041.2,
            "reason": "retry hint",
            "rpm_used": 3,
            "rpd_used": 120,
        },
        {
            "base_url": "https://b.example",
            "quota_group": "proj-b",
            "cooling_until": None,
            "reason": None,
            "rpm_used": 0,
            "rpd_used": 0,
        },
        {
            "base_url": "https://c.example",
            "quota_group": "https://c.example",
            "cooling_until": None,
            "reason": "out: AuthenticationError: Invalid password",
            "rpm_used": 1,
            "rpd_used": 1,
        },
    ]
    lines = format_status(rows, now=1_000_000.0).splitlines()
    assert [re.split(r"\s{2,}", line) for line in lines] == [
        ["DEPLOYMENT", "QUOTA GROUP", "STATE", "RPM USED", "RPD USED"],
        [
            "https://a.example",
            "(own)",
            "cooling 42 s, until 13:47:21 UTC (retry hint)",
            "3",
            "120",
        ],
        ["https://b.example", "proj-b", "ok", "0", "0"],
        [
            "https://c.example",
            "(own)",
            "out: AuthenticationError: Invalid password",
            "1",
            "1",
        ],
    ]
    # Columns line up.
    assert {line.find("ok") for line in lines if "proj-b" in line} == {
        lines[0].index("STATE")
    }
