"""`_route_choice`: the candidate order, and what an error means for routing."""

from __future__ import annotations

import math

import pytest

from langchain_aichatfree._constants import PROBE_POLL
from langchain_aichatfree._route_choice import (
    Refusal,
    backs_off,
    free_at,
    order_candidates,
    reason_text,
    takes_out,
)
from langchain_aichatfree.errors import (
    AIChatFreeError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    DeploymentError,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitError,
)

INF = math.inf


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


ERRORS = [
    # (error, takes the deployment out, backs off before a retry)
    (RateLimitError("x"), False, False),  # waits for the cooldown instead
    (AuthenticationError("x"), True, False),
    (PermissionDeniedError("x"), True, False),
    (DeploymentError("x"), True, False),
    (APIError("x"), False, True),
    (APITimeoutError("x"), False, True),
    (InvalidRequestError("x"), False, True),
]


@pytest.mark.parametrize(("error", "out", "backoff"), ERRORS)
def test_what_an_error_means_for_routing(
    error: AIChatFreeError, out: bool, backoff: bool
) -> None:
    assert takes_out(error) is out
    assert backs_off(error) is backoff


@pytest.mark.parametrize(
    ("refusal", "expected"),
    [
        (Refusal(0, 130.0, "cooling: rate limit", out=False), 130.0),
        (Refusal(0, 130.0, "rpm", out=False), 130.0),
        (Refusal(0, 130.0, "probing", out=False), 100.0 + PROBE_POLL),
        (Refusal(0, None, "refused", out=False), 100.0 + PROBE_POLL),
    ],
)
def test_when_a_refused_deployment_is_tried_again(
    refusal: Refusal, expected: float
) -> None:
    assert free_at(refusal, now=100.0) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            AuthenticationError("Wrong password. Set it."),
            "AuthenticationError: Wrong password",
        ),
        (DeploymentError("x" * 200), "DeploymentError: " + "x" * 157 + "..."),
        (DeploymentError("x" * 160), "DeploymentError: " + "x" * 160),
    ],
)
def test_a_reason_is_the_first_sentence_bounded(
    error: AIChatFreeError, expected: str
) -> None:
    assert reason_text(error) == expected
