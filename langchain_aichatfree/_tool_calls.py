"""What counts as a tool call in an answer, and the calls LangChain gets.

Pure, no I/O. The deployment takes plain text and answers plain text, so
calls come back as a JSON *envelope* inside the answer::

    {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}

An envelope is one of these JSON values (`items_from_json`):

1. ``{"tool_calls": [...]}`` (the instructed form; each item a call);
2. OpenAI's ``{"type": "function", "function": {"name", "arguments"}}`` or
   ``{"function_call": {...}}``, arguments as an object or a JSON string;
3. a bare call ``{"name": ..., "arguments" | "parameters" | "args" | "input":
   ...}`` or ``{"name": ...}`` whose name is a bound tool; with a name that is
   not bound, only ``"arguments"`` or ``"parameters"`` holding an object make
   it a call (reported invalid: the tool is not bound), so data such as
   ``{"name": "Alice", "input": "raw"}`` stays text;
4. a list of bare calls, or several envelopes one after the other.

It may be written bare, in a code fence, or in ``<tool_call>`` tags
(`items_from_wrapped` reads what a fence or tag holds). Text that is not JSON
but looks like an envelope (`looks_like_envelope`: a truncated or broken call)
is a malformed envelope, a call reported invalid. Where in an answer an
envelope counts (not quoted in prose, a broken one only at the very end) is
decided by the reader that finds them, `_tool_reader`.

Each envelope item is a `ParsedCall` or an `UnusableCall`; `to_tool_calls`
turns them into LangChain's `tool_calls` and `invalid_tool_calls`, and
`ToolAnswer` holds the result.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from langchain_core.messages import InvalidToolCall, ToolCall, ToolCallChunk
from langchain_core.messages.tool import invalid_tool_call, tool_call, tool_call_chunk
from langchain_core.utils.json import parse_partial_json

if TYPE_CHECKING:
    from langchain_aichatfree._tool_setup import ToolSetup

ENVELOPE_KEY: Final = "tool_calls"
"""The key of the envelope the model is asked to answer with."""

TAG_OPEN: Final = "<tool_call>"
TAG_CLOSE: Final = "</tool_call>"
FENCE: Final = "```"

WS_CHARS: Final = " \t\r\n\f\v"
"""The whitespace dropped around an envelope (JSON's, and form feeds)."""

NAME_CHARS: Final = re.compile(r"[\w.-]")
"""Characters that continue a tool name."""

_ARGUMENT_KEYS: Final = ("arguments", "parameters", "args", "input")
"""Where a call's arguments may be, in the order they are looked for."""

_CALL_ARGUMENT_KEYS: Final = ("arguments", "parameters")
"""The keys that make `{"name": <a tool that is not bound>, ...}` a call."""

_ENVELOPE_HINT: Final = re.compile(
    r'"(?:tool_calls|arguments|parameters|function_call)"\s*:'
    r'|"type"\s*:\s*"function"'
)
"""Text that only a tool call would hold (see `looks_like_envelope`)."""

_NAME_FIELD: Final = re.compile(r'"name"\s*:\s*"([^"\\]*)"')


@dataclass(frozen=True, slots=True)
class ParsedCall:
    """An envelope item that names a tool and holds arguments as an object."""

    name: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class UnusableCall:
    """An envelope item that cannot be made, with its raw text and the reason."""

    name: str | None
    raw: str
    error: str
    malformed: bool = False
    """Invalid JSON: a call only where nothing but whitespace follows it."""


EnvelopeItem = ParsedCall | UnusableCall


@dataclass(frozen=True, slots=True)
class ToolAnswer:
    """An answer read for tool calls.

    Attributes:
        content: The answer's text without its envelopes (for `parse_answer`;
            the reader's `finish` puts only the not yet shown tail here).
        tool_calls: Valid calls to bound tools, each with a fresh unique id.
        invalid_tool_calls: Malformed envelopes and calls that cannot be made,
            with the raw text and the reason.
        envelope: Whether the answer contained an envelope at all.
    """

    content: str
    tool_calls: list[ToolCall]
    invalid_tool_calls: list[InvalidToolCall]
    envelope: bool

    def satisfies(self, setup: ToolSetup) -> bool:
        """Whether the answer makes the call a required `tool_choice` asks for."""
        if setup.forced is not None:
            return any(call["name"] == setup.forced for call in self.tool_calls)
        return bool(self.tool_calls)

    def tool_call_chunks(self) -> list[ToolCallChunk]:
        """The calls as the chunks a stream's last message carries.

        LangChain rebuilds `tool_calls` and `invalid_tool_calls` from these when
        chunks are merged: a valid call's arguments are its JSON; an invalid
        call keeps its raw text (JSON-quoted when LangChain's partial JSON
        repair would otherwise turn it into a call).
        """
        chunks = [
            tool_call_chunk(
                name=call["name"],
                args=json.dumps(call["args"], ensure_ascii=False),
                id=call["id"],
                index=index,
            )
            for index, call in enumerate(self.tool_calls)
        ]
        offset = len(chunks)
        for index, bad in enumerate(self.invalid_tool_calls, start=offset):
            raw = bad.get("args") or ""
            if _repairs_to_object(raw):
                raw = json.dumps(raw, ensure_ascii=False)
            chunks.append(
                tool_call_chunk(
                    name=bad.get("name"), args=raw, id=bad["id"], index=index
                )
            )
        return chunks


def _repairs_to_object(raw: str) -> bool:
    try:
        return isinstance(parse_partial_json(raw), dict) if raw else True
    except (ValueError, TypeError):
        return False


def new_tool_call_id() -> str:
    """A fresh, unique tool call id (the model's own ids are not trusted)."""
    return f"call_{uuid.uuid4().hex[:24]}"


def _arguments_of(function: Mapping[str, Any]) -> Any:
    for key in _ARGUMENT_KEYS:
        if key in function:
            return function[key]
    return None


def _is_call_shaped(item: Any, names: Sequence[str]) -> bool:
    if not isinstance(item, dict):
        return False
    if isinstance(item.get("function"), dict) or isinstance(
        item.get("function_call"), dict
    ):
        return True
    name = item.get("name")
    if not isinstance(name, str):
        return False
    if name not in names:
        # Data often has a "name" (`{"name": "Alice", "input": "raw"}`): a call
        # to a tool that is not bound needs arguments as an object under the
        # function-call keys, and is then reported as an invalid call.
        return any(isinstance(item.get(key), dict) for key in _CALL_ARGUMENT_KEYS)
    if any(key in item for key in _ARGUMENT_KEYS):
        return True
    return set(item) <= {"name", "id", "type"}


def _item_from_json(item: Any) -> EnvelopeItem:
    """One call of an envelope: `ParsedCall`, or `UnusableCall` with the reason."""
    raw = json.dumps(item, ensure_ascii=False)
    if not isinstance(item, dict):
        return UnusableCall(None, raw, "A call must be a JSON object.")
    function = item
    for key in ("function", "function_call"):
        if isinstance(item.get(key), dict):
            function = item[key]
            break
    name = function.get("name")
    if not isinstance(name, str) or not name:
        return UnusableCall(None, raw, "The call has no tool name.")
    arguments = _arguments_of(function)
    if arguments is None or arguments == "":
        return ParsedCall(name, {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as e:
            return UnusableCall(name, raw, f"The arguments are not valid JSON: {e}.")
    if not isinstance(arguments, dict):
        return UnusableCall(name, raw, "The arguments must be a JSON object.")
    return ParsedCall(name, arguments)


def items_from_json(value: Any, names: Sequence[str]) -> list[EnvelopeItem] | None:
    """The calls a JSON value holds, or ``None`` if it is not an envelope."""
    if isinstance(value, dict):
        if ENVELOPE_KEY in value:
            items = value[ENVELOPE_KEY]
            if isinstance(items, dict):
                items = [items]
            if not isinstance(items, list):
                raw = json.dumps(value, ensure_ascii=False)
                error = '"tool_calls" must be a list of calls.'
                return [UnusableCall(None, raw, error)]
            return [_item_from_json(item) for item in items]
        if _is_call_shaped(value, names):
            return [_item_from_json(value)]
        return None
    if (
        isinstance(value, list)
        and value
        and all(_is_call_shaped(item, names) for item in value)
    ):
        return [_item_from_json(item) for item in value]
    return None


def looks_like_envelope(text: str, names: Sequence[str]) -> bool:
    """Whether text that is not JSON holds what only a call would (a broken call)."""
    if _ENVELOPE_HINT.search(text):
        return True
    return any(m.group(1) in names for m in _NAME_FIELD.finditer(text))


def all_malformed(items: Sequence[EnvelopeItem]) -> bool:
    """Whether every item comes from invalid JSON (see `UnusableCall.malformed`)."""
    return all(isinstance(item, UnusableCall) and item.malformed for item in items)


def _name_in(text: str) -> str | None:
    match = _NAME_FIELD.search(text)
    return match.group(1) if match else None


def malformed_envelope(raw: str, error: str) -> list[EnvelopeItem]:
    """The one invalid call that a broken envelope `raw` is, named if it can be."""
    error = f"Malformed tool call: {error}"
    return [UnusableCall(_name_in(raw), raw, error, malformed=True)]


def _json_values(text: str) -> list[Any]:
    """Every JSON value in `text`, separated by whitespace (JSON Lines too)."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    index = 0
    while True:
        while index < len(text) and text[index] in WS_CHARS:
            index += 1
        if index == len(text):
            return values
        value, index = decoder.raw_decode(text, index)
        values.append(value)


def items_from_wrapped(
    inner: str, raw: str, names: Sequence[str], *, tagged: bool
) -> list[EnvelopeItem] | None:
    """Read the inside of a fence or a tag: JSON values, or tags in a fence."""
    stripped = inner.strip(WS_CHARS)
    if not tagged and stripped.startswith(TAG_OPEN):
        items: list[EnvelopeItem] = []
        for part in stripped.split(TAG_OPEN)[1:]:
            body, closed, _ = part.partition(TAG_CLOSE)
            if not opens_call(body, names):
                return None  # a fenced example of the tag, not a call
            found = items_from_wrapped(body, raw, names, tagged=True)
            items += found or []
            if not closed:
                break
        return items
    try:
        values = _json_values(stripped)
    except json.JSONDecodeError as e:
        if tagged or looks_like_envelope(stripped, names):
            return malformed_envelope(raw, str(e))
        return None
    items = []
    for value in values:
        found = items_from_json(value, names)
        if found is None:
            if not tagged:
                return None
            text = json.dumps(value, ensure_ascii=False)
            return [UnusableCall(None, text, "A <tool_call> tag must hold a call.")]
        items += found
    if not values and tagged:
        return [UnusableCall(None, raw, "The <tool_call> tag is empty.")]
    return items if values else None


def opens_call(content: str, names: Sequence[str]) -> bool:
    """Whether a tag's content opens as a call: with JSON or a bound tool's name.

    The streaming reader applies the same rule one character at a time
    (`_tool_reader._advance_after_tag`).
    """
    stripped = content.lstrip(WS_CHARS)
    if stripped[:1] in ("{", "["):
        return True
    return any(
        stripped.startswith(name)
        and not NAME_CHARS.match(stripped[len(name) : len(name) + 1] or " ")
        for name in names
    )


def to_tool_calls(
    items: Sequence[EnvelopeItem], names: Sequence[str], *, parallel: bool
) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    """Turn an answer's envelope items into LangChain's calls, each with a new id.

    Args:
        items: The items of every envelope in the answer, in order.
        names: The bound tools' names (a call to another tool is invalid).
        parallel: ``False`` when only the first valid call may be made; the
            others become invalid calls saying so.

    Returns:
        The valid calls, and the invalid ones with the raw text and the reason.
    """
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for item in items:
        call_id = new_tool_call_id()
        if isinstance(item, UnusableCall):
            invalid.append(
                invalid_tool_call(
                    name=item.name, args=item.raw, id=call_id, error=item.error
                )
            )
            continue
        if item.name not in names:
            error = f"{item.name!r} is not a bound tool; bound tools: {list(names)}."
        elif calls and not parallel:
            error = "parallel_tool_calls=False allows one call; this one was not made."
        else:
            calls.append(tool_call(name=item.name, args=item.args, id=call_id))
            continue
        args_text = json.dumps(item.args, ensure_ascii=False)
        invalid.append(
            invalid_tool_call(name=item.name, args=args_text, id=call_id, error=error)
        )
    return calls, invalid
