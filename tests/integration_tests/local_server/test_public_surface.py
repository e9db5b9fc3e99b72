"""The testing package's public surface and its argument checks."""

from __future__ import annotations

import pytest

import langchain_aichatfree.testing as testing
from langchain_aichatfree.testing import (
    LocalServer,
    Reply,
)


def test_public_surface():
    assert sorted(testing.__all__) == sorted(
        [
            "LocalServer",
            "Quota",
            "Reply",
            "RecordedRequest",
            "SitePages",
            "SiteRequest",
            "UPSTREAM_ERRORS",
            "echo_responder",
        ]
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"text": "a", "chunks": ["a"]},
        {"chunks": ["a"], "chunk_size": 1},
        {"chunk_size": 0},
        {"fail_after": -1},
        {"chunk_delay": -1},
        {"status": 200},
    ],
)
def test_reply_validation(kwargs):
    with pytest.raises(ValueError, match=r"must|give either"):
        Reply(**kwargs)


def test_script_rejects_other_types():
    server = LocalServer()
    with pytest.raises(TypeError):
        server.script(42)  # type: ignore[arg-type]
