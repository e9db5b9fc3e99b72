"""Tool calling and structured output, emulated in text: pure, no I/O.

The deployment takes plain text and answers plain text, so tools travel as
instructions folded into the conversation (`render_instructions`) and calls
come back as a JSON envelope inside the answer::

    {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}

History renders earlier calls in the same envelope (`render_envelope`), so the
model sees its own calls in the format it is asked to use.

`ToolAnswerReader` reads an answer as it streams and splits it into text that
can be shown at once and envelopes, which are held back and become
`tool_calls` (or `invalid_tool_calls`) at the end. It is the only parser:
`parse_answer` runs the same reader over a whole answer, so `invoke` and a
merged `stream` cannot disagree.

What counts as a call. An *envelope* is one of these JSON values:

1. ``{"tool_calls": [...]}`` (the instructed form; each item a call);
2. OpenAI's ``{"type": "function", "function": {"name", "arguments"}}`` or
   ``{"function_call": {...}}``, arguments as an object or a JSON string;
3. a bare call ``{"name": ..., "arguments" | "parameters" | "args" | "input":
   ...}`` or ``{"name": ...}`` whose name is a bound tool; with a name that is
   not bound, only ``"arguments"`` or ``"parameters"`` holding an object make
   it a call (reported invalid: the tool is not bound), so data such as
   ``{"name": "Alice", "input": "raw"}`` stays text;
4. a list of bare calls, or several envelopes one after the other.

It counts wherever it stands in the answer (alone, after a preamble, with
prose after it), written bare (``{"`` or ``[{``), in a code fence, or in
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
* A character that may open an envelope starts a *candidate*: ``{`` followed by
  ``"``; ``[`` followed by ``{``; three backticks whose content starts with
  ``{``, ``[`` or ``<``; ``<tool_call>`` followed by JSON or a tool name. A
  candidate that turns out not to be one (``{x``, a Python code fence,
  ``<b>``) is released at the first character that rules it out; one that
  completes (balanced JSON, closing fence or tag) is parsed once: an envelope
  is kept, anything else released as text. A broken envelope is held until
  the next visible character (released as text) or the end (an invalid call).

Each `feed` costs O(len(text)): text is scanned with regular expressions, and
inside a candidate string contents are skipped in one step.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from langchain_core.exceptions import OutputParserException
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    BaseMessageChunk,
    HumanMessage,
    InvalidToolCall,
    ToolCall,
    ToolCallChunk,
)
from langchain_core.messages.tool import invalid_tool_call, tool_call, tool_call_chunk
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.output_parsers.transform import BaseCumulativeTransformOutputParser
from langchain_core.outputs import ChatGenerationChunk, Generation, GenerationChunk
from langchain_core.runnables import Runnable, RunnableGenerator
from langchain_core.runnables.utils import AddableDict
from langchain_core.utils.function_calling import (
    convert_to_openai_function,
    convert_to_openai_tool,
)
from langchain_core.utils.json import parse_partial_json
from pydantic import BaseModel, ValidationError
from pydantic.v1 import ValidationError as ValidationErrorV1

ChoiceMode = Literal["auto", "none", "required"]

ENVELOPE_KEY: Final = "tool_calls"
"""The key of the envelope the model is asked to answer with."""

_ARGUMENT_KEYS: Final = ("arguments", "parameters", "args", "input")
"""Where a call's arguments may be, in the order they are looked for."""

_CALL_ARGUMENT_KEYS: Final = ("arguments", "parameters")
"""The keys that make `{"name": <a tool that is not bound>, ...}` a call."""

_QUOTES: Final = frozenset("`\"'\u201c\u2018\u00ab")
"""A JSON value right after one of these is quoted in prose, never a call."""

_NAME_CHARS: Final = re.compile(r"[\w.-]")
"""Characters that continue a tool name."""

_REQUIRED_CHOICES: Final = frozenset({"any", "required"})

TAG_OPEN: Final = "<tool_call>"
TAG_CLOSE: Final = "</tool_call>"
FENCE: Final = "```"

_TRIGGER: Final = re.compile(r"[{\[`<]")
"""Characters that may open an envelope; everything else is plain text."""

_STRING_STOP: Final = re.compile(r'["\\]')

_NOT_WS: Final = re.compile(r"[^ \t\r\n\f\v]")
"""Inside a JSON string only these two characters matter."""

_ENVELOPE_HINT: Final = re.compile(
    r'"(?:tool_calls|arguments|parameters|function_call)"\s*:'
    r'|"type"\s*:\s*"function"'
)
_NAME_FIELD: Final = re.compile(r'"name"\s*:\s*"([^"\\]*)"')

_WS_CHARS: Final = " \t\r\n\f\v"


# -- binding ---------------------------------------------------------------


def format_tool(tool: Any, *, strict: bool | None = None) -> dict[str, Any]:
    """Convert anything LangChain accepts as a tool to an OpenAI tool dict.

    Args:
        tool: A `BaseTool`, function, pydantic model, TypedDict, JSON schema,
            or OpenAI / Anthropic tool dict.
        strict: Passed to `convert_to_openai_tool` (shapes the schema only).

    Returns:
        ``{"type": "function", "function": {"name", "description", "parameters"}}``.

    Raises:
        ValueError: For a provider built-in tool (web search, code interpreter...),
            which a text-only deployment cannot run.
    """
    formatted = convert_to_openai_tool(tool, strict=strict)
    if isinstance(formatted.get("function"), dict):
        return formatted
    if formatted.get("type") == "function" and isinstance(formatted.get("name"), str):
        function = {k: v for k, v in formatted.items() if k != "type"}
        return {"type": "function", "function": function}
    msg = (
        f"Cannot bind {formatted.get('type')!r} tools: AIChatFree only emulates "
        "function tools (a BaseTool, function, pydantic model, TypedDict or "
        "JSON schema)."
    )
    raise ValueError(msg)


def tool_name(tool: Mapping[str, Any]) -> str:
    """The name of a tool formatted by `format_tool`."""
    return str(tool["function"]["name"])


def normalize_tool_choice(
    tool_choice: Any, names: Sequence[str]
) -> tuple[ChoiceMode, str | None]:
    """Read every form of `tool_choice` LangChain and OpenAI accept.

    Args:
        tool_choice: ``None``/``"auto"``/``False``; ``"none"``; ``"any"``,
            ``"required"`` or ``True``; a tool name; or a dict such as
            ``{"type": "function", "function": {"name": ...}}`` (also the
            ``{"type": "tool", "name": ...}`` and ``{"type": "any"}`` forms).
        names: The bound tools' names.

    Returns:
        The mode, and the tool that must be called (for a named choice).

    Raises:
        ValueError: An unknown form, or a name that is not bound.
    """
    forced: str | None = None
    if tool_choice is None or tool_choice is False or tool_choice == "auto":
        return "auto", None
    if tool_choice is True:
        return "required", None
    if isinstance(tool_choice, str):
        if tool_choice == "none":
            return "none", None
        if tool_choice in _REQUIRED_CHOICES:
            return "required", None
        forced = tool_choice
    elif isinstance(tool_choice, Mapping):
        kind = tool_choice.get("type")
        function = tool_choice.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            forced = function["name"]
        elif kind in {"tool", "function"} and isinstance(tool_choice.get("name"), str):
            forced = tool_choice["name"]
        elif kind in {"auto", "none", "any", "required"}:
            return normalize_tool_choice(kind, names)
    if forced is None:
        msg = (
            f"Unrecognised tool_choice {tool_choice!r}; use 'auto', 'none', 'any' "
            "(or 'required' / True), a tool name, or "
            "{'type': 'function', 'function': {'name': ...}}."
        )
        raise ValueError(msg)
    if forced not in names:
        msg = f"tool_choice names {forced!r}, which is not bound; bound: {list(names)}."
        raise ValueError(msg)
    return "required", forced


def response_format_from_schema(
    schema: Mapping[str, Any] | type, *, strict: bool | None = None
) -> dict[str, Any]:
    """Build an OpenAI-style ``json_schema`` response format from any schema.

    Args:
        schema: A pydantic model, TypedDict, JSON schema or OpenAI function.
        strict: Recorded, and passed to the conversion.

    Returns:
        ``{"type": "json_schema", "json_schema": {"name", "description",
        "schema", "strict"}}``.
    """
    function = convert_to_openai_function(schema, strict=strict)
    spec: dict[str, Any] = {
        "name": function["name"],
        "schema": function.get("parameters", {}),
    }
    if function.get("description"):
        spec["description"] = function["description"]
    if strict is not None:
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}


@dataclass(frozen=True, slots=True)
class ToolSetup:
    """What one call asks of the model besides the conversation.

    Attributes:
        tools: The bound tools, formatted by `format_tool`.
        mode: ``"auto"``, ``"none"`` (tools described, not callable now) or
            ``"required"`` (a call must be made).
        forced: The tool that must be called, for a named `tool_choice`.
        parallel: ``False`` when at most one call may be made.
        json_schema: The answer's JSON schema spec (``name``, ``schema``...),
            when the answer must be a JSON object conforming to it.
        json_mode: Whether the answer must be a JSON object (any).
    """

    tools: tuple[dict[str, Any], ...] = ()
    mode: ChoiceMode = "auto"
    forced: str | None = None
    parallel: bool = True
    json_schema: Mapping[str, Any] | None = None
    json_mode: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        """The bound tools' names, in order."""
        return tuple(tool_name(t) for t in self.tools)

    @property
    def parses_calls(self) -> bool:
        """Whether answers are read for tool calls."""
        return bool(self.tools) and self.mode != "none"

    @property
    def requires_call(self) -> bool:
        """Whether an answer without a call is re-asked."""
        return self.parses_calls and self.mode == "required"


def build_tool_setup(
    *,
    tools: Sequence[Any] | None = None,
    tool_choice: Any = None,
    parallel_tool_calls: bool | None = None,
    response_format: Any = None,
) -> ToolSetup | None:
    """Read a call's tool keyword arguments.

    Args:
        tools: Tools in any form `format_tool` takes.
        tool_choice: Any form `normalize_tool_choice` takes.
        parallel_tool_calls: ``False`` for one call at most.
        response_format: ``{"type": "json_object"}``, an OpenAI ``json_schema``
            format, or a schema (pydantic model, TypedDict, JSON schema).

    Returns:
        The setup, or ``None`` when the call asks for nothing of the kind.

    Raises:
        ValueError: For a tool choice that names no bound tool, a choice
            without tools, or a malformed response format.
    """
    formatted = tuple(format_tool(t) for t in tools or ())
    names = tuple(tool_name(t) for t in formatted)
    mode, forced = normalize_tool_choice(tool_choice, names)
    if mode == "required" and not formatted:
        msg = f"tool_choice={tool_choice!r} requires tools; none are bound."
        raise ValueError(msg)
    json_schema: Mapping[str, Any] | None = None
    json_mode = False
    if response_format is not None:
        if isinstance(response_format, Mapping) and response_format.get("type") in {
            "json_object",
            "json_schema",
        }:
            if response_format["type"] == "json_object":
                json_mode = True
            else:
                spec = response_format.get("json_schema")
                if not isinstance(spec, Mapping) or "schema" not in spec:
                    msg = (
                        "A json_schema response_format needs "
                        "{'json_schema': {'name': ..., 'schema': {...}}}."
                    )
                    raise ValueError(msg)
                json_schema = spec
        else:
            json_schema = response_format_from_schema(response_format)["json_schema"]
    if not formatted and json_schema is None and not json_mode:
        return None
    _check_encodable(formatted, json_schema)
    return ToolSetup(
        tools=formatted,
        mode=mode,
        forced=forced,
        parallel=parallel_tool_calls is not False,
        json_schema=json_schema,
        json_mode=json_mode,
    )


def _check_encodable(
    tools: Sequence[Mapping[str, Any]], json_schema: Mapping[str, Any] | None
) -> None:
    """Refuse, naming the tool, text that cannot be sent as UTF-8.

    A lone surrogate in a tool's description or schema would otherwise fail
    only when the request body is encoded, as a bare `UnicodeEncodeError`.
    """
    described = [(f"Tool {tool_name(t)!r}", t) for t in tools]
    if json_schema is not None:
        described.append(
            (f"The response format {json_schema.get('name')!r}", json_schema)
        )
    for what, value in described:
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as e:
            msg = (
                f"{what} contains an unpaired surrogate in its name, description "
                f"or schema ({e.object[e.start : e.end]!r}), which cannot be sent "
                "as UTF-8."
            )
            raise ValueError(msg) from None


# -- what the model is told -----------------------------------------------


def render_envelope(calls: Sequence[Mapping[str, Any]]) -> str:
    """Write calls as the envelope the model is asked to produce.

    Args:
        calls: LangChain tool calls (``name``, ``args``, ``id``); the id is
            kept when present so that tool results can refer to it.

    Returns:
        ``{"tool_calls": [{"id": ..., "name": ..., "arguments": {...}}]}``.
    """
    rendered = []
    for call in calls:
        item: dict[str, Any] = {}
        if call.get("id"):
            item["id"] = call["id"]
        item["name"] = call["name"]
        item["arguments"] = call.get("args") or {}
        rendered.append(item)
    return json.dumps({ENVELOPE_KEY: rendered}, ensure_ascii=False)


def _describe_tool(tool: Mapping[str, Any]) -> str:
    """One line of the tool list: ``{"tool", "description", "arguments_schema"}``.

    Not ``{"name", "description", "parameters"}``: that is also the shape of a
    bare call, so a model repeating its instructions (or the local server's
    echo) would call every tool with its own schema.
    """
    function = tool["function"]
    described: dict[str, Any] = {"tool": function["name"]}
    if function.get("description"):
        described["description"] = function["description"]
    described["arguments_schema"] = function.get("parameters") or {
        "type": "object",
        "properties": {},
    }
    return json.dumps(described, ensure_ascii=False)


def _choice_line(setup: ToolSetup) -> str:
    if setup.mode == "none":
        return "Do not call any tool in this answer; answer in plain text."
    if setup.forced is not None:
        return (
            f'You must call the tool "{setup.forced}" now: answer with the JSON '
            "object only."
        )
    if setup.mode == "required":
        return "You must call at least one tool now: answer with the JSON object only."
    return (
        "Call a tool only when you need one; otherwise answer in plain text, "
        "without the JSON object."
    )


def _answer_format_lines(setup: ToolSetup) -> list[str]:
    if setup.json_schema is not None:
        spec = setup.json_schema
        about = f' ("{spec["name"]}"' if spec.get("name") else ""
        if about and spec.get("description"):
            about += f": {spec['description']}"
        about += ")" if about else ""
        schema = json.dumps(spec["schema"], ensure_ascii=False)
        return [
            f"Answer with one JSON object that conforms to this JSON schema{about}, "
            "and nothing else: no prose, no code fence.",
            schema,
        ]
    if setup.json_mode:
        return [
            "Answer with one JSON object, and nothing else: no prose, no code fence."
        ]
    return []


def render_instructions(setup: ToolSetup) -> str:
    """Tell the model which tools it has and exactly how to call them.

    Args:
        setup: The call's tools, choice and answer format.

    Returns:
        Text to fold into the conversation like system instructions.
    """
    lines: list[str] = []
    if setup.tools:
        lines += [
            "You can call tools. Each line below describes one tool: its name "
            '("tool"), what it does, and the JSON schema of its arguments.',
            *(_describe_tool(t) for t in setup.tools),
            "",
            "To call tools, answer with this JSON object alone, and nothing else:",
            '{"tool_calls": [{"name": "<tool name>", "arguments": {<arguments>}}]}',
            (
                'Call one tool at a time: put exactly one call in "tool_calls".'
                if not setup.parallel
                else 'To call several tools at once, put several calls in "tool_calls".'
            ),
            "Each result comes back in a user turn that starts with "
            '"[Tool result <name> (call <id>)]" (or "[Tool error ...]"); your '
            'earlier calls show the "id" it refers to, which you need not write. '
            "Then call more tools, or answer.",
            _choice_line(setup),
        ]
    format_lines = _answer_format_lines(setup)
    if format_lines:
        if setup.tools:
            lines += ["", "When you answer without calling a tool:"]
        lines += format_lines
    return "\n".join(lines)


def reask_text(setup: ToolSetup, answer: ToolAnswer) -> str:
    """The corrective user turn sent once when a required call is missing.

    Args:
        setup: The call's setup (a required choice).
        answer: What the non-compliant answer contained.

    Returns:
        A short instruction to answer again with a call.
    """
    if answer.invalid_tool_calls and not answer.tool_calls:
        error = answer.invalid_tool_calls[0].get("error") or "it was malformed"
        problem = f"Your tool call could not be used: {error}"
    elif answer.tool_calls and setup.forced is not None:
        problem = f'You did not call "{setup.forced}".'
    else:
        problem = "Your answer did not call a tool."
    target = f'the tool "{setup.forced}"' if setup.forced else "a tool"
    return (
        f"{problem} You must call {target} now. Answer again with only the JSON "
        'object {"tool_calls": [{"name": "<tool name>", "arguments": {...}}]}.'
    )


def reask_messages(
    messages: Sequence[BaseMessage], answer_text: str, correction: str
) -> list[BaseMessage]:
    """The conversation of the one re-ask: the answer, then the correction.

    Args:
        messages: The original conversation.
        answer_text: The model's non-compliant answer, exactly as received.
        correction: The corrective user turn (`reask_text`).

    Returns:
        The conversation to send again.
    """
    return [*messages, AIMessage(answer_text), HumanMessage(correction)]


# -- reading answers ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Call:
    name: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Invalid:
    name: str | None
    raw: str
    error: str
    malformed: bool = False
    """Invalid JSON: a call only where nothing but whitespace follows it."""


_Entry = _Call | _Invalid


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


def _first_argument(function: Mapping[str, Any]) -> Any:
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


def _entry_from_item(item: Any) -> _Entry:
    """One call of an envelope: `_Call`, or `_Invalid` with the reason."""
    raw = json.dumps(item, ensure_ascii=False)
    if not isinstance(item, dict):
        return _Invalid(None, raw, "A call must be a JSON object.")
    function = item
    for key in ("function", "function_call"):
        if isinstance(item.get(key), dict):
            function = item[key]
            break
    name = function.get("name")
    if not isinstance(name, str) or not name:
        return _Invalid(None, raw, "The call has no tool name.")
    arguments = _first_argument(function)
    if arguments is None or arguments == "":
        return _Call(name, {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as e:
            return _Invalid(name, raw, f"The arguments are not valid JSON: {e}.")
    if not isinstance(arguments, dict):
        return _Invalid(name, raw, "The arguments must be a JSON object.")
    return _Call(name, arguments)


def _entries_from_value(value: Any, names: Sequence[str]) -> list[_Entry] | None:
    """The calls a JSON value holds, or ``None`` if it is not an envelope."""
    if isinstance(value, dict):
        if ENVELOPE_KEY in value:
            items = value[ENVELOPE_KEY]
            if isinstance(items, dict):
                items = [items]
            if not isinstance(items, list):
                raw = json.dumps(value, ensure_ascii=False)
                return [_Invalid(None, raw, '"tool_calls" must be a list of calls.')]
            return [_entry_from_item(item) for item in items]
        if _is_call_shaped(value, names):
            return [_entry_from_item(value)]
        return None
    if (
        isinstance(value, list)
        and value
        and all(_is_call_shaped(item, names) for item in value)
    ):
        return [_entry_from_item(item) for item in value]
    return None


def _looks_like_envelope(text: str, names: Sequence[str]) -> bool:
    if _ENVELOPE_HINT.search(text):
        return True
    return any(m.group(1) in names for m in _NAME_FIELD.finditer(text))


def _all_malformed(entries: Sequence[_Entry]) -> bool:
    return all(isinstance(e, _Invalid) and e.malformed for e in entries)


def _extract_name(text: str) -> str | None:
    match = _NAME_FIELD.search(text)
    return match.group(1) if match else None


def _malformed(raw: str, error: str) -> list[_Entry]:
    error = f"Malformed tool call: {error}"
    return [_Invalid(_extract_name(raw), raw, error, malformed=True)]


def _json_values(text: str) -> list[Any]:
    """Every JSON value in `text`, separated by whitespace (JSON Lines too)."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    index = 0
    while True:
        while index < len(text) and text[index] in _WS_CHARS:
            index += 1
        if index == len(text):
            return values
        value, index = decoder.raw_decode(text, index)
        values.append(value)


def _entries_from_inner(
    inner: str, raw: str, names: Sequence[str], *, tagged: bool
) -> list[_Entry] | None:
    """Read the inside of a fence or a tag: JSON values, or tags in a fence."""
    stripped = inner.strip(_WS_CHARS)
    if not tagged and stripped.startswith(TAG_OPEN):
        entries: list[_Entry] = []
        for part in stripped.split(TAG_OPEN)[1:]:
            body, closed, _ = part.partition(TAG_CLOSE)
            if not _opens_call(body, names):
                return None  # a fenced example of the tag, not a call
            found = _entries_from_inner(body, raw, names, tagged=True)
            entries += found or []
            if not closed:
                break
        return entries
    try:
        values = _json_values(stripped)
    except json.JSONDecodeError as e:
        if tagged or _looks_like_envelope(stripped, names):
            return _malformed(raw, str(e))
        return None
    entries = []
    for value in values:
        found = _entries_from_value(value, names)
        if found is None:
            if not tagged:
                return None
            text = json.dumps(value, ensure_ascii=False)
            return [_Invalid(None, text, "A <tool_call> tag must hold a call.")]
        entries += found
    if not values and tagged:
        return [_Invalid(None, raw, "The <tool_call> tag is empty.")]
    return entries if values else None


@dataclass(slots=True)
class _Candidate:
    """A region of the answer that may be an envelope, and its scan state."""

    kind: Literal["json", "fence", "tag"]
    opener: str
    parts: list[str]
    quoted: bool = False
    phase: Literal["open", "lang", "pre", "body"] = "open"
    count: int = 1
    depth: int = 0
    in_string: bool = False
    escape: bool = False
    closer: str = ""
    closing: int = 0
    body_start: int = 0
    size: int = 1
    word: str = ""

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)


_MORE, _REJECT, _DONE = 0, 1, 2


def _step_tag_content(cand: _Candidate, char: str, names: Sequence[str]) -> int:
    """After ``<tool_call>``: a call opens with JSON or a bound tool's name.

    Anything else (``<tool_call> followed by JSON`` in prose) is text.
    """
    if not cand.word:
        if char in _WS_CHARS:
            return _MORE
        if char in "{[":
            cand.phase = "body"
            return _step_body(cand, char)
    word = cand.word + char
    if any(name.startswith(word) for name in names):
        cand.word = word
        return _MORE
    if cand.word in names and not _NAME_CHARS.match(char):
        cand.phase = "body"
        return _step_body(cand, char)
    return _REJECT


def _opens_call(content: str, names: Sequence[str]) -> bool:
    """Whether a tag's content opens as a call does (see `_step_tag_content`)."""
    stripped = content.lstrip(_WS_CHARS)
    if stripped[:1] in ("{", "["):
        return True
    return any(
        stripped.startswith(name)
        and not _NAME_CHARS.match(stripped[len(name) : len(name) + 1] or " ")
        for name in names
    )


def _step(cand: _Candidate, char: str, names: Sequence[str]) -> int:
    """Advance a candidate by one character (not yet added to it)."""
    if cand.phase == "body":
        return _step_body(cand, char)
    if cand.kind == "json":
        if char in _WS_CHARS:
            return _MORE
        if cand.opener == "{" and char == '"':
            cand.phase, cand.depth, cand.in_string = "body", 1, True
            return _MORE
        if cand.opener == "[" and char == "{":
            cand.phase, cand.depth = "body", 2
            return _MORE
        return _REJECT
    if cand.kind == "tag":
        if cand.phase == "pre":
            return _step_tag_content(cand, char, names)
        if char != TAG_OPEN[cand.count]:
            return _REJECT
        cand.count += 1
        if cand.count == len(TAG_OPEN):
            cand.phase, cand.closer, cand.body_start = "pre", TAG_CLOSE, cand.size + 1
        return _MORE
    # a fence: three backticks, a language tag, whitespace, then the content
    if cand.phase == "open":
        if char != "`":
            return _REJECT
        cand.count += 1
        if cand.count == len(FENCE):
            cand.phase = "lang"
        return _MORE
    if cand.phase == "lang":
        if char.isalnum() or char in "_-+.":
            return _MORE
        cand.phase = "pre"
    if char in _WS_CHARS:
        return _MORE
    if char in "{[<":
        cand.phase, cand.closer, cand.body_start = "body", FENCE, cand.size
        return _step_body(cand, char)
    return _REJECT


def _step_body(cand: _Candidate, char: str) -> int:
    if cand.escape:
        cand.escape = False
        return _MORE
    if cand.in_string:
        if char == "\\":
            cand.escape = True
        elif char == '"':
            cand.in_string = False
        return _MORE
    if cand.closer and cand.depth == 0:
        if char == cand.closer[cand.closing]:
            cand.closing += 1
            return _DONE if cand.closing == len(cand.closer) else _MORE
        cand.closing = 1 if char == cand.closer[0] else 0
    if char == '"':
        cand.in_string = True
    elif char in "{[":
        cand.depth += 1
    elif char in "}]":
        cand.depth = max(0, cand.depth - 1)
        if cand.depth == 0 and not cand.closer:
            return _DONE
    return _MORE


def _open_candidate(char: str, after: str) -> _Candidate:
    if char == "`":
        return _Candidate("fence", char, [char])
    if char == "<":
        return _Candidate("tag", char, [char])
    return _Candidate("json", char, [char], quoted=after in _QUOTES)


def _classify(
    cand: _Candidate, text: str, names: Sequence[str], *, complete: bool
) -> list[_Entry] | None:
    """An envelope's calls, or ``None`` when the region is plain text."""
    if cand.phase != "body" or cand.quoted:
        return None
    if cand.kind == "json":
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            return (
                _malformed(text, str(e)) if _looks_like_envelope(text, names) else None
            )
        return _entries_from_value(value, names)
    inner = text[cand.body_start :]
    if complete:
        inner = inner[: -len(cand.closer)]
    elif cand.closing:
        inner = inner[: -cand.closing]
    return _entries_from_inner(inner, text, names, tagged=cand.kind == "tag")


@dataclass(slots=True)
class ToolAnswerReader:
    """Reads one answer as it streams: text to show now, envelopes held back.

    Attributes:
        names: The bound tools' names (a call to another tool is invalid).
        parallel: ``False`` when only the first valid call may be made; the
            others become invalid calls saying so.
    """

    names: Sequence[str]
    parallel: bool = True
    _cand: _Candidate | None = None
    _ws: str = ""
    _shown: bool = False
    _found: bool = False
    _after_envelope: bool = False
    _entries: list[_Entry] = field(default_factory=list)
    _prev: str = ""
    _pending: str = ""
    _pending_entries: list[_Entry] = field(default_factory=list)

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
            if self._pending_entries:
                # A malformed envelope is a call only if the answer ends with it.
                match = _NOT_WS.search(text, index)
                stop = match.start() if match else end
                self._pending += text[index:stop]
                if match is None:
                    break
                released, self._pending = self._pending, ""
                self._pending_entries = []
                self._release(released, out)
                index = stop
                continue
            cand = self._cand
            if cand is None:
                match = _TRIGGER.search(text, index)
                stop = match.start() if match else end
                if stop > index:
                    self._release(text[index:stop], out)
                if match is None:
                    break
                self._cand = _open_candidate(text[stop], self._prev)
                index = stop + 1
                continue
            if cand.phase == "body" and cand.in_string and not cand.escape:
                match = _STRING_STOP.search(text, index)
                stop = match.start() if match else end
                if stop > index:
                    cand.add(text[index:stop])
                    index = stop
                    continue
            char = text[index]
            verdict = _step(cand, char, self.names)
            if verdict == _REJECT:
                self._cand = None
                self._release("".join(cand.parts), out)
                continue  # the character is read again as text
            cand.add(char)
            index += 1
            if verdict == _DONE:
                self._cand = None
                self._resolve(cand, out, complete=True)
        return "".join(out)

    def finish(self) -> ToolAnswer:
        """Close the answer at its end.

        Returns:
            The calls, and in `content` the text not shown yet.
        """
        out: list[str] = []
        if self._cand is not None:
            cand, self._cand = self._cand, None
            self._resolve(cand, out, complete=False)
        if self._pending_entries:
            self._found = True
            self._entries += self._pending_entries
            self._pending, self._pending_entries = "", []
        if not self._found:
            out.append(self._ws)
        self._ws = ""
        tool_calls, invalid = self._calls()
        return ToolAnswer("".join(out), tool_calls, invalid, self._found)

    def _resolve(self, cand: _Candidate, out: list[str], *, complete: bool) -> None:
        text = "".join(cand.parts)
        entries = _classify(cand, text, self.names, complete=complete)
        if entries is None:
            self._release(text, out)
            return
        if complete and cand.kind != "tag" and _all_malformed(entries):
            self._pending, self._pending_entries = text, entries
            return
        self._prev = ""
        self._found = True
        self._after_envelope = True
        self._entries += entries

    def _release(self, text: str, out: list[str]) -> None:
        if text:
            self._prev = text[-1]
        body = text.rstrip(_WS_CHARS)
        if not body:
            if not self._after_envelope:
                self._ws += text
            return
        if self._after_envelope:
            body = body.lstrip(_WS_CHARS)
        lead = self._ws if (self._shown or not self._found) else ""
        out.append(lead + body)
        self._ws = text[len(text.rstrip(_WS_CHARS)) :]
        self._shown = True
        self._after_envelope = False

    def _calls(self) -> tuple[list[ToolCall], list[InvalidToolCall]]:
        calls: list[ToolCall] = []
        invalid: list[InvalidToolCall] = []
        for entry in self._entries:
            call_id = new_tool_call_id()
            if isinstance(entry, _Invalid):
                invalid.append(
                    invalid_tool_call(
                        name=entry.name, args=entry.raw, id=call_id, error=entry.error
                    )
                )
                continue
            args_text = json.dumps(entry.args, ensure_ascii=False)
            if entry.name not in self.names:
                error = (
                    f"{entry.name!r} is not a bound tool; bound tools: "
                    f"{list(self.names)}."
                )
            elif calls and not self.parallel:
                error = (
                    "parallel_tool_calls=False allows one call; this one was not made."
                )
            else:
                calls.append(tool_call(name=entry.name, args=entry.args, id=call_id))
                continue
            invalid.append(
                invalid_tool_call(
                    name=entry.name, args=args_text, id=call_id, error=error
                )
            )
        return calls, invalid


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
    answer = reader.finish()
    return ToolAnswer(
        shown + answer.content,
        answer.tool_calls,
        answer.invalid_tool_calls,
        answer.envelope,
    )


# -- structured output as a JSON answer ----------------------------------------


def _json_start(text: str) -> int:
    """Where the answer's JSON value starts (inside a fence if there is one)."""
    fence = text.find(FENCE)
    brace = min((i for i in (text.find("{"), text.find("[")) if i != -1), default=-1)
    if fence != -1 and (brace == -1 or fence < brace):
        inner = text.find("\n", fence)
        if inner != -1:
            nested = _json_start(text[inner:])
            return -1 if nested == -1 else inner + nested
    return brace


def parse_json_answer(text: str, *, partial: bool = False) -> Any:
    """Read the JSON value of an answer, tolerating a fence or prose around it.

    Args:
        text: The answer.
        partial: Whether the answer may be incomplete (streaming): an incomplete
            value is completed as far as it goes, and ``None`` means nothing
            usable yet.

    Returns:
        The first JSON value in the answer.

    Raises:
        OutputParserException: No JSON value (not raised when `partial`).
    """
    start = _json_start(text)
    if start == -1:
        if partial:
            return None
        msg = f"The answer holds no JSON object: {text!r}"
        raise OutputParserException(msg, llm_output=text)
    try:
        value, _ = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError as e:
        if partial:
            end = text.find(FENCE, start)
            return parse_partial_json(text[start:] if end == -1 else text[start:end])
        msg = f"The answer's JSON is invalid: {e}"
        raise OutputParserException(msg, llm_output=text) from e
    return value


def _validate(model: type, value: Any) -> Any:
    if issubclass(model, BaseModel):
        return model.model_validate(value)
    return model.parse_obj(value)  # type: ignore[attr-defined]


_Accumulated = GenerationChunk | ChatGenerationChunk


def _accumulate(acc: _Accumulated | None, chunk: str | BaseMessage) -> _Accumulated:
    """Add one streamed input to the answer so far (as LangChain's parsers do)."""
    added: _Accumulated
    if isinstance(chunk, BaseMessageChunk):
        added = ChatGenerationChunk(message=chunk)
    elif isinstance(chunk, BaseMessage):
        added = ChatGenerationChunk(message=BaseMessageChunk(**chunk.model_dump()))
    else:
        added = GenerationChunk(text=chunk)
    return added if acc is None else acc + added  # type: ignore[operator]


class _EndsLikeInvoke(BaseCumulativeTransformOutputParser[Any]):
    """A streaming parser whose stream ends as `invoke` does on the same answer.

    LangChain's cumulative parsers yield each new partial result and then just
    stop: an answer that never parses, or fails validation, or is cut off
    after a partial result that happened to be valid, ends the stream without
    an error, where `invoke` raises. Here, once the input ends, the whole
    answer is parsed as `invoke` parses it: its error is raised, and its
    result is yielded if it differs from the last partial one.
    """

    def _transform(self, input: Iterator[str | BaseMessage]) -> Iterator[Any]:
        prev: Any = None
        acc: _Accumulated | None = None
        for chunk in input:
            acc = _accumulate(acc, chunk)
            parsed = self.parse_result([acc], partial=True)
            if parsed is not None and parsed != prev:
                yield parsed
                prev = parsed
        if acc is not None:
            final = self.parse_result([acc])
            if final != prev:
                yield final

    async def _atransform(
        self,
        input: AsyncIterator[str | BaseMessage],
    ) -> AsyncIterator[Any]:
        prev: Any = None
        acc: _Accumulated | None = None
        async for chunk in input:
            acc = _accumulate(acc, chunk)
            parsed = await self.aparse_result([acc], partial=True)
            if parsed is not None and parsed != prev:
                yield parsed
                prev = parsed
        if acc is not None:
            final = await self.aparse_result([acc])
            if final != prev:
                yield final


class ToolObjectParser(_EndsLikeInvoke, PydanticToolsParser):
    """`PydanticToolsParser` whose stream ends as `invoke` does (an error raised)."""


class ToolDictParser(_EndsLikeInvoke, JsonOutputKeyToolsParser):
    """`JsonOutputKeyToolsParser` whose stream ends as `invoke` does."""


class JsonAnswerParser(_EndsLikeInvoke):
    """Parse an answer that is a JSON object, validating it with a pydantic model.

    Streaming yields each new valid partial object as the text arrives (a
    pydantic object only once it validates). A final answer that is not JSON,
    or does not validate, raises `OutputParserException`, from `invoke` and at
    the end of a stream alike; a stream whose last partial object was cut off
    raises rather than leave that object as the result.
    """

    pydantic_object: type | None = None
    """Validate into this pydantic model (v2 or v1); ``None`` returns the dict."""

    def parse_result(self, result: list[Generation], *, partial: bool = False) -> Any:
        """Parse the answer's text.

        Args:
            result: One generation holding the answer.
            partial: Whether the answer is still streaming.

        Returns:
            The dict or pydantic object (``None`` while nothing is valid yet).

        Raises:
            OutputParserException: The final answer is not valid.
        """
        text = result[0].text
        value = parse_json_answer(text, partial=partial)
        if self.pydantic_object is None or value is None:
            return value
        try:
            return _validate(self.pydantic_object, value)
        except (ValidationError, ValidationErrorV1) as e:
            if partial:
                return None
            name = self.pydantic_object.__name__
            msg = f"Failed to parse {name} from the answer {text!r}. Got: {e}"
            raise OutputParserException(msg, llm_output=text) from e

    def parse(self, text: str) -> Any:
        """Parse a complete answer.

        Args:
            text: The answer.

        Returns:
            The dict or pydantic object.
        """
        return self.parse_result([Generation(text=text)])

    @property
    def _type(self) -> str:
        return "aichatfree_json_answer"


def _parsed_or_error(parsed: Any, error: Exception | None) -> AddableDict:
    return AddableDict(parsed=parsed, parsing_error=error)


def parse_with_raw(parser: Runnable[Any, Any]) -> Runnable[Any, Any]:
    """``{"raw": message}`` to ``{"raw", "parsed", "parsing_error"}``, streamed too.

    The raw message streams as it arrives; once it is whole, it is parsed as
    `invoke` parses it, and the object (or the error, which is not raised)
    comes last. So a stream ends with the same ``parsed`` and
    ``parsing_error`` as `invoke`, never with a partial object an error
    would have replaced.

    Args:
        parser: The parser of the answer (any error it raises is caught).

    Returns:
        The runnable to put after ``RunnableMap(raw=model)``.
    """

    def transform(inputs: Iterator[Mapping[str, Any]]) -> Iterator[AddableDict]:
        raw: Any = None
        for item in inputs:
            chunk = item.get("raw")
            if chunk is not None:
                raw = chunk if raw is None else raw + chunk
                yield AddableDict(raw=chunk)
        try:
            parsed = parser.invoke(raw)
        except Exception as e:
            yield _parsed_or_error(None, e)
            return
        yield _parsed_or_error(parsed, None)

    async def atransform(
        inputs: AsyncIterator[Mapping[str, Any]],
    ) -> AsyncIterator[AddableDict]:
        raw: Any = None
        async for item in inputs:
            chunk = item.get("raw")
            if chunk is not None:
                raw = chunk if raw is None else raw + chunk
                yield AddableDict(raw=chunk)
        try:
            parsed = await parser.ainvoke(raw)
        except Exception as e:
            yield _parsed_or_error(None, e)
            return
        yield _parsed_or_error(parsed, None)

    return RunnableGenerator(transform, atransform, name="parse_with_raw")
