"""What a benchmark reply is: shared by the server and every client.

The client names the reply it wants in its last user message
(``"bench n=20000 size=16 mode=separate"``); the server answers with
`answer_bytes(n * size)` cut into `n` chunks of `size` bytes, so every client
can check the exact text it got. The text mixes ASCII with 2-, 3- and 4-byte
characters, so 16-byte chunk edges cut characters in two, and it contains
capital I's and newlines, so the sentinel and stop-sequence hold-back work on
every read.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from dataclasses import dataclass
from typing import Literal

Mode = Literal["separate", "burst", "paced"]

SECRET = "bench-secret"
"""The server checks signatures with this `PUBLIC_SECRET_KEY`."""

STOP = "\nUser:"
"""A stop sequence "ours" is given; the text never contains it."""

BURST = 64 * 1024
"""Bytes per write in ``burst`` mode."""

PACE = 0.001
"""Seconds between chunks in ``paced`` mode."""

_PATTERN = (
    "Il était une fois — naïve café, Größe, 漢字とかな, emoji 🙂🚀 and plain "
    "ASCII text. Internal note: I/O is fine.\nUser said: Ünïcödé ok. "
)


@dataclass(frozen=True)
class Spec:
    """One reply: `n` chunks of `size` bytes, written as `mode` says."""

    n: int
    size: int
    mode: Mode = "separate"

    @property
    def prompt(self) -> str:
        """The user message asking for this reply."""
        return f"bench n={self.n} size={self.size} mode={self.mode}"

    @classmethod
    def from_prompt(cls, prompt: str) -> Spec:
        fields = dict(part.split("=", 1) for part in prompt.split()[1:])
        mode = fields["mode"]
        if mode not in ("separate", "burst", "paced"):
            raise ValueError(mode)
        return cls(int(fields["n"]), int(fields["size"]), mode)  # type: ignore[arg-type]

    @property
    def text(self) -> str:
        """The whole answer."""
        return answer_bytes(self.n * self.size).decode()

    def chunks(self) -> list[bytes]:
        """The answer cut into `n` byte chunks (characters cut anywhere)."""
        data = answer_bytes(self.n * self.size)
        return [data[i : i + self.size] for i in range(0, len(data), self.size)]

    def text_chunks(self) -> list[str]:
        """The same cuts moved to character starts (for JSON-framed SSE).

        Every piece is non-empty as long as `size` is at least 4 bytes.
        """
        data = answer_bytes(self.n * self.size)
        cuts = [0]
        for i in range(self.size, len(data), self.size):
            while data[i] & 0xC0 == 0x80:
                i += 1
            cuts.append(i)
        cuts.append(len(data))
        return [data[a:b].decode() for a, b in itertools.pairwise(cuts)]


@functools.lru_cache(maxsize=16)
def answer_bytes(total: int) -> bytes:
    """Exactly `total` bytes of valid UTF-8 text."""
    pattern = _PATTERN.encode()
    data = pattern * (total // len(pattern) + 1)
    end = total
    while data[end] & 0xC0 == 0x80:  # do not end inside a character
        end -= 1
    return data[:end] + b"." * (total - end)


def sign(time_ms: int, text: str, secret: str = SECRET) -> str:
    """The request signature (docs/protocol.md, section 1)."""
    return hashlib.sha256(f"{time_ms}:{text}:{secret}".encode()).hexdigest()
