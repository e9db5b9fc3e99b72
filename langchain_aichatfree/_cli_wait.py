"""The waiting notice: tell a person at a terminal what the command waits for.

Only when stderr is a terminal, and only until the first text: after
`NOTICE_AFTER` seconds of silence one status line on stderr says what is
awaited, how long it has been, and how long it will be waited for. It is
updated when an attempt is retried (read from the package's own "Retrying ..."
log record by `RetryRecordHandler`) and erased before any text is written.
"""

from __future__ import annotations

import logging
import shutil
import sys
import threading
import time
from typing import IO, TYPE_CHECKING, Final
from urllib.parse import urlsplit

from langchain_aichatfree._cli_report import PROG

if TYPE_CHECKING:
    from langchain_aichatfree._model_settings import ModelSettings

NOTICE_AFTER: Final = 1.0
"""Seconds without text before a person at a terminal is told what is awaited."""

_LOGGER_NAME: Final = "langchain_aichatfree"
_CLEAR_LINE: Final = "\r\x1b[K"
"""Back to the start of the line, and erase it (one line, so \\r reaches it)."""


def is_terminal(stream: IO[str] | None) -> bool:
    """Whether `stream` is a terminal (not when replaced or closed).

    Args:
        stream: A text stream, or `None`.

    Returns:
        Whether a person is likely reading it.
    """
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


class WaitingNotice:
    """The status line a person at a terminal sees while no text has come.

    A context manager: entered before the call, `stop` at the first text (and
    on exit). With `enabled` false, or stderr not a terminal, it does nothing.
    """

    def __init__(
        self, model: ModelSettings, seconds: float | None, *, enabled: bool
    ) -> None:
        """Describe the wait for `model`'s answer.

        Args:
            model: The settings of the model asked (its host, silence limit
                and attempts; a `ChatAIChatFree` is one).
            seconds: The whole answer's deadline (``--timeout``), if any.
            enabled: Whether the notice may be shown at all.
        """
        stream = sys.stderr
        self._stream = stream if enabled and is_terminal(stream) else None
        self._host = urlsplit(model.base_url).netloc or model.base_url
        self._chunk_timeout = model.chunk_timeout
        self._attempts = model.max_retries + 1
        self._deadline = seconds
        self._attempt = 1
        self._retried_after: str | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._shown = False
        self._started = time.monotonic()
        self._thread: threading.Thread | None = None
        self._handler = RetryRecordHandler(self)
        self._logger = logging.getLogger(_LOGGER_NAME)
        self._previous_level = logging.NOTSET

    def __enter__(self) -> WaitingNotice:
        """Start the clock, and listen for retries.

        Returns:
            The notice.
        """
        if self._stream is None:
            return self
        self._started = time.monotonic()
        self._previous_level = self._logger.level
        if not self._logger.isEnabledFor(logging.INFO):
            self._logger.setLevel(logging.INFO)
        self._logger.addHandler(self._handler)
        self._thread = threading.Thread(
            target=self._show_until_stopped, name="aichatfree-wait-notice", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop (see `stop`)."""
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
        self._logger.setLevel(self._previous_level)

    def retrying(self, attempt: int, error: str) -> None:
        """An attempt failed with `error`; attempt number `attempt` follows.

        Args:
            attempt: The number of the attempt that follows (from 1).
            error: What the failed attempt raised, in short.
        """
        with self._lock:
            self._attempt = attempt
            self._retried_after = f"after {error}"

    def _show_until_stopped(self) -> None:
        while not self._done.wait(NOTICE_AFTER):
            with self._lock:
                if self._done.is_set():
                    return
                self._show(self.status_line())

    def status_line(self) -> str:
        """The status line as it reads now (cut to the terminal's width).

        Returns:
            The line, without a newline.
        """
        elapsed = time.monotonic() - self._started
        attempt = f"attempt {self._attempt} of {self._attempts}"
        if self._retried_after is not None:
            attempt += f" {self._retried_after}"
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
        self._stream.write(_CLEAR_LINE + line)
        self._stream.flush()
        self._shown = True

    def _erase(self) -> None:
        if self._shown and self._stream is not None:
            self._stream.write(_CLEAR_LINE)
            self._stream.flush()
            self._shown = False


class RetryRecordHandler(logging.Handler):
    """Hands the retrying call's "Retrying ..." log records to a `WaitingNotice`.

    The record's arguments end with ``(attempt, attempts, error)``, after the
    delay when the call backs off (a pool that fails over at once logs
    none); other records are ignored.
    """

    def __init__(self, notice: WaitingNotice) -> None:
        """Report retries to `notice`.

        Args:
            notice: The notice to update.
        """
        super().__init__(logging.INFO)
        self._notice = notice

    def emit(self, record: logging.LogRecord) -> None:
        """Update the notice if `record` says an attempt is retried.

        Args:
            record: A record of the package's logger.
        """
        args = record.args
        if not str(record.msg).startswith("Retrying") or not isinstance(args, tuple):
            return
        if len(args) >= 3:  # (..., attempt, attempts, error)
            attempt, _, error = args[-3:]
            if isinstance(attempt, int):
                self._notice.retrying(attempt, str(error))
