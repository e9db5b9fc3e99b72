"""``aichatfree serve``'s options (`_cli_serve`), shared with ``python -m ...testing``.

The server run from the command line is in tests/integration_tests/test_cli.py.
"""

from __future__ import annotations

import argparse

import pytest

from langchain_aichatfree._cli_serve import (
    add_serve_arguments,
    port_number,
    server_from_args,
)
from langchain_aichatfree.testing import LocalServer


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize(("text", "port"), [("0", 0), ("8080", 8080), ("65535", 65535)])
def test_port_number_accepts(text: str, port: int) -> None:
    assert port_number(text) == port


@pytest.mark.parametrize("text", ["65536", "99999", "-1", "x", "", "80.0"])
def test_port_number_refuses(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="0 to 65535"):
        port_number(text)


def test_defaults() -> None:
    args = parse()
    assert (args.host, args.port, args.secret, args.passwords, args.dialect) == (
        "127.0.0.1",
        0,
        "",
        [],
        "gemini",
    )


def test_passwords_repeat_and_extend() -> None:
    args = parse("--password", "a", "b", "--password", "c", "--dialect", "chatgpt-demo")
    assert args.passwords == ["a", "b", "c"]
    assert args.dialect == "chatgpt-demo"


def test_server_from_args_is_not_started() -> None:
    server = server_from_args(parse("--dialect", "chatgpt-demo", "--secret", "s"))
    assert isinstance(server, LocalServer)
    assert server.dialect == "chatgpt-demo"
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.url
