"""Finding tool calls in an answer as it streams: the scanner and the reader.

Pure, no I/O. `ToolAnswerReader` reads an answer as it streams and splits it
into text that can be shown at once and envelopes, which are held back and
become `tool_calls` (or `invalid_tool_calls`) at the end. `parse_answer` runs
the same reader over a whole answer, so `invoke` and a merged `stream` cannot
disagree. (Structured output reads a JSON answer with its own, simpler finder,
`_json_answer.parse_json_answer`: it looks for one JSON value, not for calls.)
Which JSON values are envelopes is `_tool_calls`'s business; this module
decides where in the text an envelope counts.

An envelope counts wherever it stands in the answer (alone, after a preamble,
with prose after it), written bare (``{"`` or ``[{``), in a code fence, or in
``<tool_call>`` tags, except that:

* JSON right after a backtick or a quotation mark (`` ` ``, ``"``, ``'``,
  or a typographic opening quote) is quoted in prose, not a call;
* ``<tool_call>`` opens a call only when what follows it (after whitespace) is
  JSON or a bound tool's name: ``<tool_call> followed by JSON`` is prose;
* text that is not JSON but looks like an envelope (a truncated or broken
  call) is a call, reported invalid, only at the very end of the answer (or
  inside tags); followed by more text it is prose (an echoed template such as
  ``{"arguments": {<arguments>}}``).

Everything else is text, kept character for character in `content`, except
the whitespace around an envelope.

How the reader holds back, per character, with the decision depending only on
the text (never on where the network split it):

* Text is shown as it arrives, except a trailing run of whitespace, held until
  the next visible character (it is dropped around envelopes).
* A character that may open an envelope starts a *possible envelope*: ``{``
  followed by ``"``; ``[`` followed by ``{``; three backticks whose content
  starts with ``{``, ``[`` or ``<``; ``<tool_call>`` followed by JSON or a
  tool name. One that turns out not to be an envelope (``{x``, a Python code
  fence, ``<b>``) is released at the first character that rules it out
  (`Verdict.NOT_ENVELOPE`); one that completes (balanced JSON, closing fence
  or tag: `Verdict.COMPLETE`) is parsed once: an envelope is kept, anything
  else released as text. A broken envelope is held until the next visible
  character (released as text) or the end (an invalid call).

Each `feed` costs O(len(text)): text is scanned with regular expressions, and
inside a JSON string its contents are skipped in one step.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final, Literal

from langchain_aichatfree._tool_calls import (
    FENCE,
    NAME_CHARS,
    TAG_CLOSE,
    TAG_OPEN,
    WS_CHARS,
    EnvelopeItem,
    ToolAnswer,
    all_malformed,
    items_from_json,
    items_from_wrapped,
    looks_like_envelope,
    malformed_envelope,
    to_tool_calls,
)

if TYPE_CHECKING:
    from langchain_aichatfree._tool_setup import ToolSetup

_QUOTES: Final = frozenset("`\"'\u201c\u2018\u00ab")
"""A JSON value right after one of these is quoted in prose, never a call."""

_TRIGGER: Final = re.compile(r"[{\[`<]")
"""Characters that may open an envelope; everything else is plain text."""

_STRING_STOP: Final = re.compile(r'["\\]')
"""Inside a JSON string only these two characters matter."""

_NOT_WS: Final = re.compile(r"[^ \t\r\n\f\v]")
"""A visible character: what releases a held broken envelope as text."""


class Verdict(enum.Enum):
    """What one more character makes of a possible envelope."""

    READ_ON = enum.auto()
    """It may still be an envelope: read the next character."""
    NOT_ENVELOPE = enum.auto()
    """It is text (the character itself is read again as text)."""
    COMPLETE = enum.auto()
    """It is complete (balanced JSON, closing fence or tag): parse it."""


@dataclass(slots=True)
class _PossibleEnvelope:
    """A region of the answer that may be an envelope, and its scan state."""

    kind: Literal["json", "fence", "tag"]
    opener: str
    """The character that opened it: ``{``, ``[``, a backtick or ``<``."""
    parts: list[str]
    """Its text so far."""
    quoted: bool = False
    """Right after a quotation mark: prose, whatever it turns out to be."""
    phase: Literal["open", "lang", "pre", "body"] = "open"
    """Matching the opener; a fence's language tag; before the content; in it."""
    opener_matched: int = 1
    """How many characters of ``` or ``<tool_call>`` have matched."""
    depth: int = 0
    in_string: bool = False
    escape: bool = False
    closer: str = ""
    """What ends a fence or a tag (``` or ``</tool_call>``)."""
    closer_matched: int = 0
    """How many characters of `closer` have matched."""
    body_start: int = 0
    """Where the content of a fence or tag starts in the text."""
    size: int = 1
    """The length of the text so far."""
    name_prefix: str = ""
    """After ``<tool_call>``: the start of a bound tool's name read so far."""

    def add(self, text: str) -> None:
        """Append text that belongs to the region."""
        self.parts.append(text)
        self.size += len(text)


def _advance_after_tag(
    region: _PossibleEnvelope, char: str, names: Sequence[str]
) -> Verdict:
    """After ``<tool_call>``: a call opens with JSON or a bound tool's name.

    Anything else (``<tool_call> followed by JSON`` in prose) is text.
    """
    if not region.name_prefix:
        if char in WS_CHARS:
            return Verdict.READ_ON
        if char in "{[":
            region.phase = "body"
            return _advance_in_body(region, char)
    word = region.name_prefix + char
    if any(name.startswith(word) for name in names):
        region.name_prefix = word
        return Verdict.READ_ON
    if region.name_prefix in names and not NAME_CHARS.match(char):
        region.phase = "body"
        return _advance_in_body(region, char)
    return Verdict.NOT_ENVELOPE


def _advance(region: _PossibleEnvelope, char: str, names: Sequence[str]) -> Verdict:
    """Read one more character of a possible envelope (not yet added to it)."""
    if region.phase == "body":
        return _advance_in_body(region, char)
    if region.kind == "json":
        if char in WS_CHARS:
            return Verdict.READ_ON
        if region.opener == "{" and char == '"':
            region.phase, region.depth, region.in_string = "body", 1, True
            return Verdict.READ_ON
        if region.opener == "[" and char == "{":
            region.phase, region.depth = "body", 2
            return Verdict.READ_ON
        return Verdict.NOT_ENVELOPE
    if region.kind == "tag":
        if region.phase == "pre":
            return _advance_after_tag(region, char, names)
        if char != TAG_OPEN[region.opener_matched]:
            return Verdict.NOT_ENVELOPE
        region.opener_matched += 1
        if region.opener_matched == len(TAG_OPEN):
            region.phase, region.closer, region.body_start = (
                "pre",
                TAG_CLOSE,
                region.size + 1,
            )
        return Verdict.READ_ON
    # a fence: three backticks, a language tag, whitespace, then the content
    if region.phase == "open":
        if char != "`":
            return Verdict.NOT_ENVELOPE
        region.opener_matched += 1
        if region.opener_matched == len(FENCE):
            region.phase = "lang"
        return Verdict.READ_ON
    if region.phase == "lang":
        if char.isalnum() or char in "_-+.":
            return Verdict.READ_ON
        region.phase = "pre"
    if char in WS_CHARS:
        return Verdict.READ_ON
    if char in "{[<":
        region.phase, region.closer, region.body_start = "body", FENCE, region.size
        return _advance_in_body(region, char)
    return Verdict.NOT_ENVELOPE


def _advance_in_body(region: _PossibleEnvelope, char: str) -> Verdict:
    """Inside the JSON (or a fence or tag's content): track strings and nesting."""
    if region.escape:
        region.escape = False
        return Verdict.READ_ON
    if region.in_string:
        if char == "\\":
            region.escape = True
        elif char == '"':
            region.in_string = False
        return Verdict.READ_ON
    if region.closer and region.depth == 0:
        if char == region.closer[region.closer_matched]:
            region.closer_matched += 1
            return (
                Verdict.COMPLETE
                if region.closer_matched == len(region.closer)
                else Verdict.READ_ON
            )
        region.closer_matched = 1 if char == region.closer[0] else 0
    if char == '"':
        region.in_string = True
    elif char in "{[":
        region.depth += 1
    elif char in "}]":
        region.depth = max(0, region.depth - 1)
        if region.depth == 0 and not region.closer:
            return Verdict.COMPLETE
    return Verdict.READ_ON


def _possible_envelope_at(char: str, after: str) -> _PossibleEnvelope:
    """Open a possible envelope at `char`, which follows the character `after`."""
    if char == "`":
        return _PossibleEnvelope("fence", char, [char])
    if char == "<":
        return _PossibleEnvelope("tag", char, [char])
    return _PossibleEnvelope("json", char, [char], quoted=after in _QUOTES)


def _items_in(
    region: _PossibleEnvelope, text: str, names: Sequence[str], *, complete: bool
) -> list[EnvelopeItem] | None:
    """An envelope's calls, or ``None`` when the region is plain text."""
    if region.phase != "body" or region.quoted:
        return None
    if region.kind == "json":
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            if looks_like_envelope(text, names):
                return malformed_envelope(text, str(e))
            return None
        return items_from_json(value, names)
    inner = text[region.body_start :]
    if complete:
        inner = inner[: -len(region.closer)]
    elif region.closer_matched:
        inner = inner[: -region.closer_matched]
    return items_from_wrapped(inner, text, names, tagged=region.kind == "tag")


@dataclass(slots=True)
class ToolAnswerReader:
    """Reads one answer as it streams: text to show now, envelopes held back.

    `feed` takes each piece of text; `finish` ends the answer and gives the
    calls.

    Attributes:
        names: The bound tools' names (a call to another tool is invalid).
        parallel: ``False`` when only the first valid call may be made; the
            others become invalid calls saying so.
    """

    names: Sequence[str]
    parallel: bool = True
    _region: _PossibleEnvelope | None = None
    _held_ws: str = ""
    _shown: bool = False
    _found_envelope: bool = False
    _after_envelope: bool = False
    _items: list[EnvelopeItem] = field(default_factory=list)
    _last_char: str = ""
    _broken_text: str = ""
    _broken_items: list[EnvelopeItem] = field(default_factory=list)

    def feed(self, text: str) -> str:
        """Take the next piece of the answer.

        Args:
            text: Decoded text, split anywhere.

        Returns:
            The text that can be shown now (possibly "").
        """
        out: list[str] = []
        index, end = 0, len(text)
        while index < end:
            if self._broken_items:
                # A malformed envelope is a call only if the answer ends with it.
                match = _NOT_WS.search(text, index)
                stop = match.start() if match else end
                self._broken_text += text[index:stop]
                if match is None:
                    break
                released, self._broken_text = self._broken_text, ""
                self._broken_items = []
                self._release(released, out)
                index = stop
                continue
            region = self._region
            if region is None:
                match = _TRIGGER.search(text, index)
                stop = match.start() if match else end
                if stop > index:
                    self._release(text[index:stop], out)
                if match is None:
                    break
                self._region = _possible_envelope_at(text[stop], self._last_char)
                index = stop + 1
                continue
            if region.phase == "body" and region.in_string and not region.escape:
                match = _STRING_STOP.search(text, index)
                stop = match.start() if match else end
                if stop > index:
                    region.add(text[index:stop])
                    index = stop
                    continue
            char = text[index]
            verdict = _advance(region, char, self.names)
            if verdict is Verdict.NOT_ENVELOPE:
                self._region = None
                self._release("".join(region.parts), out)
                continue  # the character is read again as text
            region.add(char)
            index += 1
            if verdict is Verdict.COMPLETE:
                self._region = None
                self._resolve(region, out, complete=True)
        return "".join(out)

    def finish(self) -> ToolAnswer:
        """Close the answer at its end.

        Returns:
            The calls, and in `content` the text not shown yet.
        """
        out: list[str] = []
        if self._region is not None:
            region, self._region = self._region, None
            self._resolve(region, out, complete=False)
        if self._broken_items:
            self._found_envelope = True
            self._items += self._broken_items
            self._broken_text, self._broken_items = "", []
        if not self._found_envelope:
            out.append(self._held_ws)
        self._held_ws = ""
        tool_calls, invalid = to_tool_calls(
            self._items, self.names, parallel=self.parallel
        )
        return ToolAnswer("".join(out), tool_calls, invalid, self._found_envelope)

    def _resolve(
        self, region: _PossibleEnvelope, out: list[str], *, complete: bool
    ) -> None:
        """Decide what a possible envelope that ended is: calls, or text."""
        text = "".join(region.parts)
        items = _items_in(region, text, self.names, complete=complete)
        if items is None:
            self._release(text, out)
            return
        if complete and region.kind != "tag" and all_malformed(items):
            self._broken_text, self._broken_items = text, items
            return
        self._last_char = ""
        self._found_envelope = True
        self._after_envelope = True
        self._items += items

    def _release(self, text: str, out: list[str]) -> None:
        """Pass text on to `out`, holding back its trailing whitespace."""
        if text:
            self._last_char = text[-1]
        body = text.rstrip(WS_CHARS)
        if not body:
            if not self._after_envelope:
                self._held_ws += text
            return
        if self._after_envelope:
            body = body.lstrip(WS_CHARS)
        lead = self._held_ws if (self._shown or not self._found_envelope) else ""
        out.append(lead + body)
        self._held_ws = text[len(text.rstrip(WS_CHARS)) :]
        self._shown = True
        self._after_envelope = False


def parse_answer(text: str, setup: ToolSetup) -> ToolAnswer:
    """Read a whole answer for tool calls (the same reader a stream uses).

    Args:
        text: The answer.
        setup: The call's tools.

    Returns:
        The answer's text without envelopes, and its calls.
    """
    reader = ToolAnswerReader(setup.names, parallel=setup.parallel)
    shown = reader.feed(text)
    tail = reader.finish()
    return replace(tail, content=shown + tail.content)
