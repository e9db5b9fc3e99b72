"""The call plan: everything one call needs, checked and converted before any I/O.

`plan_call` reads the settings (a `ModelSettings`: a `ChatAIChatFree`, or the
command line's settings alone), the conversation as plain turns and one call's
arguments into a `CallPlan`: the prepared request, the transport's options,
the model name reported, and the call's emulated tools with what their one
re-ask needs. The
arguments are checked first: an unknown keyword is a `TypeError` naming the
closest real one, an overriding argument (`OVERRIDABLE`) obeys the rule of the
model's field of the same name (it is validated by a model built from those
fields), and a `connector` must be an aiohttp connector.

The model's router (its deployments and quota store) is built here too, with
the request headers every deployment is sent. No I/O: the router is made, not
contacted. The tool modules (and LangChain's message classes) are imported only
for a call that asks for tools.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import aiohttp
from pydantic import BaseModel, ConfigDict, create_model

from langchain_aichatfree._constants import (
    GENERATE_PATH,
    RPM_WINDOW_MARGIN,
    USER_AGENT,
)
from langchain_aichatfree._deployment import Deployment
from langchain_aichatfree._protocol import PreparedRequest, Turn, prepare_request
from langchain_aichatfree._quota import store_from_url
from langchain_aichatfree._router import Router, endpoints_for
from langchain_aichatfree._settings import did_you_mean
from langchain_aichatfree._transport import CallOptions

if TYPE_CHECKING:
    from langchain_core.rate_limiters import BaseRateLimiter

    from langchain_aichatfree._model_settings import ModelSettings
    from langchain_aichatfree._tool_calls import ToolAnswer
    from langchain_aichatfree._tool_setup import ToolSetup

OVERRIDABLE: Final = (
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

TOOL_KEYWORDS: Final = (
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
)
"""Call keyword arguments that ask for emulated tools or a JSON answer."""

CALL_KEYWORDS: Final = frozenset(
    {*OVERRIDABLE, "connector", "stream", *TOOL_KEYWORDS} - {"stop"}
)
"""Keyword arguments a single call accepts (besides `stop`, and ``ls_*``)."""

RouterCache = tuple[tuple[Any, ...], Router]
"""A model's router, with the settings it was built from."""


@dataclass(frozen=True, slots=True)
class CallPlan:
    """One call, checked and converted, ready to run.

    Attributes:
        request: The conversation in the first deployment's dialect, with the
            tool instructions folded in.
        options: Everything the transport needs besides the conversation.
        model: The model name reported in metadata.
        tools: The call's emulated tools and answer format (``None``: none).
        turns: The conversation as given (the re-ask repeats it).
        temperature: The call's temperature (the re-ask sends it again).
        instructions: The tool instructions sent (the re-ask sends them again).
    """

    request: PreparedRequest
    options: CallOptions
    model: str
    tools: ToolSetup | None = None
    turns: tuple[Turn, ...] = ()
    temperature: float | None = None
    instructions: str | None = None

    @property
    def reads_tool_calls(self) -> bool:
        """Whether the answer is read for tool calls."""
        return self.tools is not None and self.tools.parses_calls

    @property
    def requires_call(self) -> bool:
        """Whether the answer must make a tool call (else it is re-asked once)."""
        return self.tools is not None and self.tools.requires_call

    def reask(self, answer_text: str, answer: ToolAnswer) -> PreparedRequest:
        """The request of the one re-ask when a required call is missing.

        Args:
            answer_text: The non-compliant answer, exactly as received.
            answer: What was read out of it.

        Returns:
            The conversation, that answer and a short corrective user turn, with
            the same instructions, temperature and dialect as the first request.
        """
        from langchain_aichatfree._tool_prompt import reask_messages, reask_text
        from langchain_aichatfree._turns import message_turns

        assert self.tools is not None  # noqa: S101 - only a tool call is re-asked
        correction = reask_text(self.tools, answer)
        added = reask_messages([], answer_text, correction)
        return prepare_request(
            [*self.turns, *message_turns(added, first=len(self.turns))],
            dialect=self.request.dialect,
            temperature=self.temperature,
            instructions=self.instructions,
        )


def plan_call(
    model: ModelSettings,
    turns: Sequence[Turn],
    stop: list[str] | None,
    kwargs: Mapping[str, Any],
    router: Router,
    *,
    rate_limiter: BaseRateLimiter | None = None,
) -> CallPlan:
    """Check and convert everything a call needs, before any I/O.

    Args:
        model: The settings (a `ChatAIChatFree` is one): every setting the call
            does not give.
        turns: The conversation, one turn per message (`_turns.message_turns`).
        stop: The call's stop sequences (``None``: the model's; ``[]``: none).
        kwargs: The call's other keyword arguments.
        router: The model's router (`pool_router`).
        rate_limiter: The model's rate limiter, acquired again before a re-ask.

    Returns:
        The plan.

    Raises:
        TypeError: An unknown keyword argument, or a `connector` that is not an
            aiohttp connector.
        ValidationError: An argument that breaks its field's rule.
        ValueError: Tools, a tool choice or a response format that cannot be
            used, or a conversation the server cannot take.
    """
    check_call_keywords(kwargs)
    settings = call_settings(model, stop, kwargs)
    connector = kwargs.get("connector")
    if connector is not None and not isinstance(connector, aiohttp.BaseConnector):
        msg = f"connector must be an aiohttp connector, got {type(connector)}."
        raise TypeError(msg)
    tools = None
    instructions = None
    if any(key in kwargs for key in TOOL_KEYWORDS):
        from langchain_aichatfree._tool_prompt import render_instructions
        from langchain_aichatfree._tool_setup import build_tool_setup

        tools = build_tool_setup(**{key: kwargs.get(key) for key in TOOL_KEYWORDS})
        instructions = render_instructions(tools) if tools is not None else None
    temperature = settings["temperature"]
    request = prepare_request(
        turns,
        dialect=router.endpoints[0].deployment.dialect,
        temperature=temperature,
        instructions=instructions,
    )
    options = CallOptions(
        url=model.endpoint,
        headers=request_headers(model.base_url, model.default_headers),
        secret=model.secret,
        password=model.password,
        timeout=settings["timeout"],
        chunk_timeout=settings["chunk_timeout"],
        max_retries=settings["max_retries"],
        stop=tuple(settings["stop"] or ()),
        max_tokens=settings["max_tokens"],
        proxy=settings["proxy"],
        connector=connector,
        rate_limiter=rate_limiter,
        max_response_bytes=model.max_response_bytes,
        follow_redirects=model.follow_redirects,
        verify_ssl=model.verify_ssl,
        dialect=model.dialect,
        router=router,
        max_wait=float(settings["max_wait"]),
    )
    return CallPlan(
        request,
        options,
        settings["model"],
        tools,
        tuple(turns),
        temperature,
        instructions,
    )


def check_call_keywords(kwargs: Mapping[str, Any]) -> None:
    """Refuse a keyword argument no call takes, naming the closest real one.

    Args:
        kwargs: A call's keyword arguments (``ls_*`` tracing ones are allowed).

    Raises:
        TypeError: For an unknown one.
    """
    unknown = {k for k in kwargs if k not in CALL_KEYWORDS and not k.startswith("ls_")}
    if unknown:
        msg = (
            f"ChatAIChatFree got unexpected keyword arguments {sorted(unknown)}; "
            f"a call accepts stop and {sorted(CALL_KEYWORDS - {'stream'})}."
            f"{did_you_mean(unknown, CALL_KEYWORDS | {'stop'})}"
        )
        raise TypeError(msg)


def call_settings(
    model: ModelSettings, stop: list[str] | None, kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """A call's settings: its own arguments, checked by the fields' rules.

    The arguments are validated by a model built from the fields themselves
    (`call_arguments`), so a call obeys exactly the rules the constructor
    does; whatever the call does not give comes from the model.

    Args:
        model: The model.
        stop: The call's stop sequences, if it gives them.
        kwargs: The call's keyword arguments.

    Returns:
        Every name in `OVERRIDABLE`, with its value for this call.
    """
    settings = {name: getattr(model, name) for name in OVERRIDABLE}
    given = {name: kwargs[name] for name in OVERRIDABLE if name in kwargs}
    if stop is not None:
        given["stop"] = stop
    if given:  # the model's own values were checked when they were set
        checked = call_arguments(type(model)).model_validate(given)
        settings.update({name: getattr(checked, name) for name in given})
    return settings


@functools.cache
def call_arguments(model_class: type[BaseModel]) -> type[BaseModel]:
    """The model of a call's overriding arguments, from the fields' own rules.

    Args:
        model_class: The chat model class.

    Returns:
        A pydantic model with one optional field per name in `OVERRIDABLE`,
        annotated as the chat model's field is (extra arguments forbidden).
    """
    name = model_class.__name__
    fields: dict[str, Any] = {
        field: (model_class.model_fields[field].rebuild_annotation(), None)
        for field in OVERRIDABLE
    }
    return create_model(
        f"{name}Call",
        __config__=ConfigDict(
            extra="forbid", hide_input_in_errors=True, title=f"{name} call"
        ),
        **fields,
    )


def request_headers(
    base_url: str, default_headers: Mapping[str, str] | None
) -> dict[str, str]:
    """The headers a browser on the site sends, and the model's own over them.

    Args:
        base_url: The deployment's root URL.
        default_headers: The model's extra headers.

    Returns:
        ``Content-Type``, ``Accept``, ``Origin``, ``Referer`` and
        ``User-Agent``, then `default_headers`.
    """
    parts = urlsplit(base_url)
    headers = {
        "Content-Type": "text/plain;charset=UTF-8",
        "Accept": "*/*",
        "Origin": f"{parts.scheme}://{parts.netloc}",
        "Referer": base_url.rstrip("/") + "/",
        "User-Agent": USER_AGENT,
    }
    if default_headers:
        headers.update(default_headers)
    return headers


def pool_router(model: ModelSettings, cached: RouterCache | None) -> RouterCache:
    """The model's router: its deployments and quota store (no I/O).

    Built again if a setting it depends on changed since `cached` was (a
    `model_copy` with an update keeps the private attributes of the original).

    Args:
        model: The settings (a `ChatAIChatFree` is one).
        cached: The router built last, with the settings it was built from.

    Returns:
        `cached`, or a new router with the settings it was built from.
    """
    key = (
        model.deployments,
        model.base_url,
        model.password,
        model.secret,
        model.dialect,
        model.default_headers,
        model.quota_store,
        model.rpm_window,
    )
    if cached is not None and cached[0] == key:
        return cached
    deployments = model.deployments or [
        Deployment(
            base_url=model.base_url,
            password=model.password,
            secret=model.secret,
            dialect=model.dialect,
        )
    ]
    extra = model.default_headers
    router = Router(
        endpoints_for(
            deployments,
            lambda base_url: request_headers(base_url, extra),
            GENERATE_PATH,
        ),
        store_from_url(
            model.quota_store,
            rpm_window=model.rpm_window * (1 + RPM_WINDOW_MARGIN),
        ),
        implicit=model.deployments is None,
    )
    return key, router
