"""How the ``aichatfree`` command reports: exit codes, error wording, output.

Every subcommand writes its answer through a `LineTrackingWriter` and ends a
failure with `report_error`: one line on stderr saying what happened and what
to do (`describe`), and the exit status of the failure's class
(`exit_code_for`, the `EXIT_CODES` table that ``--help`` prints).

``--help`` imports this module, so it imports only the standard library's
lightest modules at the top; the error classes (langchain-core) are imported
where a failure is described, when they are loaded already.
"""

from __future__ import annotations

import enum
import re
import sys
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any, Final

from langchain_aichatfree._constants import ENV_BASE_URL, ENV_PASSWORD, ENV_SECRET

if TYPE_CHECKING:
    from langchain_aichatfree.errors import AIChatFreeError

PROG: Final = "aichatfree"


class ExitCode(enum.IntEnum):
    """The command's exit statuses, one per class of failure (see `EXIT_CODES`)."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    AUTH = 3
    RATE_LIMIT = 4
    SERVER = 5
    NETWORK = 6
    INTERRUPTED = 130


EXIT_CODES: Final[Mapping[ExitCode, str]] = {
    ExitCode.OK: "the answer was written in full",
    ExitCode.INTERNAL: "an unexpected error: a bug, please report it (with --verbose)",
    ExitCode.USAGE: "bad input: a wrong option or value, an empty question",
    ExitCode.AUTH: "the deployment refused the password or the signing secret",
    ExitCode.RATE_LIMIT: "the deployment's quota is exhausted: try again later",
    ExitCode.SERVER: (
        "the deployment or its model failed, refused the request, or cut the "
        "answer short"
    ),
    ExitCode.NETWORK: (
        "the deployment could not be reached, or did not answer in time"
    ),
    ExitCode.INTERRUPTED: "interrupted by Ctrl-C (in ask mode; chat keeps going)",
}
"""What each exit status means, in order (the README's table is this one)."""


class UsageError(ValueError):
    """The command line or its input cannot be used (exit status 2)."""


FLAG_OF_FIELD: Final[Mapping[str, str]] = {
    "base_url": "--base-url",
    "secret": "--secret",
    "dialect": "--dialect",
    "chunk_timeout": "--chunk-timeout",
    "max_retries": "--max-retries",
    "quota_store": "--quota-store",
    "deployments": "--deployments",
}
"""ChatAIChatFree fields set from flags, named as the user typed them.

``--timeout`` is not one: it bounds a whole answer, retries included (the
field bounds one attempt), and is applied around the call
(`_cli_ask.chunks_within`).
"""

_SETTING_NAMES: Final[Mapping[str, str]] = {
    "password": f"{ENV_PASSWORD} (or --ask-password)",
    "secret": f"--secret (or {ENV_SECRET})",
    "dialect": "--dialect",
    "base_url": f"--base-url (or {ENV_BASE_URL})",
}
"""The settings an error's advice names, as the command line spells them."""

_MAX_MESSAGE: Final = 400
"""Characters of an error message shown without --verbose (upstream texts run long)."""
_SERVER_TEXT_LIMIT: Final = 200
"""Characters of the server's own message quoted without --verbose."""
_GEMINI_PREFIX: Final = re.compile(
    r"^\[GoogleGenerativeAI Error\]:\s*(Error fetching from\s*)?"
)


def exit_code_for(error: BaseException) -> ExitCode:
    """Return the exit status for an error (the `EXIT_CODES` classes).

    Args:
        error: What was raised.

    Returns:
        The exit status.
    """
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(error, UsageError):  # found before the error classes are needed
        return ExitCode.USAGE
    from langchain_aichatfree.errors import (
        AIChatFreeError,
        APIConnectionError,
        AuthenticationError,
        RateLimitError,
        SiteProbeError,
    )

    if isinstance(error, SiteProbeError):
        return ExitCode.USAGE  # the URL given is not a deployment's site
    if isinstance(error, AuthenticationError):
        return ExitCode.AUTH
    if isinstance(error, RateLimitError):
        return ExitCode.RATE_LIMIT
    if isinstance(error, APIConnectionError):
        return ExitCode.NETWORK
    if isinstance(error, AIChatFreeError):
        return ExitCode.SERVER
    if isinstance(error, ValueError):
        return ExitCode.USAGE
    return ExitCode.INTERNAL


def one_line(text: str, *, limit: int | None = _MAX_MESSAGE) -> str:
    """Fold `text` onto one line, cut to `limit` characters (`None`: whole).

    Args:
        text: The text.
        limit: The most characters kept.

    Returns:
        The line.
    """
    line = " ".join(text.split())
    if limit is not None and len(line) > limit:
        line = line[: limit - 1].rstrip() + "… (--verbose shows all)"
    return line


def _validation_text(error: ValueError) -> str:
    """A pydantic ValidationError's complaints on one line, flags by their names."""
    from pydantic import ValidationError

    if not isinstance(error, ValidationError):
        return str(error)
    parts = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        where = ".".join(str(part) for part in item["loc"])
        flag = FLAG_OF_FIELD.get(where)
        parts.append(f"{flag}: {message}" if flag else message)
    return "; ".join(parts)


def _server_said(error: AIChatFreeError, limit: int | None) -> str:
    """The server's own message and status, else the error's message.

    Long upstream texts (Gemini's quota message runs to 500 characters) are
    cut unless `limit` is `None`.
    """
    from langchain_aichatfree.errors import advice_text

    if error.server_message is None:
        # The message ends with the advice in the library's words; the caller
        # adds it in the command line's.
        own = error.message.removesuffix(advice_text(error.advice)).rstrip()
        return one_line(own, limit=limit)
    text = _GEMINI_PREFIX.sub("", error.server_message)
    text = one_line(text, limit=None if limit is None else _SERVER_TEXT_LIMIT)
    return f"{text} (HTTP {error.status_code})"


def describe(error: BaseException, *, verbose: bool = False) -> str:
    """Say on one line what went wrong and what to do about it.

    Args:
        error: What was raised.
        verbose: Keep long messages whole.

    Returns:
        The line, without the program name.
    """
    limit = None if verbose else _MAX_MESSAGE
    if isinstance(error, UsageError):  # said without importing the error classes
        return f"error: {one_line(str(error), limit=limit)}"
    from langchain_aichatfree.errors import AIChatFreeError, SiteProbeError

    if isinstance(error, SiteProbeError):
        return f"probe failed: {one_line(error.message, limit=None)}"
    if isinstance(error, AIChatFreeError):
        return _describe_failed_call(error, limit)
    if isinstance(error, ValueError):
        return f"error: {one_line(_validation_text(error), limit=limit)}"
    return (
        f"internal error: {type(error).__name__}: {one_line(str(error), limit=limit)}"
        " This is a bug; please report it with the output of --verbose."
    )


def _describe_failed_call(error: AIChatFreeError, limit: int | None) -> str:
    """`describe` for the package's errors: the call to a deployment failed."""
    from langchain_aichatfree.errors import (
        APITimeoutError,
        ClientClosedError,
        DeadlineExceededError,
        DeploymentError,
        RateLimitError,
        StreamInterruptedError,
        advice_text,
    )

    code = exit_code_for(error)
    if isinstance(error, StreamInterruptedError):
        cause = error.__cause__
        reason = (
            "the server reported a failure in the middle of it"
            if cause is None
            else f"the connection broke: {one_line(str(cause), limit=limit)}"
        )
        shown = "; the text above is incomplete" if error.partial_text else ""
        return f"the answer was cut short ({reason}){shown}. Ask again."
    said = _server_said(error, limit)
    hint = advice_text(error.advice, _SETTING_NAMES)
    if code is ExitCode.AUTH:
        return f"authentication failed: {said} {hint}".rstrip()
    if isinstance(error, RateLimitError):
        wait = (
            f"Try again in {error.retry_after:g} s."
            if error.retry_after is not None
            else "Try again later."
        )
        return f"rate limited: {said} {wait}"
    if isinstance(error, DeadlineExceededError):
        shown = "; the text above is incomplete" if error.partial_text else ""
        return (
            f"timed out: no complete answer within --timeout {error.seconds:g} s "
            f"(retries included){shown}. Allow longer with --timeout, or try "
            "again later."
        )
    if isinstance(error, APITimeoutError):
        return (
            f"timed out: {one_line(error.message, limit=limit)} The deployment "
            "sent nothing for that long: try again later, or wait longer for "
            "it with --chunk-timeout."
        )
    if isinstance(error, ClientClosedError):
        return f"stopped: {one_line(error.message, limit=limit)}"
    if code is ExitCode.NETWORK:
        cause = error.__cause__
        what = one_line(str(cause) if cause else error.message, limit=limit)
        what = what.rstrip(".")  # the sentence goes on
        return (
            f"network error: {what}. Check --base-url (or {ENV_BASE_URL}) and "
            "your connection."
        )
    if isinstance(error, DeploymentError):
        return (
            f"server error: the deployment's own model key was refused: {said} {hint}"
        )
    if hint:
        return f"server error: {said} {hint}"
    retry = error.is_retryable and "try again" not in said.lower()
    return f"server error: {said}" + (" Try again later." if retry else "")


def error_details(error: BaseException) -> dict[str, Any]:
    """A failure as ``--json`` prints it: its type, `describe`'s line, exit code.

    Args:
        error: What was raised.

    Returns:
        The JSON-ready fields.
    """
    return {
        "type": type(error).__name__,
        "message": describe(error, verbose=True),
        "exit_code": int(exit_code_for(error)),
    }


class LineTrackingWriter:
    """Writes the answer to a stream, remembering whether a line is left open.

    A failure's line on stderr then starts on a line of its own (`end_line`).

    Attributes:
        stream: Where the text goes (stdout).
        mid_line: Whether the last text written did not end a line.
    """

    def __init__(self, stream: IO[str]) -> None:
        """Write to `stream`.

        Args:
            stream: Where the text goes.
        """
        self.stream = stream
        self.mid_line = False

    def write(self, text: str) -> None:
        """Write and flush `text` (nothing for an empty one).

        Args:
            text: The text.
        """
        if text:
            self.stream.write(text)
            self.stream.flush()
            self.mid_line = not text.endswith("\n")

    def write_json(self, value: object) -> None:
        """Write `value` as one line of JSON (non-ASCII kept as it is).

        Args:
            value: A JSON-ready value.
        """
        import json

        self.write(json.dumps(value, ensure_ascii=False) + "\n")

    def end_line(self) -> None:
        """End the open line, if any."""
        if self.mid_line:
            self.write("\n")


def say(text: str) -> None:
    """Print one line on stderr, after the program's name.

    Args:
        text: The line.
    """
    print(f"{PROG}: {text}", file=sys.stderr, flush=True)


def report_error(
    error: BaseException, *, verbose: bool, out: LineTrackingWriter
) -> ExitCode:
    """Print an error (one line, or more with --verbose); return its status.

    Args:
        error: What was raised.
        verbose: Also print the traceback and the server's body.
        out: The answer's writer, whose open line is ended first.

    Returns:
        The error's exit status.
    """
    out.end_line()
    if verbose:
        import traceback

        traceback.print_exception(error, file=sys.stderr)
        body = getattr(error, "body", None)
        status = getattr(error, "status_code", None)
        if body:
            print(f"server body (HTTP {status}): {body}", file=sys.stderr)
    say(describe(error, verbose=verbose))
    return exit_code_for(error)


def report_json_error(error: BaseException, out: LineTrackingWriter) -> None:
    """Write the one JSON object of ``--json`` for a call that failed.

    Args:
        error: What was raised.
        out: Where the object goes (stdout).
    """
    details = error_details(error)
    for name in ("status_code", "retry_after", "partial_text"):
        if hasattr(error, name):
            details[name] = getattr(error, name)
    out.write_json({"error": details})
