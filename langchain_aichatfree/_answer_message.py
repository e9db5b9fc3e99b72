"""An answer as LangChain sees it: chunks, the last chunk, the result.

`PlannedCall` (in `_answer`) yields plain text and an `AnswerEnd`; this module
makes LangChain's `ChatGenerationChunk`s and `ChatResult` of them, the calls
on the last chunk or the message, the metadata from the one builder.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from langchain_aichatfree._answer import AnswerEnd, AnswerMetadata, PlannedCall

if TYPE_CHECKING:
    from langchain_aichatfree._tool_calls import ToolAnswer


def _usage(metadata: AnswerMetadata) -> UsageMetadata:
    usage = metadata.usage
    return UsageMetadata(
        input_tokens=usage["input_tokens"],
        output_tokens=usage["output_tokens"],
        total_tokens=usage["total_tokens"],
    )


def last_chunk(
    metadata: AnswerMetadata, content: str = "", tool_answer: ToolAnswer | None = None
) -> ChatGenerationChunk:
    """The stream's last chunk: the metadata, and the calls if any.

    Args:
        metadata: The answer's metadata.
        content: Text not shown yet (a tool answer's, held back).
        tool_answer: The calls read out of the answer.

    Returns:
        The chunk.
    """
    calls: dict[str, Any] = {}
    if tool_answer is not None:
        calls["tool_call_chunks"] = tool_answer.tool_call_chunks()
    return ChatGenerationChunk(
        message=AIMessageChunk(
            content=content,
            **calls,
            chunk_position="last",
            response_metadata=metadata.response,
            usage_metadata=_usage(metadata),
        ),
        generation_info={"finish_reason": metadata.finish_reason},
    )


def result(
    metadata: AnswerMetadata, content: str, tool_answer: ToolAnswer | None = None
) -> ChatResult:
    """The whole answer as a result of one generation.

    Args:
        metadata: The answer's metadata.
        content: The answer's text (a tool answer's, without its calls).
        tool_answer: The calls read out of the answer.

    Returns:
        The result, its message carrying the metadata.
    """
    calls: dict[str, Any] = {}
    if tool_answer is not None:
        calls["tool_calls"] = tool_answer.tool_calls
        calls["invalid_tool_calls"] = tool_answer.invalid_tool_calls
    message = AIMessage(
        content=content,
        **calls,
        response_metadata=metadata.response,
        usage_metadata=_usage(metadata),
    )
    return ChatResult(
        generations=[
            ChatGeneration(
                message=message,
                generation_info={"finish_reason": metadata.finish_reason},
            )
        ],
        llm_output={"model_name": metadata.response["model_name"]},
    )


async def stream_chunks(call: PlannedCall) -> AsyncIterator[ChatGenerationChunk]:
    """Run a planned call, its answer as LangChain chunks.

    Args:
        call: The planned call.

    Yields:
        A chunk per piece of text, then the last chunk (`last_chunk`).
    """
    async for item in call.stream():
        if isinstance(item, AnswerEnd):
            yield last_chunk(item.metadata, item.text, item.tool_answer)
        else:
            yield ChatGenerationChunk(message=AIMessageChunk(content=item))


async def collect_result(call: PlannedCall) -> ChatResult:
    """Run a planned call, its whole answer as a LangChain result.

    Args:
        call: The planned call.

    Returns:
        The result (`result`).
    """
    end = await call.collect()
    return result(end.metadata, end.text, end.tool_answer)
