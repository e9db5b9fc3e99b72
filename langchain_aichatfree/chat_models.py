"""`ChatAIChatFree`: the AIChatFree web app as a LangChain chat model.

The class joins its settings and connections (`ModelConnections`, on
`ModelSettings`: the fields, their rules and env defaults, the HTTP sessions
and router, `from_site`, the quota status, closing) to LangChain's
`BaseChatModel`, and holds LangChain's entry points. Messages become turns
(`_turns`); a call is planned by `_call_plan` (arguments checked, request and
options built, before any I/O), run by `_answer` and made LangChain's chunks
or result by `_answer_message`; `bind_tools` and `with_structured_output` are
built by `_structured_output`.
The structured-output parsers and the site probe are imported on first use: a
plain call needs neither.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Literal

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
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict

from langchain_aichatfree import _sync
from langchain_aichatfree._answer_message import collect_result, stream_chunks
from langchain_aichatfree._call_plan import CallPlan
from langchain_aichatfree._constants import PROVIDER
from langchain_aichatfree._model_connections import ModelConnections
from langchain_aichatfree._model_settings import SECRET_ENV_VARS
from langchain_aichatfree._protocol import estimate_token_ids, estimate_tokens
from langchain_aichatfree._settings import redact_url
from langchain_aichatfree._turns import message_turns


class ChatAIChatFree(ModelConnections, BaseChatModel):
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

    # -- LangChain plumbing -------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return "aichatfree-chat"

    @property
    def lc_secrets(self) -> dict[str, str]:
        """Fields that are secrets, and the env vars they come from."""
        return dict(SECRET_ENV_VARS)

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
        # call's `proxy` with credentials (refused by `plan_call`) is redacted.
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

    def _plan(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, kwargs: Any
    ) -> CallPlan:
        """Check and convert everything a call needs, before any I/O."""
        turns = message_turns(messages)
        return self._plan_call(turns, stop, kwargs, rate_limiter=self.rate_limiter)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        call = self._run(self._plan(messages, stop, kwargs))
        async for chunk in stream_chunks(call):
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
        call = self._run(self._plan(messages, stop, kwargs))
        for chunk in _sync.iterate(lambda: stream_chunks(call)):
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
        call = self._run(self._plan(messages, stop, kwargs))
        return await collect_result(call)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = self._run(self._plan(messages, stop, kwargs))
        return _sync.run(collect_result(call))

    # -- emulated tools and structured output ---------------------------------

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
        from langchain_aichatfree._structured_output import tool_binding

        return self.bind(
            **tool_binding(
                tools,
                tool_choice=tool_choice,
                parallel_tool_calls=parallel_tool_calls,
                strict=strict,
                kwargs=kwargs,
            )
        )

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
        from langchain_aichatfree._structured_output import structured_output

        return structured_output(
            self,
            schema,
            method=method,
            include_raw=include_raw,
            strict=strict,
            kwargs=kwargs,
        )

    def _resolve_model_profile(self) -> ModelProfile | None:
        """What the deployment can do, as `create_agent` reads it.

        Tool calling is emulated (so agents use it, and their tool strategy for
        structured output); there is no native structured output; input is
        text only; the deployment stops at 8,000 output tokens.
        """
        from langchain_aichatfree._structured_output import model_profile

        return model_profile(self.dialect)
