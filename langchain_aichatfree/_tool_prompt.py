"""What the model is told: the tool instructions, calls in history, the re-ask.

The deployment takes plain text, so tools travel as instructions folded into
the conversation like system text (`render_instructions`), and earlier calls
are written in history in the very envelope the model is asked to answer with
(`render_envelope`), so it sees its own calls in that format. When a required
call is missing, one corrective turn is sent (`reask_text`,
`reask_messages`). Pure, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from langchain_aichatfree._tool_calls import ENVELOPE_KEY

if TYPE_CHECKING:
    from langchain_aichatfree._tool_calls import ToolAnswer
    from langchain_aichatfree._tool_setup import ToolSetup


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
