"""The state of one answer as it streams: pure, no I/O.

Bytes go in as they arrive from the network, split anywhere; text that is safe to
show comes out. Three things are held back until the next bytes decide them:

* the bytes of a multi-byte character split across reads (incremental UTF-8);
* a tail that may be the server's mid-stream failure sentinel, which only ends a
  broken answer and must never reach the caller as text;
* a tail that may be the start of a stop sequence.

The answer is the body without a final sentinel. A stop sequence counts only
where it lies wholly inside the answer, so a tail that may be the sentinel is
not searched for stop sequences until the next bytes show it is answer text:
a stop sequence can never hide the server's failure report (`"HelloInternal
server error"` with ``stop=[" "]`` raises, it does not answer
``"HelloInternal"``). The answer ends before the stop sequence that starts
first, however the body was split.

Each `feed` costs O(len(data) + longest marker), so a long answer stays linear.
"""

from __future__ import annotations

import codecs
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_aichatfree._constants import CHARS_PER_TOKEN, SERVER_SENTINEL
from langchain_aichatfree.errors import AIChatFreeError, Failure, failure_error

FinishReason = Literal["stop", "length", "empty"]
"""Why an answer ended early or is empty.

``"stop"``: a stop sequence; ``"length"``: `max_tokens`; ``"empty"``: the body
was empty (the model produced no text). ``None`` on the state: the body ended
with the whole answer.
"""

_SENTINEL_BYTES = len(SERVER_SENTINEL.encode())

_ENCODED_FFFD = "\ufffd".encode()
"""U+FFFD as valid UTF-8: a server may send the character itself."""


def _held_length(text: str, marker: str, limit: int, end: int | None = None) -> int:
    """The longest suffix of `text[:end]`, at most `limit`, that starts `marker`.

    Args:
        text: The text received and not yet shown.
        marker: A stop sequence or the sentinel.
        limit: The longest suffix that counts: the whole marker for the
            sentinel (only known to be one at the end of the body), a proper
            prefix for a stop sequence (a whole one has already been found).
        end: Where the text to look at ends (all of it by default).

    Returns:
        How many characters before `end` must be held back.
    """
    end = len(text) if end is None else end
    first = marker[0]
    i = text.find(first, max(0, end - limit), end)
    while i != -1:
        if marker.startswith(text[i:end]):
            return end - i
        i = text.find(first, i + 1, end)
    return 0


def _first_stop(text: str, stop: Sequence[str], end: int) -> int:
    """Where the first stop sequence wholly inside `text[:end]` starts, or -1."""
    cut = -1
    for s in stop:
        index = text.find(s, 0, end)
        if index != -1 and (cut == -1 or index < cut):
            cut = index
    return cut


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
        max_bytes: Largest answer accepted, in bytes (`max_response_bytes`);
            the sentinel that may follow it does not count.
        finish_reason: `"stop"` or `"length"` once a limit ended the answer
            early (the caller then stops reading and closes the connection),
            `"empty"` after `finish` when the body was empty.
        received_bytes: Raw body bytes fed so far.
        replaced: Whether invalid UTF-8 was replaced by U+FFFD (a U+FFFD the
            server sent as valid UTF-8 does not count).
        deployment: The URL of the deployment that answered (set once the
            answer is complete).
        routing: The call's attempts (set with `deployment`).
    """

    stop: Sequence[str] = ()
    max_tokens: int | None = None
    max_bytes: int | None = None
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
    _tail: bytes = b""
    _allowed: int | None = None
    _markers: tuple[tuple[str, int], ...] = ()
    _prefixes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self._markers, self._prefixes = _markers(tuple(self.stop))
        if self.max_bytes is not None:
            self._allowed = self.max_bytes + _SENTINEL_BYTES

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

        Raises:
            APIError: The answer is larger than `max_bytes` (not retryable).
        """
        if self.finish_reason is not None:
            return ""
        size = self.received_bytes + len(data)
        allowed = self._allowed
        if allowed is not None and size > allowed:
            # More than the sentinel could explain: only a stop sequence or
            # max_tokens inside the allowed bytes still ends the answer in time.
            shown = self.feed(data[: allowed - self.received_bytes])
            if self.done:
                return shown
            raise self._too_large(self.partial_text())
        self.received_bytes = size
        new = self._decoder.decode(data)
        last = self._tail  # a U+FFFD sent whole may be split across reads
        self._tail = data if len(data) > 1 else last[-1:] + data
        if not new:
            return ""
        if "\ufffd" in new and new.count("\ufffd") > (last[-2:] + data).count(
            _ENCODED_FFFD
        ):
            self.replaced = True
        text = self._held + new if self._held else new
        if text.endswith(self._prefixes):  # rarely: one C call rules most reads out
            show = self._advance(text)
        else:  # nothing to hold back: only a whole stop sequence matters
            self._held = ""
            show = text
            cut = -1
            for stop in self.stop:
                index = text.find(stop)
                if index != -1 and (cut == -1 or index < cut):
                    cut = index
            if cut != -1:
                self.finish_reason = "stop"
                show = text[:cut]
        show = self._show(show)
        if allowed is not None and size > allowed - _SENTINEL_BYTES:
            self._check_size()
        return show

    def _check_size(self) -> None:
        """Past `max_bytes` only the sentinel may still come: check the answer.

        Everything not held back is answer text, and must fit, unless a stop
        sequence or `max_tokens` has already ended the answer within it.
        """
        limit = self.max_bytes or 0
        if self.done:
            size = len(self.text.encode())
        else:
            held = len(self._held.encode()) + len(self._decoder.getstate()[0])
            size = self.received_bytes - held
        if size > limit:
            raise self._too_large(self.text + self._held)

    def _advance(self, text: str) -> str:
        """Decide how much of `text` (held back and new) is answer text now.

        Only called when `text` ends with what may start a marker.

        A tail that may be the sentinel is held; a stop sequence is searched
        only before it. Sets `finish_reason` and returns the text before the
        stop sequence when one ends the answer; otherwise holds back what the
        next bytes must decide and returns the rest.
        """
        end = len(text) - _held_length(text, SERVER_SENTINEL, len(SERVER_SENTINEL))
        keep = end  # where held-back text starts
        if self.stop:
            for marker, limit in self._markers[1:]:
                keep = min(keep, end - _held_length(text, marker, limit, end))
            cut = _first_stop(text, self.stop, end)
            if cut != -1 and cut <= keep:  # no stop that starts earlier is pending
                self._held = ""
                self.finish_reason = "stop"
                return text[:cut]
        if keep < len(text):
            self._held = text[keep:]
            return text[:keep]
        self._held = ""
        return text

    def finish(self) -> str:
        """Close the answer at a clean end of the body.

        Returns:
            The last text to show (what was held back).

        Raises:
            StreamInterruptedError: If the body ended with the server's
                mid-stream failure sentinel, and neither a stop sequence nor
                `max_tokens` ended the answer before it; its `partial_text` is
                the answer received before the sentinel.
            APIError: The answer is larger than `max_bytes` (not retryable).
        """
        if self.finish_reason is not None:
            return ""
        rest = self._decoder.decode(b"", final=True)  # U+FFFD for a cut character
        if "\ufffd" in rest:
            self.replaced = True
        tail = self._held + rest
        self._held = ""
        failed = tail.endswith(SERVER_SENTINEL)
        answer = tail[: -len(SERVER_SENTINEL)] if failed else tail
        # Nothing more can follow: a stop sequence that was waiting for a longer
        # one starting earlier, or for the sentinel to be ruled out, ends it now.
        cut = _first_stop(answer, self.stop, len(answer)) if self.stop else -1
        if cut != -1:
            self.finish_reason = "stop"
            return self._show(answer[:cut])
        if failed:
            shown = self._show(answer)  # held-back answer text may reach max_tokens
            if self.finish_reason == "length":
                return shown
            raise failure_error(Failure.SERVER_SENTINEL, partial_text=self.text)
        if self.max_bytes is not None and self.received_bytes > self.max_bytes:
            raise self._too_large(self.text + tail)
        if not self.received_bytes:
            self.finish_reason = "empty"
        self._whole = not rest
        return self._show(tail)

    def partial_text(self) -> str:
        """Everything received, held-back tail included (for error reports).

        A whole sentinel at the end is left out: it is the server's failure
        report, even when the body is then cut before its clean end.
        """
        return self.text + self._held.removesuffix(SERVER_SENTINEL)

    def _too_large(self, received: str) -> AIChatFreeError:
        limit = self.max_bytes or 0
        return failure_error(
            Failure.TOO_LARGE,
            limit=limit,
            partial_text=received.encode()[:limit].decode("utf-8", "ignore"),
        )

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
