"""`errors._body`: what a server sent, shown with the site password redacted."""

from __future__ import annotations

import json

import pytest

from langchain_aichatfree import UnexpectedResponseError
from langchain_aichatfree.errors import (
    make_content_type_error,
    make_status_error,
    redact,
)


def plain(message: str) -> bytes:
    return json.dumps({"error": {"message": message}}).encode()


PASSWORD = 'pä ss"wörd/&'


@pytest.mark.parametrize(
    "echoed",
    [
        PASSWORD,
        json.dumps(PASSWORD)[1:-1],
        json.dumps(PASSWORD, ensure_ascii=False)[1:-1],
        "pa%CC%88",  # not the password: left alone
    ],
)
def test_an_echoed_password_is_redacted(echoed: str) -> None:
    body = json.dumps({"error": {"message": f"bad request: {echoed}"}}) + "x" * 5000
    error = make_status_error(400, body, redact_secrets=[PASSWORD, None])
    for text in (error.message, error.body or "", error.server_message or ""):
        assert PASSWORD not in text
        assert json.dumps(PASSWORD)[1:-1] not in text


def test_redaction_comes_before_the_body_is_cut() -> None:
    body = "x" * 1995 + PASSWORD
    error = make_status_error(500, body, redact_secrets=[PASSWORD])
    assert error.body is not None
    assert PASSWORD[:5] not in error.body
    assert error.body.endswith("[password]"[:5])


def test_redact_every_form() -> None:
    from urllib.parse import quote, quote_plus

    for form in (quote(PASSWORD, safe=""), quote_plus(PASSWORD)):
        assert redact(f"echo {form} end", [PASSWORD]) == "echo [password] end"
    assert redact("nothing", ["", None]) == "nothing"


def test_a_page_s_body_is_redacted_too() -> None:
    error = make_content_type_error(
        "text/html", f"<p>{PASSWORD}</p>".encode(), redact_secrets=[PASSWORD]
    )
    assert type(error) is UnexpectedResponseError
    assert PASSWORD not in (error.body or "")


def test_redact_takes_the_secret_as_a_secret_str() -> None:
    from pydantic import SecretStr

    error = make_status_error(
        400, plain(f"echo {PASSWORD}"), redact_secrets=[SecretStr(PASSWORD)]
    )
    assert PASSWORD not in error.message
    assert "[password]" in error.message
