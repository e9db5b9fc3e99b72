"""`Deployment`: one site a `ChatAIChatFree` pool can send a call to.

Pure: validation (the same rules as `ChatAIChatFree`'s own fields, from
`_settings`) and the names a deployment is known by, no I/O.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from langchain_aichatfree._settings import BaseURL, Password, Secret

__all__ = ["Deployment", "public_url"]


def public_url(base_url: str) -> str:
    """The base URL as it may be shown: no user or password, no trailing slash.

    Args:
        base_url: The site's root URL.

    Returns:
        The same URL without credentials (``https://u:p@a.example/`` becomes
        ``https://a.example``), for metadata, logs, status and quota groups.
    """
    parts = urlsplit(base_url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")


class Deployment(BaseModel):
    """One deployment of the AIChatFree web app, and the quota its key has.

    A `ChatAIChatFree` given several (``deployments=[...]``) routes each call to
    one that is neither cooling down after a rate limit nor out of its declared
    budget, and fails over to another when one refuses.

    Example:
        .. code-block:: python

            Deployment(base_url="https://a.example", password="...", rpm=10, rpd=250)
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    base_url: BaseURL
    """Root URL of the deployment, e.g. ``"https://aichatfree.info"`` (the rules
    of `ChatAIChatFree.base_url`: no user name or password in it)."""

    password: Password = None
    """The site password, if it has one (never shown, logged or stored)."""

    secret: Secret = ""
    """The deployment's public signing key (`PUBLIC_SECRET_KEY`)."""

    dialect: Literal["gemini", "chatgpt-demo"] = "gemini"
    """The web app family the deployment runs."""

    rpm: int | None = Field(default=None, ge=1)
    """Requests per minute its key allows; never exceeded. ``None``: undeclared."""

    rpd: int | None = Field(default=None, ge=1)
    """Requests per day (days ending at midnight Pacific time); never exceeded."""

    quota_group: str | None = Field(default=None, min_length=1)
    """Deployments whose keys belong to one Google project share cooldowns and
    budgets: give them the same group. Default: the deployment's own URL."""

    @property
    def url(self) -> str:
        """The base URL without credentials: shown in metadata and status."""
        return public_url(self.base_url)

    @property
    def group(self) -> str:
        """The quota group: `quota_group`, else the URL without credentials."""
        return self.quota_group or self.url
