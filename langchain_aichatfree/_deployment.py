"""`Deployment`: one site a `ChatAIChatFree` pool can send a call to.

Validation (the same rules as `ChatAIChatFree`'s own fields, from `_settings`)
and the names a deployment is known by. The one piece of I/O, `from_site`, is
the site probe's (`_site`, imported when used); `configured_from_site` serves
the model's `from_site` too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from typing_extensions import Self

from langchain_aichatfree._settings import BaseURL, Password, Secret, public_url

if TYPE_CHECKING:
    from langchain_aichatfree._site import ProbeOptions

__all__ = ["Deployment", "configured_from_site", "public_url"]


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
        """Async `from_site`, probing with the default timeouts.

        Args:
            url: The site.
            password: The site password, if it has one.
            **fields: The other fields (see `from_site`).

        Returns:
            The deployment.
        """
        from langchain_aichatfree._constants import DEFAULT_CHUNK_TIMEOUT
        from langchain_aichatfree._site import probe_options

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


class _Configured(Protocol):
    """What `configured_from_site` builds: a model or a deployment."""

    @property
    def password(self) -> SecretStr | None:
        """The site password, checked."""


_ConfiguredT = TypeVar("_ConfiguredT", bound=_Configured)


async def configured_from_site(
    build: Callable[..., _ConfiguredT],
    url: str,
    password: str | SecretStr | None,
    fields: Mapping[str, Any],
    *,
    probe_settings: Callable[[_ConfiguredT], ProbeOptions],
    draft_fields: Mapping[str, Any] | None = None,
) -> _ConfiguredT:
    """`from_site` for a model or a deployment: check, probe, then build.

    Every field (the password too) is checked by building a draft before any
    I/O; the probe's options come from the draft; the result is built from
    the fields and what the site says.

    Args:
        build: The class (`ChatAIChatFree` or `Deployment`).
        url: The site.
        password: The site password, if any.
        fields: The other fields; ``base_url``, ``dialect`` and ``secret`` are
            found, not given.
        probe_settings: The probe's options for the draft.
        draft_fields: Fields only the draft needs (a required ``base_url``).

    Returns:
        The configured model or deployment.

    Raises:
        TypeError: `fields` sets a field the probe finds.
    """
    from langchain_aichatfree._site import check_not_discovered, site_fields

    check_not_discovered(fields)
    given = {} if password is None else {"password": password}
    draft = build(**(draft_fields or {}), **fields, **given)
    found = await site_fields(url, draft.password, probe_settings(draft))
    return build(**fields, **found)
