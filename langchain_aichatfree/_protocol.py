"""The wire protocol as pure functions: no I/O, no clock, no network.

A conversation, as plain turns (`Turn`: a role and its text; LangChain
messages become turns in `_turns`), becomes the request a deployment accepts,
per dialect (`prepare_request`: the Gemini dialect merges same-role turns and
folds system text into the first user turn, the chatgpt-demo dialect keeps its
system role), signed afresh for every attempt (`generate_signature`); the token
estimates, and which 200s are pages, not answers. The upstream's error texts
are read in `_upstream_text`. No LangChain class is needed here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from pydantic import SecretStr

from langchain_aichatfree._constants import (
    CHARS_PER_TOKEN,
    LEADING_USER_TURN,
    SYSTEM_PREFIX,
    SYSTEM_SUFFIX,
)
from langchain_aichatfree._settings import check_encodable

Dialect = Literal["gemini", "chatgpt-demo"]
Role = Literal["system", "user", "model"]


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of the conversation as the server sees it.

    Attributes:
        role: Who speaks.
        text: What is said.
        origin: What the turn was made from (``"HumanMessage"``), named when
            the conversation cannot be sent; not compared.
    """

    role: Role
    text: str
    origin: str = field(default="", compare=False, repr=False)


_Source = tuple[Sequence[Turn], "float | None", "str | None"]
"""A conversation, its temperature and its instructions: a request's inputs."""


def make_turn(role: Role, text: str, index: int, origin: str) -> Turn:
    """A turn, its text checked to be sendable.

    Args:
        role: Who speaks.
        text: What is said.
        index: Its position in the conversation (named in the error).
        origin: What it was made from (see `Turn.origin`).

    Returns:
        The turn.

    Raises:
        ValueError: The text holds an unpaired surrogate (not UTF-8).
    """
    return Turn(role, check_encodable(text, f"Message {index}"), origin)


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


def _check_last_turn(turns: Sequence[Turn], last: Turn | None) -> None:
    if not turns or turns[-1].role != "user":
        what = (last.origin or f"a {last.role} turn") if last is not None else "nothing"
        msg = (
            "The conversation must end with a user message (HumanMessage or "
            f"ToolMessage); it ends with {what}. AIChatFree only answers a user turn."
        )
        raise ValueError(msg)
    if not turns[-1].text.strip():
        msg = "The last user message is empty; AIChatFree rejects empty text."
        raise ValueError(msg)


def gemini_turns(
    conversation: Sequence[Turn], *, instructions: str | None = None
) -> list[Turn]:
    """Normalise a conversation into turns the Gemini dialect accepts.

    System text is folded into the first user turn; consecutive turns of one role
    are merged; a history that would start with the model gets a neutral user
    turn first; empty turns before the last are skipped (the upstream rejects
    empty text and they carry nothing).

    Args:
        conversation: The turns, one per message.
        instructions: Further system text (tool instructions), folded in after
            the conversation's own.

    Returns:
        Alternating `user`/`model` turns starting and ending with `user`.

    Raises:
        ValueError: For anything the server would reject or silently drop.
    """
    system_texts: list[str] = []
    turns: list[Turn] = []
    for index, turn in enumerate(conversation):
        if turn.role == "system":
            if turn.text:
                system_texts.append(turn.text)
        elif turn.text or index == len(conversation) - 1:
            turns.append(turn)
    turns = _merge_same_role_turns(turns)
    _check_last_turn(turns, conversation[-1] if conversation else None)
    if turns[0].role == "model":
        turns.insert(0, Turn("user", LEADING_USER_TURN))
    if instructions:
        system_texts.append(instructions)
    return _fold_system_into_first_user_turn(system_texts, turns)


def openai_turns(
    conversation: Sequence[Turn], *, instructions: str | None = None
) -> list[Turn]:
    """Normalise a conversation for the chatgpt-demo dialect (native system role).

    Args:
        conversation: The turns, one per message.
        instructions: Further system text (tool instructions), appended to the
            leading system message, or sent as one if there is none.

    Returns:
        Non-empty turns in order, ending with a non-empty user turn.

    Raises:
        ValueError: For anything the server would reject or silently drop.
    """
    turns = [
        turn
        for index, turn in enumerate(conversation)
        if turn.text or index == len(conversation) - 1
    ]
    _check_last_turn(turns, conversation[-1] if conversation else None)
    if instructions:
        if turns[0].role == "system":
            turns[0] = Turn("system", f"{turns[0].text}\n\n{instructions}")
        else:
            turns.insert(0, Turn("system", instructions))
    return turns


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
            conversation, temperature, instructions = self.source
            other = self._others[dialect] = prepare_request(
                conversation,
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


def prepare_request(
    conversation: Sequence[Turn],
    *,
    dialect: Dialect,
    temperature: float | None = None,
    instructions: str | None = None,
) -> PreparedRequest:
    """Convert a conversation into a request of the given dialect.

    Args:
        conversation: The turns, one per message (`_turns.message_turns`).
        dialect: `"gemini"` (GeminiProChat) or `"chatgpt-demo"`.
        temperature: Forwarded by the chatgpt-demo dialect only (a Gemini
            deployment fixes its generation settings).
        instructions: Tool and answer-format instructions, sent like system
            text (folded into the first user turn, or a system message).

    Returns:
        The prepared request.

    Raises:
        ValueError: Before any I/O, for input the server cannot take.
    """
    wire: list[dict[str, Any]]
    if dialect == "gemini":
        turns = gemini_turns(conversation, instructions=instructions)
        wire = [{"role": t.role, "parts": [{"text": t.text}]} for t in turns]
        extra: dict[str, Any] = {}
    else:
        turns = openai_turns(conversation, instructions=instructions)
        wire = [{"role": _OPENAI_ROLES[t.role], "content": t.text} for t in turns]
        extra = {} if temperature is None else {"temperature": temperature}
    return PreparedRequest(
        messages=wire,
        signed_text=turns[-1].text,
        extra=extra,
        input_text_bytes=sum(len(t.text.encode()) for t in turns),
        dialect=dialect,
        source=(tuple(conversation), temperature, instructions),
    )


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
