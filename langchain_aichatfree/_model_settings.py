"""`ModelSettings`: every setting of `ChatAIChatFree`, apart from LangChain.

The fields (each with its rule from `_settings` and its docstring), their
defaults from the environment (read at construction), the rules that span
fields, and each rule applied again when a field is assigned. `ChatAIChatFree`
inherits them all next to `BaseChatModel`; the command line's one-shot
question builds this class alone, so the same flags meet the same rules without
importing `langchain_core.language_models` (its tracers and langsmith).
Pure (no I/O), but for `from_site`, which reads a site to find its settings.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Final, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from typing_extensions import Self

from langchain_aichatfree import _sync
from langchain_aichatfree._constants import (
    DEFAULT_BASE_URL,
    DEFAULT_CHUNK_TIMEOUT,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_WAIT,
    DEFAULT_MODEL,
    DEFAULT_MODELS,
    DEFAULT_QUOTA_STORE,
    ENV_BASE_URL,
    ENV_DIALECT,
    ENV_PASSWORD,
    ENV_QUOTA_STORE,
    ENV_SECRET,
    GENERATE_PATH,
    RPM_WINDOW,
)
from langchain_aichatfree._deployment import Deployment, configured_from_site
from langchain_aichatfree._settings import (
    BaseURL,
    Headers,
    ModelName,
    Password,
    PositiveInt,
    ProxyURL,
    QuotaStoreURL,
    RetryCount,
    Seconds,
    Secret,
    StopSequences,
    Temperature,
    assignment_rules,
    check_deployments,
    refuse_unknown_arguments,
)

SECRET_ENV_VARS: Final = {"password": ENV_PASSWORD, "quota_store": ENV_QUOTA_STORE}
"""The settings that are secrets, and the env vars they come from (a Redis URL
may carry the Redis password): LangChain's `lc_secrets`."""


def text_from_env(name: str, default: str) -> Callable[[], str]:
    """A default factory: the environment variable's text, read at construction.

    Args:
        name: The variable.
        default: The value when it is not set (an empty value is a value).

    Returns:
        The factory.
    """

    def read() -> str:
        return os.environ.get(name, default)

    return read


def secret_from_env(name: str) -> Callable[[], SecretStr | None]:
    """A default factory: the environment variable as a `SecretStr`, else `None`.

    Args:
        name: The variable.

    Returns:
        The factory (read at construction).
    """

    def read() -> SecretStr | None:
        value = os.environ.get(name)
        return None if value is None else SecretStr(value)

    return read


class ModelSettings(BaseModel):
    """Every setting of `ChatAIChatFree`, with its rule; no LangChain model classes.

    Constructed alone (the command line's one-shot question), or as a base of
    `ChatAIChatFree`: the same fields, defaults, rules and errors either way.
    """

    model_config = ConfigDict(populate_by_name=True, hide_input_in_errors=True)

    model: ModelName = Field(default=DEFAULT_MODEL, alias="model_name")
    """Model name reported in metadata and tracing; the deployment chooses the
    real model. By default the web app's own default for the `dialect`:
    `gemini-1.5-pro`, or `gpt-3.5-turbo` for chatgpt-demo."""

    base_url: BaseURL = Field(
        default_factory=text_from_env(ENV_BASE_URL, DEFAULT_BASE_URL),
        validate_default=True,
    )
    """Root URL of the deployment (env `AICHATFREE_BASE_URL`): an http(s) URL,
    with a path if the site lives under one, but no user name or password (use
    `password`), query or fragment. Surrounding whitespace is removed."""

    secret: Secret = Field(
        default_factory=text_from_env(ENV_SECRET, ""), validate_default=True
    )
    """The deployment's `PUBLIC_SECRET_KEY`, used to sign requests (env
    `AICHATFREE_SECRET`). Public by design: it is in the site's browser code."""

    password: Password = Field(
        default_factory=secret_from_env(ENV_PASSWORD),
        alias="api_key",
        validate_default=True,
    )
    """The site password, sent as `pass` (env `AICHATFREE_PASSWORD`)."""

    timeout: Seconds = None
    """Seconds allowed for one attempt, first byte to last; `None` (or
    `float("inf")`) for no limit."""

    chunk_timeout: Seconds = DEFAULT_CHUNK_TIMEOUT
    """Longest wait for the server, in seconds: to connect, for the first chunk,
    and for each next chunk (time your code spends on a chunk does not count).
    `None` (or `float("inf")`) for no limit."""

    max_retries: RetryCount = DEFAULT_MAX_RETRIES
    """Retries after the first attempt (so `max_retries + 1` attempts at most).

    Rate limits, 5xx failures, connection failures, timeouts and interrupted
    answers are retried, with exponential backoff and jitter, but only while no
    text has reached the caller."""

    stop: StopSequences = None
    """Stop sequences, enforced on the stream (the server has none)."""

    max_tokens: PositiveInt | None = None
    """Approximate output limit, enforced on the stream: a token is counted as 4
    UTF-8 bytes. The deployment itself stops at 8,000 tokens."""

    temperature: Temperature | None = None
    """Sampling temperature. Reported in tracing; only the chatgpt-demo dialect
    forwards it, a Gemini deployment fixes its own settings."""

    streaming: bool = False
    """Whether `invoke` streams internally (firing token callbacks)."""

    proxy: ProxyURL = None
    """HTTP proxy URL for every request. It may not carry credentials (proxy
    authentication is not supported): the URL is not secret."""

    default_headers: Headers = None
    """Extra headers, over the browser-like defaults (`Origin`, `Referer`).
    Not secret: they show in reprs, dumps and traces."""

    dialect: Literal["gemini", "chatgpt-demo"] = Field(
        # The variable's text is checked against the Literal (validate_default);
        # the cast only tells older pydantic's mypy plugin what comes out.
        default_factory=cast(
            "Callable[[], Literal['gemini', 'chatgpt-demo']]",
            text_from_env(ENV_DIALECT, "gemini"),
        ),
        validate_default=True,
    )
    """The deployment's web app family: GeminiProChat (`"gemini"`) or the older
    chatgpt-demo (`"chatgpt-demo"`, OpenAI-form messages) (env
    `AICHATFREE_DIALECT`)."""

    max_response_bytes: PositiveInt = DEFAULT_MAX_RESPONSE_BYTES
    """Largest answer accepted, in bytes; a larger one raises `APIError` and the
    connection is closed, so a runaway server cannot exhaust memory. The
    server's failure sentinel after an answer does not count: that answer is
    interrupted (`StreamInterruptedError`, retried), not too large."""

    follow_redirects: bool = False
    """Whether a redirect to the same site (scheme, host and port) is followed.
    A redirect to another site is never followed: the body carries the password."""

    verify_ssl: bool = True
    """Whether TLS certificates are verified. Turn off only for a self-hosted
    deployment with a certificate you trust but cannot verify."""

    deployments: list[Deployment] | None = None
    """Several deployments to route calls over (see `Deployment`): each call
    goes to one that is neither cooling down after a rate limit nor out of its
    declared budget, and fails over to another. When set, it replaces
    `base_url`, `password`, `secret` and `dialect` (setting both is an error).
    Unset, the one deployment those fields name is a pool of one, with the
    same cooldowns."""

    quota_store: QuotaStoreURL = Field(
        default_factory=text_from_env(ENV_QUOTA_STORE, DEFAULT_QUOTA_STORE),
        repr=False,
        validate_default=True,
    )
    """Where cooldowns, budgets and probes are kept (env
    `AICHATFREE_QUOTA_STORE`): ``"memory"`` (shared by every model in the
    process) or a ``redis://``, ``rediss://`` or ``unix://`` URL (shared by
    every process naming it; ``pip install langchain-aichatfree[redis]``)."""

    rpm_window: float = Field(default=RPM_WINDOW, gt=0)
    """The length, in seconds, of the window a `Deployment.rpm` counts (60: a
    minute, as Gemini counts). Shrink it only to test against a `LocalServer`
    whose `Quota` has a short window."""

    max_wait: float = Field(default=DEFAULT_MAX_WAIT, ge=0)
    """Seconds a call may wait for a deployment to come free (also per call).
    Past it, `RateLimitError` with `retry_after` = seconds until the earliest
    deployment frees."""

    def __setattr__(self, name: str, value: Any) -> None:
        # A setting changed later obeys the rule it obeyed at construction.
        # (Pydantic's validate_assignment would also re-run LangChain's model
        # validators on every internal assignment: construction 60% slower.)
        rule = assignment_rules(type(self), ModelSettings).get(name)
        if rule is not None:
            value = rule.validate_python(value)
        super().__setattr__(name, value)

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_arguments(cls, data: Any) -> Any:
        refuse_unknown_arguments(cls, data)
        return data

    @model_validator(mode="after")
    def _default_model_for_dialect(self) -> Self:
        if "model" not in self.model_fields_set:
            self.model = DEFAULT_MODELS[self.dialect]
        return self

    @model_validator(mode="after")
    def _check_deployments(self) -> Self:
        check_deployments(self.deployments, self.model_fields_set)
        return self

    @property
    def endpoint(self) -> str:
        """The URL requests are posted to."""
        return self.base_url.rstrip("/") + GENERATE_PATH

    @classmethod
    def from_site(
        cls, url: str, password: str | SecretStr | None = None, **fields: Any
    ) -> Self:
        """A model for the deployment at a site's URL, its settings found there.

        The site's page and chat script are read to find the web app family
        (`dialect`) and the signing `secret`, and its ``/api/auth`` is asked
        whether a password is needed and whether `password` is accepted (the
        password is sent there only). Fetches stay on the site, are bounded in
        size, and use the fields' `timeout`, `chunk_timeout`, `verify_ssl` and
        `proxy`. ``aichatfree probe URL`` shows the same findings.

        Args:
            url: The site, e.g. ``"https://your.site"``.
            password: The site password; else the `password` field, else
                ``$AICHATFREE_PASSWORD``.
            **fields: Any other field (`base_url`, `dialect` and `secret` are
                found, not given).

        Returns:
            The configured model.

        Raises:
            SiteProbeError: The site is not a deployment this model can use, or
                its chat script or secret cannot be read; the message says what
                was seen.
            AuthenticationError: A password is needed and none was given, or the
                one given was refused.
            APIConnectionError: The site could not be reached (or timed out).
        """
        return _sync.run(cls.afrom_site(url, password, **fields))

    @classmethod
    async def afrom_site(
        cls, url: str, password: str | SecretStr | None = None, **fields: Any
    ) -> Self:
        """Async `from_site`, probing with this model's timeouts, TLS and proxy.

        Args:
            url: The site, e.g. ``"https://your.site"``.
            password: The site password (see `from_site`).
            **fields: Any other field.

        Returns:
            The configured model.
        """
        from langchain_aichatfree._site import probe_options

        if password is None:
            password = fields.get("password", fields.get("api_key"))
        rest = {k: v for k, v in fields.items() if k not in ("password", "api_key")}
        return await configured_from_site(
            cls,
            url,
            password,
            rest,
            probe_settings=lambda draft: probe_options(  # the model's own
                timeout=draft.timeout,
                chunk_timeout=draft.chunk_timeout,
                verify_ssl=draft.verify_ssl,
                proxy=draft.proxy,
            ),
        )
