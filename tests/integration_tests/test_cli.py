"""The `aichatfree` command, run as a real process against the local server.

One-shot runs are started all at once (each process spends most of its time
importing), then checked one per test. Interactive runs get a pseudo-terminal
that is their controlling terminal, so Ctrl-C is a real ``\\x03`` typed at it and
``--ask-password`` reads the real ``/dev/tty``.
"""

from __future__ import annotations

import codecs
import io
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    HumanMessage,
    SystemMessage,
    messages_from_dict,
)

from langchain_aichatfree import ChatAIChatFree
from langchain_aichatfree._cli import ExitCode, main
from langchain_aichatfree.testing import UPSTREAM_ERRORS, LocalServer, Reply
from tests._command import COMMAND, Result, child_env, run_command, run_each

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="drives the command through POSIX terminals"
)

PASSWORD = "cli-pw-4417"
WRONG_PASSWORD = "wrong-pw-9931"
SECRET = "cli-pub-key"
READ_TIMEOUT = 30.0
"""Seconds to wait for expected output (generous: CI machines are slow)."""

SCRIPTED: Mapping[str, Callable[[], Reply]] = {
    "rate limit please": lambda: Reply.rate_limited(retry_in=3600),
    "briefly limited please": lambda: Reply.rate_limited(retry_in=0.2),
    "bad key please": lambda: Reply(error=UPSTREAM_ERRORS["api_key_invalid"]),
    "sentinel please": lambda: Reply("x", fail_after=0),
    "empty please": lambda: Reply(""),
    "partial please": lambda: Reply(chunks=["partial ", "answer"], fail_after=2),
    "overloaded please": lambda: Reply(error=UPSTREAM_ERRORS["upstream_503"]),
    "late please": lambda: Reply("late", first_byte_delay=60),
    "silent please": lambda: Reply("late", first_byte_delay=60),
    "deadline please": lambda: Reply("late", first_byte_delay=60),
    "json deadline please": lambda: Reply("late", first_byte_delay=60),
    "slow start please": lambda: Reply("finally here", first_byte_delay=2.5),
    "slow please": lambda: Reply(
        chunks=["Once upon a time", *[" and then"] * 600], chunk_delay=0.05
    ),
}
"""Questions that make the fake upstream misbehave (the rest are answered)."""


def respond(turns: list[dict[str, str]]) -> str | Reply:
    """Answer in a way that shows what the server was sent."""
    users = [t["text"] for t in turns if t["role"] == "user"]
    question = users[-1].splitlines()[-1]  # a system prompt is folded in first
    if question in SCRIPTED:
        return SCRIPTED[question]()
    pirate = "Arr! " if "pirate" in turns[0]["text"] else ""
    return Reply(f"{pirate}({len(users)} turns) you said: {question}", chunk_size=5)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(server: LocalServer, **changes: str | None) -> dict[str, str]:
    base: dict[str, str | None] = {
        "AICHATFREE_BASE_URL": server.url,
        "AICHATFREE_SECRET": SECRET,
        "AICHATFREE_PASSWORD": PASSWORD,
    }
    return child_env(**{**base, **changes})


# -- one-shot runs, all started together ----------------------------------------


@dataclass
class Case:
    args: list[str]
    env: dict[str, str | None] = field(default_factory=dict)
    stdin: str = ""


def cases() -> dict[str, Case]:
    """The runs of the real command: one per output mode and failure class."""
    return {
        "ask": Case(["--system", "Talk like a pirate", "What is 2+2? ü"]),
        "stdin": Case([], stdin="  a piped question\n"),
        "json": Case(["--json", "json question"]),
        "wrong_password": Case(["hi"], {"AICHATFREE_PASSWORD": WRONG_PASSWORD}),
        "rate_limit": Case(["rate limit please"]),
        "bad_key": Case(["bad key please"]),
        "sentinel": Case(["--max-retries", "0", "sentinel please"]),
        "network": Case(
            ["--base-url", f"http://127.0.0.1:{closed_port()}", "--max-retries=0", "hi"]
        ),
        "silent_piped": Case(
            ["--chunk-timeout", "1.5", "--max-retries", "1", "silent please"]
        ),
        "deadline": Case(["--timeout", "2", "deadline please"]),
        "json_deadline": Case(["--json", "--timeout", "1.5", "json deadline please"]),
        "ask_password_piped": Case(
            ["--ask-password", "hi"],
            {"AICHATFREE_PASSWORD": None},
            stdin=PASSWORD + "\n",
        ),
    }


@pytest.fixture(scope="module")
def server_options() -> dict[str, Any]:
    return {"secret": SECRET, "passwords": PASSWORD, "responder": respond}


@pytest.fixture(scope="module")
def runs(module_server: LocalServer) -> dict[str, subprocess.CompletedProcess[str]]:
    def run(case: Case) -> Callable[[], subprocess.CompletedProcess[str]]:
        env = server_env(module_server, **case.env)
        return lambda: run_command(case.args, env, case.stdin)

    return run_each({name: run(case) for name, case in cases().items()})


@pytest.fixture
def run_main(
    module_server: LocalServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Callable[..., Result]:
    """The command's `main()` in-process: the same code, without a start-up."""

    def run(*argv: str, stdin: str = "", **env: str | None) -> Result:
        settings: dict[str, str | None] = {
            "AICHATFREE_BASE_URL": module_server.url,
            "AICHATFREE_SECRET": SECRET,
            "AICHATFREE_PASSWORD": PASSWORD,
            **env,
        }
        for name, value in settings.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(argv))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def no_secrets(result: Result | subprocess.CompletedProcess[str]) -> None:
    for secret in (PASSWORD, WRONG_PASSWORD):
        assert secret not in result.stdout + result.stderr


def check_one_line(result: Result | subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aichatfree: ")
    no_secrets(result)
    return lines[0]


def test_ask_streams_the_answer_with_a_system_prompt(runs: Any) -> None:
    result = runs["ask"]
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "Arr! (1 turns) you said: What is 2+2? ü\n"
    no_secrets(result)


def test_question_from_piped_stdin(runs: Any) -> None:
    result = runs["stdin"]
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "(1 turns) you said: a piped question\n"


def test_json_output(runs: Any, module_server: LocalServer) -> None:
    result = runs["json"]
    assert (result.returncode, result.stderr) == (0, "")
    data = json.loads(result.stdout)
    assert data["text"] == "(1 turns) you said: json question"
    assert data["response_metadata"]["finish_reason"] == "stop"
    assert data["response_metadata"]["model_provider"] == "aichatfree"
    assert data["usage_metadata"]["output_tokens"] > 0
    assert (data["base_url"], data["dialect"]) == (module_server.url, "gemini")


def test_wrong_password_exits_3(runs: Any) -> None:
    line = check_one_line(runs["wrong_password"], 3)
    assert "Invalid password. (HTTP 401)" in line
    assert "AICHATFREE_PASSWORD" in line
    assert "--ask-password" in line


def test_rate_limit_exits_4(runs: Any) -> None:
    line = check_one_line(runs["rate_limit"], 4)
    assert "rate limited" in line
    assert "Try again in 3600 s." in line


def test_deployment_key_refused_exits_5(runs: Any) -> None:
    line = check_one_line(runs["bad_key"], 5)
    assert "API key not valid" in line
    assert "operator" in line


def test_mid_stream_failure_exits_5(runs: Any) -> None:
    result = runs["sentinel"]
    line = check_one_line(result, 5)
    assert "cut short" in line
    assert result.stdout == ""


def test_closed_port_exits_6(runs: Any) -> None:
    line = check_one_line(runs["network"], 6)
    assert "network error" in line
    assert "--base-url" in line


def test_ask_password_refuses_to_echo_without_a_terminal(runs: Any) -> None:
    line = check_one_line(runs["ask_password_piped"], 2)
    assert "needs a terminal" in line


def test_every_run_left_the_server_clean(runs: Any, module_server: LocalServer) -> None:
    module_server.wait_until(
        lambda: module_server.open_connections == 0, timeout=READ_TIMEOUT
    )
    asked = [
        r.payload["messages"][-1]["parts"][0]["text"] for r in module_server.requests
    ]
    assert asked.count("sentinel please") == 1  # --max-retries 0 was honoured
    assert asked.count("silent please") == 2  # --max-retries 1 was honoured
    assert asked.count("deadline please") == 1  # --timeout spans the attempts


def test_chunk_timeout_bounds_each_silence_and_says_so(runs: Any) -> None:
    result = runs["silent_piped"]
    line = check_one_line(result, 6)  # no waiting notice: stderr is not a terminal
    assert "chunk_timeout=1.5" in line
    assert "--chunk-timeout" in line
    assert "longer --timeout" not in line  # no --timeout was given


def test_json_timeout_is_one_json_error(runs: Any) -> None:
    result = runs["json_deadline"]
    check_one_line(result, 6)
    error = json.loads(result.stdout)["error"]
    assert (error["type"], error["exit_code"]) == ("DeadlineExceededError", 6)
    assert "--timeout 1.5 s" in error["message"]


def test_timeout_bounds_the_whole_answer_retries_included(runs: Any) -> None:
    line = check_one_line(runs["deadline"], 6)
    assert "timed out: no complete answer within --timeout 2 s" in line
    assert "retries included" in line


# -- the same main() in-process: more cases, no start-up cost -------------------


def test_flags_override_the_environment(
    run_main: Callable[..., Result], module_server: LocalServer
) -> None:
    result = run_main(
        *("--base-url", module_server.url, "--secret", SECRET, "hello", "world"),
        AICHATFREE_BASE_URL=None,
        AICHATFREE_SECRET=None,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "(1 turns) you said: hello world\n"


def test_json_error_is_one_json_object_too(run_main: Callable[..., Result]) -> None:
    result = run_main("--json", "rate limit please")
    assert result.returncode == ExitCode.RATE_LIMIT
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "RateLimitError"
    assert error["exit_code"] == 4
    assert error["retry_after"] == 3600
    assert "rate limited" in result.stderr


def test_wrong_secret_exits_3(run_main: Callable[..., Result]) -> None:
    line = check_one_line(run_main("--secret", "not-the-key", "hi"), 3)
    assert "Invalid signature. (HTTP 401)" in line
    assert "--secret" in line


def test_an_empty_answer_is_said_on_stderr(run_main: Callable[..., Result]) -> None:
    # Issue 10 item 5: an empty body is not a complete answer of no text.
    result = run_main("empty please")
    assert result.returncode == 0
    assert result.stdout == ""
    assert "answered with no text" in result.stderr
    result = run_main("--json", "empty please")
    assert json.loads(result.stdout)["response_metadata"]["finish_reason"] == "empty"


def test_a_chatgpt_demo_site_under_the_default_dialect_hears_of_dialect(
    run_main: Callable[..., Result],
) -> None:
    with LocalServer(dialect="chatgpt-demo") as demo:
        line = check_one_line(run_main("--base-url", demo.url, "--secret", "", "hi"), 3)
    assert "Invalid signature. (HTTP 401)" in line
    assert "--dialect" in line
    assert "--secret" in line
    assert "`" not in line  # the command line's names, not the library's


def test_the_operator_s_openai_key_refused_exits_5_not_3(
    run_main: Callable[..., Result],
) -> None:
    refused = "Incorrect API key provided: sk-abc***wxyz."
    with LocalServer(dialect="chatgpt-demo") as demo:
        demo.script(Reply(status=401, error=refused))
        result = run_main(
            *("--base-url", demo.url, "--dialect", "chatgpt-demo", "--secret", ""),
            "hi",
        )
    line = check_one_line(result, 5)
    assert "Incorrect API key provided" in line
    assert "operator" in line
    assert "AICHATFREE_PASSWORD" not in line


def test_partial_answer_is_flagged_incomplete(run_main: Callable[..., Result]) -> None:
    result = run_main("partial please")
    line = check_one_line(result, 5)
    assert result.stdout == "partial answer\n"
    assert "the text above is incomplete" in line


def test_verbose_shows_traceback_and_body(run_main: Callable[..., Result]) -> None:
    result = run_main("--verbose", "--max-retries", "0", "overloaded please")
    assert result.returncode == 5
    assert "Traceback (most recent call last)" in result.stderr
    assert "APIError" in result.stderr
    assert 'server body (HTTP 500): {"error":{"code":"Error"' in result.stderr
    assert result.stderr.splitlines()[-1].startswith("aichatfree: server error:")


def test_verbose_logs_retries(
    run_main: Callable[..., Result], module_server: LocalServer
) -> None:
    module_server.script(Reply.rate_limited(retry_in=0.01))
    result = run_main("--verbose", "after a retry")
    assert result.returncode == 0
    assert result.stdout == "(1 turns) you said: after a retry\n"
    assert "aichatfree: Retrying" in result.stderr


def test_timeout_exits_6(run_main: Callable[..., Result]) -> None:
    line = check_one_line(
        run_main("--timeout", "0.3", "--max-retries", "0", "late please"), 6
    )
    assert "timed out" in line
    assert "--timeout" in line


def test_empty_question_exits_2(run_main: Callable[..., Result]) -> None:
    line = check_one_line(run_main(stdin=" \n"), 2)
    assert "empty" in line


def test_dash_reads_stdin(run_main: Callable[..., Result]) -> None:
    result = run_main("-", stdin="dash question")
    assert result.stdout == "(1 turns) you said: dash question\n"


# -- interactive runs through a pseudo-terminal ---------------------------------

_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")

# Make the pty the child's controlling terminal (a new session's first tty
# ioctl), so typed ^C is a real SIGINT and /dev/tty is the pty, then become the
# command itself (same process).
_TAKE_TERMINAL = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execv(sys.executable, "
    "[sys.executable, '-m', 'langchain_aichatfree', *sys.argv[1:]])"
)


class Terminal:
    """The command on a pseudo-terminal: type at it, wait for its output."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        import fcntl
        import struct
        import termios

        master, slave = os.openpty()
        # 40 rows, 160 columns: room for a status line without cutting it.
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _TAKE_TERMINAL, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.fd = master
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.raw = ""
        self.pos = 0

    @property
    def output(self) -> str:
        return _ANSI.sub("", self.raw).replace("\r", "")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 4096)
        except OSError:  # EIO: every process holding the pty has exited
            data = b""
        self.raw += self.decoder.decode(data)
        return bool(data)

    def expect(self, text: str, timeout: float = READ_TIMEOUT) -> str:
        """Wait for `text`; return the output up to it and move past it."""
        deadline = time.monotonic() + timeout
        while (index := self.output.find(text, self.pos)) < 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._read(remaining):
                pytest.fail(f"no {text!r} in the output:\n{self.output[self.pos :]}")
        before = self.output[self.pos : index]
        self.pos = index + len(text)
        return before

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def wait(self, timeout: float = READ_TIMEOUT) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.05)
        while self._read(0):  # what is left in the pty
            pass
        return self.proc.wait(timeout=1)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.fd)


@pytest.fixture
def terminal() -> Iterator[Callable[..., Terminal]]:
    opened: list[Terminal] = []

    def start(args: list[str], env: dict[str, str]) -> Terminal:
        opened.append(Terminal(args, env))
        return opened[-1]

    yield start
    for term in opened:
        term.close()


def test_chat_session(
    terminal: Callable[..., Terminal], server: LocalServer, tmp_path: Path
) -> None:
    saved = tmp_path / "conversation.json"
    term = terminal(["chat"], server_env(server))
    term.expect("Ctrl-D exits.")

    def say(line: str, *expected: str) -> None:
        term.expect("> ")
        term.type(line + "\n")
        for text in expected:
            term.expect(text)

    say("hello", "(1 turns) you said: hello")
    say("/system Talk like a pirate", "System instructions set.")
    say("how are you", "Arr! (2 turns) you said: how are you")
    say(f"/save {saved}", "Saved 5 messages")
    say("/reset", "Conversation cleared (system instructions kept).")
    say("who am i", "Arr! (1 turns) you said: who am i")
    say("/system -", "System instructions removed.")
    say(f"/load {saved}", "Loaded 5 messages")
    say("and now", "Arr! (3 turns) you said: and now")

    # Ctrl-C during a slow answer stops it; the session goes on without it.
    say("slow please", "Once upon a time")
    term.type("\x03")
    term.expect("[interrupted: this answer is not kept in the conversation]")
    server.wait_until(
        lambda: server.requests[-1].outcome == "client_disconnected",
        timeout=READ_TIMEOUT,
    )
    # A failed answer is not kept either. (Issue 13: a rate limit cools the
    # deployment down for the session, so the limit here is a short one.)
    say("briefly limited please", "aichatfree: rate limited:", "the session goes on")
    say("after that", "Arr! (4 turns) you said: after that")
    sent = server.requests[-1].payload["messages"]
    texts = " ".join(part["text"] for m in sent for part in m["parts"])
    assert "slow please" not in texts
    assert "briefly limited please" not in texts

    term.expect("> ")
    term.type("\x04")  # Ctrl-D
    assert term.wait() == 0

    data = json.loads(saved.read_text())
    assert [type(m) for m in messages_from_dict(data)] == [
        SystemMessage,
        HumanMessage,
        AIMessage,
        HumanMessage,
        AIMessage,
    ]
    assert PASSWORD not in term.output


def test_ctrl_c_during_an_answer_exits_130(
    terminal: Callable[..., Terminal], server: LocalServer
) -> None:
    term = terminal(["slow please"], server_env(server))
    term.expect("Once upon a time")
    term.type("\x03")
    assert term.wait() == 130
    term.expect("aichatfree: interrupted")
    server.wait_until(
        lambda: server.requests[-1].outcome == "client_disconnected",
        timeout=READ_TIMEOUT,
    )


def test_a_person_at_a_terminal_is_told_what_the_command_waits_for(
    terminal: Callable[..., Terminal], server: LocalServer
) -> None:
    args = ["--chunk-timeout", "1.5", "--max-retries", "1", "silent please"]
    term = terminal(args, server_env(server))
    host = server.url.removeprefix("http://")
    term.expect(f"aichatfree: waiting for {host} to answer: ")
    term.expect("attempt 1 of 2 (1.5 s of silence allowed)")
    term.expect("attempt 2 of 2 after APITimeoutError")
    assert term.wait() == 6
    term.expect("aichatfree: timed out:")
    term.expect("--chunk-timeout")


def test_the_waiting_notice_is_erased_before_the_answer(
    terminal: Callable[..., Terminal], server: LocalServer
) -> None:
    term = terminal(["--timeout", "30", "slow start please"], server_env(server))
    term.expect("(60 s of silence allowed, 30 s in all)")
    term.expect("finally here")
    assert term.wait() == 0
    notice = term.raw.rindex("aichatfree: waiting for")
    answer = term.raw.index("finally here")
    assert notice < term.raw.rindex("\r\x1b[K") < answer  # the line was cleared


def test_dash_at_a_terminal_reads_a_pasted_question(
    terminal: Callable[..., Terminal], server: LocalServer
) -> None:
    term = terminal(["-"], server_env(server))
    term.expect("type or paste the question, then press Ctrl-D")
    term.type("first line of it\nthe pasted question\n")
    term.type("\x04")  # Ctrl-D at the start of a line: the end of the input
    term.expect("(1 turns) you said: the pasted question")
    assert term.wait() == 0
    sent = server.requests[-1].payload["messages"][-1]["parts"][0]["text"]
    assert sent == "first line of it\nthe pasted question"


def test_no_question_at_a_terminal_says_how_to_give_one(
    terminal: Callable[..., Terminal], server: LocalServer
) -> None:
    term = terminal([], server_env(server))
    assert term.wait() == 2
    term.expect("aichatfree -")


def test_ask_password_reads_a_hidden_prompt(
    terminal: Callable[..., Terminal], server: LocalServer
) -> None:
    env = server_env(server, AICHATFREE_PASSWORD=None)
    term = terminal(["--ask-password", "secret question"], env)
    term.expect("Site password (hidden): ")
    term.type(PASSWORD + "\n")
    term.expect("(1 turns) you said: secret question")
    assert term.wait() == 0
    assert PASSWORD not in term.output  # not echoed, not printed
    assert server.requests[-1].payload["pass"] == PASSWORD


# -- serve ------------------------------------------------------------------------


def test_serve_runs_the_local_server_until_ctrl_c() -> None:
    password = "serve-pw-5521"
    proc = subprocess.Popen(
        [*COMMAND, "serve", "--port", "0", "--password", password, "--secret", "s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        head = b""
        deadline = time.monotonic() + READ_TIMEOUT
        while b"\n" not in head:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([proc.stdout], [], [], max(remaining, 0))
            assert ready, f"serve printed no URL: {head!r}"
            data = os.read(proc.stdout.fileno(), 4096)
            assert data, f"serve ended: {head!r}"
            head += data
        first = head.decode().partition("\n")[0]
        match = re.fullmatch(r"AIChatFree local server listening on (\S+)", first)
        assert match, first
        url = match.group(1)
        assert url.startswith("http://127.0.0.1:")
        with ChatAIChatFree(base_url=url, password=password, secret="s") as model:
            assert model.invoke("hi").content == "Echo: hi"
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=READ_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    out = (head + rest).decode()
    assert proc.returncode == 0, err
    assert f"AICHATFREE_BASE_URL={url}" in out
    assert password not in out + err.decode()
