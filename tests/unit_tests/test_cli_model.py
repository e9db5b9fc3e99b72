"""The model the command's flags describe (`_cli_model`)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from langchain_aichatfree._cli_model import make_model, password_from

PASSWORD = "model-pw-7713"


def test_flags_set_the_fields_they_name() -> None:
    args = argparse.Namespace(
        base_url="http://127.0.0.1:9",
        secret="pub",
        dialect="chatgpt-demo",
        chunk_timeout=2.5,
        max_retries=0,
        quota_store=None,
        deployments=None,
        timeout=30.0,  # not a field: bounds the whole answer (`_cli_ask`)
        json=True,
    )
    with make_model(args) as model:
        assert model.base_url == "http://127.0.0.1:9"
        assert model.secret == "pub"
        assert (model.dialect, model.chunk_timeout, model.max_retries) == (
            "chatgpt-demo",
            2.5,
            0,
        )
        assert model.timeout is None


def test_flags_left_out_keep_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AICHATFREE_BASE_URL", "http://127.0.0.1:8")
    monkeypatch.setenv("AICHATFREE_PASSWORD", PASSWORD)
    with make_model(argparse.Namespace()) as model:
        assert model.base_url == "http://127.0.0.1:8"
        assert model.password is not None
        assert model.password.get_secret_value() == PASSWORD


def test_deployments_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "pool.toml"
    path.write_text(
        '[[deployments]]\nbase_url = "http://127.0.0.1:7"\npassword_env = "P"\n'
        '[[deployments]]\nbase_url = "http://127.0.0.1:6"\n'
    )
    monkeypatch.setenv("P", PASSWORD)
    with make_model(argparse.Namespace(deployments=str(path))) as model:
        assert model.deployments is not None
        assert [d.base_url for d in model.deployments] == [
            "http://127.0.0.1:7",
            "http://127.0.0.1:6",
        ]
        password = model.deployments[0].password
        assert password is not None
        assert password.get_secret_value() == PASSWORD


@pytest.mark.parametrize(("environ", "password"), [(PASSWORD, PASSWORD), ("", None)])
def test_password_from_the_environment(
    environ: str, password: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AICHATFREE_PASSWORD", environ)
    assert password_from(argparse.Namespace(ask_password=False)) == password
    assert password_from(argparse.Namespace()) == password
