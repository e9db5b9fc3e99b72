"""`ChatAIChatFree`: the AIChatFree web app as a LangChain chat model."""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Literal, cast
from urllib.parse import urlsplit

import aiohttp
from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import (
    BaseChatModel,
    LangSmithParams,
    LanguageModelInput,
    ModelProfile,
)
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata, add_usage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap
from langchain_core.tools import BaseTool
from langchain_core.utils import from_env, secret_from_env
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    TypeAdapter,
    create_model,
    field_validator,
    model_validator,
)
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
    MAX_OUTPUT_TOKENS,
    PROVIDER,
    RPM_WINDOW,
    RPM_WINDOW_MARGIN,
    USER_AGENT,
)
from langchain_aichatfree._deployment import Deployment, public_url
from langchain_aichatfree._json_answer import (
    JsonAnswerParser,
    ToolDictParser,
    ToolObjectParser,
    parse_with_raw,
)
from langchain_aichatfree._protocol import (
    PreparedRequest,
    estimate_token_ids,
    estimate_tokens,
    prepare_request,
    tokens_for_bytes,
)
from langchain_aichatfree._quota import store_from_url
from langchain_aichatfree._retrying_call import RetryingCall
from langchain_aichatfree._router import Router, endpoints_for
from langchain_aichatfree._sessions import SessionPool
from langchain_aichatfree._settings import (
    BaseURL,
    Headers,
    ModelName,
    Password,
    PositiveInt,
    ProxyURL,
    RetryCount,
    Seconds,
    Secret,
    StopSequences,
    Temperature,
    did_you_mean,
    known_field_names,
    redact_url,
)
from langchain_aichatfree._site import (
    check_not_discovered,
    probe_options,
    site_fields,
)
from langchain_aichatfree._stream import AnswerState
from langchain_aichatfree._tool_calls import ToolAnswer
from langchain_aichatfree._tool_prompt import (
    reask_messages,
    reask_text,
    render_instructions,
)
from langchain_aichatfree._tool_reader import ToolAnswerReader, parse_answer
from langchain_aichatfree._tool_setup import (
    ToolSetup,
    build_tool_setup,
    format_tool,
    normalize_tool_choice,
    response_format_from_schema,
    tool_name,
)
from langchain_aichatfree._transport import CallOptions

_TOOL_KWARGS = ("tools", "tool_choice", "parallel_tool_calls", "response_format")
"""Call keyword arguments that ask for emulated tools or a JSON answer."""

_OVERRIDABLE: Final = (
    "model",
    "temperature",
    "max_tokens",
    "timeout",
    "chunk_timeout",
    "max_retries",
    "max_wait",
    "proxy",
    "stop",
)
"""Fields a single call may override with a keyword argument of the same name."""

_CALL_KWARGS = frozenset(
    {*_OVERRIDABLE, "connector", "stream", *_TOOL_KWARGS} - {"stop"}
)
"""Keyword arguments a single call accepts (besides `stop`)."""


@dataclass(frozen=True, slots=True)
class _ToolPlan:
    """A call's emulated tools, and what the one re-ask of a forced call needs."""

    setup: ToolSetup
    instructions: str
    messages: Sequence[BaseMessage]
    temperature: float | None


class ChatAIChatFree(BaseChatModel):
    r"""AIChatFree (and any GeminiProChat or chatgpt-demo deployment) chat model.

    The deployment takes a signed conversation and streams plain text back; this
    model converts LangChain messages to that payload, signs it, streams the
    answer over aiohttp, and turns the server's failures into typed, retryable
    errors. It never returns a partial answer as if it were complete.

    Setup:
        Install the package, and point it at a deployment (the public one is the
        default)::

            pip install langchain-aichatfree
            export AICHATFREE_BASE_URL="https://aichatfree.info"
            export AICHATFREE_PASSWORD="..."   # only if the site has a password

        ``aichatfree probe https://your.site`` reads a site's family, secret
        and password need from the site itself; `from_site` does the same and
        returns a configured model.

    Key init args — deployment:
        base_url: str
            The site's root URL (env `AICHATFREE_BASE_URL`).
        password: SecretStr | None
            The site password (env `AICHATFREE_PASSWORD`; alias `api_key`).
        secret: str
            The deployment's public signing key (env `AICHATFREE_SECRET`).
        dialect: "gemini" | "chatgpt-demo"
            The web app family the deployment runs.

    Key init args — completion:
        model: str
            Reported in metadata; the deployment picks the real model.
        stop: list[str] | None
            Enforced client-side on the stream.
        max_tokens: int | None
            Enforced client-side, approximately (1 token = 4 UTF-8 bytes).
        temperature: float | None
            Forwarded by the chatgpt-demo dialect; a Gemini deployment ignores it.

    Key init args — client:
        timeout: float | None
            Seconds one attempt may take, first byte to last (`None` or
            `inf`: no limit).
        chunk_timeout: float | None
            Longest silence before the first chunk and between chunks.
        max_retries: int
            Retries after the first attempt, only before any text was shown.
        max_response_bytes: int
            Largest answer accepted (8 MiB by default).
        follow_redirects: bool
            Follow redirects to the same site (never to another).
        verify_ssl: bool
            TLS certificate verification (on by default).

    Key init args — pool of deployments:
        deployments: list[Deployment] | None
            Several deployments to route over, each with its declared quota
            (replaces base_url, password, secret and dialect).
        quota_store: str
            Where cooldowns and budgets are shared: "memory" (this process) or
            a Redis URL (every process naming it; env `AICHATFREE_QUOTA_STORE`).
        max_wait: float
            Seconds a call may wait for a deployment to come free (60).

    Instantiate:
        .. code-block:: python

            from langchain_aichatfree import ChatAIChatFree

            model = ChatAIChatFree(max_retries=2, chunk_timeout=60)

    Invoke:
        .. code-block:: python

            model.invoke([("system", "Answer briefly."), ("human", "Hi!")])

    Stream:
        .. code-block:: python

            for chunk in model.stream("Tell me a story"):
                print(chunk.text, end="", flush=True)

    Async:
        .. code-block:: python

            async with ChatAIChatFree() as model:
                answer = await model.ainvoke("Hi!")
                async for chunk in model.astream("Tell me a story"):
                    print(chunk.text, end="", flush=True)

    Tool calling:
        The deployment only takes text, so tool calling is emulated: the tools'
        schemas and an exact answer format go into the conversation, and the
        calls are read back out of the answer (`tool_calls`, or
        `invalid_tool_calls` for a malformed one). Agents work as usual:

        .. code-block:: python

            model_with_tools = model.bind_tools([get_weather, celsius_to_fahrenheit])
            message = model_with_tools.invoke("What is the weather in Paris?")
            print("bind_tools:", message.tool_calls)

            # The agent: it runs the tools the model calls, until the model answers.
            agent = create_agent(model, [get_weather, celsius_to_fahrenheit])
            question = "What is the weather in Paris, in Fahrenheit?"
            result = agent.invoke({"messages": [HumanMessage(question)]})

    Structured output:
        With `Joke` a pydantic model, the answer is parsed and validated;
        streaming yields each new valid partial object, and ends as `invoke`
        does (the same error for an answer that never validates or was cut
        off):

        .. code-block:: python

            prompt = ChatPromptTemplate.from_messages(
                [("system", "You are a comedian."), ("human", "A joke about {topic}.")]
            )
            chain = prompt | model.with_structured_output(Joke)
            joke = chain.invoke({"topic": "cats"})
            print("joke:", joke)

            for partial in chain.stream({"topic": "rivers"}):
                print("partial:", partial)

    Settings and call arguments:
        A call's keyword arguments (``stop``, ``model``, ``temperature``,
        ``max_tokens``, ``timeout``, ``chunk_timeout``, ``max_retries``,
        ``proxy``) obey the rules of the fields of the same name, checked
        before anything is sent; an unknown argument, to the constructor or a
        call, is a `TypeError` naming the closest real one.

    Errors:
        Every failure is a subclass of `langchain_aichatfree.AIChatFreeError`
        and of the matching `langchain_core.exceptions.ModelError` class, with
        `is_retryable` set. A truncated answer raises `StreamInterruptedError`
        with the text received so far in `partial_text`, whatever the stop
        sequences. An empty body (the model produced no text, often a blocked
        prompt) is no error: it is ``AIMessage("")`` with
        ``response_metadata["finish_reason"] == "empty"``.
    """

    model_config = ConfigDict(populate_by_name=True, hide_input_in_errors=True)

    model: ModelName = Field(default=DEFAULT_MODEL, alias="model_name")
    """Model name reported in metadata and tracing; the deployment chooses the
    real model. By default the web app's own default for the `dialect`:
    `gemini-1.5-pro`, or `gpt-3.5-turbo` for chatgpt-demo."""

    base_url: BaseURL = Field(
        default_factory=from_env(ENV_BASE_URL, default=DEFAULT_BASE_URL),
        validate_default=True,
    )
    """Root URL of the deployment (env `AICHATFREE_BASE_URL`): an http(s) URL,
    with a path if the site lives under one, but no user name or password (use
    `password`), query or fragment. Surrounding whitespace is removed."""

    secret: Secret = Field(
        default_factory=from_env(ENV_SECRET, default=""), validate_default=True
    )
    """The deployment's `PUBLIC_SECRET_KEY`, used to sign requests (env
    `AICHATFREE_SECRET`). Public by design: it is in the site's browser code."""

    password: Password = Field(
        default_factory=secret_from_env(ENV_PASSWORD, default=None),
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
            from_env(ENV_DIALECT, default="gemini"),
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

    quota_store: str = Field(
        default_factory=from_env(ENV_QUOTA_STORE, default=DEFAULT_QUOTA_STORE),
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

    @field_validator("quota_store", mode="before")
    @classmethod
    def _default_quota_store(cls, value: Any) -> Any:
        # A serialised model holds the store URL as a secret (it may carry the
        # Redis password); loaded without it, the default applies.
        if value is None:
            return os.environ.get(ENV_QUOTA_STORE, DEFAULT_QUOTA_STORE)
        return value

    @field_validator("quota_store")
    @classmethod
    def _check_quota_store(cls, value: str) -> str:
        if value != "memory" and urlsplit(value).scheme not in {
            "redis",
            "rediss",
            "unix",
        }:
            msg = (
                "quota_store must be 'memory' or a redis://, rediss:// or unix:// "
                f"URL, got {public_url(value)!r}."
            )
            raise ValueError(msg)
        return value

    _pool: SessionPool = PrivateAttr(default_factory=SessionPool)
    _router: tuple[tuple[Any, ...], Router] | None = PrivateAttr(default=None)

    def __setattr__(self, name: str, value: Any) -> None:
        # A setting changed later obeys the rule it obeyed at construction.
        # (Pydantic's validate_assignment would also re-run LangChain's model
        # validators on every internal assignment: construction 60% slower.)
        adapter = _ASSIGNMENT_RULES.get(name)
        if adapter is not None:
            value = adapter.validate_python(value)
        super().__setattr__(name, value)

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_arguments(cls, data: Any) -> Any:
        """An unknown argument is an error naming the closest real field.

        A misspelled `base_url` would otherwise send the prompt, and the
        password, to the public site. A `TypeError`, as Python raises for an
        unexpected keyword argument (and pydantic does not wrap it with the
        whole input, password included).
        """
        if isinstance(data, dict):
            known = _known_names(cls)
            unknown = [k for k in data if isinstance(k, str) and k not in known]
            if unknown:
                msg = (
                    f"ChatAIChatFree got unexpected keyword arguments {unknown}."
                    f"{did_you_mean(unknown, known)} The settings are listed in "
                    "the class docstring and the README's Configuration section."
                )
                raise TypeError(msg)
        return data

    @model_validator(mode="after")
    def _default_model_for_dialect(self) -> Self:
        if "model" not in self.model_fields_set:
            self.model = DEFAULT_MODELS[self.dialect]
        return self

    @model_validator(mode="after")
    def _check_deployments(self) -> Self:
        if self.deployments is not None:
            explicit = sorted(
                {"base_url", "password", "secret", "dialect"} & self.model_fields_set
            )
            if explicit:
                msg = (
                    f"Set either deployments or {', '.join(explicit)}, not both: "
                    "each Deployment has its own base_url, password, secret and "
                    "dialect."
                )
                raise ValueError(msg)
            if not self.deployments:
                msg = "deployments must name at least one Deployment."
                raise ValueError(msg)
        return self

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
        """Async `from_site`.

        Args:
            url: The site, e.g. ``"https://your.site"``.
            password: The site password (see `from_site`).
            **fields: Any other field.

        Returns:
            The configured model.
        """
        check_not_discovered(fields)
        rest = {k: v for k, v in fields.items() if k not in ("password", "api_key")}
        if password is None:
            password = fields.get("password", fields.get("api_key"))
        # Every setting is checked before any I/O (the password too), and the
        # probe uses the model's own timeouts, TLS setting and proxy.
        given = {} if password is None else {"password": password}
        draft = cls(**rest, **given)
        options = probe_options(
            timeout=draft.timeout,
            chunk_timeout=draft.chunk_timeout,
            verify_ssl=draft.verify_ssl,
            proxy=draft.proxy,
        )
        found = await site_fields(url, draft.password, options)
        return cls(**rest, **found)

    # -- LangChain plumbing -------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return "aichatfree-chat"

    @property
    def lc_secrets(self) -> dict[str, str]:
        """Fields that are secrets, and the env vars they come from."""
        # A Redis URL may carry the Redis password.
        return {"password": ENV_PASSWORD, "quota_store": ENV_QUOTA_STORE}

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """The model can be serialised with `dumpd` (secrets left out)."""
        return True

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "base_url": self.base_url
            if self.deployments is None
            else [d.url for d in self.deployments],
            "dialect": self.dialect,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": self.stop,
        }

    def _get_ls_params(
        self, stop: list[str] | None = None, **kwargs: Any
    ) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider=PROVIDER,
            ls_model_name=kwargs.get("model") or self.model,
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        stop = stop if stop is not None else self.stop  # a call's [] means none
        if stop:
            params["ls_stop"] = stop
        return params

    def _get_invocation_params(
        self, stop: list[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        # What tracers record, before the call's arguments are checked: a
        # call's `proxy` with credentials (refused by `_prepare`) is redacted.
        if isinstance(kwargs.get("proxy"), str):
            kwargs["proxy"] = redact_url(kwargs["proxy"])
        return super()._get_invocation_params(stop=stop, **kwargs)

    def get_num_tokens(self, text: str) -> int:
        """Estimate the tokens in a text (1 per 4 UTF-8 bytes; no download).

        Args:
            text: Any text.

        Returns:
            The estimated token count (or as many as `custom_get_token_ids`
            gives, when it is set).
        """
        if self.custom_get_token_ids is not None:
            return len(self.custom_get_token_ids(text))
        return estimate_tokens(text)

    def get_token_ids(self, text: str) -> list[int]:
        """Pseudo token ids, one per 4 UTF-8 bytes (no tokenizer, no download).

        LangChain's default loads a GPT-2 tokenizer from `transformers`; the
        deployment's model is not GPT-2 and reports no tokens, so the ids follow
        the same estimate as `get_num_tokens` (``len(ids)`` equals it). Each id
        is the value of its bytes: equal texts give equal ids.

        Args:
            text: Any text.

        Returns:
            The ids (`custom_get_token_ids`'s, when it is set).
        """
        if self.custom_get_token_ids is not None:
            return self.custom_get_token_ids(text)
        return estimate_token_ids(text)

    # -- the calls ------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The URL requests are posted to."""
        return self.base_url.rstrip("/") + GENERATE_PATH

    def _headers(self, base_url: str | None = None) -> dict[str, str]:
        base_url = self.base_url if base_url is None else base_url
        parts = urlsplit(base_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        headers = {
            "Content-Type": "text/plain;charset=UTF-8",
            "Accept": "*/*",
            "Origin": origin,
            "Referer": base_url.rstrip("/") + "/",
            "User-Agent": USER_AGENT,
        }
        if self.default_headers:
            headers.update(self.default_headers)
        return headers

    def _get_router(self) -> Router:
        """The model's pool and quota store, made on first use (no I/O).

        Made again if a setting it depends on changed (a `model_copy` with an
        update keeps the private attributes of the original).
        """
        key = (
            self.deployments,
            self.base_url,
            self.password,
            self.secret,
            self.dialect,
            self.default_headers,
            self.quota_store,
            self.rpm_window,
        )
        cached = self._router
        if cached is not None and cached[0] == key:
            return cached[1]
        implicit = self.deployments is None
        deployments = self.deployments or [
            Deployment(
                base_url=self.base_url,
                password=self.password,
                secret=self.secret,
                dialect=self.dialect,
            )
        ]
        router = Router(
            endpoints_for(deployments, self._headers, GENERATE_PATH),
            store_from_url(
                self.quota_store,
                rpm_window=self.rpm_window * (1 + RPM_WINDOW_MARGIN),
            ),
            implicit=implicit,
        )
        self._router = (key, router)
        return router

    def _prepare(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, kwargs: Any
    ) -> tuple[PreparedRequest, CallOptions, str, _ToolPlan | None]:
        """Check and convert everything a call needs, before any I/O."""
        unknown = {
            k for k in kwargs if k not in _CALL_KWARGS and not k.startswith("ls_")
        }
        if unknown:
            msg = (
                f"ChatAIChatFree got unexpected keyword arguments {sorted(unknown)}; "
                f"a call accepts stop and {sorted(_CALL_KWARGS - {'stream'})}."
                f"{did_you_mean(unknown, _CALL_KWARGS | {'stop'})}"
            )
            raise TypeError(msg)
        call = self._call_settings(stop, kwargs)
        connector = kwargs.get("connector")
        if connector is not None and not isinstance(connector, aiohttp.BaseConnector):
            msg = f"connector must be an aiohttp connector, got {type(connector)}."
            raise TypeError(msg)
        temperature = call["temperature"]
        tools = _plan_tools(messages, kwargs, temperature)
        router = self._get_router()
        request = prepare_request(
            messages,
            dialect=router.endpoints[0].deployment.dialect,
            temperature=temperature,
            instructions=tools.instructions if tools is not None else None,
        )
        options = CallOptions(
            url=self.endpoint,
            headers=self._headers(),
            secret=self.secret,
            password=self.password,
            timeout=call["timeout"],
            chunk_timeout=call["chunk_timeout"],
            max_retries=call["max_retries"],
            stop=tuple(call["stop"] or ()),
            max_tokens=call["max_tokens"],
            proxy=call["proxy"],
            connector=connector,
            rate_limiter=self.rate_limiter,
            max_response_bytes=self.max_response_bytes,
            follow_redirects=self.follow_redirects,
            verify_ssl=self.verify_ssl,
            dialect=self.dialect,
            router=router,
            max_wait=float(call["max_wait"]),
        )
        return request, options, call["model"], tools

    def _call_settings(
        self, stop: list[str] | None, kwargs: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A call's settings: its own arguments, checked by the fields' rules.

        The arguments are validated by a model built from the fields
        themselves (`_CallArguments`), so a call obeys exactly the rules the
        constructor does; whatever the call does not give comes from the model.
        """
        settings = {name: getattr(self, name) for name in _OVERRIDABLE}
        given = {name: kwargs[name] for name in _OVERRIDABLE if name in kwargs}
        if stop is not None:
            given["stop"] = stop
        if given:  # the model's own values were checked when they were set
            checked = _CallArguments.model_validate(given)
            settings.update({name: getattr(checked, name) for name in given})
        return settings

    def _metadata(
        self, state: AnswerState, request: PreparedRequest, model: str
    ) -> tuple[dict[str, Any], UsageMetadata]:
        response_metadata: dict[str, Any] = {
            "model_name": model,
            "finish_reason": state.finish_reason or "stop",
            "model_provider": PROVIDER,
        }
        if state.deployment is not None:
            response_metadata["deployment"] = state.deployment
            response_metadata["routing"] = list(state.routing)
        input_tokens = tokens_for_bytes(request.input_text_bytes)
        output_tokens = tokens_for_bytes(state.text_bytes)
        usage = UsageMetadata(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=input_tokens + output_tokens,
        )
        return response_metadata, usage

    async def _aiter_chunks(
        self,
        request: PreparedRequest,
        options: CallOptions,
        model: str,
        tools: _ToolPlan | None = None,
    ) -> AsyncIterator[ChatGenerationChunk]:
        if tools is not None and tools.setup.parses_calls:
            async for chunk in self._aiter_tool_chunks(request, options, model, tools):
                yield chunk
            return
        call = RetryingCall(self._pool, request, options)
        async for piece in call.stream():
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        response_metadata, usage = self._metadata(call.state, request, model)
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                chunk_position="last",
                response_metadata=response_metadata,
                usage_metadata=usage,
            ),
            generation_info={"finish_reason": response_metadata["finish_reason"]},
        )

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        request, options, model, tools = self._prepare(messages, stop, kwargs)
        async for chunk in self._aiter_chunks(request, options, model, tools):
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request, options, model, tools = self._prepare(messages, stop, kwargs)
        for chunk in _sync.iterate(
            lambda: self._aiter_chunks(request, options, model, tools)
        ):
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request, options, model, tools = self._prepare(messages, stop, kwargs)
        return await self._acollect(request, options, model, tools)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request, options, model, tools = self._prepare(messages, stop, kwargs)
        return _sync.run(self._acollect(request, options, model, tools))

    async def _acollect(
        self,
        request: PreparedRequest,
        options: CallOptions,
        model: str,
        tools: _ToolPlan | None = None,
    ) -> ChatResult:
        if tools is not None and tools.setup.parses_calls:
            answer, response_metadata, usage = await self._aask_for_tools(
                request, options, model, tools
            )
            message = AIMessage(
                content=answer.content,
                tool_calls=answer.tool_calls,
                invalid_tool_calls=answer.invalid_tool_calls,
                response_metadata=response_metadata,
                usage_metadata=usage,
            )
        else:
            state = await RetryingCall(self._pool, request, options).collect()
            response_metadata, usage = self._metadata(state, request, model)
            message = AIMessage(
                content=state.text,
                response_metadata=response_metadata,
                usage_metadata=usage,
            )
        return ChatResult(
            generations=[
                ChatGeneration(
                    message=message,
                    generation_info={
                        "finish_reason": response_metadata["finish_reason"]
                    },
                )
            ],
            llm_output={"model_name": model},
        )

    # -- emulated tools and structured output ---------------------------------

    async def _aiter_tool_chunks(
        self,
        request: PreparedRequest,
        options: CallOptions,
        model: str,
        tools: _ToolPlan,
    ) -> AsyncIterator[ChatGenerationChunk]:
        """Stream an answer read for tool calls.

        Text streams as it arrives; an envelope is held back and its calls come
        on the last chunk. When a call is required the answer must be one, so it
        is read whole (it may be re-asked) and comes as one last chunk.
        """
        if tools.setup.requires_call:
            answer, metadata, usage = await self._aask_for_tools(
                request, options, model, tools
            )
            yield _last_tool_chunk(answer, answer.content, metadata, usage)
            return
        call = RetryingCall(self._pool, request, options)
        readers: list[ToolAnswerReader] = []

        def new_reader() -> Callable[[str], str]:
            # One per attempt: a retry after a failure inside a held-back
            # envelope (nothing shown yet) starts reading afresh.
            readers.append(ToolAnswerReader(setup.names, parallel=setup.parallel))
            return readers[-1].feed

        setup = tools.setup
        async for shown in call.stream(new_reader):
            yield ChatGenerationChunk(message=AIMessageChunk(content=shown))
        answer = readers[-1].finish()
        metadata, usage = self._metadata(call.state, request, model)
        yield _last_tool_chunk(
            answer, answer.content, _tool_finish(metadata, answer), usage
        )

    async def _aask_for_tools(
        self,
        request: PreparedRequest,
        options: CallOptions,
        model: str,
        tools: _ToolPlan,
    ) -> tuple[ToolAnswer, dict[str, Any], UsageMetadata]:
        """Get a whole answer and read its calls; re-ask once if a call is missing.

        The re-ask is a second request whose history holds the non-compliant
        answer and a short corrective user turn. Its answer is returned as it
        is, with `tool_call_forced_retry` in the metadata (and
        `tool_call_missing` if it still makes no required call).
        """
        setup = tools.setup
        state = await RetryingCall(self._pool, request, options).collect()
        answer = parse_answer(state.text, setup)
        metadata, usage = self._metadata(state, request, model)
        if setup.requires_call and not answer.satisfies(setup):
            retry = prepare_request(
                reask_messages(tools.messages, state.text, reask_text(setup, answer)),
                dialect=self.dialect,
                temperature=tools.temperature,
                instructions=tools.instructions,
            )
            if options.rate_limiter is not None:  # a new request, like any other
                await options.rate_limiter.aacquire(blocking=True)
            state = await RetryingCall(self._pool, retry, options).collect()
            answer = parse_answer(state.text, setup)
            metadata, retry_usage = self._metadata(state, retry, model)
            usage = add_usage(usage, retry_usage)
            metadata["tool_call_forced_retry"] = True
            if not answer.satisfies(setup):
                metadata["tool_call_missing"] = True
        return answer, _tool_finish(metadata, answer), usage

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        parallel_tool_calls: bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools, emulated in text: the deployment has no tool calling.

        The tools' schemas and a precise answer format are put into the
        conversation the server sees (like system text). The model answers
        ``{"tool_calls": [{"name": ..., "arguments": {...}}]}``, which becomes
        `tool_calls` (with fresh ids); a malformed call, or one to a tool that is
        not bound, becomes an `invalid_tool_calls` entry. Plain text still
        streams as it arrives; calls come on the last chunk.

        What counts as a call: that envelope, OpenAI's function form, a bare
        ``{"name", "arguments"}`` object (or ``"parameters"``/``"args"``/
        ``"input"`` for a bound tool's name), or a list of those; bare, in a
        code fence or in ``<tool_call>`` tags, alone or with prose around it.
        Not a call, and kept in `content` character for character: JSON right
        after a backtick or quotation mark (quoted), ``<tool_call>`` not
        followed by JSON or a tool name, data like ``{"name": "Alice",
        "input": "raw"}``, and broken JSON that more text follows. Only the
        whitespace around a call is dropped from `content`.

        Args:
            tools: Anything LangChain accepts as a tool: `BaseTool`, functions,
                pydantic models, TypedDicts, JSON schemas, OpenAI tool dicts.
            tool_choice: ``"auto"`` (default), ``"none"`` (describe the tools but
                ask for text), ``"any"``/``"required"``/``True`` (a call is
                required), a tool name, or ``{"type": "function", "function":
                {"name": ...}}``. When a call is required and the answer has none,
                the model is asked once more (a second request); the answer then
                has ``response_metadata["tool_call_forced_retry"]`` and, if it
                still makes no call, ``response_metadata["tool_call_missing"]``.
            parallel_tool_calls: ``False`` asks for one call at most; further
                calls become invalid calls saying so.
            strict: Passed to `convert_to_openai_tool` (shapes the schemas).
            **kwargs: Further arguments bound to the model (e.g.
                ``response_format``).

        Returns:
            The model with the tools bound.
        """
        formatted = [format_tool(tool, strict=strict) for tool in tools]
        if tool_choice is not None:
            mode, forced = normalize_tool_choice(
                tool_choice, [tool_name(t) for t in formatted]
            )
            kwargs["tool_choice"] = (
                {"type": "function", "function": {"name": forced}}
                if forced is not None
                else mode
            )
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        build_tool_setup(  # fail here, not at the first call
            tools=formatted,
            tool_choice=kwargs.get("tool_choice"),
            parallel_tool_calls=parallel_tool_calls,
            response_format=kwargs.get("response_format"),
        )
        return self.bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: Literal["json_schema", "function_calling", "json_mode"] = (
            "json_schema"
        ),
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Answer with an object of `schema`, emulated in text.

        Args:
            schema: A pydantic model (the output is an instance, validated), or a
                TypedDict, JSON schema or OpenAI function (the output is a dict,
                not validated). May be ``None`` for ``method="json_mode"``.
            method: ``"json_schema"`` (default): the model is asked to answer
                with one JSON object conforming to the schema; the text streams,
                so streaming yields each new valid partial object (and, like
                every method, ends as `invoke` does: its error is raised at the
                end of the stream).
                ``"function_calling"``: the schema is bound as a tool the model
                must call (re-asked once if it does not); the object arrives
                whole. ``"json_mode"``: the model is asked for a JSON object; the
                schema is not sent (describe it in the prompt).
            include_raw: Return ``{"raw": AIMessage, "parsed": ...,
                "parsing_error": ...}`` instead of raising on a parsing error.
                A stream yields the raw message as it arrives, then
                ``parsed`` and ``parsing_error`` once, as `invoke` returns
                them.
            strict: Recorded, and passed to the schema conversion; the server
                cannot enforce a schema.
            **kwargs: Further arguments bound to the model.

        Returns:
            A runnable that returns the parsed object (or the dict above).

        Raises:
            ValueError: An unknown method, a missing schema, or `strict` with
                ``json_mode``.
        """
        if method not in {"json_schema", "function_calling", "json_mode"}:
            msg = (
                "method must be 'json_schema', 'function_calling' or 'json_mode', "
                f"got {method!r}."
            )
            raise ValueError(msg)
        if strict is not None and method == "json_mode":
            msg = "strict is not supported with method='json_mode'."
            raise ValueError(msg)
        if schema is None and method != "json_mode":
            msg = f"method={method!r} needs a schema."
            raise ValueError(msg)
        is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
        if schema is not None:
            ls_kwargs: dict[str, Any] = {"method": method}
            if method != "json_mode":
                ls_kwargs["strict"] = strict
            kwargs["ls_structured_output_format"] = {
                "kwargs": ls_kwargs,
                "schema": schema,
            }
        llm: Runnable[LanguageModelInput, AIMessage]
        parser: Runnable[Any, Any]
        if method == "function_calling":
            assert schema is not None  # noqa: S101 - checked above
            name = tool_name(format_tool(schema))
            llm = self.bind_tools(
                [schema],
                tool_choice=name,
                parallel_tool_calls=False,
                strict=strict,
                **kwargs,
            )
            parser = (
                ToolObjectParser(tools=[schema], first_tool_only=True)
                if is_pydantic
                else ToolDictParser(key_name=name, first_tool_only=True)
            )
        else:
            response_format = (
                response_format_from_schema(schema, strict=strict)
                if method == "json_schema" and schema is not None
                else {"type": "json_object"}
            )
            llm = self.bind(response_format=response_format, **kwargs)
            parser = JsonAnswerParser(pydantic_object=schema if is_pydantic else None)
        if not include_raw:
            return llm | parser
        return RunnableMap(raw=llm) | parse_with_raw(parser)

    def _resolve_model_profile(self) -> ModelProfile | None:
        """What the deployment can do, as `create_agent` reads it.

        Tool calling is emulated (so agents use it, and their tool strategy for
        structured output); there is no native structured output; input is
        text only; the deployment stops at 8,000 output tokens.
        """
        return ModelProfile(
            text_inputs=True,
            image_inputs=False,
            image_url_inputs=False,
            pdf_inputs=False,
            audio_inputs=False,
            video_inputs=False,
            image_tool_message=False,
            pdf_tool_message=False,
            max_output_tokens=MAX_OUTPUT_TOKENS,
            text_outputs=True,
            image_outputs=False,
            audio_outputs=False,
            video_outputs=False,
            reasoning_output=False,
            tool_calling=True,
            tool_choice=True,
            tool_call_streaming=True,
            structured_output=False,
            temperature=self.dialect == "chatgpt-demo",
        )

    # -- quotas ---------------------------------------------------------------

    async def aquota_status(self) -> list[dict[str, Any]]:
        """The quota state of each deployment, as the store has it now.

        Returns:
            One dict per deployment, in the pool's order: ``base_url`` (no
            credentials), ``quota_group``, ``cooling_until`` (epoch seconds, or
            ``None``), ``reason`` (why it cools or is out), ``rpm_used`` and
            ``rpd_used`` (requests counted in the current minute and day).
        """
        return await self._get_router().status()

    def quota_status(self) -> list[dict[str, Any]]:
        """`aquota_status` from synchronous code.

        Returns:
            One dict per deployment (see `aquota_status`).
        """
        return _sync.run(self.aquota_status())

    # -- lifecycle ------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the model's HTTP sessions (it stays usable: new calls reopen).

        This loop's connections to a Redis quota store are closed too.
        """
        await self._pool.aclose()
        if self._router is not None:
            await self._router[1].store.aclose()

    def close(self) -> None:
        """Close the model's HTTP sessions from synchronous code."""
        self._pool.close()
        if self._router is not None:
            _sync.run(self._router[1].store.aclose())

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


_OWN_FIELDS: Final = frozenset(ChatAIChatFree.model_fields) - frozenset(
    BaseChatModel.model_fields
)
_ASSIGNMENT_RULES: Final[dict[str, TypeAdapter[Any]]] = {
    name: TypeAdapter(
        ChatAIChatFree.model_fields[name].rebuild_annotation(),
        config=ConfigDict(hide_input_in_errors=True, title=f"ChatAIChatFree.{name}"),
    )
    for name in _OWN_FIELDS
}
"""Each of the model's own fields' rule, applied when the field is assigned."""

_CALL_FIELDS: Final[dict[str, Any]] = {
    name: (ChatAIChatFree.model_fields[name].rebuild_annotation(), None)
    for name in _OVERRIDABLE
}
_CallArguments: Final = create_model(
    "ChatAIChatFreeCall",
    __config__=ConfigDict(
        extra="forbid", hide_input_in_errors=True, title="ChatAIChatFree call"
    ),
    **_CALL_FIELDS,
)
"""A call's overriding arguments, validated by the very rules of the fields."""


@functools.cache
def _known_names(cls: type[BaseModel]) -> frozenset[str]:
    """The names a model class's constructor accepts (its fields are fixed)."""
    return known_field_names(cls.model_fields)


def _plan_tools(
    messages: Sequence[BaseMessage], kwargs: Any, temperature: float | None
) -> _ToolPlan | None:
    """The call's emulated tools, or ``None`` when it asks for none."""
    if not any(key in kwargs for key in _TOOL_KWARGS):
        return None
    setup = build_tool_setup(
        tools=kwargs.get("tools"),
        tool_choice=kwargs.get("tool_choice"),
        parallel_tool_calls=kwargs.get("parallel_tool_calls"),
        response_format=kwargs.get("response_format"),
    )
    if setup is None:
        return None
    return _ToolPlan(setup, render_instructions(setup), tuple(messages), temperature)


def _tool_finish(metadata: dict[str, Any], answer: ToolAnswer) -> dict[str, Any]:
    """Report `finish_reason="tool_calls"` for an answer that ended with calls."""
    if answer.tool_calls and metadata["finish_reason"] == "stop":
        metadata["finish_reason"] = "tool_calls"
    return metadata


def _last_tool_chunk(
    answer: ToolAnswer,
    content: str,
    metadata: dict[str, Any],
    usage: UsageMetadata,
) -> ChatGenerationChunk:
    return ChatGenerationChunk(
        message=AIMessageChunk(
            content=content,
            tool_call_chunks=answer.tool_call_chunks(),
            chunk_position="last",
            response_metadata=metadata,
            usage_metadata=usage,
        ),
        generation_info={"finish_reason": metadata["finish_reason"]},
    )
