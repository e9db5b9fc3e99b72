"""Run the local AIChatFree server from a shell.

``python -m langchain_aichatfree.testing [--host 127.0.0.1] [--port 0]
[--secret S] [--password P ...] [--dialect gemini|chatgpt-demo]`` prints one line,
``AIChatFree local server listening on http://HOST:PORT``, then serves (answering
``Echo: <last user text>``) until SIGINT or SIGTERM, and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence

from langchain_aichatfree._cli_serve import add_serve_arguments, server_from_args
from langchain_aichatfree.testing._server import LocalServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m langchain_aichatfree.testing",
        description="Serve the AIChatFree protocol locally (echoing the user).",
    )
    add_serve_arguments(parser)
    return parser


def _announce(server: LocalServer) -> None:
    print(f"AIChatFree local server listening on {server.url}", flush=True)


async def _serve(args: argparse.Namespace) -> None:
    await server_from_args(args).serve_until_signalled(_announce)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server until SIGINT or SIGTERM.

    Args:
        argv: The command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status, 0.
    """
    args = _parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
