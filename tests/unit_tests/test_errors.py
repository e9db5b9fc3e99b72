"""Each row of docs/protocol.md's error tables maps to the right class and message."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
    ModelTimeoutError,
)

from langchain_aichatfree import (
    AIChatFreeError,
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ClientClosedError,
    DeploymentError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseTooLargeError,
    StreamInterruptedError,
    UnexpectedResponseError,
    errors,
)
from langchain_aichatfree.errors import (
    SETTING_NAMES,
    Advice,
    advice_text,
    make_content_type_error,
    make_status_error,
)


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
        DeploymentError,  # issue 11: was AuthenticationError, the caller's class
        False,
        "operator",
    ),
    (404, b"", NotFoundError, False, "base_url"),  # issue 11: was InvalidRequestError
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
        (PermissionDeniedError, (ModelPermissionDeniedError, AuthenticationError)),
        (NotFoundError, (ModelNotFoundError, InvalidRequestError)),
        (DeploymentError, (APIError, ModelAPIError)),
        (UnexpectedResponseError, (APIError,)),
        (ResponseTooLargeError, (APIError,)),
        (ClientClosedError, (APIConnectionError, ModelConnectionError)),
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


# -- issue 11: one table, retryability by class, errors of their own kind ---------


def test_retryability_is_the_class_s_never_one_instance_s() -> None:
    for status, body, *_ in ROWS:
        error = make_status_error(status, body)
        assert "is_retryable" not in vars(error), (status, body)
    details: dict[str, Any] = {
        "url": "u",
        "cause": OSError("x"),
        "limit": 1,
        "timeout": None,
    }
    built = [
        make_content_type_error("text/html", b"<html>"),
        *(
            errors.failure_error(failure, chunk_timeout=1.0, **details)
            for failure in errors.Failure
        ),
    ]
    for error in built:
        assert "is_retryable" not in vars(error), error
    assert not DeploymentError.is_retryable
    assert not UnexpectedResponseError.is_retryable
    assert not ResponseTooLargeError.is_retryable
    assert not ClientClosedError.is_retryable
    assert StreamInterruptedError.is_retryable


def test_every_error_is_built_in_errors_py() -> None:
    """No other module of the package constructs an error class itself."""
    import pathlib
    import re

    import langchain_aichatfree

    package = pathlib.Path(langchain_aichatfree.__file__).parent
    names = "|".join(
        name for name in errors.__all__ if name[0].isupper() and name != "Advice"
    )
    pattern = re.compile(rf"(?<![\w.])(?:{names})\(")
    for path in package.rglob("*.py"):
        if path.parent.name == "errors":  # the errors package builds them
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.lstrip().startswith(("#", "class ")):
                continue
            assert not pattern.search(line), f"{path.name}:{number}: {line.strip()}"


def test_403_is_permission_denied_404_not_found() -> None:
    denied = make_status_error(403, b"Forbidden")
    assert type(denied) is PermissionDeniedError
    assert isinstance(denied, ModelPermissionDeniedError)
    assert isinstance(denied, AuthenticationError)  # older except clauses
    assert not denied.is_retryable
    missing = make_status_error(404, b"")
    assert type(missing) is NotFoundError
    assert isinstance(missing, ModelNotFoundError)
    assert isinstance(missing, InvalidRequestError)


def test_404_with_the_upstream_s_message_is_the_model_not_the_url() -> None:
    body = plain("The model `gpt-5-turbo` does not exist or you do not have access.")
    error = make_status_error(404, body, dialect="chatgpt-demo")
    assert type(error) is NotFoundError
    assert "gpt-5-turbo" in error.message
    assert error.advice is Advice.OPERATOR
    assert "base_url" not in error.message


def test_deployment_key_refused_is_the_operators_error_in_both_dialects() -> None:
    gemini = make_status_error(
        500, upstream("API key not valid. Please pass a valid API key.")
    )
    openai = make_status_error(
        401,
        json.dumps(
            {
                "error": {
                    "message": "Incorrect API key provided: sk-abc***xyz. You can "
                    "find your API key at https://platform.openai.com.",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            }
        ),
        dialect="chatgpt-demo",
    )
    for error in (gemini, openai):
        assert type(error) is DeploymentError
        assert not isinstance(error, ModelAuthenticationError)
        assert not error.is_retryable
        assert error.advice is Advice.OPERATOR
        assert "operator" in error.message
        assert "`password`" not in error.message
    assert openai.status_code == 401


def test_a_redirect_without_location_says_what_is_true() -> None:
    error = make_status_error(302, b"")
    assert "not followed" not in error.message
    assert "Location" in error.message


@pytest.mark.parametrize(
    ("dialect", "advice"),
    [
        ("gemini", Advice.SECRET_OR_DIALECT),
        ("chatgpt-demo", Advice.SET_SECRET),
        (None, Advice.SET_SECRET),
    ],
)
def test_a_refused_signature_under_gemini_suggests_the_dialect(
    dialect: str | None, advice: Advice
) -> None:
    error = make_status_error(401, plain("Invalid signature."), dialect=dialect)
    assert type(error) is AuthenticationError
    assert error.advice is advice
    assert "AICHATFREE_SECRET" in error.message
    assert ("chatgpt-demo" in error.message) is (dialect == "gemini")


def test_a_bodyless_500_under_chatgpt_demo_suggests_the_gemini_dialect() -> None:
    error = make_status_error(500, b"", dialect="chatgpt-demo")
    assert error.advice is Advice.TRY_GEMINI_DIALECT
    assert "`dialect` to gemini" in error.message
    assert make_status_error(500, b"", dialect="gemini").advice is None


def test_advice_is_worded_once_with_the_caller_s_names() -> None:
    cli = {
        "password": "PW_FLAG",
        "secret": "SECRET_FLAG",
        "dialect": "DIALECT_FLAG",
        "base_url": "URL_FLAG",
    }
    for advice in Advice:
        library = advice_text(advice)
        assert library == advice_text(advice, SETTING_NAMES)
        for key, name in cli.items():
            assert (name in advice_text(advice, cli)) is (SETTING_NAMES[key] in library)
    assert advice_text(None) == ""


def test_every_error_class_is_importable_from_the_package() -> None:
    import langchain_aichatfree

    classes = {
        name
        for name in errors.__all__
        if isinstance(getattr(errors, name), type)
        and issubclass(getattr(errors, name), AIChatFreeError)
    }
    assert classes <= set(langchain_aichatfree.__all__)
    for name in classes:
        assert getattr(langchain_aichatfree, name) is getattr(errors, name)
