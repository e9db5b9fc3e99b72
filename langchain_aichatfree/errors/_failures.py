"""The failures met on the way to an answer: one table, `_FAILURES`, and a deadline.

Timeouts, cut bodies, broken connections, the server's mid-answer sentinel, an
answer too large, a close during the call, too many redirects: each is a row,
built by `failure_error`; every message is worded here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

from langchain_aichatfree._constants import SERVER_SENTINEL
from langchain_aichatfree.errors._classes import (
    AIChatFreeError,
    APIConnectionError,
    APITimeoutError,
    ClientClosedError,
    DeadlineExceededError,
    InvalidRequestError,
    ResponseTooLargeError,
    StreamInterruptedError,
)
from langchain_aichatfree.errors._table import ErrorRow, error_from_row


class Failure(enum.Enum):
    """What went wrong on the way to an answer (the rows of `_FAILURES`)."""

    UNREACHABLE = enum.auto()
    TIMED_OUT = enum.auto()
    BODY_CUT = enum.auto()
    CONNECTION_BROKE = enum.auto()
    SERVER_SENTINEL = enum.auto()
    TOO_LARGE = enum.auto()
    CLOSED = enum.auto()
    TOO_MANY_REDIRECTS = enum.auto()


_PARTIAL: Final = "; the partial answer is in `partial_text`."

_FAILURES: Final[Mapping[Failure, ErrorRow]] = {
    Failure.UNREACHABLE: ErrorRow(APIConnectionError, "Could not reach {url}: {cause}"),
    Failure.TIMED_OUT: ErrorRow(
        APITimeoutError,
        "The request to {url} timed out {where} (timeout={timeout}, "
        "chunk_timeout={chunk_timeout}).",
    ),
    Failure.BODY_CUT: ErrorRow(
        StreamInterruptedError,
        "The answer's body was cut off after {received} bytes ({cause})" + _PARTIAL,
        status=200,
    ),
    Failure.CONNECTION_BROKE: ErrorRow(
        StreamInterruptedError,
        "The connection broke after {received} bytes of the answer ({cause!r})"
        + _PARTIAL,
        status=200,
    ),
    Failure.SERVER_SENTINEL: ErrorRow(
        StreamInterruptedError,
        "The server reported a failure in the middle of the answer "
        f"({SERVER_SENTINEL!r}) after {{characters}} characters" + _PARTIAL,
        status=200,
    ),
    Failure.TOO_LARGE: ErrorRow(
        ResponseTooLargeError,
        "The answer exceeded max_response_bytes={limit} bytes; the connection was "
        "closed. Raise max_response_bytes if the answer is legitimately this long.",
        status=200,
    ),
    Failure.CLOSED: ErrorRow(
        ClientClosedError,
        "The model was closed (close() or aclose()) while this call was under "
        "way, {where}; its connection was closed.",
    ),
    Failure.TOO_MANY_REDIRECTS: ErrorRow(
        InvalidRequestError, "More than {limit} redirects from {url}.", status=300
    ),
}
"""Each failure's class, message and status (200 once an answer had begun)."""


def failure_error(
    failure: Failure, *, received: int = 0, partial_text: str = "", **details: object
) -> AIChatFreeError:
    """The error for a failure met on the way to an answer (`_FAILURES`).

    Args:
        failure: What went wrong.
        received: Body bytes received before it.
        partial_text: The answer received before it.
        **details: The row's other fields: ``url``, ``cause``, ``timeout``,
            ``chunk_timeout``, ``limit``.

    Returns:
        The error, with `partial_text` set.
    """
    where = (
        f"after {received} bytes of the answer"
        if received
        else "before the first byte of the answer"
    )
    fields = {
        "where": where,
        "received": received,
        "characters": len(partial_text),
        **details,
    }
    return error_from_row(_FAILURES[failure], fields, partial_text=partial_text)


def make_deadline_error(
    seconds: float, partial_text: str = ""
) -> DeadlineExceededError:
    """The error for an answer not complete within the caller's deadline.

    Args:
        seconds: The deadline that passed.
        partial_text: The text shown before it passed.

    Returns:
        A `DeadlineExceededError`; the call it ends is cancelled.
    """
    shown = " (the text shown is incomplete)" if partial_text else ""
    return DeadlineExceededError(
        f"No complete answer within {seconds:g} s, retries included; the request "
        f"was cancelled{shown}.",
        seconds=seconds,
        partial_text=partial_text,
    )
