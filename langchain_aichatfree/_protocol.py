"""The wire protocol as pure functions: no I/O, no clock, no network.

LangChain messages become the payload the server accepts (one small builder per
dialect), the payload is signed, and the server's error texts are classified.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
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
from pydantic import SecretStr

from langchain_aichatfree._constants import (
    CHARS_PER_TOKEN,
    LEADING_USER_TURN,
    SYSTEM_PREFIX,
    SYSTEM_SUFFIX,
)
from langchain_aichatfree._tool_prompt import render_envelope

Dialect = Literal["gemini", "chatgpt-demo"]
_Source = tuple[Sequence[BaseMessage], "float | None", "str | None"]
"""A conversation, its temperature and its instructions: a request's inputs."""
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


def generate_signature(time_ms: int, text: str, secret: str = "") -> str:
    """Sign a request the way the web app's browser code does.

    Args:
        time_ms: The request's `time`, milliseconds since the epoch (an int: it
            is signed as JavaScript prints it).
        text: The last message's text, exactly as the server will join it.
        secret: The deployment's public `PUBLIC_SECRET_KEY` ("" by default).

    Returns:
        The lowercase hex SHA-256 of `f"{time_ms}:{text}:{secret}"`.

    Example:
        >>> generate_signature(1, "hi")
        'b1ee74e587ce0ea68a55c8139688818b8f19d9f81db86c10dcd96d2bab297731'
    """
    return hashlib.sha256(f"{time_ms}:{text}:{secret}".encode()).hexdigest()


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
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        msg = (
            f"Message {index} contains an unpaired surrogate at position {e.start}, "
            "which cannot be sent as UTF-8."
        )
        raise ValueError(msg) from None
    return Turn(role, text)


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


_OPENAI_ROLES: Final[dict[Role, str]] = {
    "system": "system",
    "user": "user",
    "model": "assistant",
}


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """A conversation converted once, signed afresh for every attempt.

    Attributes:
        messages: The `messages` field, in the dialect's form.
        signed_text: The text the signature covers (the last message's).
        extra: Further payload fields (`temperature` in the chatgpt-demo dialect).
        input_text_bytes: UTF-8 size of all turns' text, for the token estimate.
    """

    messages: list[dict[str, Any]]
    signed_text: str
    extra: dict[str, Any]
    input_text_bytes: int
    dialect: Dialect = "gemini"
    source: _Source | None = field(default=None, repr=False, compare=False)
    """What it was prepared from, to prepare it for another dialect."""
    _others: dict[str, PreparedRequest] = field(
        default_factory=dict, repr=False, compare=False
    )

    def for_dialect(self, dialect: Dialect) -> PreparedRequest:
        """The same conversation in another dialect (for a mixed pool).

        Args:
            dialect: The deployment's dialect.

        Returns:
            This request if it is already of that dialect, else the same
            conversation prepared for it (once, then kept).
        """
        if dialect == self.dialect or self.source is None:
            return self
        other = self._others.get(dialect)
        if other is None:
            messages, temperature, instructions = self.source
            other = self._others[dialect] = prepare_request(
                messages,
                dialect=dialect,
                temperature=temperature,
                instructions=instructions,
            )
        return other

    def body(self, time_ms: int, secret: str, password: SecretStr | None) -> bytes:
        """The JSON body of one attempt.

        The password is read out of its `SecretStr` only inside the expression
        that builds the body: no local variable here ever holds it in plain
        text, so a tool that captures frame locals (an error tracker, `pytest
        --showlocals`) cannot show it. The caller should not keep the returned
        bytes in a long-lived local either.

        Args:
            time_ms: Milliseconds since the epoch, signed as is.
            secret: The deployment's public signing key.
            password: The site password, or `None`.

        Returns:
            The UTF-8 JSON body.
        """
        return json.dumps(
            {
                "messages": self.messages,
                "time": time_ms,
                "pass": None if password is None else password.get_secret_value(),
                "sign": generate_signature(time_ms, self.signed_text, secret),
                **self.extra,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()


def _build_gemini_request(
    messages: Sequence[BaseMessage],
    temperature: float | None,
    instructions: str | None,
) -> PreparedRequest:
    # The deployment fixes the generation settings: temperature is not sent.
    turns = convert_messages_to_turns(messages, instructions=instructions)
    return PreparedRequest(
        messages=[{"role": t.role, "parts": [{"text": t.text}]} for t in turns],
        signed_text=turns[-1].text,
        extra={},
        input_text_bytes=sum(len(t.text.encode()) for t in turns),
        dialect="gemini",
        source=(messages, temperature, instructions),
    )


def _build_chatgpt_demo_request(
    messages: Sequence[BaseMessage],
    temperature: float | None,
    instructions: str | None,
) -> PreparedRequest:
    turns = convert_messages_to_openai_turns(messages, instructions=instructions)
    return PreparedRequest(
        messages=[{"role": _OPENAI_ROLES[t.role], "content": t.text} for t in turns],
        signed_text=turns[-1].text,
        extra={} if temperature is None else {"temperature": temperature},
        input_text_bytes=sum(len(t.text.encode()) for t in turns),
        dialect="chatgpt-demo",
        source=(messages, temperature, instructions),
    )


def prepare_request(
    messages: Sequence[BaseMessage],
    *,
    dialect: Dialect,
    temperature: float | None = None,
    instructions: str | None = None,
) -> PreparedRequest:
    """Convert a conversation into a request of the given dialect.

    Args:
        messages: The conversation.
        dialect: `"gemini"` (GeminiProChat) or `"chatgpt-demo"`.
        temperature: Forwarded by the chatgpt-demo dialect only.
        instructions: Tool and answer-format instructions, sent like system
            text (folded into the first user turn, or a system message).

    Returns:
        The prepared request.

    Raises:
        ValueError: Before any I/O, for input the server cannot take.
    """
    if dialect == "gemini":
        return _build_gemini_request(messages, temperature, instructions)
    return _build_chatgpt_demo_request(messages, temperature, instructions)


def estimate_tokens(text: str) -> int:
    """Estimate a text's token count: one token per 4 UTF-8 bytes, rounded up.

    The deployment returns no usage; this is an estimate, close for English
    (about 4 characters a token) and on the safe side for other scripts.

    Args:
        text: Any text.

    Returns:
        The estimated number of tokens.
    """
    return tokens_for_bytes(len(text.encode("utf-8", "surrogatepass")))


def tokens_for_bytes(size: int) -> int:
    """The token estimate for a text of `size` UTF-8 bytes (see `estimate_tokens`).

    Args:
        size: The text's UTF-8 size.

    Returns:
        The estimated number of tokens.
    """
    return -(-size // CHARS_PER_TOKEN)


def estimate_token_ids(text: str) -> list[int]:
    """Pseudo token ids matching `estimate_tokens`: one per 4 UTF-8 bytes.

    Each id is the integer value of its (at most 4) bytes, so equal texts give
    equal ids; they are no real tokenizer's ids, only a count with no download.

    Args:
        text: Any text.

    Returns:
        ``estimate_tokens(text)`` ids.
    """
    data = text.encode("utf-8", "surrogatepass")
    return [
        int.from_bytes(data[i : i + CHARS_PER_TOKEN], "big")
        for i in range(0, len(data), CHARS_PER_TOKEN)
    ]


class UpstreamKind(enum.Enum):
    """What an upstream error text inside a 500 means for the client."""

    RATE_LIMIT = "rate_limit"
    TRANSIENT = "transient"
    BAD_REQUEST = "bad_request"
    BAD_UPSTREAM_KEY = "bad_upstream_key"


_UPSTREAM_PATTERNS: Final = (
    (
        re.compile(
            r"\b429\b|quota|resource has been exhausted|rate.?limit|too many requests",
            re.IGNORECASE,
        ),
        UpstreamKind.RATE_LIMIT,
    ),
    (
        # Gemini's text in a 500; OpenAI's, forwarded as a 401 by chatgpt-demo.
        re.compile(
            r"API key not valid|Incorrect API key provided|"
            r"You didn't provide an API key",
            re.IGNORECASE,
        ),
        UpstreamKind.BAD_UPSTREAM_KEY,
    ),
    (
        re.compile(
            r"alternate between user and model|valid role|required oneof field"
            r"|invalid message history|invalid argument|\[400 Bad Request\]",
            re.IGNORECASE,
        ),
        UpstreamKind.BAD_REQUEST,
    ),
)
"""Checked in order; anything else in a 500 is a transient upstream failure."""

_HINT: Final = re.compile(
    r"(?:retry|try again) in\s+((?:[0-9]+(?:\.[0-9]+)?\s*(?:ms|h|m|s)(?![a-z])\s*)+)"
    r"|\"retryDelay\":\s*\"([0-9]+(?:\.[0-9]+)?)s\"",
    re.IGNORECASE,
)
_HINT_PART: Final = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(ms|h|m|s)", re.IGNORECASE)
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_retry_hint(text: str | None) -> float | None:
    """The delay a rate-limit text asks for, in seconds, if it names one.

    Understands Gemini's "Please retry in 41.5s." and ``"retryDelay":"38s"``
    and OpenAI's "Please try again in 1m26.4s." / "in 20ms".

    Args:
        text: The error text.

    Returns:
        Seconds, or ``None`` when the text names no delay.

    Examples:
        >>> parse_retry_hint("Please retry in 41.5s.")
        41.5
        >>> parse_retry_hint("Please try again in 1m26.4s.")
        86.4
    """
    if not text:
        return None
    match = _HINT.search(text)
    if match is None:
        return None
    if match.group(2) is not None:
        return float(match.group(2))
    return sum(
        float(number) * _UNIT_SECONDS[unit.lower()]
        for number, unit in _HINT_PART.findall(match.group(1))
    )


def classify_upstream_message(message: str) -> tuple[UpstreamKind, float | None]:
    """Classify the upstream error text that a 500 carries.

    Args:
        message: The `error.message` of the server's JSON body.

    Returns:
        The kind of failure, and the delay in seconds the text asks for ("Please
        retry in 47.17s"), if it names one.
    """
    kind = UpstreamKind.TRANSIENT
    for pattern, pattern_kind in _UPSTREAM_PATTERNS:
        if pattern.search(message):
            kind = pattern_kind
            break
    return kind, parse_retry_hint(message)


_PAGE_MEDIA_TYPES: Final = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "application/json",
        "text/xml",
        "application/xml",
    }
)
"""Media types of a page (a captcha, login or error page, an API), not an answer."""


def is_page_media_type(media_type: str) -> bool:
    """Whether a 200's media type says the body is a page rather than an answer.

    The answer is raw text, sent as `text/plain` (GeminiProChat) or with no
    `Content-Type` at all (chatgpt-demo), to which a proxy may add
    `application/octet-stream`: only what is really a page (HTML, XML, JSON)
    is refused, not everything that is not `text/plain`.

    Args:
        media_type: The `Content-Type` without its parameters, lowercase.

    Returns:
        `True` for HTML, XHTML, XML and JSON (also `+json`/`+xml` types).
    """
    return media_type in _PAGE_MEDIA_TYPES or media_type.endswith(("+json", "+xml"))
