"""LangChain messages -> turns: pure, one function a message kind.

Each message becomes a role and its text (`message_turns`): content blocks
joined, a model turn's tool calls written as the envelope the model produces,
a tool result labelled. What a dialect then does with the turns (merging,
folding system text) is `_protocol`'s, which needs no LangChain class. Input the
server would reject or silently drop raises `ValueError` before any request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from langchain_aichatfree._protocol import Role, Turn, make_turn
from langchain_aichatfree._tool_prompt import render_envelope

__all__ = ["message_turns"]

_TEXT_BLOCK_TYPES: Final = frozenset({"text", "text-plain"})
"""Content blocks whose `text` is sent."""

_SKIPPED_BLOCK_TYPES: Final = frozenset(
    {"reasoning", "thinking", "tool_call", "tool_use", "function_call"}
)
"""Blocks of a model turn that carry no answer text (tool calls travel apart)."""

_CHAT_ROLES: Final[dict[str, Role]] = {
    "user": "user",
    "human": "user",
    "assistant": "model",
    "ai": "model",
    "model": "model",
    "system": "system",
    "developer": "system",
}
"""`ChatMessage.role` values we understand."""


def _block_text(block: str | dict[str, Any], *, role: Role, index: int) -> str:
    if isinstance(block, str):
        return block
    block_type = block.get("type")
    if block_type in _TEXT_BLOCK_TYPES and isinstance(block.get("text"), str):
        return str(block["text"])
    if role == "model" and block_type in _SKIPPED_BLOCK_TYPES:
        return ""
    msg = (
        f"Message {index} has a content block of type {block_type!r}; AIChatFree "
        "accepts text only (the server silently drops images and files). Remove "
        "the block or describe it in text."
    )
    raise ValueError(msg)


def _convert_content_to_text(
    content: str | list[str | dict[str, Any]], *, role: Role, index: int
) -> str:
    """Join a message's text blocks with "" (as `BaseMessage.text` does)."""
    if isinstance(content, str):
        return content
    return "".join(_block_text(block, role=role, index=index) for block in content)


def _render_tool_calls(message: AIMessage) -> str:
    """Write a model turn's tool calls as the JSON envelope the model produces."""
    return render_envelope(message.tool_calls)


def _render_tool_result(message: ToolMessage | FunctionMessage, text: str) -> str:
    if isinstance(message, ToolMessage):
        label = "Tool error" if message.status == "error" else "Tool result"
        name = f" {message.name}" if message.name else ""
        return f"[{label}{name} (call {message.tool_call_id})]\n{text}"
    return f"[Tool result {message.name}]\n{text}"


def _convert_message_to_turn(message: BaseMessage, index: int) -> Turn:
    """Map one LangChain message to a role and its text."""
    role: Role
    if isinstance(message, SystemMessage):
        role = "system"
    elif isinstance(message, HumanMessage):
        role = "user"
    elif isinstance(message, AIMessage):
        role = "model"
    elif isinstance(message, (ToolMessage, FunctionMessage)):
        role = "user"
    elif isinstance(message, ChatMessage):
        mapped = _CHAT_ROLES.get(message.role.lower())
        if mapped is None:
            msg = (
                f"Message {index} has role {message.role!r}; use one of "
                f"{sorted(_CHAT_ROLES)}."
            )
            raise ValueError(msg)
        role = mapped
    else:
        msg = f"Message {index} is a {type(message).__name__}, which cannot be sent."
        raise ValueError(msg)

    text = _convert_content_to_text(message.content, role=role, index=index)
    if isinstance(message, AIMessage) and message.tool_calls:
        envelope = _render_tool_calls(message)
        text = f"{text}\n{envelope}" if text else envelope
    elif isinstance(message, (ToolMessage, FunctionMessage)):
        text = _render_tool_result(message, text)
    return make_turn(role, text, index, type(message).__name__)


def message_turns(messages: Sequence[BaseMessage], first: int = 0) -> list[Turn]:
    """Convert each message to its turn, in order (none dropped or merged).

    Args:
        messages: The conversation.
        first: The first message's position in the conversation (named in
            errors).

    Returns:
        One turn per message, for `_protocol.prepare_request`.

    Raises:
        ValueError: A message the server cannot take (a role, a content block
            or text it would reject or silently drop).
    """
    return [_convert_message_to_turn(m, first + i) for i, m in enumerate(messages)]
