"""ChatAIChatFree without a network: fields, validation, tracing, secrets."""

from __future__ import annotations

import json
import pickle
import sys
from typing import Any

import pytest
from langchain_core.load import dumpd, dumps, load
from langchain_core.messages import HumanMessage
from pydantic import SecretStr

from langchain_aichatfree import ChatAIChatFree

PASSWORD = "hunter2-do-not-leak"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AICHATFREE_BASE_URL", "AICHATFREE_SECRET", "AICHATFREE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    model = ChatAIChatFree()
    assert model.model == "gemini-1.5-pro"
    assert model.base_url == "https://aichatfree.info"
    assert model.secret == ""
    assert model.password is None
    assert model.timeout is None
    assert model.chunk_timeout == 60.0
    assert model.max_retries == 2
    assert model.stop is None
    assert model.max_tokens is None
    assert model.temperature is None
    assert model.streaming is False
    assert model.proxy is None
    assert model.default_headers is None
    assert model.dialect == "gemini"
    assert model.endpoint == "https://aichatfree.info/api/generate"


def test_env_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AICHATFREE_BASE_URL", "http://chat.local:3000/")
    monkeypatch.setenv("AICHATFREE_SECRET", "pub")
    monkeypatch.setenv("AICHATFREE_PASSWORD", PASSWORD)
    model = ChatAIChatFree()
    assert model.endpoint == "http://chat.local:3000/api/generate"
    assert model.secret == "pub"
    assert isinstance(model.password, SecretStr)
    assert model.password.get_secret_value() == PASSWORD


@pytest.mark.parametrize(
    "kwargs",
    [{"model": "m"}, {"model_name": "m"}],
)
def test_model_alias(kwargs: dict[str, Any]) -> None:
    assert ChatAIChatFree(**kwargs).model == "m"


@pytest.mark.parametrize("key", ["password", "api_key"])
def test_password_alias(key: str) -> None:
    model = ChatAIChatFree(**{key: PASSWORD})
    assert model.password is not None
    assert model.password.get_secret_value() == PASSWORD


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"base_url": "aichatfree.info"}, "base_url must be an http"),
        ({"base_url": "ftp://x"}, "base_url must be an http"),
        ({"timeout": 0}, "greater than 0"),
        ({"chunk_timeout": -1}, "greater than 0"),
        ({"max_retries": -1}, "greater than or equal to 0"),
        ({"max_tokens": 0}, "greater than or equal to 1"),
        ({"temperature": 3}, "less than or equal to 2"),
        ({"stop": [""]}, "non-empty strings"),
        ({"dialect": "openai"}, "gemini"),
    ],
)
def test_bad_settings_fail_at_construction(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ChatAIChatFree(**kwargs)


def test_ls_params() -> None:
    model = ChatAIChatFree(temperature=0.2, max_tokens=50, stop=["x"])
    assert model._get_ls_params() == {
        "ls_provider": "aichatfree",
        "ls_model_name": "gemini-1.5-pro",
        "ls_model_type": "chat",
        "ls_temperature": 0.2,
        "ls_max_tokens": 50,
        "ls_stop": ["x"],
    }
    assert model._get_ls_params(model="other")["ls_model_name"] == "other"
    assert model._get_ls_params(stop=["y"])["ls_stop"] == ["y"]


def test_get_num_tokens_needs_no_download() -> None:
    model = ChatAIChatFree()
    assert model.get_num_tokens("abcdefgh") == 2
    assert model.get_num_tokens_from_messages([HumanMessage("abcdefgh")]) > 2


def test_get_token_ids_needs_no_tokenizer(monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 10 item 18: LangChain's default loads GPT-2 from `transformers`.
    monkeypatch.setitem(sys.modules, "transformers", None)  # import fails
    model = ChatAIChatFree()
    for text in ("", "abcdefgh", "abcdefghi", "東京 🌸 Zürich"):
        ids = model.get_token_ids(text)
        assert len(ids) == model.get_num_tokens(text)
        assert all(isinstance(i, int) for i in ids)
    assert model.get_token_ids("same text") == model.get_token_ids("same text")
    assert model.get_token_ids("abcd") != model.get_token_ids("abce")


def test_a_custom_tokenizer_is_used_for_ids_and_counts() -> None:
    model = ChatAIChatFree(custom_get_token_ids=lambda text: [7] * len(text))
    assert model.get_token_ids("abcdefgh") == [7] * 8
    assert model.get_num_tokens("abcdefgh") == 8


def test_unknown_call_kwargs_fail_before_any_request() -> None:
    model = ChatAIChatFree(base_url="http://127.0.0.1:9")
    with pytest.raises(
        TypeError, match="unexpected keyword arguments \\['temprature'\\]"
    ):
        model.invoke("hi", temprature=0.5)


def test_bad_input_fails_before_any_request() -> None:
    # Sockets are disabled in unit tests: reaching the network would error
    # differently (SocketBlockedError), so ValueError proves nothing was sent.
    model = ChatAIChatFree(base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="must end with a user message"):
        model.invoke([("human", "q"), ("ai", "a")])
    with pytest.raises(ValueError, match="text only"):
        model.invoke([HumanMessage(content=[{"type": "image", "url": "https://x"}])])
    with pytest.raises(ValueError, match="max_tokens"):
        model.invoke("hi", max_tokens=0)


def test_password_never_in_repr_str_dump_or_serialisation() -> None:
    model = ChatAIChatFree(password=PASSWORD)
    texts = [
        repr(model),
        str(model),
        json.dumps(model.model_dump(mode="json")),
        model.model_dump_json(),
        dumps(model),
        json.dumps(model._identifying_params),
        json.dumps(model._get_ls_params()),
        json.dumps(model._get_invocation_params()),
        str(model.asdict()),
    ]
    for i, text in enumerate(texts):
        assert PASSWORD not in text, i


@pytest.mark.filterwarnings(
    "ignore::langchain_core._api.beta_decorator.LangChainBetaWarning"
)
def test_serdes_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AICHATFREE_PASSWORD", PASSWORD)
    model = ChatAIChatFree(
        base_url="https://chat.example.org", secret="pub", max_tokens=5, stop=["x"]
    )
    serialized = dumpd(model)
    assert PASSWORD not in json.dumps(serialized)
    loaded = load(
        serialized,
        allowed_objects=[ChatAIChatFree],
        valid_namespaces=["langchain_aichatfree"],
        secrets_from_env=True,
    )
    assert isinstance(loaded, ChatAIChatFree)
    assert loaded.asdict() == model.asdict()
    assert loaded.password is not None
    assert loaded.password.get_secret_value() == PASSWORD


def test_model_pickles_without_its_sessions() -> None:
    model = ChatAIChatFree(max_retries=5)
    clone = pickle.loads(pickle.dumps(model))
    assert clone.max_retries == 5
