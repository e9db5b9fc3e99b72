"""`_answer_message`: the last chunk and the result, made from the one metadata.

No I/O: the states are fed bytes here, as the transport feeds them.
"""

from __future__ import annotations

from langchain_core.messages import AIMessage, AIMessageChunk

from langchain_aichatfree._answer import answer_metadata
from langchain_aichatfree._answer_message import last_chunk
from langchain_aichatfree._answer_message import result as make_result
from tests.unit_tests.test_answer import CALL, MADE, TOOLS, finished, make_plan


def test_the_last_chunk_and_the_result_carry_the_same_metadata() -> None:
    plan = make_plan()
    state = finished(b"hello")
    metadata = answer_metadata(plan, [(plan.request, state)])
    chunk = last_chunk(metadata)
    assert isinstance(chunk.message, AIMessageChunk)
    assert chunk.message.content == ""
    assert chunk.message.chunk_position == "last"
    assert chunk.message.response_metadata == metadata.response
    assert chunk.message.usage_metadata == metadata.usage
    assert chunk.generation_info == {"finish_reason": "stop"}
    result = make_result(metadata, state.text)
    [generation] = result.generations
    assert isinstance(generation.message, AIMessage)
    assert generation.message.content == "hello"
    assert generation.message.response_metadata == metadata.response
    assert generation.message.usage_metadata == metadata.usage
    assert generation.generation_info == {"finish_reason": "stop"}
    assert result.llm_output == {"model_name": "gemini-1.5-pro"}


def test_a_tool_answers_calls_are_on_the_last_chunk_and_the_message() -> None:
    plan = make_plan(**TOOLS)
    metadata = answer_metadata(plan, [(plan.request, finished(b"{}"))], MADE)
    chunk = last_chunk(metadata, MADE.content, MADE)
    assert isinstance(chunk.message, AIMessageChunk)
    assert [c["name"] for c in chunk.message.tool_call_chunks] == ["get_weather"]
    assert chunk.generation_info == {"finish_reason": "tool_calls"}
    [generation] = make_result(metadata, MADE.content, MADE).generations
    assert isinstance(generation.message, AIMessage)
    assert generation.message.tool_calls == [CALL]
    assert generation.message.invalid_tool_calls == []
