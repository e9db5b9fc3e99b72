"""The ``aichatfree`` command: ask once, chat, or serve the local test server.

Usage::

    aichatfree [ask] [options] QUESTION...   stream one answer to the terminal
    echo "QUESTION" | aichatfree [options]   the question from stdin (or QUESTION "-")
    aichatfree chat [options]                an interactive session
    aichatfree serve [--port N] [options]    the local offline test server
    aichatfree status [options]              each deployment's quota state
    aichatfree probe URL [--json] [--check]  find a site's settings to use

``python -m langchain_aichatfree`` is the same command. The deployment is
``--base-url`` (default ``$AICHATFREE_BASE_URL``, else the public site), its
signing key ``--secret`` (default ``$AICHATFREE_SECRET``). The site password is
read from ``$AICHATFREE_PASSWORD`` or, with ``--ask-password``, typed at a
hidden prompt: never from a flag, whose value other users could read in the
process list. ``--deployments FILE`` names a pool of deployments instead (TOML
or JSON; passwords from environment variables the file names), and
``--quota-store URL`` where their cooldowns and budgets are shared (a Redis
URL, default ``$AICHATFREE_QUOTA_STORE``, else this process's memory).

In ``chat``, Ctrl-C stops the answer being written (it is not kept in the
conversation) and Ctrl-D exits; ``/help`` lists the commands (``/reset``,
``/system TEXT``, ``/save FILE``, ``/load FILE``, ``/exit``).

A failure prints one line to stderr, what happened and what to do (``--verbose``
adds the traceback and the server's body), and exits with the code of its class:

====  ===========  ============================================================
code  class        meaning
====  ===========  ============================================================
0     ok           the answer was written in full
1     internal     an unexpected error: a bug, please report it (with --verbose)
2     usage        bad input: a wrong option or value, an empty question
3     auth         the deployment refused the password or the signing secret
4     rate limit   the deployment's quota is exhausted: try again later
5     server       the deployment or its model failed, refused the request, or
                   cut the answer short
6     network      the deployment could not be reached, or did not answer in time
130   interrupted  interrupted by Ctrl-C (in ask mode; chat keeps going)
====  ===========  ============================================================

The table is `EXIT_CODES`; ``aichatfree --help`` prints it too.
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import getpass
import json
import logging
import math
import os
import re
import shlex
import shutil
import sys
import threading
import time
import traceback
import warnings
from collections.abc import (
    AsyncIterator,
    Callable,
    Coroutine,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from langchain_aichatfree import _sync
from langchain_aichatfree._constants import (
    DEFAULT_CHUNK_TIMEOUT,
    DEFAULT_MAX_RETRIES,
    ENV_BASE_URL,
    ENV_DIALECT,
    ENV_PASSWORD,
    ENV_QUOTA_STORE,
    ENV_SECRET,
)
from langchain_aichatfree._probe import FAMILY_NAMES, SiteSettings
from langchain_aichatfree._version import __version__

# What a question needs (langchain-core, aiohttp, pydantic: most of a second to
# import) is imported where it is used, so that --help, --version and a usage
# error start at once; `test_public_api` checks that nothing heavy is imported.
if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage, BaseMessageChunk

    from langchain_aichatfree.chat_models import ChatAIChatFree
    from langchain_aichatfree.errors import AIChatFreeError
    from langchain_aichatfree.testing import LocalServer

__all__ = ["EXIT_CODES", "ExitCode", "exit_code_for", "main"]

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

_COMMANDS: Final = ("ask", "chat", "serve", "probe", "status")
_TOP_LEVEL_FLAGS: Final = frozenset({"-h", "--help", "--version"})
_MAX_MESSAGE: Final = 400
"""Characters of an error message shown without --verbose (upstream texts run long)."""

_CLI_FIELDS: Final[Mapping[str, str]] = {
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
field bounds one attempt), and is applied around the call (`_within`).
"""

_NOTICE_AFTER: Final = 1.0
"""Seconds without text before a person at a terminal is told what is awaited."""


class UsageError(ValueError):
    """The command line or its input cannot be used (exit status 2)."""


# -- failures -----------------------------------------------------------------


def exit_code_for(error: BaseException) -> ExitCode:
    """Return the exit status for an error (the `EXIT_CODES` classes).

    Args:
        error: What was raised.

    Returns:
        The exit status.
    """
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
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


def _one_line(text: str, *, limit: int | None = _MAX_MESSAGE) -> str:
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
        flag = _CLI_FIELDS.get(where)
        parts.append(f"{flag}: {message}" if flag else message)
    return "; ".join(parts)


_GEMINI_PREFIX: Final = re.compile(
    r"^\[GoogleGenerativeAI Error\]:\s*(Error fetching from\s*)?"
)
_SERVER_TEXT_LIMIT: Final = 200
"""Characters of the server's own message quoted without --verbose."""


_CLI_SETTING_NAMES: Final[Mapping[str, str]] = {
    "password": f"{ENV_PASSWORD} (or --ask-password)",
    "secret": f"--secret (or {ENV_SECRET})",
    "dialect": "--dialect",
    "base_url": f"--base-url (or {ENV_BASE_URL})",
}
"""The settings an error's advice names, as the command line spells them."""


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
        return _one_line(own, limit=limit)
    text = _GEMINI_PREFIX.sub("", error.server_message)
    text = _one_line(text, limit=None if limit is None else _SERVER_TEXT_LIMIT)
    return f"{text} (HTTP {error.status_code})"


def describe(error: BaseException, *, verbose: bool = False) -> str:
    """Say on one line what went wrong and what to do about it.

    Args:
        error: What was raised.
        verbose: Keep long messages whole.

    Returns:
        The line, without the program name.
    """
    from langchain_aichatfree.errors import (
        AIChatFreeError,
        APITimeoutError,
        ClientClosedError,
        DeadlineExceededError,
        DeploymentError,
        RateLimitError,
        SiteProbeError,
        StreamInterruptedError,
        advice_text,
    )

    limit = None if verbose else _MAX_MESSAGE
    code = exit_code_for(error)
    if isinstance(error, StreamInterruptedError):
        cause = error.__cause__
        reason = (
            "the server reported a failure in the middle of it"
            if cause is None
            else f"the connection broke: {_one_line(str(cause), limit=limit)}"
        )
        shown = "; the text above is incomplete" if error.partial_text else ""
        return f"the answer was cut short ({reason}){shown}. Ask again."
    if isinstance(error, SiteProbeError):
        return f"probe failed: {_one_line(error.message, limit=None)}"
    if isinstance(error, AIChatFreeError):
        said = _server_said(error, limit)
        hint = advice_text(error.advice, _CLI_SETTING_NAMES)
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
                f"timed out: {_one_line(error.message, limit=limit)} The deployment "
                "sent nothing for that long: try again later, or wait longer for "
                "it with --chunk-timeout."
            )
        if isinstance(error, ClientClosedError):
            return f"stopped: {_one_line(error.message, limit=limit)}"
        if code is ExitCode.NETWORK:
            cause = error.__cause__
            what = _one_line(str(cause) if cause else error.message, limit=limit)
            return (
                f"network error: {what}. Check --base-url (or {ENV_BASE_URL}) and "
                "your connection."
            )
        if isinstance(error, DeploymentError):
            return (
                "server error: the deployment's own model key was refused: "
                f"{said} {hint}"
            )
        if hint:
            return f"server error: {said} {hint}"
        retry = error.is_retryable and "try again" not in said.lower()
        return f"server error: {said}" + (" Try again later." if retry else "")
    if isinstance(error, ValueError):
        return f"error: {_one_line(_validation_text(error), limit=limit)}"
    return (
        f"internal error: {type(error).__name__}: {_one_line(str(error), limit=limit)}"
        " This is a bug; please report it with the output of --verbose."
    )


class _Output:
    """The answer's stream, remembering whether a line is left open."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.mid_line = False

    def write(self, text: str) -> None:
        if text:
            self.stream.write(text)
            self.stream.flush()
            self.mid_line = not text.endswith("\n")

    def end_line(self) -> None:
        if self.mid_line:
            self.write("\n")


def _report(error: BaseException, *, verbose: bool, out: _Output) -> ExitCode:
    """Print an error (one line, or more with --verbose); return its status."""
    out.end_line()
    if verbose:
        traceback.print_exception(error, file=sys.stderr)
        body = getattr(error, "body", None)
        status = getattr(error, "status_code", None)
        if body:
            print(f"server body (HTTP {status}): {body}", file=sys.stderr)
    print(f"{PROG}: {describe(error, verbose=verbose)}", file=sys.stderr, flush=True)
    return exit_code_for(error)


# -- the command line ---------------------------------------------------------


class _RefusePassword(argparse.Action):
    """``--password VALUE`` is refused: the process list would show it."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        parser.error(
            "the password is not taken from the command line, where other users "
            f"can read it in the process list: set {ENV_PASSWORD}, or pass "
            "--ask-password to type it at a hidden prompt"
        )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > _MAX_PORT:
        msg = f"expected a port number from 0 to {_MAX_PORT}, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return int(text)


_MAX_PORT: Final = 65535


def _exit_code_epilog() -> str:
    rows = "\n".join(
        f"  {code.value:<4} {meaning}" for code, meaning in EXIT_CODES.items()
    )
    return f"exit codes:\n{rows}"


def _add_client_options(
    parser: argparse.ArgumentParser, *, one_shot: bool = False
) -> None:
    """The options of ``ask`` and ``chat`` (``one_shot``: also ``ask``'s own)."""
    group = parser.add_argument_group("deployment")
    group.add_argument(
        "--base-url",
        metavar="URL",
        help=f"the site's root URL (default: ${ENV_BASE_URL}, else the public site)",
    )
    group.add_argument(
        "--secret",
        metavar="KEY",
        help=f"the deployment's public signing key (default: ${ENV_SECRET}, else none)",
    )
    _add_password_arguments(group)
    group.add_argument(
        "--dialect",
        choices=("gemini", "chatgpt-demo"),
        help="the web app family the deployment runs (default: gemini)",
    )
    _add_pool_options(parser)
    answer = parser.add_argument_group("answer")
    if one_shot:
        answer.add_argument(
            "--json",
            action="store_true",
            help="print one JSON object (text and metadata) instead of streaming",
        )
    answer.add_argument("--system", metavar="TEXT", help="system instructions")
    answer.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        help=(
            "longest time one answer may take, from sending the question to its "
            "last word, retries included; inf for no limit (default: no limit)"
        ),
    )
    answer.add_argument(
        "--chunk-timeout",
        type=_positive_float,
        metavar="SECONDS",
        help=(
            "longest silence from the deployment: to connect, before its first "
            "words, between two pieces; each attempt that exceeds it is retried "
            f"(default: {DEFAULT_CHUNK_TIMEOUT:g})"
        ),
    )
    answer.add_argument(
        "--max-retries",
        type=_count,
        metavar="N",
        help=(
            "retries after a failed first attempt, before any text "
            f"(default: {DEFAULT_MAX_RETRIES})"
        ),
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="on failure, show the traceback and the server's body; log retries",
    )


def _add_pool_options(parser: argparse.ArgumentParser) -> None:
    pool = parser.add_argument_group("pool of deployments")
    pool.add_argument(
        "--deployments",
        type=Path,
        metavar="FILE",
        help=(
            "route over the deployments in FILE (TOML or JSON; each password "
            "from the environment variable its `password_env` names) instead "
            "of --base-url"
        ),
    )
    pool.add_argument(
        "--quota-store",
        metavar="URL",
        help=(
            "where cooldowns and budgets are shared: 'memory' or a redis://, "
            f"rediss:// or unix:// URL (default: ${ENV_QUOTA_STORE}, else memory)"
        ),
    )


def build_parser() -> argparse.ArgumentParser:
    """Build the command's argument parser (subcommands ``ask``, ``chat``, ``serve``).

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        usage=(
            "%(prog)s [options] QUESTION...   (or - to type or pipe it in)\n"
            "       %(prog)s {ask,chat,serve} [options] ..."
        ),
        description=(
            "Ask an AIChatFree (GeminiProChat / chatgpt-demo) deployment from the "
            'terminal. `aichatfree "question"` is short for `aichatfree ask '
            '"question"`; the options below are ask\'s, and chat takes them too '
            "(but not --json)."
        ),
        epilog=_exit_code_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        # The options are shown here; `_with_command` hands them to `ask`.
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    _add_client_options(parser, one_shot=True)
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", prog=PROG
    )

    ask = commands.add_parser(
        "ask",
        help="stream one answer (the default command)",
        description=(
            "Stream one answer. The question is the arguments, joined by spaces; "
            'with none, or "-", it is read from stdin.'
        ),
        epilog=_exit_code_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ask.add_argument(
        "question", nargs="*", help='the question ("-": read it from stdin)'
    )
    _add_client_options(ask, one_shot=True)

    chat = commands.add_parser(
        "chat",
        help="an interactive session",
        description=(
            "An interactive session that keeps the conversation. Ctrl-C stops an "
            "answer, Ctrl-D exits; /help lists the commands."
        ),
        epilog=_exit_code_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_client_options(chat)

    serve = commands.add_parser(
        "serve",
        help="run the local offline test server",
        description=(
            "Serve the AIChatFree protocol locally, answering 'Echo: <your last "
            "message>', until Ctrl-C."
        ),
    )
    add_serve_arguments(serve)
    serve.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="on failure, show the traceback",
    )

    status = commands.add_parser(
        "status",
        help="show each deployment's quota state",
        description=(
            "Show each deployment's quota state: cooling down (until when, and "
            "why), taken out, and the requests counted this minute and today. "
            "A shared --quota-store shows what every process sees; the default "
            "memory store only this command's own (nothing)."
        ),
    )
    group = status.add_argument_group("deployment")
    group.add_argument("--base-url", metavar="URL", help="a single deployment")
    _add_pool_options(status)
    status.add_argument(
        "--json", action="store_true", help="print the states as one JSON list"
    )
    status.add_argument("-v", "--verbose", action="store_true", help=argparse.SUPPRESS)
    _add_probe_parser(commands)
    return parser


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The local server's options, for `serve` and `python -m ...testing`.

    Args:
        parser: The parser (or sub-parser) to add them to.
    """
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=_port, default=0, help="port (default: 0, any free port)"
    )
    parser.add_argument("--secret", default="", help="the signing key it expects")
    parser.add_argument(
        "--password",
        dest="passwords",
        action="extend",
        nargs="+",
        default=[],
        metavar="P",
        help="passwords it accepts (repeatable; default: none required)",
    )
    parser.add_argument(
        "--dialect",
        choices=("gemini", "chatgpt-demo"),
        default="gemini",
        help="the web app family to imitate (default: %(default)s)",
    )


def _with_command(argv: list[str]) -> list[str]:
    """Insert the default ``ask`` unless a command or a top-level flag leads."""
    if argv and (argv[0] in _COMMANDS or argv[0] in _TOP_LEVEL_FLAGS):
        return argv
    return ["ask", *argv]


# -- the client ---------------------------------------------------------------


def _ask_password() -> str | None:
    """Read the password at a hidden prompt; refuse to read it with echo."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", getpass.GetPassWarning)
        try:
            password = getpass.getpass("Site password (hidden): ")
        except getpass.GetPassWarning:
            msg = (
                "--ask-password needs a terminal to read the password without "
                f"echo; set {ENV_PASSWORD} instead"
            )
            raise UsageError(msg) from None
        except EOFError:
            raise UsageError("no password was typed (end of input)") from None
    return password or None


def _make_model(args: argparse.Namespace) -> ChatAIChatFree:
    from pydantic import SecretStr

    from langchain_aichatfree.chat_models import ChatAIChatFree

    settings: dict[str, Any] = {
        name: getattr(args, name)
        for name in _CLI_FIELDS
        if getattr(args, name, None) is not None
    }
    if settings.get("deployments") is not None:
        from langchain_aichatfree._pool_file import load_deployments

        settings["deployments"] = load_deployments(settings["deployments"], os.environ)
    if getattr(args, "ask_password", False):
        password = _ask_password()
        settings["password"] = SecretStr(password) if password is not None else None
    return ChatAIChatFree(**settings)


def _conversation(
    system: str | None, history: Sequence[BaseMessage], question: str
) -> list[BaseMessage]:
    from langchain_core.messages import HumanMessage, SystemMessage

    head: list[BaseMessage] = [SystemMessage(system)] if system else []
    return [*head, *history, HumanMessage(question)]


def _deadline(args: argparse.Namespace) -> float | None:
    """``--timeout`` in seconds, or `None` for no limit (also ``inf``)."""
    seconds: float | None = getattr(args, "timeout", None)
    return None if seconds is None or math.isinf(seconds) else seconds


async def _chunks_within(
    chunks: AsyncIterator[BaseMessageChunk], seconds: float | None
) -> AsyncIterator[BaseMessageChunk]:
    """The chunks, until the answer is complete or `seconds` have passed.

    Raises:
        DeadlineExceededError: The answer was not complete in time (the call,
            retries included, is cancelled).
    """
    import asyncio

    from langchain_aichatfree.errors import make_deadline_error

    loop = asyncio.get_running_loop()
    end = None if seconds is None else loop.time() + seconds
    shown: list[str] = []
    try:
        while True:
            step = anext(chunks)
            try:
                if end is None:
                    chunk = await step
                else:
                    chunk = await asyncio.wait_for(step, max(end - loop.time(), 0))
            except StopAsyncIteration:
                return
            except (asyncio.TimeoutError, TimeoutError) as e:
                assert seconds is not None  # noqa: S101 - only with a deadline
                raise make_deadline_error(seconds, "".join(shown)) from e
            shown.append(chunk.text)
            yield chunk
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


async def _answer_within(
    answer: Coroutine[Any, Any, BaseMessage], seconds: float | None
) -> BaseMessage:
    """Await a whole answer, for at most `seconds`."""
    import asyncio

    from langchain_aichatfree.errors import make_deadline_error

    if seconds is None:
        return await answer
    try:
        return await asyncio.wait_for(answer, seconds)
    except (asyncio.TimeoutError, TimeoutError) as e:
        raise make_deadline_error(seconds) from e


class _WaitNotice:
    """Tell a person at a terminal that the command is waiting, and for what.

    Only when ``stderr`` is a terminal, and only until the first text: after
    `_NOTICE_AFTER` seconds of silence one status line on stderr says what is
    awaited, how long it has been, and how long it will be waited for, and is
    updated when an attempt is retried (read from the package's retry log
    record). It is erased before any text is written.
    """

    def __init__(
        self, model: ChatAIChatFree, seconds: float | None, *, enabled: bool
    ) -> None:
        stream = sys.stderr
        self._stream = stream if enabled and _is_terminal(stream) else None
        self._host = urlsplit(model.base_url).netloc or model.base_url
        self._chunk_timeout = model.chunk_timeout
        self._attempts = model.max_retries + 1
        self._deadline = seconds
        self._attempt = 1
        self._retried: str | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._shown = False
        self._started = 0.0
        self._thread: threading.Thread | None = None
        self._handler = _RetryRecords(self)
        self._logger = logging.getLogger("langchain_aichatfree")
        self._level = logging.NOTSET

    def __enter__(self) -> _WaitNotice:
        if self._stream is None:
            return self
        self._started = time.monotonic()
        self._level = self._logger.level
        if not self._logger.isEnabledFor(logging.INFO):
            self._logger.setLevel(logging.INFO)
        self._logger.addHandler(self._handler)
        self._thread = threading.Thread(
            target=self._run, name="aichatfree-wait-notice", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop telling, and erase the status line (before text is written)."""
        if self._stream is None or self._done.is_set():
            return
        self._done.set()
        with self._lock:
            self._erase()
        if self._thread is not None:
            self._thread.join()
        self._logger.removeHandler(self._handler)
        self._logger.setLevel(self._level)

    def retrying(self, attempt: int, error: str) -> None:
        """An attempt failed with `error`; attempt number `attempt` follows."""
        with self._lock:
            self._attempt = attempt
            self._retried = f"after {error}"

    def _run(self) -> None:
        while not self._done.wait(_NOTICE_AFTER):
            with self._lock:
                if self._done.is_set():
                    return
                self._show(self._line())

    def _line(self) -> str:
        elapsed = time.monotonic() - self._started
        attempt = f"attempt {self._attempt} of {self._attempts}"
        if self._retried is not None:
            attempt += f" {self._retried}"
        limits = []
        if self._chunk_timeout is not None:
            limits.append(f"{self._chunk_timeout:g} s of silence allowed")
        if self._deadline is not None:
            limits.append(f"{self._deadline:g} s in all")
        line = f"{PROG}: waiting for {self._host} to answer: {elapsed:.0f} s, {attempt}"
        if limits:
            line += f" ({', '.join(limits)})"
        width = shutil.get_terminal_size().columns - 1  # one line, or \r fails
        return line if len(line) <= width else line[: max(width - 1, 0)] + "…"

    def _show(self, line: str) -> None:
        assert self._stream is not None  # noqa: S101 - only started with one
        self._stream.write("\r\x1b[K" + line)
        self._stream.flush()
        self._shown = True

    def _erase(self) -> None:
        if self._shown and self._stream is not None:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False


class _RetryRecords(logging.Handler):
    """Hands the transport's "Retrying ..." records to a `_WaitNotice`."""

    def __init__(self, notice: _WaitNotice) -> None:
        super().__init__(logging.INFO)
        self._notice = notice

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args
        if not str(record.msg).startswith("Retrying") or not isinstance(args, tuple):
            return
        if len(args) == 4:
            _, attempt, _, error = args
            if isinstance(attempt, int):
                self._notice.retrying(attempt, str(error))


def _is_terminal(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


def _stream_into(
    model: ChatAIChatFree,
    messages: list[BaseMessage],
    out: _Output,
    *,
    seconds: float | None = None,
    notice: bool = True,
) -> str:
    """Stream an answer to `out`; return its text. Closes the stream however it ends.

    Args:
        model: The model.
        messages: The conversation.
        out: Where the text goes.
        seconds: The deadline for the whole answer (``--timeout``), if any.
        notice: Whether a person at a terminal may be told that it waits.
    """
    pieces: list[str] = []
    finish_reason = None
    with _WaitNotice(model, seconds, enabled=notice) as waiting:
        from langchain_aichatfree import _sync

        stream = _sync.iterate(lambda: _chunks_within(model.astream(messages), seconds))
        try:
            for chunk in stream:
                if chunk.text:
                    waiting.stop()
                pieces.append(chunk.text)
                out.write(chunk.text)
                metadata = chunk.response_metadata
                finish_reason = metadata.get("finish_reason", finish_reason)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
    if finish_reason == "empty":
        print(f"{PROG}: {_EMPTY_ANSWER}", file=sys.stderr, flush=True)
    return "".join(pieces)


_EMPTY_ANSWER: Final = (
    "the deployment answered with no text (finish_reason 'empty'), most often "
    "because the model blocked the prompt; try rephrasing it"
)


def _read_question(words: Sequence[str]) -> str:
    if words and list(words) != ["-"]:
        question = " ".join(words)
    elif sys.stdin is None or (not words and sys.stdin.isatty()):
        msg = (
            'no question: give one (aichatfree "Hi!"), pipe one in '
            "(echo Hi | aichatfree), type or paste one (aichatfree -), or start "
            "a session (aichatfree chat)"
        )
        raise UsageError(msg)
    else:
        if sys.stdin.isatty():
            print(
                f"{PROG}: type or paste the question, then press Ctrl-D at the "
                "start of a line (Ctrl-C cancels):",
                file=sys.stderr,
                flush=True,
            )
        question = sys.stdin.read()
    question = question.strip()
    if not question:
        raise UsageError("the question is empty")
    return question


def _ask(args: argparse.Namespace, out: _Output) -> ExitCode:
    question = _read_question(args.question)
    model = _make_model(args)
    try:
        messages = _conversation(args.system, [], question)
        seconds = _deadline(args)
        if args.json:
            with _WaitNotice(model, seconds, enabled=not args.verbose):
                from langchain_aichatfree import _sync

                answer = _sync.run(_answer_within(model.ainvoke(messages), seconds))
            result = {
                "text": answer.text,
                "response_metadata": answer.response_metadata,
                "usage_metadata": getattr(answer, "usage_metadata", None),
                "base_url": answer.response_metadata.get("deployment", model.base_url),
                "dialect": model.dialect,
            }
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
        else:
            _stream_into(model, messages, out, seconds=seconds, notice=not args.verbose)
            out.end_line()
    finally:
        model.close()
    return ExitCode.OK


def _json_error(error: BaseException, out: _Output) -> None:
    """The one JSON object of ``--json`` when the call failed."""
    details: dict[str, Any] = {
        "type": type(error).__name__,
        "message": describe(error, verbose=True),
        "exit_code": int(exit_code_for(error)),
    }
    for name in ("status_code", "retry_after", "partial_text"):
        if hasattr(error, name):
            details[name] = getattr(error, name)
    out.write(json.dumps({"error": details}, ensure_ascii=False) + "\n")


# -- chat ---------------------------------------------------------------------

_CHAT_HELP: Final = """\
Commands:
  /reset         forget the conversation (the system instructions stay)
  /system TEXT   set the system instructions; /system shows them, /system - removes
  /save FILE     save the conversation (and system instructions) as JSON
  /load FILE     replace the conversation with one saved by /save
  /help          this help
  /exit          leave (or Ctrl-D)
Ctrl-C stops an answer; it is then not kept. Start a message with // to send
one that begins with a slash."""


@dataclass
class ChatSession:
    """An interactive conversation: the system instructions and the turns.

    Only complete exchanges are kept: a question whose answer failed or was
    interrupted is dropped with its partial answer.

    Attributes:
        system: The system instructions, if any.
        history: The completed turns, human and AI messages alternating.
    """

    system: str | None = None
    history: list[BaseMessage] = field(default_factory=list)

    def messages_for(self, question: str) -> list[BaseMessage]:
        """The conversation to send for a new question."""
        return _conversation(self.system, self.history, question)

    def add_exchange(self, question: str, answer: str) -> None:
        """Keep a question and its complete answer."""
        from langchain_core.messages import AIMessage, HumanMessage

        self.history += [HumanMessage(question), AIMessage(answer)]

    def to_messages(self) -> list[BaseMessage]:
        """Everything there is to save: the system message first, if any."""
        from langchain_core.messages import SystemMessage

        head: list[BaseMessage] = [SystemMessage(self.system)] if self.system else []
        return [*head, *self.history]

    def save(self, path: Path) -> int:
        """Write the conversation as JSON (`messages_to_dict`); return its size."""
        from langchain_core.messages import messages_to_dict

        messages = self.to_messages()
        text = json.dumps(messages_to_dict(messages), ensure_ascii=False, indent=2)
        path.write_text(text + "\n", encoding="utf-8")
        return len(messages)

    def load(self, path: Path) -> int:
        """Replace the conversation with a saved one; return its size.

        Raises:
            ValueError: The file does not hold a saved conversation (the
                session is then unchanged).
        """
        from langchain_core.messages import SystemMessage, messages_from_dict

        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise ValueError("not a conversation: expected a JSON list of messages")
        try:
            messages = messages_from_dict(data)
        except (KeyError, TypeError, ValueError) as e:
            msg = f"not a conversation saved by /save ({type(e).__name__}: {e})"
            raise ValueError(msg) from e
        system = None
        if messages and isinstance(messages[0], SystemMessage):
            system = messages[0].text
            messages = messages[1:]
        self.system, self.history = system, list(messages)
        return len(data)


def _chat_command(line: str, session: ChatSession) -> bool:
    """Run a /command; return False when the session should end."""
    name, _, rest = line.partition(" ")
    rest = rest.strip()
    if name in ("/exit", "/quit"):
        return False
    if name == "/help":
        print(_CHAT_HELP)
    elif name == "/reset":
        session.history.clear()
        kept = " (system instructions kept)" if session.system else ""
        print(f"Conversation cleared{kept}.")
    elif name == "/system":
        if not rest:
            print(
                f"System instructions: {session.system!r}"
                if session.system
                else "No system instructions."
            )
        elif rest == "-":
            session.system = None
            print("System instructions removed.")
        else:
            session.system = rest
            print("System instructions set.")
    elif name in ("/save", "/load"):
        if not rest:
            print(f"{PROG}: error: {name} needs a file name", file=sys.stderr)
            return True
        path = Path(rest).expanduser()
        try:
            if name == "/save":
                print(f"Saved {session.save(path)} messages to {path}.")
            else:
                count = session.load(path)
                print(f"Loaded {count} messages from {path}.")
        except (OSError, ValueError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            print(f"{PROG}: error: {name} {path}: {_one_line(reason)}", file=sys.stderr)
    else:
        print(
            f"{PROG}: unknown command {name}; /help lists them (// sends a "
            "message that starts with a slash)",
            file=sys.stderr,
        )
    return True


def _chat_turn(
    model: ChatAIChatFree,
    session: ChatSession,
    question: str,
    *,
    verbose: bool,
    seconds: float | None = None,
) -> None:
    """Ask one question in the session, keeping the exchange only if complete."""
    from langchain_aichatfree.errors import AIChatFreeError

    out = _Output(sys.stdout)
    try:
        answer = _stream_into(
            model,
            session.messages_for(question),
            out,
            seconds=seconds,
            notice=not verbose,
        )
    except KeyboardInterrupt:
        out.end_line()
        print("[interrupted: this answer is not kept in the conversation]", flush=True)
        return
    except (AIChatFreeError, ValueError) as e:
        _report(e, verbose=verbose, out=out)
        print("(Not kept in the conversation; the session goes on.)", file=sys.stderr)
        return
    out.end_line()
    session.add_exchange(question, answer)
    print()


def _enable_line_editing() -> None:
    """Arrow keys and history for input(), where the platform has readline."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401 - importing it is what enables it


def _chat(args: argparse.Namespace, out: _Output) -> ExitCode:
    model = _make_model(args)
    session = ChatSession(system=args.system)
    interactive = sys.stdin.isatty()
    if interactive:
        _enable_line_editing()
        print(
            f"Chatting with {model.base_url} ({model.dialect}). /help lists the "
            "commands; Ctrl-C stops an answer, Ctrl-D exits.",
            flush=True,
        )
    prompt = "> " if interactive else ""
    try:
        while True:
            try:
                line = input(prompt)
            except EOFError:
                if interactive:
                    print()
                return ExitCode.OK
            except KeyboardInterrupt:
                print("\n(Ctrl-D or /exit leaves the session.)", flush=True)
                continue
            line = line.strip()
            if not line:
                continue
            if line.startswith("/") and not line.startswith("//"):
                if not _chat_command(line, session):
                    return ExitCode.OK
                continue
            question = line[1:] if line.startswith("//") else line
            _chat_turn(
                model,
                session,
                question,
                verbose=args.verbose,
                seconds=_deadline(args),
            )
    finally:
        model.close()


# -- status -------------------------------------------------------------------


def _status(args: argparse.Namespace, out: _Output) -> ExitCode:
    from langchain_aichatfree._pool_file import format_status

    model = _make_model(args)
    try:
        rows = model.quota_status()
    finally:
        model.close()
    if args.json:
        out.write(json.dumps(rows) + "\n")
    else:
        out.write(format_status(rows) + "\n")
    return ExitCode.OK


# -- probe --------------------------------------------------------------------

_CHECK_QUESTION: Final = "Reply with the single word OK."
"""The one tiny question ``probe --check`` sends."""


def _add_password_arguments(parser: Any) -> None:
    """``--ask-password``, and a ``--password`` that is refused (process lists)."""
    parser.add_argument(
        "--ask-password",
        action="store_true",
        help=f"type the site password at a hidden prompt (else ${ENV_PASSWORD})",
    )
    parser.add_argument(
        "--password", action=_RefusePassword, nargs="?", help=argparse.SUPPRESS
    )


def _add_probe_parser(commands: Any) -> None:
    probe = commands.add_parser(
        "probe",
        help="find a site's family, signing secret and password need",
        description=(
            "Read a GeminiProChat or chatgpt-demo site's page and chat script "
            "(same site only, bounded sizes) to find its family (dialect) and "
            "signing secret, and ask its /api/auth whether a password is "
            f"needed. With ${ENV_PASSWORD} set or --ask-password, also whether "
            "that password is accepted (it is sent to /api/auth only). Prints "
            "the settings as environment lines and as Python."
        ),
        epilog=_exit_code_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    probe.add_argument("url", metavar="URL", help="the site, e.g. https://your.site")
    probe.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object with the settings found",
    )
    probe.add_argument(
        "--check",
        action="store_true",
        help=(
            "also send one tiny signed question (costs one request of the "
            "site's quota; carries the password, if any)"
        ),
    )
    _add_password_arguments(probe)
    probe.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="longest time one request may take (default: 30)",
    )
    probe.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="on failure, show the traceback",
    )


def _probe(args: argparse.Namespace, out: _Output) -> ExitCode:
    from langchain_aichatfree._site import probe_options, probe_site
    from langchain_aichatfree.errors import APIConnectionError

    if args.ask_password:
        password = _ask_password()
    else:
        password = os.environ.get(ENV_PASSWORD) or None
    finite = args.timeout is not None and math.isfinite(args.timeout)
    options = probe_options(
        timeout=args.timeout if finite else None,
        chunk_timeout=DEFAULT_CHUNK_TIMEOUT,
        verify_ssl=True,
        proxy=None,
    )
    try:
        settings = _sync.run(probe_site(args.url, password=password, options=options))
    except APIConnectionError as e:
        return _probe_unreachable(e, args, out)
    check: dict[str, Any] | None = None
    failure: BaseException | None = None
    if args.check:
        check, failure = _check_site(settings, password, args.timeout)
    if args.json:
        result = {**settings.to_dict(), "check": check}
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    else:
        out.write(_probe_report(settings, password, check))
    if failure is not None and not args.json:
        return _report(failure, verbose=args.verbose, out=out)
    if failure is not None:
        return exit_code_for(failure)
    if settings.password_accepted is False:
        print(
            f"{PROG}: the site refused the password given; check {ENV_PASSWORD}.",
            file=sys.stderr,
        )
        return ExitCode.AUTH
    return ExitCode.OK


def _probe_unreachable(
    error: AIChatFreeError, args: argparse.Namespace, out: _Output
) -> ExitCode:
    """The site could not be reached: say so, and that the URL is to check."""
    code = exit_code_for(error)
    message = (
        f"network error: {_one_line(error.message).rstrip('.')}. Check the URL "
        "and your connection."
    )
    if args.verbose:
        traceback.print_exception(error, file=sys.stderr)
    if args.json:
        details = {"type": type(error).__name__, "message": message}
        out.write(json.dumps({"error": {**details, "exit_code": int(code)}}) + "\n")
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)
    return code


def _check_site(
    settings: SiteSettings, password: str | None, timeout: float | None
) -> tuple[dict[str, Any], BaseException | None]:
    """Ask the site one tiny signed question; say whether it answered."""
    from pydantic import SecretStr

    from langchain_aichatfree.chat_models import ChatAIChatFree
    from langchain_aichatfree.errors import AIChatFreeError

    model = ChatAIChatFree(
        base_url=settings.base_url,
        dialect=settings.dialect,
        secret=settings.secret,
        password=SecretStr(password) if password is not None else None,
        max_retries=0,
        timeout=timeout,
    )
    try:
        answer = model.invoke(_CHECK_QUESTION)
    except (AIChatFreeError, ValueError) as e:
        details = {
            "type": type(e).__name__,
            "message": describe(e, verbose=True),
            "exit_code": int(exit_code_for(e)),
        }
        return {"answered": False, "error": details}, e
    finally:
        model.close()
    return {"answered": True, "text": answer.text}, None


def _probe_report(
    settings: SiteSettings, password: str | None, check: dict[str, Any] | None
) -> str:
    """What the probe found, then the settings as environment lines and Python."""
    family = FAMILY_NAMES[settings.dialect]
    secret = (
        f"{settings.secret!r} (public: it is in the site's browser code)"
        if settings.secret
        else "none (the empty secret)"
    )
    if not settings.password_required:
        needed = "not required"
    elif settings.password_accepted:
        needed = "required; the one given is accepted"
    elif settings.password_accepted is False:
        needed = "required; the one given was REFUSED"
    else:
        needed = f"required; set {ENV_PASSWORD} (or use --ask-password) to check yours"
    lines = [
        f"Site:      {settings.base_url}",
        f"Family:    {family} (dialect {settings.dialect!r}), chat script "
        f"{settings.script_url}",
        f"Secret:    {secret}",
        f"Password:  {needed}",
    ]
    if check is not None:
        lines.append(
            f"Check:     answered {_one_line(check['text'], limit=80)!r}"
            if check["answered"]
            else "Check:     no answer (see below)"
        )
    lines += [f"Note:      {note}" for note in settings.notes]
    lines += [
        "",
        "As environment lines:",
        f"  export {ENV_BASE_URL}={shlex.quote(settings.base_url)}",
        f"  export {ENV_DIALECT}={settings.dialect}",
        f"  export {ENV_SECRET}={shlex.quote(settings.secret)}",
    ]
    if settings.password_required:
        lines.append(
            f"  read -rs {ENV_PASSWORD} && export {ENV_PASSWORD}  # the site password"
        )
    lines += [
        "",
        "In Python:",
        "  from langchain_aichatfree import ChatAIChatFree",
        "",
        "  model = ChatAIChatFree(",
        f"      base_url={settings.base_url!r},",
        f"      dialect={settings.dialect!r},",
        f"      secret={settings.secret!r},",
    ]
    if settings.password_required:
        lines.append(f"      # password: read from ${ENV_PASSWORD}")
    lines.append("  )")
    return "\n".join(lines) + "\n"


# -- serve --------------------------------------------------------------------


def _announce(server: LocalServer, args: argparse.Namespace) -> None:
    password = (
        f"password required ({len(args.passwords)} accepted)"
        if args.passwords
        else "no password"
    )
    secret = "a signing secret" if args.secret else "no signing secret"
    print(f"AIChatFree local server listening on {server.url}", flush=True)
    print(f"  {args.dialect} dialect, {password}, {secret}.")
    print(f"  Point clients at it: export {ENV_BASE_URL}={server.url}")
    print(f"  It serves the site's pages too: {PROG} probe {server.url}")
    print("  It answers 'Echo: <the last user message>'. Ctrl-C stops it.", flush=True)
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        print(
            f"{PROG}: warning: listening on {args.host}, not loopback: other "
            "machines can reach this test server",
            file=sys.stderr,
        )


def server_from_args(args: argparse.Namespace) -> LocalServer:
    """The local server that `add_serve_arguments`' options describe.

    Args:
        args: Parsed options.

    Returns:
        The server, not yet started.
    """
    # Imported here: aiohttp's server side is only needed by this command.
    from langchain_aichatfree.testing import LocalServer

    return LocalServer(
        host=args.host,
        port=args.port,
        secret=args.secret,
        passwords=args.passwords,
        dialect=args.dialect,
    )


async def _serve_until_stopped(args: argparse.Namespace) -> None:
    server = server_from_args(args)
    try:
        await server.serve_until_signalled(lambda s: _announce(s, args))
    except OSError as e:
        msg = (
            f"cannot listen on {args.host}:{args.port} ({e.strerror or e}); "
            "choose another --port or --host"
        )
        raise UsageError(msg) from e


def _serve(args: argparse.Namespace, out: _Output) -> ExitCode:
    with contextlib.suppress(KeyboardInterrupt):
        import asyncio

        asyncio.run(_serve_until_stopped(args))
    return ExitCode.OK


_HANDLERS: Final[Mapping[str, Callable[[argparse.Namespace, _Output], ExitCode]]] = {
    "ask": _ask,
    "chat": _chat,
    "serve": _serve,
    "status": _status,
    "probe": _probe,
}


@contextlib.contextmanager
def _verbose_logging(verbose: bool) -> Iterator[None]:
    """With --verbose, show the package's log (retries) on stderr."""
    if not verbose:
        yield
        return
    logger = logging.getLogger("langchain_aichatfree")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``aichatfree`` command.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status (`ExitCode`).
    """
    arguments = _with_command(list(sys.argv[1:] if argv is None else argv))
    try:
        args = build_parser().parse_args(arguments)
    except SystemExit as e:  # --help, --version, or a usage error (status 2)
        return e.code if isinstance(e.code, int) else ExitCode.USAGE
    out = _Output(sys.stdout)
    verbose: bool = getattr(args, "verbose", False)
    with _verbose_logging(verbose):
        try:
            return _HANDLERS[args.command](args, out)
        except KeyboardInterrupt:
            out.end_line()
            print(f"{PROG}: interrupted", file=sys.stderr)
            return ExitCode.INTERRUPTED
        except BrokenPipeError:
            # The reader went away (`aichatfree ... | head -1`): stop quietly,
            # and keep the interpreter's final flush from failing too.
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            return ExitCode.OK
        except Exception as e:
            if (
                getattr(args, "json", False)
                and exit_code_for(e) is not ExitCode.INTERNAL
            ):
                _json_error(e, out)
            return _report(e, verbose=verbose, out=out)
