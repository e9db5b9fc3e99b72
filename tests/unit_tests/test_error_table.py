"""`errors._table`, `_failures`, `_probe_failures`: the rows and their one builder."""

from __future__ import annotations

import pytest
from langchain_core.exceptions import ModelTimeoutError

from langchain_aichatfree import errors
from langchain_aichatfree.errors import DeadlineExceededError, make_deadline_error
from langchain_aichatfree.errors._advice import Advice, advice_text
from langchain_aichatfree.errors._classes import (
    APIError,
    APITimeoutError,
    DeploymentError,
    RateLimitError,
    SiteProbeError,
)
from langchain_aichatfree.errors._failures import _FAILURES
from langchain_aichatfree.errors._probe_failures import _PROBE_FAILURES
from langchain_aichatfree.errors._table import ErrorRow, error_from_row

ROWS = [
    # (row, fields, attributes, class, message, status)
    (ErrorRow(APIError, "at {url}"), {"url": "u"}, {}, APIError, "at u", None),
    (
        ErrorRow(APIError, "at {url}", status=200),
        {"url": "u"},
        {},
        APIError,
        "at u",
        200,
    ),
    (
        ErrorRow(APIError, "at {url}", status=200),
        {"url": "u"},
        {"status_code": 503},  # the caller's status wins over the row's
        APIError,
        "at u",
        503,
    ),
    (
        ErrorRow(RateLimitError, "{n} left"),
        {"n": 0},
        {"retry_after": 2.0},
        RateLimitError,
        "0 left",
        None,
    ),
    (
        ErrorRow(SiteProbeError, "{url} is not a site"),
        {"url": "http://x"},
        {"url": "http://x", "status_code": 404},
        SiteProbeError,
        "http://x is not a site",
        404,
    ),
]


@pytest.mark.parametrize(
    ("row", "fields", "attributes", "cls", "message", "status"), ROWS
)
def test_a_row_builds_its_class_message_and_status(
    row: ErrorRow,
    fields: dict[str, object],
    attributes: dict[str, object],
    cls: type[errors.AIChatFreeError],
    message: str,
    status: int | None,
) -> None:
    error = error_from_row(row, fields, **attributes)
    assert type(error) is cls
    assert (error.message, error.status_code) == (message, status)
    for name, value in attributes.items():
        if name != "status_code":
            assert getattr(error, name) == value


def test_a_row_s_advice_follows_its_message_and_is_kept() -> None:
    row = ErrorRow(DeploymentError, "key refused", advice=Advice.OPERATOR)
    error = error_from_row(row, {})
    assert error.message == f"key refused {advice_text(Advice.OPERATOR)}"
    assert error.advice is Advice.OPERATOR


def test_both_tables_are_rows_of_the_one_builder() -> None:
    assert set(_FAILURES) == set(errors.Failure)
    assert set(_PROBE_FAILURES) == set(errors.Probe)
    for row in [*_FAILURES.values(), *_PROBE_FAILURES.values()]:
        assert isinstance(row, ErrorRow)
        assert issubclass(row.cls, errors.AIChatFreeError)


@pytest.mark.parametrize("failure", list(errors.Failure))
def test_every_failure_has_its_row(failure: errors.Failure) -> None:
    error = errors.failure_error(
        failure,
        received=5,
        partial_text="abc",
        url="http://x/api/generate",
        cause=OSError("reset"),
        limit=3,
        timeout=None,
        chunk_timeout=2.0,
    )
    assert error.partial_text == "abc"
    assert "{" not in error.message
    expected = {
        errors.Failure.TOO_LARGE: False,
        errors.Failure.CLOSED: False,
        errors.Failure.TOO_MANY_REDIRECTS: False,
    }.get(failure, True)
    assert error.is_retryable is expected


@pytest.mark.parametrize(("partial", "incomplete"), [("", False), ("Once", True)])
def test_deadline_error_is_a_final_timeout(partial: str, incomplete: bool) -> None:
    error = make_deadline_error(2.5, partial)
    assert isinstance(error, DeadlineExceededError)
    assert isinstance(error, APITimeoutError)
    assert isinstance(error, ModelTimeoutError)
    assert error.is_retryable is False  # the caller's time is spent
    assert (error.seconds, error.partial_text) == (2.5, partial)
    assert "No complete answer within 2.5 s, retries included" in error.message
    assert ("incomplete" in error.message) is incomplete


PROBE_FIELDS: dict[str, object] = {
    "limit": 3,
    "what": "page",
    "target": "https://elsewhere.example/",
    "target_site": "https://elsewhere.example",
    "script": "/_astro/Chat.js",
    "reason": "is on another site",
    "seen": "a page",
    "family": "GeminiProChat",
    "notes": "",
    "count": 2,
    "shown": "a, b",
    "cause": OSError("refused"),
}


@pytest.mark.parametrize("failure", list(errors.Probe))
def test_every_probe_failure_has_its_row(failure: errors.Probe) -> None:
    error = errors.probe_error(
        failure, url="https://site.example", status=404, **PROBE_FIELDS
    )
    assert "https://site.example" in error.message
    assert error.status_code == 404
    if isinstance(error, SiteProbeError):
        assert error.url == "https://site.example"
    else:
        assert failure.name in {
            "UNREACHABLE",
            "TIMED_OUT",
            "PASSWORD_MISSING",
            "PASSWORD_REFUSED",
        }
