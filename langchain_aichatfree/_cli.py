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

This module parses the command line and hands it to the command's module,
imported only then: ``_cli_ask`` (with ``_cli_wait``, the notice shown while
waiting), ``_cli_chat``, ``_cli_probe`` (probe and status) and ``_cli_serve``;
``_cli_model`` builds the model from the flags, ``_cli_report`` says how a
failure ends (exit codes, wording).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

from langchain_aichatfree._cli_report import (
    EXIT_CODES,
    PROG,
    ExitCode,
    LineTrackingWriter,
    exit_code_for,
    report_error,
    report_json_error,
    say,
)
from langchain_aichatfree._cli_serve import add_serve_arguments
from langchain_aichatfree._constants import (
    DEFAULT_CHUNK_TIMEOUT,
    DEFAULT_MAX_RETRIES,
    ENV_BASE_URL,
    ENV_PASSWORD,
    ENV_QUOTA_STORE,
    ENV_SECRET,
)
from langchain_aichatfree._version import __version__

# Only argparse and the command's light modules are imported here: what a
# command needs (langchain-core, aiohttp, pydantic: most of a second) is imported
# when it runs (`_handler`), so that --help, --version and a usage error start
# at once. `tests/unit_tests/test_cli.py` pins what --help imports.

__all__ = ["EXIT_CODES", "ExitCode", "exit_code_for", "main"]

_COMMANDS: Final = ("ask", "chat", "serve", "probe", "status")
_TOP_LEVEL_FLAGS: Final = frozenset({"-h", "--help", "--version"})

Handler = Callable[[argparse.Namespace, LineTrackingWriter], ExitCode]
"""A subcommand: its parsed flags and the stdout writer in, its exit status out."""


# -- the command line ---------------------------------------------------------


class _RefusedPasswordFlag(argparse.Action):
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
    """An argparse type: a number above 0 (``inf`` included)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _whole_number(text: str) -> int:
    """An argparse type: 0, 1, 2, ..."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def _exit_code_epilog() -> str:
    """The `EXIT_CODES` table, as ``--help`` ends."""
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
        type=_whole_number,
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


def _with_command(argv: list[str]) -> list[str]:
    """Insert the default ``ask`` unless a command or a top-level flag leads."""
    if argv and (argv[0] in _COMMANDS or argv[0] in _TOP_LEVEL_FLAGS):
        return argv
    return ["ask", *argv]


def _add_password_arguments(parser: Any) -> None:
    """``--ask-password``, and a ``--password`` that is refused (process lists)."""
    parser.add_argument(
        "--ask-password",
        action="store_true",
        help=f"type the site password at a hidden prompt (else ${ENV_PASSWORD})",
    )
    parser.add_argument(
        "--password", action=_RefusedPasswordFlag, nargs="?", help=argparse.SUPPRESS
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


def _handler(command: str) -> Handler:
    """The function that runs `command`, its module imported only now."""
    if command == "chat":
        from langchain_aichatfree._cli_chat import run_chat

        return run_chat
    if command == "serve":
        from langchain_aichatfree._cli_serve import run_serve

        return run_serve
    if command == "probe":
        from langchain_aichatfree._cli_probe import run_probe

        return run_probe
    if command == "status":
        from langchain_aichatfree._cli_probe import run_status

        return run_status
    from langchain_aichatfree._cli_ask import run_ask

    return run_ask


@contextlib.contextmanager
def _verbose_logging(verbose: bool) -> Iterator[None]:
    """With --verbose, show the package's log (retries) on stderr."""
    if not verbose:
        yield
        return
    import logging

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
    out = LineTrackingWriter(sys.stdout)
    verbose: bool = getattr(args, "verbose", False)
    with _verbose_logging(verbose):
        try:
            return _handler(args.command)(args, out)
        except KeyboardInterrupt:
            out.end_line()
            say("interrupted")
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
                report_json_error(e, out)
            return report_error(e, verbose=verbose, out=out)
