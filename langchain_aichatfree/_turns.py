"""LangChain messages -> the turns a deployment accepts: pure, one function a dialect.

Each message becomes a role and its text (`_convert_message_to_turn`); the
Gemini dialect then merges same-role turns and folds system text into the first
user turn (`convert_messages_to_turns`), the chatgpt-demo dialect keeps its
system role (`convert_messages_to_openai_turns`). Input the server would
reject or silently drop raises `ValueError` before any request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from langchain_aichatfree._constants import (
    LEADING_USER_TURN,
    SYSTEM_PREFIX,
    SYSTEM_SUFFIX,
)
from langchain_aichatfree._settings import check_encodable
from langchain_aichatfree._tool_prompt import render_envelope

__all__ = [
    "Role",
    "Turn",
    "convert_messages_to_openai_turns",
    "convert_messages_to_turns",
]

Role = Literal["system", "user", "model"]

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


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of the conversation as the server sees it."""

    role: Role
    text: str


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
    return Turn(role, check_encodable(text, f"Message {index}"))


def _merge_same_role_turns(turns: Sequence[Turn]) -> list[Turn]:
    """Join consecutive turns of one role with a blank line; never drop one."""
    merged: list[Turn] = []
    for turn in turns:
        if merged and merged[-1].role == turn.role:
            merged[-1] = Turn(turn.role, f"{merged[-1].text}\n\n{turn.text}")
        else:
            merged.append(turn)
    return merged


def _fold_system_into_first_user_turn(
    system_texts: Sequence[str], turns: list[Turn]
) -> list[Turn]:
    """Prefix the first user turn with the delimited system instructions."""
    if not system_texts:
        return turns
    system = "\n\n".join(system_texts)
    first = turns[0]
    turns[0] = Turn("user", f"{SYSTEM_PREFIX}{system}{SYSTEM_SUFFIX}{first.text}")
    return turns


def _check_last_turn(turns: Sequence[Turn], last_message: BaseMessage | None) -> None:
    if not turns or turns[-1].role != "user":
        what = type(last_message).__name__ if last_message is not None else "nothing"
        msg = (
            "The conversation must end with a user message (HumanMessage or "
            f"ToolMessage); it ends with {what}. AIChatFree only answers a user turn."
        )
        raise ValueError(msg)
    if not turns[-1].text.strip():
        msg = "The last user message is empty; AIChatFree rejects empty text."
        raise ValueError(msg)


def convert_messages_to_turns(
    messages: Sequence[BaseMessage], *, instructions: str | None = None
) -> list[Turn]:
    """Normalise a LangChain conversation into turns the Gemini dialect accepts.

    System text is folded into the first user turn; consecutive turns of one role
    are merged; a history that would start with the model gets a neutral user
    turn first; empty turns before the last are skipped (the upstream rejects
    empty text and they carry nothing).

    Args:
        messages: The conversation.
        instructions: Further system text (tool instructions), folded in after
            the conversation's own.

    Returns:
        Alternating `user`/`model` turns starting and ending with `user`.

    Raises:
        ValueError: For anything the server would reject or silently drop.
    """
    system_texts: list[str] = []
    turns: list[Turn] = []
    for index, message in enumerate(messages):
        turn = _convert_message_to_turn(message, index)
        if turn.role == "system":
            if turn.text:
                system_texts.append(turn.text)
        elif turn.text or index == len(messages) - 1:
            turns.append(turn)
    turns = _merge_same_role_turns(turns)
    _check_last_turn(turns, messages[-1] if messages else None)
    if turns[0].role == "model":
        turns.insert(0, Turn("user", LEADING_USER_TURN))
    if instructions:
        system_texts.append(instructions)
    return _fold_system_into_first_user_turn(system_texts, turns)


def convert_messages_to_openai_turns(
    messages: Sequence[BaseMessage], *, instructions: str | None = None
) -> list[Turn]:
    """Normalise a conversation for the chatgpt-demo dialect (native system role).

    Args:
        messages: The conversation.
        instructions: Further system text (tool instructions), appended to the
            leading system message, or sent as one if there is none.

    Returns:
        Non-empty turns in order, ending with a non-empty user turn.

    Raises:
        ValueError: For anything the server would reject or silently drop.
    """
    turns: list[Turn] = []
    for index, message in enumerate(messages):
        turn = _convert_message_to_turn(message, index)
        if turn.text or index == len(messages) - 1:
            turns.append(turn)
    _check_last_turn(turns, messages[-1] if messages else None)
    if instructions:
        if turns[0].role == "system":
            turns[0] = Turn("system", f"{turns[0].text}\n\n{instructions}")
        else:
            turns.insert(0, Turn("system", instructions))
    return turns
