"""The ``aichatfree`` command's pool: a deployments file, and the status table.

A deployments file is TOML or JSON (by its suffix: ``.toml``, else JSON)::

    # pool.toml
    [[deployments]]
    base_url = "https://a.example"
    password_env = "A_PASSWORD"   # the password is read from this variable
    rpm = 10
    rpd = 250

    [[deployments]]
    base_url = "https://b.example"
    secret = "k"
    quota_group = "proj-b"

JSON: ``{"deployments": [{"base_url": ..., "password_env": ...}, ...]}`` or the
list alone. A literal ``password`` is refused: the file may be shared and read,
and a password belongs in the environment (or a secret manager that sets it).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from langchain_aichatfree._deployment import Deployment

__all__ = ["format_status", "load_deployments"]

_KEYS = frozenset(Deployment.model_fields) - {"password"} | {"password_env"}


def _parse(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() != ".toml":
        return json.loads(text)
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            msg = (
                f"{path}: reading TOML needs Python 3.11+ or `pip install tomli` "
                "on Python 3.10; or write the file as JSON"
            )
            raise ValueError(msg) from None
    return tomllib.loads(text)


def load_deployments(path: Path, environ: Mapping[str, str]) -> list[Deployment]:
    """Read a deployments file (see the module docstring).

    Args:
        path: The file.
        environ: Where ``password_env`` variables are looked up.

    Returns:
        The deployments, in the file's order.

    Raises:
        ValueError: The file cannot be read or parsed, an entry is invalid, a
            named variable is unset, or an entry holds a literal password.
    """
    try:
        data = _parse(path)
    except OSError as e:
        msg = f"cannot read the deployments file {path}: {e.strerror or e}"
        raise ValueError(msg) from None
    except ValueError as e:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        msg = f"{path} is not valid {_kind(path)}: {e}"
        raise ValueError(msg) from None
    entries = data.get("deployments") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        msg = f"{path}: expected a non-empty list of deployments (`deployments`)"
        raise ValueError(msg)
    return [
        _entry(path, number, entry, environ) for number, entry in enumerate(entries, 1)
    ]


def _kind(path: Path) -> str:
    return "TOML" if path.suffix.lower() == ".toml" else "JSON"


def _entry(
    path: Path, number: int, entry: Any, environ: Mapping[str, str]
) -> Deployment:
    where = f"{path}, deployment {number}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected a table/object of settings")
    if "password" in entry:
        msg = (
            f"{where}: a literal `password` is not read from a file; put it in an "
            "environment variable and name it with `password_env`"
        )
        raise ValueError(msg)
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        msg = f"{where}: unknown settings {unknown}; known: {sorted(_KEYS)}"
        raise ValueError(msg)
    fields = dict(entry)
    variable = fields.pop("password_env", None)
    if variable is not None:
        if not isinstance(variable, str) or variable not in environ:
            msg = f"{where}: the environment variable {variable!r} is not set"
            raise ValueError(msg)
        fields["password"] = environ[variable]
    try:
        return Deployment(**fields)
    except ValidationError as e:
        problems = "; ".join(_problem(item) for item in e.errors())
        raise ValueError(f"{where}: {problems}") from None


def _problem(item: Any) -> str:
    """One pydantic complaint: ``field: message`` (just the message for the entry)."""
    message = str(item["msg"]).removeprefix("Value error, ")
    where = ".".join(str(part) for part in item["loc"])
    return f"{where}: {message}" if where else message


def _state(row: Mapping[str, Any], now: float) -> str:
    reason = row.get("reason")
    until = row.get("cooling_until")
    if until is not None and until > now:
        at = datetime.fromtimestamp(until, timezone.utc).strftime("%H:%M:%S UTC")
        left = math.ceil(until - now)
        return f"cooling {left} s, until {at} ({reason})"
    if reason:
        return str(reason)
    return "ok"


def format_status(rows: Sequence[Mapping[str, Any]], now: float | None = None) -> str:
    """The status table `aichatfree status` prints.

    Args:
        rows: `ChatAIChatFree.quota_status()`.
        now: Epoch seconds (the current time when left out).

    Returns:
        The table, one line per deployment, with a header.
    """
    now = time.time() if now is None else now
    header = ("DEPLOYMENT", "QUOTA GROUP", "STATE", "RPM USED", "RPD USED")
    lines = [header] + [
        (
            str(row["base_url"]),
            "(own)"
            if row["quota_group"] == row["base_url"]
            else str(row["quota_group"]),
            _state(row, now),
            str(row["rpm_used"]),
            str(row["rpd_used"]),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) for cell, width in zip(line, widths, strict=True)
        ).rstrip()
        for line in lines
    )
