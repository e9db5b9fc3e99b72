"""What the model offers LangChain for tools and structured output.

The bodies of `ChatAIChatFree.bind_tools` and `with_structured_output` (their
docstrings stay on the methods, where users read them), and the model profile
that `create_agent` reads. Tools are emulated in text: binding only records the
call's keyword arguments (`_call_plan` reads them), checked here so that a bad
binding fails when it is made, not at the first call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from langchain_core.language_models import (
    BaseChatModel,
    LanguageModelInput,
    ModelProfile,
)
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable, RunnableMap
from langchain_core.tools import BaseTool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import BaseModel

from langchain_aichatfree._constants import MAX_OUTPUT_TOKENS
from langchain_aichatfree._tool_setup import (
    build_tool_setup,
    format_tool,
    normalize_tool_choice,
    response_format_from_schema,
    tool_name,
)

StructuredOutputMethod = Literal["json_schema", "function_calling", "json_mode"]


def tool_binding(
    tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
    *,
    tool_choice: dict[str, Any] | str | bool | None,
    parallel_tool_calls: bool | None,
    strict: bool | None,
    kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    """The keyword arguments `bind_tools` binds, checked now.

    Args:
        tools: Anything LangChain accepts as a tool.
        tool_choice: Any form `normalize_tool_choice` takes (a named choice is
            bound in OpenAI's form).
        parallel_tool_calls: ``False`` for one call at most.
        strict: Passed to `convert_to_openai_tool`.
        kwargs: Further arguments to bind (e.g. ``response_format``).

    Returns:
        ``tools`` (in OpenAI's form), the choice and the other arguments.

    Raises:
        ValueError: A tool, choice or response format that cannot be used.
    """
    bound = dict(kwargs)
    formatted = [format_tool(tool, strict=strict) for tool in tools]
    if tool_choice is not None:
        mode, forced = normalize_tool_choice(
            tool_choice, [tool_name(t) for t in formatted]
        )
        bound["tool_choice"] = (
            {"type": "function", "function": {"name": forced}}
            if forced is not None
            else mode
        )
    if parallel_tool_calls is not None:
        bound["parallel_tool_calls"] = parallel_tool_calls
    build_tool_setup(  # fail here, not at the first call
        tools=formatted,
        tool_choice=bound.get("tool_choice"),
        parallel_tool_calls=parallel_tool_calls,
        response_format=bound.get("response_format"),
    )
    return {"tools": formatted, **bound}


def structured_output(
    model: BaseChatModel,
    schema: dict[str, Any] | type | None,
    *,
    method: StructuredOutputMethod,
    include_raw: bool,
    strict: bool | None,
    kwargs: Mapping[str, Any],
) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
    """The runnable `with_structured_output` returns.

    Args:
        model: The chat model.
        schema: A pydantic model, TypedDict, JSON schema or OpenAI function, or
            ``None`` for ``method="json_mode"``.
        method: How the object is asked for (see `with_structured_output`).
        include_raw: Return the raw message and the parsing error too.
        strict: Recorded, and passed to the schema conversion.
        kwargs: Further arguments to bind.

    Returns:
        The model bound to ask for the object, piped into its parser.

    Raises:
        ValueError: An unknown method, a missing schema, or `strict` with
            ``json_mode``.
    """
    # The parsers are imported when asked for: building a model reads the
    # profile from this module, and most models never parse structured output.
    from langchain_aichatfree._json_answer import (
        JsonAnswerParser,
        ToolDictParser,
        ToolObjectParser,
        parse_with_raw,
    )

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
    bound = dict(kwargs)
    is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
    if schema is not None:
        ls_kwargs: dict[str, Any] = {"method": method}
        if method != "json_mode":
            ls_kwargs["strict"] = strict
        bound["ls_structured_output_format"] = {"kwargs": ls_kwargs, "schema": schema}
    llm: Runnable[LanguageModelInput, AIMessage]
    parser: Runnable[Any, Any]
    if method == "function_calling":
        assert schema is not None  # noqa: S101 - checked above
        name = tool_name(format_tool(schema))
        llm = model.bind_tools(
            [schema],
            tool_choice=name,
            parallel_tool_calls=False,
            strict=strict,
            **bound,
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
        llm = model.bind(response_format=response_format, **bound)
        parser = JsonAnswerParser(pydantic_object=schema if is_pydantic else None)
    if not include_raw:
        return llm | parser
    return RunnableMap(raw=llm) | parse_with_raw(parser)


def model_profile(dialect: str) -> ModelProfile:
    """What a deployment can do, as `create_agent` reads it.

    Args:
        dialect: The deployment's web app family.

    Returns:
        Emulated tool calling (so agents use it, and their tool strategy for
        structured output), no native structured output, text input only, at
        most `MAX_OUTPUT_TOKENS` out; temperature with chatgpt-demo only.
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
        temperature=dialect == "chatgpt-demo",
    )
