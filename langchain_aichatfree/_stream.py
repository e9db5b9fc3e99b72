"""The state of one answer as it streams: pure, no I/O.

Bytes go in as they arrive from the network, split anywhere; text that is safe to
show comes out. Three things are held back until the next bytes decide them:

* the bytes of a multi-byte character split across reads (incremental UTF-8);
* a tail that may be the start of a stop sequence;
* a tail that may be the server's mid-stream failure sentinel, which only ends a
  broken answer and must never reach the caller as text.

Each `feed` costs O(len(data) + longest marker), so a long answer stays linear.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from langchain_aichatfree._constants import CHARS_PER_TOKEN, SERVER_SENTINEL
from langchain_aichatfree.errors import StreamInterruptedError

FinishReason = Literal["stop", "length"]


def _held_length(text: str, marker: str, *, whole: bool) -> int:
    """Length of the longest suffix of `text` that starts `marker`.

    Args:
        text: The text received and not yet shown.
        marker: A stop sequence or the sentinel.
        whole: Whether the whole marker counts (the sentinel is only known to be
            one at the end of the body), or only a proper prefix (a whole stop
            sequence has already been found by the caller).

    Returns:
        How many characters at the end of `text` must be held back.
    """
    limit = len(marker) if whole else len(marker) - 1
    if limit <= 0:
        return 0
    first = marker[0]
    i = text.find(first, max(0, len(text) - limit))
    while i != -1:
        if marker.startswith(text[i:]):
            return len(text) - i
        i = text.find(first, i + 1)
    return 0


@dataclass(slots=True)
class AnswerState:
    """One attempt's answer: feed it bytes, show what it returns.

    Attributes:
        stop: Stop sequences; the answer ends before the first one.
        max_tokens: Approximate output limit (one token per 4 UTF-8 bytes).
        finish_reason: `"stop"` or `"length"` once a limit ended the answer
            early; the caller then stops reading and closes the connection.
        received_bytes: Raw body bytes fed so far.
        replaced: Whether invalid UTF-8 was replaced by U+FFFD.
    """

    stop: Sequence[str] = ()
    max_tokens: int | None = None
    finish_reason: FinishReason | None = None
    received_bytes: int = 0
    replaced: bool = False
    _decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace")
    )
    _held: str = ""
    _parts: list[str] = field(default_factory=list)
    _shown_bytes: int = 0

    @property
    def text(self) -> str:
        """Everything shown so far."""
        return "".join(self._parts)

    @property
    def done(self) -> bool:
        """Whether a stop sequence or `max_tokens` has ended the answer."""
        return self.finish_reason is not None

    def feed(self, data: bytes) -> str:
        """Take the next bytes of the body.

        Args:
            data: The bytes of one network read, split anywhere.

        Returns:
            The text that can be shown now (possibly "").
        """
        if self.finish_reason is not None:
            return ""
        self.received_bytes += len(data)
        new = self._decoder.decode(data)
        if "\ufffd" in new:
            self.replaced = True
        if not new:
            return ""
        text = self._held + new if self._held else new
        cut = -1
        for stop in self.stop:
            index = text.find(stop)
            if index != -1 and (cut == -1 or index < cut):
                cut = index
        if cut != -1:
            self._held = ""
            self.finish_reason = "stop"
            return self._show(text[:cut])
        hold = _held_length(text, SERVER_SENTINEL, whole=True)
        for stop in self.stop:
            hold = max(hold, _held_length(text, stop, whole=False))
        if hold:
            self._held = text[-hold:]
            text = text[:-hold]
        else:
            self._held = ""
        return self._show(text)

    def finish(self) -> str:
        """Close the answer at a clean end of the body.

        Returns:
            The last text to show (what was held back).

        Raises:
            StreamInterruptedError: If the body ended with the server's
                mid-stream failure sentinel; its `partial_text` is the answer
                received before it.
        """
        if self.finish_reason is not None:
            return ""
        tail = self._held + self._decoder.decode(b"", final=True)
        self._held = ""
        if tail.endswith(SERVER_SENTINEL):
            partial = self.text + tail[: -len(SERVER_SENTINEL)]
            msg = (
                "The server reported a failure in the middle of the answer "
                f"({SERVER_SENTINEL!r}) after {len(partial)} characters; the partial "
                "answer is in `partial_text`."
            )
            raise StreamInterruptedError(msg, status_code=200, partial_text=partial)
        return self._show(tail)

    def partial_text(self) -> str:
        """Everything received, held-back tail included (for error reports)."""
        return self.text + self._held

    def _show(self, text: str) -> str:
        if self.max_tokens is not None and text:
            limit = self.max_tokens * CHARS_PER_TOKEN
            encoded = text.encode()
            if self._shown_bytes + len(encoded) >= limit:
                remaining = max(0, limit - self._shown_bytes)
                text = encoded[:remaining].decode("utf-8", "ignore")
                self.finish_reason = "length"
                self._held = ""
            self._shown_bytes += len(encoded)
        if text:
            self._parts.append(text)
        return text
