"""Binding emulated tools: what one call asks of the model besides the conversation.

`build_tool_setup` reads a call's ``tools``, ``tool_choice``,
``parallel_tool_calls`` and ``response_format`` into a `ToolSetup`: tools in
OpenAI's function form (`format_tool`), the choice normalised to a mode and an
optional forced tool (`normalize_tool_choice`), and the JSON answer format.
Pure, no I/O. The prompt built from a setup is in `_tool_prompt`; answers are
read with it in `_tool_reader`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from langchain_core.utils.function_calling import (
    convert_to_openai_function,
    convert_to_openai_tool,
)

ChoiceMode = Literal["auto", "none", "required"]

_REQUIRED_CHOICES: Final = frozenset({"any", "required"})
"""`tool_choice` strings that require a call to some tool."""


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
    _refuse_unsendable_tools(formatted, json_schema)
    return ToolSetup(
        tools=formatted,
        mode=mode,
        forced=forced,
        parallel=parallel_tool_calls is not False,
        json_schema=json_schema,
        json_mode=json_mode,
    )


def _refuse_unsendable_tools(
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
