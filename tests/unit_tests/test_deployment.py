"""`Deployment`: one site of a pool, its validation, its secrets kept out of sight."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from langchain_aichatfree import ChatAIChatFree, Deployment
from langchain_aichatfree._deployment import public_url

PASSWORD = "pool-pw-5521"


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
