"""`Deployment`: one site a `ChatAIChatFree` pool can send a call to.

Validation (the same rules as `ChatAIChatFree`'s own fields, from `_settings`)
and the names a deployment is known by; the one piece of I/O, `from_site`, is
the site probe's (`_site`), imported when used.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from typing_extensions import Self

from langchain_aichatfree._settings import BaseURL, Password, Secret, public_url

__all__ = ["Deployment", "public_url"]


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

    @classmethod
    def from_site(
        cls, url: str, password: str | SecretStr | None = None, **fields: Any
    ) -> Self:
        """A deployment for a site's URL, its settings found there.

        The same discovery as `ChatAIChatFree.from_site` (and ``aichatfree
        probe``): the site's page and chat script give `dialect` and `secret`,
        and its ``/api/auth`` (the only place the password is sent) says
        whether `password` is needed and accepted. The probe uses the default
        timeouts, verifies TLS and uses no proxy.

        Args:
            url: The site, e.g. ``"https://your.site"``.
            password: The site password, if it has one.
            **fields: The other fields (`rpm`, `rpd`, `quota_group`);
                `base_url`, `dialect` and `secret` are found, not given.

        Returns:
            The deployment.

        Raises:
            SiteProbeError: The site is not a deployment of these web apps, or
                its chat script or secret cannot be read.
            AuthenticationError: A password is needed and none was given, or
                the one given was refused.
            APIConnectionError: The site could not be reached.
        """
        from langchain_aichatfree import _sync

        return _sync.run(cls.afrom_site(url, password, **fields))

    @classmethod
    async def afrom_site(
        cls, url: str, password: str | SecretStr | None = None, **fields: Any
    ) -> Self:
        """Async `from_site`.

        Args:
            url: The site, e.g. ``"https://your.site"``.
            password: The site password, if it has one.
            **fields: The other fields (see `from_site`).

        Returns:
            The deployment.
        """
        from langchain_aichatfree._constants import DEFAULT_CHUNK_TIMEOUT
        from langchain_aichatfree._site import configured_from_site, probe_options

        defaults = probe_options(
            timeout=None,
            chunk_timeout=DEFAULT_CHUNK_TIMEOUT,
            verify_ssl=True,
            proxy=None,
        )
        return await configured_from_site(
            cls,
            url,
            password,
            fields,
            probe_settings=lambda _: defaults,
            draft_fields={"base_url": url},  # required: a draft checks the rest
        )
