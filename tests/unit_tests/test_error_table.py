"""`errors._table`: the one builder behind the failure, probe and upstream tables."""

from __future__ import annotations

import pytest

from langchain_aichatfree import errors
from langchain_aichatfree.errors._advice import Advice, advice_text
from langchain_aichatfree.errors._classes import (
    APIError,
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
