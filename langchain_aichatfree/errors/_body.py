"""Reading what a server sent: its body as text to show, its own message, redacted.

Any text a server sent is shown with the site password redacted (`redact`): a
server or proxy that echoes the request body would otherwise put it into an
error message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import quote, quote_plus

from pydantic import SecretStr

MAX_BODY_IN_ERROR: Final = 2000
"""Characters of a body kept in an error's `body`."""
REDACTED: Final = "[password]"
"""What a redacted password reads as in an error."""


def _echoed_forms(secret: str) -> set[str]:
    """The ways a body that echoes the request may spell `secret`."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
    layer = {secret}
    for _ in range(3):  # the JSON request, quoted in a JSON error, quoted again
        layer = {
            json.dumps(form, ensure_ascii=ascii_only)[1:-1]
            for form in layer
            for ascii_only in (True, False)
        }
        forms |= layer
    return forms


def redact(text: str, secrets: Iterable[SecretStr | str | None]) -> str:
    """Replace every secret in a server's text, in each form a body may echo it.

    A proxy or server that echoes the request may return the password as it is
    in the JSON body (escaped, perhaps inside another JSON string), or
    URL-encoded; each form is replaced.

    Args:
        text: What the server sent.
        secrets: The values to hide (``None`` and "" are skipped).

    Returns:
        The text with each secret replaced by ``[password]``.
    """
    for given in secrets:
        secret = given.get_secret_value() if isinstance(given, SecretStr) else given
        if not secret:
            continue
        for form in sorted(_echoed_forms(secret), key=len, reverse=True):
            text = text.replace(form, REDACTED)
    return text


def read_body(
    body: bytes | str, secrets: Iterable[SecretStr | str | None]
) -> tuple[str, str | None]:
    """A body as text to show (bounded) and its server message, secrets redacted.

    The message is parsed from the whole body before anything is cut, and each
    is redacted on its own: JSON escaping spells a secret differently in each.

    Args:
        body: What the server sent.
        secrets: The values to hide.

    Returns:
        The text (at most `MAX_BODY_IN_ERROR` characters) and the server's
        message, if its body is a JSON error.
    """
    secrets = tuple(secrets)
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    message = server_message(text)
    if message is not None:
        message = redact(message, secrets)
    return redact(text, secrets)[:MAX_BODY_IN_ERROR], message


def server_message(body: str) -> str | None:
    """The server's own message: the `error.message` (or `error`) of a JSON body.

    Args:
        body: The response body.

    Returns:
        The message, or `None` if the body is not such a JSON error.
    """
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return None
