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
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_aichatfree._constants import CHARS_PER_TOKEN, SERVER_SENTINEL
from langchain_aichatfree.errors import StreamInterruptedError

FinishReason = Literal["stop", "length"]


def _held_length(text: str, marker: str, limit: int) -> int:
    """Length of the longest suffix of `text`, at most `limit`, that starts `marker`.

    Args:
        text: The text received and not yet shown.
        marker: A stop sequence or the sentinel.
        limit: The longest suffix that counts: the whole marker for the
            sentinel (only known to be one at the end of the body), a proper
            prefix for a stop sequence (a whole one has already been found).

    Returns:
        How many characters at the end of `text` must be held back.
    """
    first = marker[0]
    i = text.find(first, max(0, len(text) - limit))
    while i != -1:
        if marker.startswith(text[i:]):
            return len(text) - i
        i = text.find(first, i + 1)
    return 0


_Markers = tuple[tuple[tuple[str, int], ...], tuple[str, ...]]


@functools.lru_cache(maxsize=64)
def _markers(stop: tuple[str, ...]) -> _Markers:
    """What a tail may be the start of, worked out once per set of stop sequences.

    Args:
        stop: The stop sequences.

    Returns:
        Each marker (the sentinel, then every stop sequence) with the longest
        tail it may hold back, and every prefix of them that may be held: a text
        that ends with none of those holds nothing back.
    """
    markers = [(SERVER_SENTINEL, len(SERVER_SENTINEL))]
    markers.extend((s, len(s) - 1) for s in stop if len(s) > 1)
    prefixes = {marker[:n] for marker, limit in markers for n in range(1, limit + 1)}
    return tuple(markers), tuple(sorted(prefixes))


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
        deployment: The URL of the deployment that answered (set once the
            answer is complete).
        routing: The call's attempts (set with `deployment`).
    """

    stop: Sequence[str] = ()
    max_tokens: int | None = None
    finish_reason: FinishReason | None = None
    received_bytes: int = 0
    replaced: bool = False
    deployment: str | None = None
    routing: Sequence[Mapping[str, Any]] = ()
    _decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace")
    )
    _held: str = ""
    _parts: list[str] = field(default_factory=list)
    _shown_bytes: int = 0
    _whole: bool = False
    _markers: tuple[tuple[str, int], ...] = ()
    _prefixes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self._markers, self._prefixes = _markers(tuple(self.stop))

    @property
    def text(self) -> str:
        """Everything shown so far."""
        return "".join(self._parts)

    @property
    def text_bytes(self) -> int:
        """The UTF-8 size of `text`, without building it once a whole body is shown.

        After a clean `finish` with no stop sequence, no limit and no invalid
        bytes, the text shown is exactly the body received, so its size is
        `received_bytes` (joining and encoding a 5 MB answer just to count it
        costs ~15 ms).
        """
        if self._whole and self.finish_reason is None and not self.replaced:
            return self.received_bytes
        return len(self.text.encode("utf-8", "surrogatepass"))

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
        if not new:
            return ""
        if "\ufffd" in new:
            self.replaced = True
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
        hold = 0
        if text.endswith(self._prefixes):  # rarely: one C call rules most reads out
            for marker, limit in self._markers:
                hold = max(hold, _held_length(text, marker, limit))
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
        rest = self._decoder.decode(b"", final=True)  # U+FFFD for a cut character
        if "\ufffd" in rest:
            self.replaced = True
        tail = self._held + rest
        self._held = ""
        if tail.endswith(SERVER_SENTINEL):
            partial = self.text + tail[: -len(SERVER_SENTINEL)]
            msg = (
                "The server reported a failure in the middle of the answer "
                f"({SERVER_SENTINEL!r}) after {len(partial)} characters; the partial "
                "answer is in `partial_text`."
            )
            raise StreamInterruptedError(msg, status_code=200, partial_text=partial)
        self._whole = not rest
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
