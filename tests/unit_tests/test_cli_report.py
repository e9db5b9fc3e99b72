"""The command's reporting (`_cli_report`): exit codes, error wording, output."""

from __future__ import annotations

import io
import json

import pytest

from langchain_aichatfree import (
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
    SiteProbeError,
    StreamInterruptedError,
)
from langchain_aichatfree._cli_report import (
    LineTrackingWriter,
    UsageError,
    describe,
    error_details,
    exit_code_for,
    one_line,
    report_error,
    report_json_error,
)
from langchain_aichatfree.errors import make_deadline_error, make_status_error


@pytest.mark.parametrize(
    ("status", "body", "flag"),
    [
        (404, b"", "--base-url"),
        (401, b"", "--ask-password"),
    ],
)
def test_advice_is_given_once_in_the_command_line_s_words(
    status: int, body: bytes, flag: str
) -> None:
    line = describe(make_status_error(status, body, dialect="gemini"))
    assert flag in line
    assert "`" not in line  # not the library's `base_url` / `password` as well


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ValueError("bad"), 2),
        (AuthenticationError("x", status_code=401), 3),
        # issue 11: the deployment's own key refused is a DeploymentError (it
        # was an AuthenticationError with a 5xx status that the CLI undid).
        (DeploymentError("upstream key", status_code=500), 5),
        (DeploymentError("openai key", status_code=401), 5),
        (PermissionDeniedError("x", status_code=403), 3),
        (NotFoundError("x", status_code=404), 5),
        (ClientClosedError("x"), 6),
        (RateLimitError("x", status_code=500), 4),
        (APIError("x", status_code=500), 5),
        (StreamInterruptedError("x", status_code=200, partial_text="a"), 5),
        (InvalidRequestError("x", status_code=404), 5),
        (APIConnectionError("x"), 6),
        (APITimeoutError("x"), 6),
        (KeyboardInterrupt(), 130),
        (RuntimeError("bug"), 1),
    ],
)
def test_exit_code_for(error: BaseException, code: int) -> None:
    assert exit_code_for(error) == code


@pytest.mark.parametrize(
    ("error", "starts", "contains"),
    [
        (
            make_status_error(429, b"quota", "30", dialect="gemini"),
            "rate limited: ",
            "Try again in 30 s.",
        ),
        (RateLimitError("x", status_code=429), "rate limited: ", "Try again later."),
        (
            make_status_error(401, b"Invalid password.", dialect="gemini"),
            "authentication failed: Invalid password. (HTTP 401)",
            "AICHATFREE_PASSWORD (or --ask-password)",
        ),
        (
            make_deadline_error(2.0, "ab"),
            "timed out: no complete answer within --timeout 2 s (retries included)",
            "; the text above is incomplete.",
        ),
        (make_deadline_error(2.5), "timed out: ", "Allow longer with --timeout"),
        (APITimeoutError("No data for 3 s."), "timed out: ", "--chunk-timeout"),
        (ClientClosedError("The model was closed."), "stopped: ", "was closed"),
        (
            APIConnectionError("Cannot connect."),
            "network error: Cannot connect. Check --base-url",
            "(or AICHATFREE_BASE_URL) and your connection.",
        ),
        (
            StreamInterruptedError("x", status_code=200, partial_text="a"),
            "the answer was cut short (the server reported a failure",
            "; the text above is incomplete. Ask again.",
        ),
        (
            StreamInterruptedError("x", status_code=200),
            "the answer was cut short",
            ". Ask again.",
        ),
        (
            DeploymentError("Upstream key refused.", status_code=500),
            "server error: the deployment's own model key was refused: ",
            "Upstream key refused.",
        ),
        (
            SiteProbeError("No chat script.", url="https://your.site"),
            "probe failed: No chat script.",
            "",
        ),
        (UsageError("the question is empty"), "error: the question is empty", ""),
        (
            RuntimeError("oops"),
            "internal error: RuntimeError: oops",
            "This is a bug; please report it with the output of --verbose.",
        ),
    ],
)
def test_describe_says_what_happened_and_what_to_do(
    error: BaseException, starts: str, contains: str
) -> None:
    line = describe(error)
    assert line.startswith(starts), line
    assert contains in line
    assert "\n" not in line
    assert ".." not in line


def test_describe_names_flags_in_a_validation_error() -> None:
    from langchain_aichatfree import ChatAIChatFree

    with pytest.raises(ValueError, match="chunk_timeout") as caught:
        ChatAIChatFree(chunk_timeout=-1)
    line = describe(caught.value)
    assert line.startswith("error: --chunk-timeout: ")


def test_describe_cuts_long_messages_unless_verbose() -> None:
    error = ValueError("word " * 200)
    assert describe(error).endswith("… (--verbose shows all)")
    assert len(describe(error)) < 450
    assert describe(error, verbose=True).count("word") == 200


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("a\n  b\tc ", None, "a b c"),
        ("short", 10, "short"),
        ("x" * 20, 10, "x" * 9 + "… (--verbose shows all)"),
        ("", 5, ""),
    ],
)
def test_one_line(text: str, limit: int | None, expected: str) -> None:
    assert one_line(text, limit=limit) == expected


def test_writer_remembers_an_open_line() -> None:
    stream = io.StringIO()
    out = LineTrackingWriter(stream)
    out.end_line()
    out.write("partial")
    assert out.mid_line
    out.end_line()
    out.end_line()
    out.write("")
    out.write("whole\n")
    assert not out.mid_line
    out.write_json({"ü": 1})
    assert stream.getvalue() == 'partial\nwhole\n{"ü": 1}\n'


def test_report_error_ends_the_open_line_and_says_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = LineTrackingWriter(io.StringIO())
    out.write("half an answer")
    code = report_error(RateLimitError("x", status_code=429), verbose=False, out=out)
    assert code == 4
    assert out.stream.getvalue() == "half an answer\n"  # type: ignore[attr-defined]
    assert capsys.readouterr().err.startswith("aichatfree: rate limited: ")


def test_report_error_verbose_adds_traceback_and_body(
    capsys: pytest.CaptureFixture[str],
) -> None:
    error = APIError("x", status_code=500, body='{"error":"boom"}')
    report_error(error, verbose=True, out=LineTrackingWriter(io.StringIO()))
    err = capsys.readouterr().err
    assert "APIError" in err
    assert 'server body (HTTP 500): {"error":"boom"}' in err
    assert err.splitlines()[-1].startswith("aichatfree: server error:")


def test_json_error_object() -> None:
    stream = io.StringIO()
    error = RateLimitError("x", status_code=429, retry_after=30)
    report_json_error(error, LineTrackingWriter(stream))
    details = json.loads(stream.getvalue())["error"]
    assert details == {
        **error_details(error),
        "status_code": 429,
        "retry_after": 30,
        "partial_text": "",
    }
    assert (details["type"], details["exit_code"]) == ("RateLimitError", 4)
    assert details["message"].startswith("rate limited: ")
