"""The model the command's flags describe, and the hidden password prompt.

``chat``, ``probe`` and ``status`` build their `ChatAIChatFree` here, and a
one-shot question its `ModelSettings` alone (no LangChain model classes to
import), from the same fields: the flags that name them (`FLAG_OF_FIELD`), the
deployments file and ``--ask-password``; ``probe`` reads the password the same
way.
"""

from __future__ import annotations

import argparse
import getpass
import os
import warnings
from typing import TYPE_CHECKING, Any

from langchain_aichatfree._cli_report import FLAG_OF_FIELD, UsageError
from langchain_aichatfree._constants import ENV_PASSWORD

if TYPE_CHECKING:
    from langchain_aichatfree._model_connections import ModelConnections
    from langchain_aichatfree.chat_models import ChatAIChatFree


def ask_password() -> str | None:
    """Read the password at a hidden prompt; refuse to read it with echo.

    Returns:
        The password typed, or `None` for an empty one.

    Raises:
        UsageError: There is no terminal to read it from without echo, or
            the input ended.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", getpass.GetPassWarning)
        try:
            password = getpass.getpass("Site password (hidden): ")
        except getpass.GetPassWarning:
            msg = (
                "--ask-password needs a terminal to read the password without "
                f"echo; set {ENV_PASSWORD} instead"
            )
            raise UsageError(msg) from None
        except EOFError:
            raise UsageError("no password was typed (end of input)") from None
    return password or None


def password_from(args: argparse.Namespace) -> str | None:
    """The site password: typed with ``--ask-password``, else from the environment.

    Args:
        args: The parsed flags.

    Returns:
        The password, or `None` when none is set.
    """
    if getattr(args, "ask_password", False):
        return ask_password()
    return os.environ.get(ENV_PASSWORD) or None


def settings_from(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the flags give (those they leave out are not in it).

    Args:
        args: The parsed flags of ``ask``, ``chat`` or ``status``.

    Returns:
        Keyword arguments for `ChatAIChatFree` or `ModelSettings`.
    """
    from pydantic import SecretStr

    settings: dict[str, Any] = {
        name: getattr(args, name)
        for name in FLAG_OF_FIELD
        if getattr(args, name, None) is not None
    }
    if settings.get("deployments") is not None:
        from pathlib import Path

        from langchain_aichatfree._pool_file import load_deployments

        path = Path(settings["deployments"])
        settings["deployments"] = load_deployments(path, os.environ)
    if getattr(args, "ask_password", False):
        password = ask_password()
        settings["password"] = SecretStr(password) if password is not None else None
    return settings


def make_model(args: argparse.Namespace) -> ChatAIChatFree:
    """The model the flags describe (the fields they leave out at their defaults).

    Args:
        args: The parsed flags of ``ask``, ``chat`` or ``status``.

    Returns:
        The model; the caller closes it.
    """
    from langchain_aichatfree.chat_models import ChatAIChatFree

    return ChatAIChatFree(**settings_from(args))


def make_settings(args: argparse.Namespace) -> ModelConnections:
    """The model's settings the flags describe, without the model class.

    The same fields, defaults from the environment, rules and errors as
    `make_model`'s, and the same connections (made on first use).

    Args:
        args: The parsed flags of ``ask``.

    Returns:
        The settings; the caller closes them.
    """
    from langchain_aichatfree._model_connections import ModelConnections

    return ModelConnections(**settings_from(args))
