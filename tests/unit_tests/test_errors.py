"""Every row of PROTOCOL.md's error tables maps to the right class and message."""

from __future__ import annotations

import json

import pytest
from langchain_core.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelRateLimitError,
    ModelTimeoutError,
)

from langchain_aichatfree import (
    AIChatFreeError,
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    InvalidRequestError,
    RateLimitError,
    StreamInterruptedError,
)
from langchain_aichatfree.errors import make_status_error


def upstream(message: str) -> bytes:
    return json.dumps({"error": {"code": "Error", "message": message}}).encode()


def plain(message: str) -> bytes:
    return json.dumps({"error": {"message": message}}).encode()


QUOTA_NEW = (
    "[GoogleGenerativeAI Error]: Error fetching from  [429 Too Many Requests] You "
    "exceeded your current quota, please check your plan and billing details. Quota "
    "exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier"
    "_requests. Please retry in 47.17s."
)

ROWS = [
    # status, body, class, retryable, text that must be in the message
    (
        400,
        plain("Invalid message history: The last message must be from user role."),
        InvalidRequestError,
        False,
        "last message must be from user role",
    ),
    (
        401,
        plain("Invalid password."),
        AuthenticationError,
        False,
        "AICHATFREE_PASSWORD",
    ),
    (401, plain("Invalid signature."), AuthenticationError, False, "AICHATFREE_SECRET"),
    (500, b"", APIError, True, "empty body"),
    (
        500,
        upstream(
            "[GoogleGenerativeAI Error]: Error fetching from  [429 Too Many Requests] "
            "Quota exceeded for quota metric 'Generate Content API requests per minute'"
        ),
        RateLimitError,
        True,
        "Quota exceeded",
    ),
    (500, upstream(QUOTA_NEW), RateLimitError, True, "Please retry in 47.17s"),
    (
        500,
        upstream(
            "[GoogleGenerativeAI Error]: Error fetching from  [429 Too Many Requests] "
            "Resource has been exhausted (e.g. check quota)."
        ),
        RateLimitError,
        True,
        "Resource has been exhausted",
    ),
    (
        500,
        upstream(
            "[GoogleGenerativeAI Error]: Error fetching from  [500 Internal Server "
            "Error] An internal error has occurred."
        ),
        APIError,
        True,
        "An internal error has occurred",
    ),
    (
        500,
        upstream(
            "[GoogleGenerativeAI Error]: Error fetching from  "
            "[503 Service Unavailable] The model is overloaded. Please try again later."
        ),
        APIError,
        True,
        "overloaded",
    ),
    (
        500,
        upstream("[GoogleGenerativeAI Error]: Error fetching from  fetch failed"),
        APIError,
        True,
        "fetch failed",
    ),
    (
        500,
        upstream(
            "Please ensure that multiturn requests alternate between user and model."
        ),
        InvalidRequestError,
        False,
        "alternate",
    ),
    (
        500,
        upstream("Please use a valid role: user, model."),
        InvalidRequestError,
        False,
        "valid role",
    ),
    (
        500,
        upstream(
            "* GenerateContentRequest.contents[0].parts[0].data: required oneof field "
            "'data' must have one initialized field"
        ),
        InvalidRequestError,
        False,
        "required oneof field",
    ),
    (
        500,
        upstream("API key not valid. Please pass a valid API key."),
        AuthenticationError,
        False,
        "operator",
    ),
    (404, b"", InvalidRequestError, False, "base_url"),
    (302, b"", InvalidRequestError, False, "redirect"),
    # chatgpt-demo: upstream statuses pass through with OpenAI's body
    (
        429,
        json.dumps(
            {
                "error": {
                    "message": "Rate limit reached for gpt-3.5-turbo",
                    "type": "requests",
                    "code": "rate_limit_exceeded",
                }
            }
        ).encode(),
        RateLimitError,
        True,
        "Rate limit reached",
    ),
    (400, plain("No input text."), InvalidRequestError, False, "No input text."),
    (502, b"<html>Bad Gateway</html>", APIError, True, "Bad Gateway"),
    (503, b"not json", APIError, True, "not json"),
]


@pytest.mark.parametrize(("status", "body", "cls", "retryable", "text"), ROWS)
def test_make_status_error(
    status: int, body: bytes, cls: type[AIChatFreeError], retryable: bool, text: str
) -> None:
    error = make_status_error(status, body)
    assert type(error) is cls
    assert error.is_retryable is retryable
    assert text in str(error)
    assert f"HTTP {status}" in str(error)
    assert error.status_code == status


def test_rate_limit_carries_the_hinted_delay() -> None:
    error = make_status_error(500, upstream(QUOTA_NEW))
    assert isinstance(error, RateLimitError)
    assert error.retry_after == pytest.approx(47.17)


def test_bodies_are_kept_but_bounded() -> None:
    error = make_status_error(500, b"x" * 10_000)
    assert error.body is not None
    assert len(error.body) == 2000


@pytest.mark.parametrize(
    ("cls", "bases"),
    [
        (RateLimitError, (ModelRateLimitError,)),
        (AuthenticationError, (ModelAuthenticationError,)),
        (InvalidRequestError, (ModelInvalidRequestError,)),
        (APIError, (ModelAPIError,)),
        (StreamInterruptedError, (APIError, ModelAPIError)),
        (APIConnectionError, (ModelConnectionError,)),
        (
            APITimeoutError,
            (APIConnectionError, ModelTimeoutError, ModelConnectionError),
        ),
    ],
)
def test_tree_is_built_on_langchain_core(cls: type, bases: tuple[type, ...]) -> None:
    assert issubclass(cls, AIChatFreeError)
    assert issubclass(cls, ModelError)
    for base in bases:
        assert issubclass(cls, base)


def test_openai_style_429_hint_and_retry_after_header() -> None:
    body = plain("Rate limit reached. Please try again in 1.5s.")
    error = make_status_error(429, body)
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 1.5
    error = make_status_error(429, body, retry_after_header="7")
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 7.0
    error = make_status_error(429, plain("slow down"), retry_after_header="soon")
    assert isinstance(error, RateLimitError)
    assert error.retry_after is None
