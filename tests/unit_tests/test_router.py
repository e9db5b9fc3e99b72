"""The pool's pure parts: `Deployment`, the candidate order, the model's fields."""

from __future__ import annotations

import json
import math

import pytest
from langchain_core.load import dumpd
from pydantic import SecretStr, ValidationError

from langchain_aichatfree import ChatAIChatFree, Deployment
from langchain_aichatfree._deployment import public_url
from langchain_aichatfree._router import order_candidates

PASSWORD = "pool-pw-5521"
REDIS_PASSWORD = "redis-pw-8812"
INF = math.inf


# -- Deployment -------------------------------------------------------------------


def test_deployment_defaults_and_group() -> None:
    d = Deployment(base_url="https://a.example/")
    assert (d.password, d.secret, d.dialect, d.rpm, d.rpd) == (
        None,
        "",
        "gemini",
        None,
        None,
    )
    assert d.url == "https://a.example"
    assert d.group == "https://a.example"
    assert Deployment(base_url="https://a.example", quota_group="p").group == "p"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://a.example", "https://a.example"),
        ("https://a.example/", "https://a.example"),
        ("https://user:pw@a.example:8443/chat/", "https://a.example:8443/chat"),
        ("http://127.0.0.1:8000?x=1#y", "http://127.0.0.1:8000"),
    ],
)
def test_public_url_drops_credentials(url: str, shown: str) -> None:
    assert public_url(url) == shown


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"base_url": "a.example"}, "base_url must be an http"),
        ({"base_url": "ftp://a.example"}, "base_url must be an http"),
        ({"base_url": "https://a.example", "rpm": 0}, "greater than or equal to 1"),
        ({"base_url": "https://a.example", "rpd": -1}, "greater than or equal to 1"),
        ({"base_url": "https://a.example", "dialect": "x"}, "dialect"),
        ({"base_url": "https://a.example", "quota_group": ""}, "quota_group"),
        ({"base_url": "https://a.example", "pasword": "x"}, "pasword"),
    ],
)
def test_deployment_validation(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Deployment(**fields)


def test_deployment_password_is_a_secret_everywhere() -> None:
    d = Deployment(base_url="https://a.example", password=PASSWORD)
    assert isinstance(d.password, SecretStr)
    assert d.password.get_secret_value() == PASSWORD
    for text in (repr(d), str(d), d.model_dump_json()):
        assert PASSWORD not in text


def test_credentials_in_the_url_are_refused_without_showing_them() -> None:
    # The rule of ChatAIChatFree.base_url (issue 10), for each deployment too.
    with pytest.raises(ValidationError, match="user name or password") as info:
        Deployment(base_url=f"https://u:{PASSWORD}@a.example")
    assert PASSWORD not in str(info.value)


@pytest.mark.parametrize(
    "fields",
    [
        {"base_url": "ftp://a.example", "password": PASSWORD},
        {"base_url": f"ftp://u:{PASSWORD}@a.example"},
        {"base_url": "https://a.example", "password": PASSWORD, "rpm": 0},
    ],
)
def test_validation_errors_do_not_repeat_passwords(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as info:
        Deployment(**fields)
    assert PASSWORD not in str(info.value)
    with pytest.raises(ValidationError) as info:
        ChatAIChatFree(deployments=[fields])
    assert PASSWORD not in str(info.value)


def test_model_validation_errors_do_not_repeat_the_password() -> None:
    # Before issue 13, pydantic showed the whole input, password included.
    with pytest.raises(ValidationError) as info:
        ChatAIChatFree(password=PASSWORD, stop=[""])
    assert "stop must be" in str(info.value)
    assert PASSWORD not in str(info.value)


# -- the candidate order -------------------------------------------------------------


@pytest.mark.parametrize(
    ("remaining", "failed", "usable", "cursor", "expected"),
    [
        # Ties go round robin from the cursor.
        ([INF, INF, INF], [False] * 3, [True] * 3, 0, [0, 1, 2]),
        ([INF, INF, INF], [False] * 3, [True] * 3, 1, [1, 2, 0]),
        ([INF, INF, INF], [False] * 3, [True] * 3, 5, [2, 0, 1]),
        # Most remaining budget first; undeclared counts as unlimited.
        ([3, 9, INF], [False] * 3, [True] * 3, 0, [2, 1, 0]),
        ([3, 9, 9], [False] * 3, [True] * 3, 2, [2, 1, 0]),
        # A recent transient failure goes last, whatever its budget.
        ([INF, 1, 1], [True, False, False], [True] * 3, 0, [1, 2, 0]),
        # Unusable ones (cooling, out, tried) are left out.
        ([INF, INF, INF], [False] * 3, [True, False, True], 1, [2, 0]),
        ([INF], [False], [False], 0, []),
        ([], [], [], 3, []),
    ],
)
def test_order_candidates(
    remaining: list[float],
    failed: list[bool],
    usable: list[bool],
    cursor: int,
    expected: list[int],
) -> None:
    assert order_candidates(remaining, failed, usable, cursor) == expected


# -- the model's fields -------------------------------------------------------------


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
