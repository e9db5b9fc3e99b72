"""`_upstream_text`: what an upstream's error text means, as a table."""

from __future__ import annotations

import pytest

from langchain_aichatfree._upstream_text import UpstreamKind, classify_upstream_message

UPSTREAM = [
    (
        "[GoogleGenerativeAI Error]: Error fetching from  [429 Too Many Requests] "
        "Quota exceeded for quota metric 'Generate Content API requests per minute'",
        UpstreamKind.RATE_LIMIT,
        None,
    ),
    (
        "[GoogleGenerativeAI Error]: Error fetching from  [429 Too Many Requests] You "
        "exceeded your current quota, please check your plan and billing details. "
        "Quota exceeded for metric: generativelanguage... Please retry in 47.17s.",
        UpstreamKind.RATE_LIMIT,
        47.17,
    ),
    (
        "[GoogleGenerativeAI Error]: Error fetching from  [429 Too Many Requests] "
        "Resource has been exhausted (e.g. check quota).",
        UpstreamKind.RATE_LIMIT,
        None,
    ),
    (
        "[GoogleGenerativeAI Error]: Error fetching from  [500 Internal Server Error] "
        "An internal error has occurred. Please retry or report.",
        UpstreamKind.TRANSIENT,
        None,
    ),
    (
        "[GoogleGenerativeAI Error]: Error fetching from  [503 Service Unavailable] "
        "The model is overloaded. Please try again later.",
        UpstreamKind.TRANSIENT,
        None,
    ),
    (
        "[GoogleGenerativeAI Error]: Error fetching from  fetch failed",
        UpstreamKind.TRANSIENT,
        None,
    ),
    (
        "[GoogleGenerativeAI Error]: Error fetching from  [400 Bad Request] "
        "Please ensure that multiturn requests alternate between user and model.",
        UpstreamKind.BAD_REQUEST,
        None,
    ),
    ("Please use a valid role: user, model.", UpstreamKind.BAD_REQUEST, None),
    (
        "* GenerateContentRequest.contents[0].parts[0].data: required oneof field "
        "'data' must have one initialized field",
        UpstreamKind.BAD_REQUEST,
        None,
    ),
    (
        "API key not valid. Please pass a valid API key. [reason: API_KEY_INVALID]",
        UpstreamKind.BAD_UPSTREAM_KEY,
        None,
    ),
    ("Something nobody has seen before", UpstreamKind.TRANSIENT, None),
    ("rate limited, retry in 250ms", UpstreamKind.RATE_LIMIT, 0.25),
]


@pytest.mark.parametrize(("message", "kind", "retry_after"), UPSTREAM)
def test_classify_upstream_message(
    message: str, kind: UpstreamKind, retry_after: float | None
) -> None:
    assert classify_upstream_message(message) == (kind, retry_after)


@pytest.mark.parametrize(
    "message",
    [
        "API key not valid. Please pass a valid API key.",
        "Incorrect API key provided: sk-abc***wxyz. You can find your API key at",
        "You didn't provide an API key. You need to provide your API key in an",
    ],
)
def test_a_refused_upstream_key_in_either_dialect(message: str) -> None:
    assert classify_upstream_message(message)[0] is UpstreamKind.BAD_UPSTREAM_KEY
