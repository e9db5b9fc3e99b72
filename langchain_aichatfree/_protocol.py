"""The wire protocol as pure functions: no I/O, no clock, no network.

A conversation becomes the request a deployment accepts, per dialect
(`prepare_request`, from the turns of `_turns`), signed afresh for every
attempt (`generate_signature`); the token estimates, and which 200s are pages,
not answers. The upstream's error texts are read in `_upstream_text`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from langchain_core.messages import BaseMessage
from pydantic import SecretStr

from langchain_aichatfree._constants import CHARS_PER_TOKEN
from langchain_aichatfree._turns import (
    Role,
    convert_messages_to_openai_turns,
    convert_messages_to_turns,
)

Dialect = Literal["gemini", "chatgpt-demo"]
_Source = tuple[Sequence[BaseMessage], "float | None", "str | None"]
"""A conversation, its temperature and its instructions: a request's inputs."""


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
        turns = convert_messages_to_turns(messages, instructions=instructions)
        wire = [{"role": t.role, "parts": [{"text": t.text}]} for t in turns]
        extra: dict[str, Any] = {}
    else:
        turns = convert_messages_to_openai_turns(messages, instructions=instructions)
        wire = [{"role": _OPENAI_ROLES[t.role], "content": t.text} for t in turns]
        extra = {} if temperature is None else {"temperature": temperature}
    return PreparedRequest(
        messages=wire,
        signed_text=turns[-1].text,
        extra=extra,
        input_text_bytes=sum(len(t.text.encode()) for t in turns),
        dialect=dialect,
        source=(messages, temperature, instructions),
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
