"""`ChatAIChatFree`: the AIChatFree web app as a LangChain chat model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils import from_env, secret_from_env
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, model_validator
from typing_extensions import Self

from langchain_aichatfree import _sync
from langchain_aichatfree._constants import (
    DEFAULT_BASE_URL,
    DEFAULT_CHUNK_TIMEOUT,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MODEL,
    ENV_BASE_URL,
    ENV_PASSWORD,
    ENV_SECRET,
    GENERATE_PATH,
    PROVIDER,
    USER_AGENT,
)
from langchain_aichatfree._protocol import (
    PreparedRequest,
    estimate_tokens,
    prepare_request,
)
from langchain_aichatfree._stream import AnswerState
from langchain_aichatfree._transport import AnswerCall, CallOptions, SessionPool

_CALL_KWARGS = frozenset(
    {
        "model",
        "temperature",
        "max_tokens",
        "timeout",
        "chunk_timeout",
        "max_retries",
        "proxy",
        "connector",
        "stream",
    }
)
"""Keyword arguments a single call accepts (besides `stop`)."""


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
            Seconds one attempt may take, first byte to last.
        chunk_timeout: float | None
            Longest silence before the first chunk and between chunks.
        max_retries: int
            Retries after the first attempt, only before any text was shown.

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

    Errors:
        Every failure is a subclass of `langchain_aichatfree.AIChatFreeError`
        and of the matching `langchain_core.exceptions.ModelError` class, with
        `is_retryable` set. A truncated answer raises `StreamInterruptedError`
        with the text received so far in `partial_text`.
    """

    model_config = ConfigDict(populate_by_name=True)

    model: str = Field(default=DEFAULT_MODEL, alias="model_name")
    """Model name reported in metadata and tracing; the deployment chooses the
    real model."""

    base_url: str = Field(
        default_factory=from_env(ENV_BASE_URL, default=DEFAULT_BASE_URL)
    )
    """Root URL of the deployment (env `AICHATFREE_BASE_URL`)."""

    secret: str = Field(default_factory=from_env(ENV_SECRET, default=""))
    """The deployment's `PUBLIC_SECRET_KEY`, used to sign requests (env
    `AICHATFREE_SECRET`). Public by design: it is in the site's browser code."""

    password: SecretStr | None = Field(
        default_factory=secret_from_env(ENV_PASSWORD, default=None), alias="api_key"
    )
    """The site password, sent as `pass` (env `AICHATFREE_PASSWORD`)."""

    timeout: float | None = Field(default=None, gt=0)
    """Seconds allowed for one attempt, first byte to last; `None` for no limit."""

    chunk_timeout: float | None = Field(default=DEFAULT_CHUNK_TIMEOUT, gt=0)
    """Longest silence, in seconds, before the first chunk and between chunks."""

    max_retries: int = Field(default=DEFAULT_MAX_RETRIES, ge=0)
    """Retries after the first attempt (so `max_retries + 1` attempts at most).

    Rate limits, 5xx failures, connection failures, timeouts and interrupted
    answers are retried, with exponential backoff and jitter, but only while no
    text has reached the caller."""

    stop: list[str] | None = None
    """Stop sequences, enforced on the stream (the server has none)."""

    max_tokens: int | None = Field(default=None, ge=1)
    """Approximate output limit, enforced on the stream: a token is counted as 4
    UTF-8 bytes. The deployment itself stops at 8,000 tokens."""

    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    """Sampling temperature. Reported in tracing; only the chatgpt-demo dialect
    forwards it, a Gemini deployment fixes its own settings."""

    streaming: bool = False
    """Whether `invoke` streams internally (firing token callbacks)."""

    proxy: str | None = None
    """HTTP proxy URL for every request."""

    default_headers: dict[str, str] | None = None
    """Extra headers, over the browser-like defaults (`Origin`, `Referer`)."""

    dialect: Literal["gemini", "chatgpt-demo"] = "gemini"
    """The deployment's web app family: GeminiProChat (`"gemini"`) or the older
    chatgpt-demo (`"chatgpt-demo"`, OpenAI-form messages)."""

    max_response_bytes: int = Field(default=DEFAULT_MAX_RESPONSE_BYTES, ge=1)
    """Largest answer accepted, in bytes; a larger one raises `APIError` and the
    connection is closed, so a runaway server cannot exhaust memory."""

    follow_redirects: bool = False
    """Whether a redirect to the same site (scheme, host and port) is followed.
    A redirect to another site is never followed: the body carries the password."""

    verify_ssl: bool = True
    """Whether TLS certificates are verified. Turn off only for a self-hosted
    deployment with a certificate you trust but cannot verify."""

    _pool: SessionPool = PrivateAttr(default_factory=SessionPool)

    @model_validator(mode="after")
    def _validate(self) -> Self:
        parts = urlsplit(self.base_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            msg = (
                f"base_url must be an http(s) URL such as {DEFAULT_BASE_URL!r}, "
                f"got {self.base_url!r}."
            )
            raise ValueError(msg)
        _check_stop(self.stop)
        return self

    # -- LangChain plumbing -------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return "aichatfree-chat"

    @property
    def lc_secrets(self) -> dict[str, str]:
        """Fields that are secrets, and the env vars they come from."""
        return {"password": ENV_PASSWORD}

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """The model can be serialised with `dumpd` (secrets left out)."""
        return True

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "base_url": self.base_url,
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
        stop = stop or self.stop
        if stop:
            params["ls_stop"] = stop
        return params

    def get_num_tokens(self, text: str) -> int:
        """Estimate the tokens in a text (1 per 4 UTF-8 bytes; no download).

        Args:
            text: Any text.

        Returns:
            The estimated token count.
        """
        return estimate_tokens(text)

    # -- the calls ------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The URL requests are posted to."""
        return self.base_url.rstrip("/") + GENERATE_PATH

    def _headers(self) -> dict[str, str]:
        parts = urlsplit(self.base_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        headers = {
            "Content-Type": "text/plain;charset=UTF-8",
            "Accept": "*/*",
            "Origin": origin,
            "Referer": self.base_url.rstrip("/") + "/",
            "User-Agent": USER_AGENT,
        }
        if self.default_headers:
            headers.update(self.default_headers)
        return headers

    def _prepare(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, kwargs: Any
    ) -> tuple[PreparedRequest, CallOptions, str]:
        """Check and convert everything a call needs, before any I/O."""
        unknown = {
            k for k in kwargs if k not in _CALL_KWARGS and not k.startswith("ls_")
        }
        if unknown:
            msg = (
                f"ChatAIChatFree got unexpected keyword arguments {sorted(unknown)}; "
                f"a call accepts stop and {sorted(_CALL_KWARGS - {'stream'})}."
            )
            raise TypeError(msg)
        stop = stop if stop is not None else self.stop
        _check_stop(stop)
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if max_tokens is not None and (
            not isinstance(max_tokens, int) or max_tokens < 1
        ):
            msg = f"max_tokens must be a positive integer, got {max_tokens!r}."
            raise ValueError(msg)
        connector = kwargs.get("connector")
        if connector is not None and not isinstance(connector, aiohttp.BaseConnector):
            msg = f"connector must be an aiohttp connector, got {type(connector)}."
            raise TypeError(msg)
        request = prepare_request(
            messages,
            dialect=self.dialect,
            temperature=kwargs.get("temperature", self.temperature),
        )
        options = CallOptions(
            url=self.endpoint,
            headers=self._headers(),
            secret=self.secret,
            password=(
                self.password.get_secret_value() if self.password is not None else None
            ),
            timeout=kwargs.get("timeout", self.timeout),
            chunk_timeout=kwargs.get("chunk_timeout", self.chunk_timeout),
            max_retries=kwargs.get("max_retries", self.max_retries),
            stop=tuple(stop or ()),
            max_tokens=max_tokens,
            proxy=kwargs.get("proxy", self.proxy),
            connector=connector,
            rate_limiter=self.rate_limiter,
            max_response_bytes=self.max_response_bytes,
            follow_redirects=self.follow_redirects,
            verify_ssl=self.verify_ssl,
        )
        return request, options, kwargs.get("model") or self.model

    def _metadata(
        self, state: AnswerState, request: PreparedRequest, model: str
    ) -> tuple[dict[str, Any], UsageMetadata]:
        response_metadata = {
            "model_name": model,
            "finish_reason": state.finish_reason or "stop",
            "model_provider": PROVIDER,
        }
        input_tokens = -(-request.input_text_bytes // 4)
        output_tokens = estimate_tokens(state.text)
        usage = UsageMetadata(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=input_tokens + output_tokens,
        )
        return response_metadata, usage

    async def _aiter_chunks(
        self, request: PreparedRequest, options: CallOptions, model: str
    ) -> AsyncIterator[ChatGenerationChunk]:
        call = AnswerCall(self._pool, request, options)
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
        request, options, model = self._prepare(messages, stop, kwargs)
        async for chunk in self._aiter_chunks(request, options, model):
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
        request, options, model = self._prepare(messages, stop, kwargs)
        for chunk in _sync.iterate(lambda: self._aiter_chunks(request, options, model)):
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
        request, options, model = self._prepare(messages, stop, kwargs)
        return await self._acollect(request, options, model)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request, options, model = self._prepare(messages, stop, kwargs)
        return _sync.run(self._acollect(request, options, model))

    async def _acollect(
        self, request: PreparedRequest, options: CallOptions, model: str
    ) -> ChatResult:
        state = await AnswerCall(self._pool, request, options).collect()
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

    # -- lifecycle ------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the model's HTTP sessions (it stays usable: new calls reopen)."""
        await self._pool.aclose()

    def close(self) -> None:
        """Close the model's HTTP sessions from synchronous code."""
        self._pool.close()

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


def _check_stop(stop: Sequence[str] | None) -> None:
    if stop is None:
        return
    if isinstance(stop, str) or not all(isinstance(s, str) and s for s in stop):
        msg = f"stop must be a list of non-empty strings, got {stop!r}."
        raise ValueError(msg)
