"""Settings: one set of rules for the fields and for a call's keyword arguments.

Sockets are disabled here: a call that reached the network would fail with
`SocketBlockedError`, so a `ValueError` proves the check came before any I/O.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from langchain_core.language_models import FakeListChatModel
from langchain_core.messages import HumanMessage
from langchain_core.rate_limiters import InMemoryRateLimiter
from pydantic import SecretStr, ValidationError

from langchain_aichatfree import ChatAIChatFree
from langchain_aichatfree._call_plan import request_headers

PASSWORD = "PW-settings-9d2e-recognisable"

BAD_CALL_ARGUMENTS: list[tuple[str, Any]] = [
    ("max_retries", -1),
    ("max_retries", "2"),
    ("max_retries", True),
    ("max_retries", 2.0),
    ("max_retries", None),
    ("timeout", 0),
    ("timeout", -1),
    ("timeout", math.nan),
    ("timeout", -math.inf),
    ("timeout", "5"),
    ("timeout", True),
    ("chunk_timeout", 0),
    ("chunk_timeout", math.nan),
    ("chunk_timeout", "5"),
    ("temperature", math.nan),
    ("temperature", math.inf),
    ("temperature", 3),
    ("temperature", True),
    ("temperature", "0.5"),
    ("max_tokens", True),
    ("max_tokens", 0),
    ("max_tokens", 1.5),
    ("max_tokens", "5"),
    ("proxy", "socks5://127.0.0.1:1080"),
    ("proxy", "proxy.example:3128"),
    ("proxy", "http://:3128"),
    ("proxy", "http://proxy.example:99999"),
    ("proxy", "http://user:pw@proxy.example:3128"),
    ("model", ""),
    ("model", 5),
    ("stop", [""]),
    ("stop", "abc"),
    ("stop", [1]),
]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AICHATFREE_BASE_URL", "AICHATFREE_SECRET", "AICHATFREE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def _messages(error: ValidationError) -> list[str]:
    return [str(item["msg"]) for item in error.errors()]


@pytest.mark.parametrize(("name", "value"), BAD_CALL_ARGUMENTS)
def test_a_call_argument_obeys_the_field_rule(name: str, value: Any) -> None:
    with pytest.raises(ValidationError) as at_construction:
        ChatAIChatFree(**{name: value})
    model = ChatAIChatFree(base_url="http://127.0.0.1:9")
    with pytest.raises(ValidationError) as in_a_call:
        if name == "stop":
            model.invoke("hi", stop=value)
        else:
            model.invoke("hi", **{name: value})
    assert _messages(in_a_call.value) == _messages(at_construction.value)


@pytest.mark.parametrize(("name", "value"), BAD_CALL_ARGUMENTS[:8])
async def test_a_call_argument_is_checked_in_every_entry_point(
    name: str, value: Any
) -> None:
    model = ChatAIChatFree(base_url="http://127.0.0.1:9")
    with pytest.raises(ValidationError):
        list(model.stream("hi", **{name: value}))
    with pytest.raises(ValidationError):
        await model.ainvoke("hi", **{name: value})
    with pytest.raises(ValidationError):
        async for _ in model.astream("hi", **{name: value}):
            pass


def test_whole_seconds_are_seconds() -> None:
    model = ChatAIChatFree(timeout=5, chunk_timeout=1)
    assert (model.timeout, model.chunk_timeout) == (5.0, 1.0)


@pytest.mark.parametrize(
    ("base_url", "match"),
    [
        ("http://chat.example/?lang=en", "query or a fragment"),
        ("http://chat.example/#/chat", "query or a fragment"),
        ("http://chat.example/?", "query or a fragment"),
        ("http://:80", "must be an http"),
        ("http://", "must be an http"),
        ("http://[::1", "not a valid URL"),
        ("http://chat.example:99999", "not a valid URL"),
        ("http://chat.example:port", "not a valid URL"),
        ("http://chat example", "spaces or control characters"),
        ("http://chat.example/\x00", "spaces or control characters"),
        ("http://user:pw@chat.example", "`password`"),
        ("http://user@chat.example", "user name or password"),
    ],
)
def test_base_url_must_be_a_plain_root(base_url: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ChatAIChatFree(base_url=base_url)


@pytest.mark.parametrize(
    "base_url", [" http://chat.example:3000/ ", "http://chat.example:3000/\n"]
)
def test_base_url_surrounding_whitespace_is_removed(base_url: str) -> None:
    model = ChatAIChatFree(base_url=base_url)
    assert model.base_url == base_url.strip()
    assert model.endpoint == "http://chat.example:3000/api/generate"
    headers = request_headers(model.base_url, model.default_headers)
    assert headers["Origin"] == "http://chat.example:3000"
    assert headers["Referer"] == "http://chat.example:3000/"


def test_base_url_from_the_environment_is_checked_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AICHATFREE_BASE_URL", "http://chat.example/ \n")
    assert ChatAIChatFree().endpoint == "http://chat.example/api/generate"
    monkeypatch.setenv("AICHATFREE_BASE_URL", "http://chat.example/?x=1")
    with pytest.raises(ValueError, match="query"):
        ChatAIChatFree()


def test_base_url_with_a_path_and_ipv6_are_fine() -> None:
    assert ChatAIChatFree(base_url="https://x.example/chat/").endpoint == (
        "https://x.example/chat/api/generate"
    )
    assert ChatAIChatFree(base_url="http://[::1]:3000").endpoint == (
        "http://[::1]:3000/api/generate"
    )


@pytest.mark.parametrize(
    ("kwargs", "suggestion"),
    [
        ({"baseurl": "http://127.0.0.1:9"}, "'base_url' for 'baseurl'"),
        ({"max_retry": 5}, "'max_retries' for 'max_retry'"),
        ({"pasword": PASSWORD}, "'password' for 'pasword'"),
        ({"temprature": 0.5}, "'temperature' for 'temprature'"),
        ({"chunktimeout": 5}, "'chunk_timeout' for 'chunktimeout'"),
    ],
)
def test_a_misspelled_argument_names_the_closest_field(
    kwargs: dict[str, Any], suggestion: str
) -> None:
    with pytest.raises(TypeError, match="unexpected keyword arguments") as info:
        ChatAIChatFree(**kwargs)
    assert f"Did you mean {suggestion}?" in str(info.value)
    assert PASSWORD not in str(info.value)


@pytest.mark.parametrize("kwargs", [{"top_p": 0.5}, {"model_kwargs": {"top_k": 3}}])
def test_an_unknown_argument_is_an_error(kwargs: dict[str, Any]) -> None:
    name = next(iter(kwargs))
    with pytest.raises(TypeError, match=f"unexpected keyword arguments.*{name}"):
        ChatAIChatFree(**kwargs)


def test_langchains_own_arguments_still_work() -> None:
    limiter = InMemoryRateLimiter(requests_per_second=10)
    model = ChatAIChatFree(
        model_name="m",
        api_key=SecretStr(PASSWORD),
        cache=False,
        verbose=False,
        callbacks=[],
        tags=["t"],
        metadata={"k": "v"},
        custom_get_token_ids=lambda text: [1],
        rate_limiter=limiter,
        disable_streaming="tool_calling",
        output_version="v0",
        profile={"max_output_tokens": 10},
    )
    assert model.model == "m"
    assert model.rate_limiter is limiter
    assert model.tags == ["t"]
    # Pydantic's own copy keeps working.
    assert model.model_copy(update={"max_retries": 1}).max_retries == 1
    # Any subclass of BaseChatModel is unaffected.
    assert FakeListChatModel(responses=["x"]).invoke("hi").content == "x"


def test_a_misspelled_call_argument_names_the_closest_one() -> None:
    model = ChatAIChatFree(base_url="http://127.0.0.1:9")
    with pytest.raises(TypeError, match="Did you mean 'max_tokens' for 'max_token'"):
        model.invoke("hi", max_token=5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"secret": "k\udc80"}, "secret contains an unpaired surrogate"),
        ({"password": "p\udc80w"}, "password contains an unpaired surrogate"),
        ({"default_headers": {"X-A": "a\r\nX-B: b"}}, "line break"),
        ({"default_headers": {"X A": "a"}}, "invalid header name"),
        ({"default_headers": {"X-A": "é✓"}}, "Latin-1"),
    ],
)
def test_text_that_cannot_be_sent_fails_at_construction(
    kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValidationError, match=match) as info:
        ChatAIChatFree(**kwargs)
    assert "p\udc80w" not in f"{info.value} {info.value.errors()}"


def test_a_lone_surrogate_in_a_tool_names_the_tool() -> None:
    model = ChatAIChatFree(base_url="http://127.0.0.1:9")
    tool = {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Find \udc80 things",
            "parameters": {"type": "object", "properties": {}},
        },
    }
    with pytest.raises(ValueError, match="Tool 'lookup' contains an unpaired"):
        model.bind_tools([tool])
    with pytest.raises(ValueError, match="Tool 'lookup' contains an unpaired"):
        model.invoke("hi", tools=[tool])
    schema = {
        "title": "Answer",
        "description": "bad \udc80",
        "type": "object",
        "properties": {"a": {"type": "string"}},
    }
    with pytest.raises(ValueError, match="response format 'Answer'"):
        model.with_structured_output(schema).invoke("hi")


def test_construction_errors_never_show_the_password() -> None:
    for kwargs in (
        {"base_url": "ftp://x"},
        {"base_url": f"http://user:{PASSWORD}@chat.example"},
        {"timeout": -1},
        {"proxy": f"http://user:{PASSWORD}@proxy.example:3128"},
        {"secret": "k\udc80"},
        {"nonsense": 1},
    ):
        with pytest.raises((ValidationError, TypeError)) as info:
            ChatAIChatFree(password=PASSWORD, **kwargs)
        error = info.value
        text = f"{error} {error!r}"
        if isinstance(error, ValidationError):
            text += f" {error.errors()}"
        assert PASSWORD not in text, kwargs
    with pytest.raises(ValidationError) as info:
        ChatAIChatFree(password=PASSWORD + "\udc80")
    text = f"{info.value} {info.value!r} {info.value.errors()}"
    assert PASSWORD not in text


def test_a_calls_proxy_credentials_reach_no_tracer() -> None:
    model = ChatAIChatFree(base_url="http://127.0.0.1:9")
    proxy = f"http://user:{PASSWORD}@proxy.example:3128"
    params = model._get_invocation_params(proxy=proxy)
    assert params["proxy"] == "http://***@proxy.example:3128"
    with pytest.raises(ValidationError, match="proxy must not contain") as info:
        model.invoke("hi", proxy=proxy)
    assert PASSWORD not in f"{info.value} {info.value.errors()}"


def test_ls_stop_follows_a_calls_empty_stop() -> None:
    model = ChatAIChatFree(stop=["x"])
    assert model._get_ls_params(stop=[]).get("ls_stop") is None
    assert model._get_ls_params()["ls_stop"] == ["x"]
    options = model._plan([HumanMessage("hi")], [], {}).options
    assert options.stop == ()


def test_a_setting_changed_later_obeys_the_same_rules() -> None:
    model = ChatAIChatFree(password=PASSWORD)
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        model.max_retries = -1
    with pytest.raises(ValidationError, match="user name or password") as info:
        model.base_url = f"http://user:{PASSWORD}@chat.example"
    assert PASSWORD not in f"{info.value} {info.value.errors()}"
    model.timeout = math.inf
    assert model.timeout is None
    model.base_url = " http://chat.example/ "
    assert model.endpoint == "http://chat.example/api/generate"
    assert model.max_retries == 2


def test_the_quota_store_changed_later_obeys_its_rule_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Its rule was a field validator, which assignment did not run.
    monkeypatch.delenv("AICHATFREE_QUOTA_STORE", raising=False)
    model = ChatAIChatFree()
    with pytest.raises(ValidationError, match="quota_store must be 'memory'"):
        model.quota_store = "http://redis.example"
    model.quota_store = None  # type: ignore[assignment]  # the default, as when built
    assert model.quota_store == "memory"
