"""The command line (`_cli`): argument parsing, --help, dispatch, what --help imports.

The runs of the real command against the local server are in
tests/integration_tests/test_cli.py; these need no server.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from langchain_aichatfree import _cli
from langchain_aichatfree._cli import EXIT_CODES, ExitCode, main

PASSWORD = "cli-pw-4417"
ROOT = Path(__file__).parents[2]

HEAVY = ("pydantic", "aiohttp", "langchain_core", "langchain_aichatfree.testing")
"""What a question needs, which --help and a usage error must not import."""

LIGHT = {
    "langchain_aichatfree",
    "langchain_aichatfree._cli",
    "langchain_aichatfree._cli_report",
    "langchain_aichatfree._cli_serve",
    "langchain_aichatfree._constants",
    "langchain_aichatfree._version",
}
"""The package's modules that --help imports: the parser's own."""


def test_exit_code_table_is_complete() -> None:
    assert set(EXIT_CODES) == set(ExitCode)
    assert all(meaning for meaning in EXIT_CODES.values())
    assert list(EXIT_CODES) == sorted(EXIT_CODES)
    documented = _cli.__doc__ or ""
    for code, meaning in EXIT_CODES.items():  # the module docstring's table
        pattern = rf"^{int(code)}\s+\S.*?\s{{2,}}(\S.*)$"
        row = re.search(pattern, documented, re.MULTILINE)
        assert row, code
        assert meaning.startswith(row.group(1)), (row.group(1), meaning)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--password", PASSWORD, "hi"], "AICHATFREE_PASSWORD"),
        (["--base-url", "not a url", "hi"], "base_url must be an http(s) URL"),
        (["--timeout", "-1", "hi"], "expected a positive number"),
        (["chat", "--max-retries", "x"], "expected a whole number"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert PASSWORD not in err


@pytest.mark.parametrize(
    "option",
    ["--base-url", "--json", "--system", "--timeout", "--chunk-timeout", "--dialect"],
)
def test_top_level_help_shows_the_main_options(
    option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--help"]) == 0
    assert f"\n  {option} " in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--port", "99999"],
        ["serve", "--port", "65536"],
        ["serve", "--port", "-1"],
    ],
)
def test_serve_refuses_a_port_out_of_range(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "aichatfree serve: error: argument --port: expected a port number" in err
    assert "0 to 65535" in err
    assert "bug" not in err


def test_serve_takes_verbose() -> None:
    args = _cli.build_parser().parse_args(["serve", "--verbose"])
    assert args.verbose is True


def test_help_shows_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for code in ExitCode:
        assert f"\n  {int(code):<4} " in out


def test_console_script_is_declared() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '\naichatfree = "langchain_aichatfree._cli:main"\n' in pyproject


def main_in_a_fresh_process(
    argv: list[str], stdin: str = ""
) -> tuple[int, list[str], list[str]]:
    """Run `main(argv)` in a new interpreter.

    Returns:
        Its exit status, the lines it wrote on stderr, and the modules that
        were imported when it returned.
    """
    code = (
        "import json, sys\n"
        "from langchain_aichatfree._cli import main\n"
        f"status = main({argv!r})\n"
        "print(json.dumps([status, sorted(sys.modules)]), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    *lines, last = result.stderr.splitlines()
    status, modules = json.loads(last)
    return status, lines, modules


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["ask", "--help"],
        ["chat", "--help"],
        ["serve", "--help"],
        ["probe", "--help"],
        ["status", "--help"],
        ["--timeout", "-1", "hi"],  # a usage error
        ["--password", "x", "hi"],
        ["serve", "--port", "65536"],
    ],
)
def test_help_and_usage_errors_import_nothing_heavy(argv: list[str]) -> None:
    # Issue 11 item 6: --help starts fast because it imports argparse and the
    # command's light modules only. What is imported, not how long it takes.
    status, _, modules = main_in_a_fresh_process(argv)
    assert status in (0, 2)
    assert [m for m in HEAVY if m in modules] == []
    ours = {m for m in modules if m.startswith("langchain_aichatfree")}
    assert ours <= LIGHT


@pytest.mark.parametrize(
    ("argv", "stdin", "said"),
    [
        ([], " \n", "error: the question is empty"),
        (["-"], "", "error: the question is empty"),
        (["  "], "", "error: the question is empty"),
    ],
)
def test_a_question_refused_before_asking_imports_nothing_heavy(
    argv: list[str], stdin: str, said: str
) -> None:
    # Saying "the question is empty" (exit 2) needs neither the model nor the
    # error classes: it is the command's own usage error.
    status, lines, modules = main_in_a_fresh_process(argv, stdin)
    assert status == 2
    assert lines == [f"aichatfree: {said}"]
    assert [m for m in HEAVY if m in modules] == []
    assert "langchain_aichatfree.errors" not in modules


def test_python_m_help_imports_nothing_heavy() -> None:
    # The command as users start it: `python -m langchain_aichatfree --help`.
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "langchain_aichatfree", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "langchain_aichatfree._cli" in imported  # the listing is read right
    assert "exit codes:" in result.stdout
    for module in (*HEAVY, "asyncio", "langchain_aichatfree.chat_models"):
        assert module not in imported


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["hi"], "ask"),
        (["-"], "ask"),
        ([], "ask"),
        (["--json", "hi"], "ask"),
        (["ask", "hi"], "ask"),
        (["chat"], "chat"),
        (["serve"], "serve"),
        (["status"], "status"),
        (["probe", "https://your.site"], "probe"),
        (["chat-with-me"], "ask"),  # a question, not a command
    ],
)
def test_ask_is_the_default_command(argv: list[str], command: str) -> None:
    args = _cli.build_parser().parse_args(_cli._with_command(argv))
    assert args.command == command


def test_ask_takes_its_flags_before_or_after_the_question() -> None:
    argv = ["--timeout", "inf", "what", "is", "this", "--max-retries", "3"]
    args = _cli.build_parser().parse_args(_cli._with_command(argv))
    assert args.question == ["what", "is", "this"]
    assert (args.timeout, args.max_retries) == (float("inf"), 3)
    assert args.json is False


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", 1.0), ("0.5", 0.5), ("inf", float("inf")), ("1e3", 1000.0)],
)
def test_positive_float_accepts(text: str, value: float) -> None:
    assert _cli._positive_float(text) == value


@pytest.mark.parametrize("text", ["0", "-1", "nan", "x", "", "-inf"])
def test_positive_float_refuses(text: str) -> None:
    with pytest.raises(Exception, match="expected a positive number"):
        _cli._positive_float(text)


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("7", 7), ("010", 10)])
def test_whole_number_accepts(text: str, value: int) -> None:
    assert _cli._whole_number(text) == value


@pytest.mark.parametrize("text", ["-1", "1.5", "x", "", " 1"])
def test_whole_number_refuses(text: str) -> None:
    with pytest.raises(Exception, match="expected a whole number >= 0"):
        _cli._whole_number(text)


@pytest.mark.parametrize(
    "argv", [["probe", "https://x", "--password", "pw"], ["--password=pw", "hi"]]
)
def test_password_flag_is_refused_without_echoing_it(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "process list" in err
    assert "pw" not in err.replace("--ask-password", "")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from langchain_aichatfree import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"aichatfree {__version__}\n"
