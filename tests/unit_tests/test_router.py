"""The pool as a model's fields make it: deployments, quota store, max_wait, secrets."""

from __future__ import annotations

import json

import pytest
from langchain_core.load import dumpd
from pydantic import SecretStr, ValidationError

from langchain_aichatfree import ChatAIChatFree, Deployment

PASSWORD = "pool-pw-5521"
REDIS_PASSWORD = "redis-pw-8812"


POOL = [
    Deployment(base_url="https://a.example", password=PASSWORD, rpm=10, rpd=250),
    Deployment(base_url="https://b.example", secret="k", quota_group="proj-b"),
    Deployment(base_url="https://c.example", dialect="chatgpt-demo"),
]


@pytest.mark.parametrize("field", ["base_url", "password", "secret", "dialect"])
def test_deployments_and_a_deployment_field_is_an_error(field: str) -> None:
    value = "gemini" if field == "dialect" else "https://x.example"
    with pytest.raises(ValueError, match=f"either deployments or {field}"):
        ChatAIChatFree(deployments=POOL, **{field: value})


def test_deployments_ignore_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only explicit settings clash: env defaults do not.
    monkeypatch.setenv("AICHATFREE_BASE_URL", "https://env.example")
    monkeypatch.setenv("AICHATFREE_PASSWORD", PASSWORD)
    model = ChatAIChatFree(deployments=POOL)
    assert model.deployments == POOL


def test_empty_deployments_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one Deployment"):
        ChatAIChatFree(deployments=[])


def test_deployments_from_dicts() -> None:
    model = ChatAIChatFree(
        deployments=[{"base_url": "https://a.example", "password": PASSWORD}]
    )
    assert model.deployments is not None
    assert isinstance(model.deployments[0].password, SecretStr)


@pytest.mark.parametrize(
    "url",
    ["memory", "redis://127.0.0.1:6379/0", "rediss://h:6380", "unix:///tmp/r.sock"],
)
def test_quota_store_urls(url: str) -> None:
    assert ChatAIChatFree(quota_store=url).quota_store == url


@pytest.mark.parametrize(
    "url", ["", "mem", "http://127.0.0.1:6379", f"memcached://u:{REDIS_PASSWORD}@h"]
)
def test_bad_quota_store_is_an_error_without_its_password(url: str) -> None:
    with pytest.raises(ValidationError, match="quota_store must be 'memory'") as info:
        ChatAIChatFree(quota_store=url)
    assert REDIS_PASSWORD not in str(info.value)


def test_quota_store_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AICHATFREE_QUOTA_STORE", "redis://127.0.0.1:1/0")
    assert ChatAIChatFree().quota_store == "redis://127.0.0.1:1/0"
    monkeypatch.setenv("AICHATFREE_QUOTA_STORE", "nonsense")
    with pytest.raises(ValueError, match="quota_store"):
        ChatAIChatFree()


def test_max_wait() -> None:
    assert ChatAIChatFree().max_wait == 60.0
    assert ChatAIChatFree(max_wait=0).max_wait == 0
    with pytest.raises(ValueError, match="max_wait"):
        ChatAIChatFree(max_wait=-1)


def test_secrets_stay_out_of_repr_and_dumps() -> None:
    model = ChatAIChatFree(
        deployments=POOL,
        quota_store=f"redis://:{REDIS_PASSWORD}@127.0.0.1:6379/0",
    )
    dumped = json.dumps(dumpd(model))
    for text in (repr(model), str(model), dumped):
        assert PASSWORD not in text
        assert REDIS_PASSWORD not in text


def test_identifying_params_name_the_pool() -> None:
    params = ChatAIChatFree(deployments=POOL)._identifying_params
    assert params["base_url"] == [
        "https://a.example",
        "https://b.example",
        "https://c.example",
    ]
