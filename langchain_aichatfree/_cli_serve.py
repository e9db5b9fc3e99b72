"""``aichatfree serve``: the local offline test server, from the command line.

The server's options (`add_serve_arguments`) and the server they describe
(`server_from_args`) are shared with ``python -m langchain_aichatfree.testing``.
This is the only command module that uses `langchain_aichatfree.testing`, and it
imports it when a server is made: building the parser for ``--help`` does not.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import TYPE_CHECKING, Final

from langchain_aichatfree._cli_report import (
    PROG,
    ExitCode,
    LineTrackingWriter,
    UsageError,
)
from langchain_aichatfree._constants import ENV_BASE_URL

if TYPE_CHECKING:
    from langchain_aichatfree.testing import LocalServer

_MAX_PORT: Final = 65535
_LOOPBACK: Final = ("127.0.0.1", "::1", "localhost")


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 (any free port) to 65535.

    Args:
        text: The flag's value.

    Returns:
        The port.

    Raises:
        argparse.ArgumentTypeError: It is not a port number.
    """
    if not text.isdigit() or int(text) > _MAX_PORT:
        msg = f"expected a port number from 0 to {_MAX_PORT}, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The local server's options, for `serve` and `python -m ...testing`.

    Args:
        parser: The parser (or sub-parser) to add them to.
    """
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=port_number, default=0, help="port (default: 0, any free port)"
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


def _announce(server: LocalServer, args: argparse.Namespace) -> None:
    """Say where the server listens and how to point clients at it."""
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
    if args.host not in _LOOPBACK:
        print(
            f"{PROG}: warning: listening on {args.host}, not loopback: other "
            "machines can reach this test server",
            file=sys.stderr,
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


def run_serve(args: argparse.Namespace, out: LineTrackingWriter) -> ExitCode:
    """Serve until Ctrl-C (SIGINT) or SIGTERM.

    Args:
        args: The parsed flags of ``serve``.
        out: Unused: the server announces itself on stdout.

    Returns:
        `ExitCode.OK`.

    Raises:
        UsageError: The address cannot be listened on.
    """
    with contextlib.suppress(KeyboardInterrupt):
        import asyncio

        asyncio.run(_serve_until_stopped(args))
    return ExitCode.OK
