"""The waiting notice (`_cli_wait`): its status line, retries, and when it shows."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator

import pytest

from langchain_aichatfree import ChatAIChatFree, _cli_wait
from langchain_aichatfree._cli_wait import (
    RetryRecordHandler,
    WaitingNotice,
    is_terminal,
)

LOGGER = logging.getLogger("langchain_aichatfree")


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class Closed(io.StringIO):
    def isatty(self) -> bool:
        raise ValueError("I/O operation on closed file")


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def model() -> Iterator[ChatAIChatFree]:
    with ChatAIChatFree(
        base_url="http://127.0.0.1:9", chunk_timeout=1.5, max_retries=2
    ) as chat:
        yield chat


@pytest.mark.parametrize(
    ("stream", "expected"),
    [(Terminal(), True), (io.StringIO(), False), (Closed(), False), (None, False)],
)
def test_is_terminal(stream: io.StringIO | None, expected: bool) -> None:
    assert is_terminal(stream) is expected


@pytest.mark.parametrize(
    ("seconds", "ends"),
    [
        (None, "attempt 1 of 3 (1.5 s of silence allowed)"),
        (30.0, "attempt 1 of 3 (1.5 s of silence allowed, 30 s in all)"),
    ],
)
def test_status_line(model: ChatAIChatFree, seconds: float | None, ends: str) -> None:
    notice = WaitingNotice(model, seconds, enabled=True)
    line = notice.status_line()
    assert line.startswith("aichatfree: waiting for 127.0.0.1:9 to answer: 0 s, ")
    assert line.endswith(ends)


def test_status_line_fits_the_terminal(
    model: ChatAIChatFree, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    line = WaitingNotice(model, None, enabled=True).status_line()
    assert len(line) == 39
    assert line.endswith("…")


@pytest.mark.parametrize(
    ("message", "args", "ends"),
    [
        (
            "Retrying AIChatFree request in %.2f s (attempt %d of %d): %s",
            (0.5, 2, 3, "APITimeoutError"),
            "attempt 2 of 3 after APITimeoutError (1.5 s of silence allowed)",
        ),
        (
            # A pool fails over at once, without a delay.
            "Retrying AIChatFree request when a deployment is free "
            "(attempt %d of %d): %s",
            (2, 3, "RateLimitError"),
            "attempt 2 of 3 after RateLimitError (1.5 s of silence allowed)",
        ),
        ("Something else %s %s %s %s", (0.5, 2, 3, "X"), "attempt 1 of 3 ("),
        ("Retrying %s", ("x",), "attempt 1 of 3 ("),
    ],
)
def test_retry_records_update_the_line(
    model: ChatAIChatFree, message: str, args: tuple[object, ...], ends: str
) -> None:
    notice = WaitingNotice(model, None, enabled=True)
    handler = RetryRecordHandler(notice)
    record = LOGGER.makeRecord(LOGGER.name, logging.INFO, "f", 1, message, args, None)
    handler.emit(record)
    assert ends in notice.status_line()


def test_nothing_is_shown_unless_stderr_is_a_terminal(
    model: ChatAIChatFree, monkeypatch: pytest.MonkeyPatch
) -> None:
    stderr = io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)
    monkeypatch.setattr(_cli_wait, "NOTICE_AFTER", 0.0)
    for enabled in (True, False):
        with WaitingNotice(model, None, enabled=enabled):
            assert LOGGER.handlers == []
    assert stderr.getvalue() == ""


def test_shown_at_a_terminal_then_erased_and_the_logger_restored(
    model: ChatAIChatFree, monkeypatch: pytest.MonkeyPatch
) -> None:
    stderr = Terminal()
    monkeypatch.setattr("sys.stderr", stderr)
    monkeypatch.setattr(_cli_wait, "NOTICE_AFTER", 0.01)
    level = LOGGER.level
    with WaitingNotice(model, None, enabled=True) as notice:
        assert any(isinstance(h, RetryRecordHandler) for h in LOGGER.handlers)
        assert LOGGER.isEnabledFor(logging.INFO)
        LOGGER.info(
            "Retrying AIChatFree request in %.2f s (attempt %d of %d): %s",
            0.0,
            2,
            3,
            "RateLimitError",
        )
        for _ in range(500):  # until the thread has shown the line
            if "after RateLimitError" in stderr.getvalue():
                break
            time.sleep(0.01)
        notice.stop()
        shown = stderr.getvalue()
        notice.stop()  # a second stop does nothing
    assert "\r\x1b[Kaichatfree: waiting for 127.0.0.1:9 to answer:" in shown
    assert "attempt 2 of 3 after RateLimitError" in shown
    assert shown.endswith("\r\x1b[K")  # erased
    assert stderr.getvalue() == shown
    assert LOGGER.handlers == []
    assert LOGGER.level == level
