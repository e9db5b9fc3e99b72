"""The real server's request checks, per dialect, as pure functions (no I/O).

Each ``check_*`` function takes the parsed body and answers either a
`Rejection` (the exact status, body and content type the real server sends) or
`Accepted` (the conversation, ready for the fake upstream). The order is the
real server's: last role, password, signature, then the upstream's own rules.
A body the real server's code crashes on (``TypeError`` in JavaScript) is a
500 with an empty body and no content type, like Astro answers an uncaught
error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from langchain_aichatfree.testing import _js
from langchain_aichatfree.testing._reply import UPSTREAM_ERRORS, empty_text_error

Dialect = Literal["gemini", "chatgpt-demo"]
"""The web app family a deployment runs: GeminiProChat/AIChatFree or chatgpt-demo."""

ERROR_CONTENT_TYPE: Final = "text/plain;charset=UTF-8"
"""What the real server labels its (JSON) error bodies with."""

OPENAI_CONTENT_TYPE: Final = "application/json"
"""What an error forwarded from OpenAI is labelled with (chatgpt-demo)."""

_LAST_ROLE_MESSAGE: Final = (
    "Invalid message history: The last message must be from user role."
)
_GEMINI_ROLES: Final = frozenset({"user", "model"})
_OPENAI_ROLES: Final = frozenset({"system", "user", "assistant"})
_OPENAI_ERROR_KINDS: Final[Mapping[int, tuple[str, str | None]]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", None),
    503: ("server_error", "service_unavailable"),
}
"""OpenAI's ``error.type`` and ``error.code`` for a status (else by class)."""


@dataclass(frozen=True)
class Rejection:
    """A response decided without the fake upstream's scripted reply.

    Attributes:
        status: The HTTP status.
        body: The exact body bytes (empty for a crash).
        content_type: The ``Content-Type`` header, or ``None`` for none at all.
        outcome: ``"rejected"`` (400/401 checks), ``"malformed"`` (the real
            server crashes) or ``"error"`` (the upstream refuses the request).
    """

    status: int
    body: bytes
    content_type: str | None
    outcome: str


@dataclass(frozen=True)
class Accepted:
    """A request that reaches the upstream call.

    Attributes:
        turns: The conversation as ``[{"role": ..., "text": ...}]``.
    """

    turns: list[dict[str, str]]


MALFORMED: Final = Rejection(500, b"", None, "malformed")


class _Crash(Exception):
    """The real server's code would throw outside its ``try`` (a 500, empty)."""


def signature(time: Any, text: str, secret: str) -> str:
    """Compute the signature the real server expects.

    Args:
        time: The body's ``time`` value (``_js.UNDEFINED`` when missing).
        text: The last message's text.
        secret: The deployment's ``PUBLIC_SECRET_KEY``.

    Returns:
        Lowercase hex SHA-256 of ``f"{time}:{text}:{secret}"`` as JS prints it.
    """
    message = f"{_js.to_string(time)}:{text}:{secret}"
    return hashlib.sha256(_js.encode_utf8(message)).hexdigest()


def accepted_passwords(passwords: Any) -> frozenset[str]:
    """Return the passwords a ``SITE_PASSWORD`` setting accepts.

    Args:
        passwords: The setting (split on commas like the real server), a
            sequence of passwords, or ``None``.

    Returns:
        The accepted passwords; empty means none is required.
    """
    if passwords is None:
        return frozenset()
    setting = passwords if isinstance(passwords, str) else ",".join(passwords)
    if not setting:
        return frozenset()
    return frozenset({setting, *setting.split(",")})


def site_error(status: int, message: str) -> Rejection:
    """Build a refusal of the site's own (``{"error":{"message":...}}``), as 400/401.

    Args:
        status: The HTTP status.
        message: ``error.message``.

    Returns:
        The rejection, with the real server's error content type.
    """
    body = _js.dumps({"error": {"message": message}})
    return Rejection(status, body, ERROR_CONTENT_TYPE, "rejected")


def upstream_error(message: str) -> Rejection:
    """Build the 500 the real server sends when the upstream call fails.

    Args:
        message: The upstream's error text.

    Returns:
        ``500 {"error":{"code":"Error","message":...}}``.
    """
    body = _js.dumps({"error": {"code": "Error", "message": message}})
    return Rejection(500, body, ERROR_CONTENT_TYPE, "error")


def openai_error(
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
) -> Rejection:
    """Build an error forwarded from OpenAI by a chatgpt-demo deployment.

    Args:
        status: The upstream status, kept as is.
        message: ``error.message``.
        param: ``error.param``.
        code: ``error.code``; defaults to OpenAI's code for the status.

    Returns:
        The status with ``{"error":{"message","type","param","code"}}``.
    """
    kind, default_code = _OPENAI_ERROR_KINDS.get(
        status,
        ("server_error", None) if status >= 500 else ("invalid_request_error", None),
    )
    error = {
        "message": message,
        "type": kind,
        "param": param,
        "code": code or default_code,
    }
    return Rejection(status, _js.dumps({"error": error}), OPENAI_CONTENT_TYPE, "error")


def _password_ok(given: Any, passwords: frozenset[str]) -> bool:
    """``!sitePassword || sitePassword === pass || passList.includes(pass)``."""
    return not passwords or (isinstance(given, str) and given in passwords)


def _is_one_of(value: Any, allowed: frozenset[str]) -> bool:
    return isinstance(value, str) and value in allowed


def _parts_text(message: Any) -> str:
    """``message.parts.map(part => part.text).join('')``, crashing like JS."""
    if message is None:
        raise _Crash
    parts = _js.get(message, "parts")
    if not isinstance(parts, list):
        raise _Crash
    if any(part is None for part in parts):
        raise _Crash
    return _js.join([_js.get(part, "text") for part in parts], "")


def check_request(
    payload: Any,
    *,
    dialect: Dialect,
    secret: str,
    passwords: frozenset[str],
) -> Rejection | Accepted:
    """Run a deployment's checks on a request, in its dialect's order.

    Args:
        payload: The parsed JSON body.
        dialect: ``"gemini"`` (`check_gemini`) or ``"chatgpt-demo"``
            (`check_chatgpt_demo`).
        secret: The deployment's ``PUBLIC_SECRET_KEY``.
        passwords: The accepted passwords (empty: none required).

    Returns:
        A `Rejection` or an `Accepted`.
    """
    check = check_gemini if dialect == "gemini" else check_chatgpt_demo
    return check(payload, secret=secret, passwords=passwords)


def check_gemini(
    payload: Any, *, secret: str, passwords: frozenset[str]
) -> Rejection | Accepted:
    """Run the GeminiProChat server's checks and the upstream's history rules.

    Arguments and result as `check_request`'s.
    """
    try:
        return _check_gemini(payload, secret, passwords)
    except _Crash:
        return MALFORMED


def _check_gemini(
    payload: Any, secret: str, passwords: frozenset[str]
) -> Rejection | Accepted:
    if payload is None:  # `const {...} = null` throws
        raise _Crash
    messages = _js.get(payload, "messages")
    if _js.is_falsy(messages) or messages == []:
        return site_error(400, _LAST_ROLE_MESSAGE)
    if isinstance(messages, str):  # a character has no `.role`
        return site_error(400, _LAST_ROLE_MESSAGE)
    if not isinstance(messages, list):  # messages[NaN].role throws
        raise _Crash
    last = messages[-1]
    if last is None:
        raise _Crash
    if _js.get(last, "role") != "user":
        return site_error(400, _LAST_ROLE_MESSAGE)

    if not _password_ok(_js.get(payload, "pass"), passwords):
        return site_error(401, "Invalid password.")

    expected = signature(_js.get(payload, "time"), _parts_text(last), secret)
    if _js.get(payload, "sign") != expected:
        return site_error(401, "Invalid signature.")

    # The upstream call: the history is converted, then Gemini checks it.
    for message in messages:
        if not isinstance(message, dict):
            raise _Crash
    texts = [_parts_text(message) for message in messages]
    roles = [message.get("role", _js.UNDEFINED) for message in messages]
    if any(not _is_one_of(role, _GEMINI_ROLES) for role in roles):
        return upstream_error(UPSTREAM_ERRORS["bad_role"])
    if any(role != ("user", "model")[i % 2] for i, role in enumerate(roles)):
        return upstream_error(UPSTREAM_ERRORS["bad_history"])
    for index, text in enumerate(texts):
        if not text:
            return upstream_error(empty_text_error(index))
    return Accepted(
        [{"role": role, "text": text} for role, text in zip(roles, texts, strict=True)]
    )


def check_chatgpt_demo(
    payload: Any, *, secret: str, passwords: frozenset[str]
) -> Rejection | Accepted:
    """Run the chatgpt-demo server's checks and the OpenAI upstream's validation.

    Arguments and result as `check_request`'s.
    """
    if payload is None:
        return MALFORMED
    messages = _js.get(payload, "messages")
    if _js.is_falsy(messages) or messages == []:
        return site_error(400, "No input text.")

    if not _password_ok(_js.get(payload, "pass"), passwords):
        return site_error(401, "Invalid password.")

    # `messages?.[messages.length - 1]?.content || ''`
    last = messages[-1] if isinstance(messages, list) else None
    content = _js.get(last, "content")
    text = "" if _js.is_falsy(content) else _js.to_string(content)
    if _js.get(payload, "sign") != signature(_js.get(payload, "time"), text, secret):
        return site_error(401, "Invalid signature.")

    return _check_openai_request(messages, _js.get(payload, "temperature"))


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    return "an object"


def _check_openai_request(messages: Any, temperature: Any) -> Rejection | Accepted:
    """What OpenAI's chat completions endpoint refuses, with its 400 wording."""
    if temperature is not _js.UNDEFINED and temperature is not None:
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
            return openai_error(
                400,
                "Invalid type for 'temperature': expected a decimal, but got "
                f"{_json_type(temperature)} instead.",
                param="temperature",
                code="invalid_type",
            )
        if not 0 <= temperature <= 2:
            too_low = temperature < 0
            bound = "below minimum" if too_low else "above maximum"
            limit = ">= 0" if too_low else "<= 2"
            return openai_error(
                400,
                f"Invalid 'temperature': decimal {bound} value. Expected a value "
                f"{limit}, but got {_js.to_string(temperature)} instead.",
                param="temperature",
                code="decimal_below_min_value"
                if too_low
                else "decimal_above_max_value",
            )
    if not isinstance(messages, list):
        return openai_error(
            400,
            "Invalid type for 'messages': expected an array of objects, but got "
            f"{_json_type(messages)} instead.",
            param="messages",
            code="invalid_type",
        )
    turns = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            return openai_error(
                400,
                f"Invalid type for '{where}': expected an object, but got "
                f"{_json_type(message)} instead.",
                param=where,
                code="invalid_type",
            )
        role = message.get("role")
        if not _is_one_of(role, _OPENAI_ROLES):
            return openai_error(
                400,
                f"Invalid value: {_js.to_string(role)!r}. Supported values are: "
                "'system', 'assistant' and 'user'.",
                param=f"{where}.role",
                code="invalid_value",
            )
        if "content" not in message:
            return openai_error(
                400,
                f"Missing required parameter: '{where}.content'.",
                param=f"{where}.content",
                code="missing_required_parameter",
            )
        content = message["content"]
        if not isinstance(content, str):
            return openai_error(
                400,
                f"Invalid type for '{where}.content': expected a string, but got "
                f"{_json_type(content)} instead.",
                param=f"{where}.content",
                code="invalid_type",
            )
        turns.append({"role": str(role), "text": content})
    return Accepted(turns)
