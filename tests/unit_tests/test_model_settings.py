"""`ModelSettings`: the model's settings alone, with the model's defaults and rules.

The command line's one-shot question builds `ModelSettings` instead of a
`ChatAIChatFree`: every flag error and environment default must be the same,
and building it must not import LangChain's model classes.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from langchain_aichatfree import ChatAIChatFree
from langchain_aichatfree._constants import DEFAULT_BASE_URL, DEFAULT_QUOTA_STORE
from langchain_aichatfree._model_settings import (
    SECRET_ENV_VARS,
    ModelSettings,
    secret_from_env,
    text_from_env,
)

PASSWORD = "PW-model-settings-51c7-recognisable"

BAD_SETTINGS: list[dict[str, Any]] = [
    {"base_url": "ftp://a.example"},
    {"base_url": "https://user:pw@a.example"},
    {"base_url": "https://a.example/?q=1"},
    {"proxy": "http://u:p@proxy.example:3128"},
    {"max_retries": -1},
    {"timeout": "5"},
    {"chunk_timeout": 0},
    {"temperature": 3},
    {"max_tokens": True},
    {"model": ""},
    {"stop": [""]},
    {"dialect": "claude"},
    {"quota_store": "postgres://db"},
    {"default_headers": {"bad name": "x"}},
    {"secret": "\ud800"},
    {"password": "\ud800"},
    {"deployments": []},
    {"rpm_window": 0},
    {"max_wait": -1},
]


def _errors(error: ValidationError) -> list[tuple[Any, ...]]:
    """What a validation error says, without the class's name (its title)."""
    return [(e["type"], e["loc"], e["msg"]) for e in error.errors()]


@pytest.mark.parametrize("fields", BAD_SETTINGS, ids=repr)
def test_the_settings_refuse_what_the_model_refuses_with_the_same_errors(
    fields: dict[str, Any],
) -> None:
    with pytest.raises(ValidationError) as alone:
        ModelSettings(**fields)
    with pytest.raises(ValidationError) as in_model:
        ChatAIChatFree(**fields)
    assert _errors(alone.value) == _errors(in_model.value)


def test_an_unknown_argument_names_the_closest_setting() -> None:
    with pytest.raises(TypeError, match="Did you mean 'base_url' for 'baseurl'"):
        ModelSettings(baseurl="https://a.example")


def test_the_model_has_every_setting_with_the_same_definition() -> None:
    for name, info in ModelSettings.model_fields.items():
        assert repr(ChatAIChatFree.model_fields[name]) == repr(info)


def test_defaults_are_read_from_the_environment_at_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = ModelSettings()
    assert before.base_url == DEFAULT_BASE_URL
    assert before.password is None
    assert before.secret == ""
    assert before.dialect == "gemini"
    assert before.model == "gemini-1.5-pro"
    assert before.quota_store == DEFAULT_QUOTA_STORE
    monkeypatch.setenv("AICHATFREE_BASE_URL", " https://env.example \n")
    monkeypatch.setenv("AICHATFREE_PASSWORD", PASSWORD)
    monkeypatch.setenv("AICHATFREE_SECRET", "pub")
    monkeypatch.setenv("AICHATFREE_DIALECT", "chatgpt-demo")
    monkeypatch.setenv("AICHATFREE_QUOTA_STORE", "redis://127.0.0.1:1/0")
    after = ModelSettings()
    assert after.base_url == "https://env.example"
    assert isinstance(after.password, SecretStr)
    assert after.password.get_secret_value() == PASSWORD
    assert after.secret == "pub"
    assert after.dialect == "chatgpt-demo"
    assert after.model == "gpt-3.5-turbo"
    assert after.quota_store == "redis://127.0.0.1:1/0"
    model = ChatAIChatFree()
    for name in ModelSettings.model_fields:
        assert getattr(model, name) == getattr(after, name), name


def test_a_bad_environment_value_is_refused_like_the_model_refuses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AICHATFREE_DIALECT", "claude")
    with pytest.raises(ValidationError) as alone:
        ModelSettings()
    with pytest.raises(ValidationError) as in_model:
        ChatAIChatFree()
    assert _errors(alone.value) == _errors(in_model.value)


def test_the_env_factories_match_langchain_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from langchain_core.utils import from_env
    from langchain_core.utils import secret_from_env as core_secret_from_env

    for value in (None, "", " x "):
        if value is None:
            monkeypatch.delenv("AICHATFREE_TEST_VAR", raising=False)
        else:
            monkeypatch.setenv("AICHATFREE_TEST_VAR", value)
        ours = text_from_env("AICHATFREE_TEST_VAR", "d")()
        assert ours == from_env("AICHATFREE_TEST_VAR", default="d")()
        secret = secret_from_env("AICHATFREE_TEST_VAR")()
        core = core_secret_from_env("AICHATFREE_TEST_VAR", default=None)()
        assert (secret is None) == (core is None)
        if secret is not None and core is not None:
            assert secret.get_secret_value() == core.get_secret_value()


def test_secrets_stay_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AICHATFREE_QUOTA_STORE", f"redis://:{PASSWORD}@127.0.0.1/0")
    settings = ModelSettings(password=PASSWORD)
    assert isinstance(settings.password, SecretStr)
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings)
    assert ChatAIChatFree(password=PASSWORD).lc_secrets == SECRET_ENV_VARS


def test_an_assigned_setting_obeys_its_rule() -> None:
    settings = ModelSettings()
    with pytest.raises(ValidationError):
        settings.max_tokens = 0
    settings.base_url = " https://b.example "
    assert settings.base_url == "https://b.example"
    settings.password = PASSWORD  # type: ignore[assignment]
    assert isinstance(settings.password, SecretStr)
    assert settings.endpoint == "https://b.example/api/generate"


def test_building_the_settings_imports_no_langchain_model_classes() -> None:
    code = (
        "import sys\n"
        "from langchain_aichatfree._model_settings import ModelSettings\n"
        "ModelSettings()\n"
        "heavy = ['langchain_core.language_models', 'langchain_core.messages',\n"
        "         'langchain_core.utils', 'langsmith', 'requests']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
