"""What a caller can do about an error (`Advice`), worded once.

`advice_text` fills in the names of the settings: the library's (`password`,
`secret`) by default, the command line's flags when the CLI asks.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

from langchain_aichatfree._constants import DEFAULT_BASE_URL, ENV_PASSWORD, ENV_SECRET


class Advice(enum.Enum):
    """What a caller can do about an error (worded by `advice_text`)."""

    SET_PASSWORD = enum.auto()
    SET_SECRET = enum.auto()
    SECRET_OR_DIALECT = enum.auto()
    CHECK_CREDENTIALS = enum.auto()
    OPERATOR = enum.auto()
    CHECK_BASE_URL = enum.auto()
    TRY_GEMINI_DIALECT = enum.auto()


_ADVICE: Final[Mapping[Advice, str]] = {
    Advice.SET_PASSWORD: "Set {password} to the site password.",
    Advice.SET_SECRET: (
        "Set {secret} to the deployment's PUBLIC_SECRET_KEY, published in its "
        "browser code."
    ),
    Advice.SECRET_OR_DIALECT: (
        "If the site is a chatgpt-demo deployment (OpenAI-style chat), set "
        "{dialect} to chatgpt-demo: the gemini form always fails its signature "
        "check. Otherwise set {secret} to the deployment's PUBLIC_SECRET_KEY, "
        "published in its browser code."
    ),
    Advice.CHECK_CREDENTIALS: "Check {password} and {secret}.",
    Advice.OPERATOR: (
        "This is the site operator's setting, not yours: only the operator can fix it."
    ),
    Advice.CHECK_BASE_URL: (
        "Check {base_url}: it should be the site's root, e.g. " + DEFAULT_BASE_URL + "."
    ),
    Advice.TRY_GEMINI_DIALECT: (
        "If the site is a GeminiProChat deployment (such as AIChatFree), set "
        "{dialect} to gemini: a message without `parts` makes it fail this way."
    ),
}
"""Each advice's sentence; ``{password}``, ``{secret}``, ``{dialect}`` and
``{base_url}`` are the names of the settings, as the caller knows them."""

SETTING_NAMES: Final[Mapping[str, str]] = {
    "password": f"`password` (or {ENV_PASSWORD})",
    "secret": f"`secret` (or {ENV_SECRET})",
    "dialect": "`dialect`",
    "base_url": "`base_url`",
}
"""The settings as a `ChatAIChatFree` user names them."""


def advice_text(advice: Advice | None, names: Mapping[str, str] = SETTING_NAMES) -> str:
    """Say what to do about an error, naming the settings as the caller knows them.

    Args:
        advice: The error's `advice`.
        names: How to name ``password``, ``secret``, ``dialect`` and
            ``base_url`` (the command line passes its flags).

    Returns:
        One or two sentences, or "" for no advice.
    """
    return "" if advice is None else _ADVICE[advice].format_map(names)


def with_advice(text: str, advice: Advice | None) -> str:
    """An error message followed by its advice (worded for the library's user).

    Args:
        text: What went wrong.
        advice: What to do about it, if anything.

    Returns:
        The message.
    """
    hint = advice_text(advice)
    return f"{text} {hint}" if hint else text
