"""Issue 10's dishonest output, against the local server: every answer tells the truth.

A stop sequence never turns a failed answer into a complete one; the sentinel
after an answer near `max_response_bytes` is an interruption, retried; an empty
body is marked `finish_reason="empty"`; a U+FFFD the server sent is no warning;
a structured-output stream ends as `invoke` does; prose keeps its text when
tools are bound; the tool list the model is shown is not a call.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.tools import tool
from pydantic import BaseModel, ValidationError, field_validator

from langchain_aichatfree import APIError, ChatAIChatFree, StreamInterruptedError
from langchain_aichatfree._constants import SERVER_SENTINEL
from langchain_aichatfree.testing import LocalServer, Reply


@pytest.fixture
def server() -> Any:
    with LocalServer() as s:
        yield s


def make(server: LocalServer, **kwargs: Any) -> ChatAIChatFree:
    kwargs.setdefault("max_retries", 0)
    return ChatAIChatFree(base_url=server.url, chunk_timeout=5.0, **kwargs)


def streamed(model: Any, *args: Any, **kwargs: Any) -> AIMessageChunk:
    chunks = list(model.stream(*args, **kwargs))
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert isinstance(merged, AIMessageChunk)
    return merged


async def astreamed(model: Any, *args: Any, **kwargs: Any) -> AIMessageChunk:
    chunks = [chunk async for chunk in model.astream(*args, **kwargs)]
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert isinstance(merged, AIMessageChunk)
    return merged


# -- item 1: a stop sequence never hides the server's failure -----------------


@pytest.mark.parametrize("stop", [" ", "I", "nal", "o I", "error"])
async def test_a_stop_sequence_never_hides_a_failed_answer(
    server: LocalServer, stop: str
) -> None:
    model = make(server)
    seen: list[str] = []
    for call in ("invoke", "stream", "ainvoke", "astream"):
        server.script(Reply("Hello", fail_after=1))
        with pytest.raises(StreamInterruptedError) as info:
            if call == "invoke":
                model.invoke("hi", stop=[stop])
            elif call == "ainvoke":
                await model.ainvoke("hi", stop=[stop])
            elif call == "stream":
                seen += [c.text for c in model.stream("hi", stop=[stop])]
            else:
                seen += [c.text async for c in model.astream("hi", stop=[stop])]
        assert info.value.partial_text == "Hello"
        assert info.value.is_retryable
    assert "".join(seen) in {"", "Hello", "HelloHello"}


def test_a_failed_answer_with_a_stop_sequence_is_retried(server: LocalServer) -> None:
    server.script(Reply("Hello", fail_after=1), "Hello again")
    message = make(server, max_retries=1).invoke("hi", stop=["I"])
    assert message.content == "Hello again"
    assert len(server.requests) == 2


def test_a_stop_sequence_inside_the_answer_still_ends_it(server: LocalServer) -> None:
    server.script(Reply("Hello world", fail_after=1))
    message = make(server).invoke("hi", stop=[" "])
    assert message.content == "Hello"
    assert message.response_metadata["finish_reason"] == "stop"


def test_a_body_cut_after_the_sentinel_keeps_it_out_of_partial_text(
    server: LocalServer,
) -> None:
    server.script(Reply(chunks=["Hello", SERVER_SENTINEL], cut_after=2))
    with pytest.raises(StreamInterruptedError) as info:
        make(server).invoke("hi")
    assert info.value.partial_text == "Hello"


# -- item 4: the sentinel near max_response_bytes ------------------------------


def test_the_sentinel_after_an_answer_near_the_limit_is_retried(
    server: LocalServer,
) -> None:
    server.script(Reply("a" * 90, fail_after=1), "ok")
    model = make(server, max_retries=1, max_response_bytes=100)
    assert model.invoke("hi").content == "ok"
    assert len(server.requests) == 2

    server.script(Reply("a" * 90, fail_after=1))
    with pytest.raises(StreamInterruptedError) as info:
        make(server, max_response_bytes=100).invoke("hi")
    assert info.value.partial_text == "a" * 90
    assert SERVER_SENTINEL not in str(info.value.partial_text)


@pytest.mark.parametrize("text", ["a" * 101, "a" * 101 + SERVER_SENTINEL])
def test_an_answer_over_the_limit_is_still_too_large(
    server: LocalServer, text: str
) -> None:
    server.script(Reply(text, chunk_size=7))
    with pytest.raises(APIError, match="max_response_bytes=100") as info:
        make(server, max_retries=2, max_response_bytes=100).invoke("hi")
    assert not isinstance(info.value, StreamInterruptedError)
    assert not info.value.is_retryable
    assert len(server.requests) == 1


# -- item 5: an empty body is not a complete answer -----------------------------


async def test_an_empty_body_is_marked_empty(server: LocalServer) -> None:
    model = make(server)
    server.script("", "", "")  # invoke, agenerate, stream
    message = model.invoke("hi")
    assert message.content == ""
    assert message.response_metadata["finish_reason"] == "empty"
    result = await model.agenerate([[HumanMessage("hi")]])
    assert result.generations[0][0].generation_info == {"finish_reason": "empty"}
    merged = streamed(model, "hi")
    assert merged.content == ""
    assert merged.response_metadata["finish_reason"] == "empty"
    server.script("")
    message = make(server, streaming=True).invoke("hi")
    assert message.response_metadata["finish_reason"] == "empty"


def test_an_empty_body_with_tools_bound_is_marked_empty(server: LocalServer) -> None:
    server.script("")
    message = make(server).bind_tools([get_weather]).invoke("hi")
    assert message.response_metadata["finish_reason"] == "empty"


# -- item 20: U+FFFD sent by the server is not invalid UTF-8 --------------------


def test_a_replacement_character_from_the_server_raises_no_warning(
    server: LocalServer,
) -> None:
    text = "a \ufffd b \ufffd"
    server.script(Reply(text, chunk_size=1), Reply(text))
    model = make(server)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "".join(c.text for c in model.stream("hi")) == text
        assert model.invoke("hi").content == text


def test_invalid_utf8_still_warns(server: LocalServer) -> None:
    server.script(Reply(chunks=[b"ok \xff ", "\ufffd".encode()]))
    with pytest.warns(UnicodeWarning, match="invalid UTF-8"):
        assert make(server).invoke("hi").content == "ok \ufffd \ufffd"


# -- item 2: a structured-output stream ends as invoke does ---------------------


class Person(BaseModel):
    name: str
    age: int

    @field_validator("age")
    @classmethod
    def adult(cls, value: int) -> int:
        if value < 18:
            msg = "must be an adult"
            raise ValueError(msg)
        return value


def failure(call: Callable[[], Any]) -> type[BaseException] | None:
    try:
        call()
    except Exception as e:  # the type is what is compared
        return type(e)
    return None


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "Al", "age": 5}',  # never validates
        "Sorry, I cannot.",  # no JSON
        '{"name": "Al", "age": 30',  # cut off after a valid partial object
    ],
)
async def test_a_structured_stream_fails_as_invoke_does(
    server: LocalServer, text: str
) -> None:
    chain = make(server).with_structured_output(Person)
    server.script(Reply(text, chunk_size=4))
    raised = failure(lambda: chain.invoke("hi"))
    assert raised is OutputParserException
    server.script(Reply(text, chunk_size=4))
    assert failure(lambda: list(chain.stream("hi"))) is raised
    server.script(Reply(text, chunk_size=4))
    with pytest.raises(OutputParserException):
        _ = [x async for x in chain.astream("hi")]


def test_a_structured_stream_ends_with_the_invoke_result(server: LocalServer) -> None:
    chain = make(server).with_structured_output(Person)
    server.script(Reply('{"name": "Al", "age": 30}', chunk_size=3))
    parts = list(chain.stream("hi"))
    assert parts[-1] == Person(name="Al", age=30)


def test_a_function_calling_stream_fails_as_invoke_does(server: LocalServer) -> None:
    chain = make(server).with_structured_output(Person, method="function_calling")
    call = '{"tool_calls": [{"name": "Person", "arguments": {"name": "Al", "age": 5}}]}'
    server.script(call, call)
    assert failure(lambda: chain.invoke("hi")) is ValidationError
    assert failure(lambda: list(chain.stream("hi"))) is ValidationError


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ('{"name": "Al", "age": 5}', None),
        ('{"name": "Al", "age": 30', None),
        ('{"name": "Al", "age": 30}', Person(name="Al", age=30)),
    ],
)
def test_include_raw_streams_end_as_invoke_does(
    server: LocalServer, text: str, parsed: Person | None
) -> None:
    chain = make(server).with_structured_output(Person, include_raw=True)
    server.script(Reply(text, chunk_size=4), Reply(text, chunk_size=4))
    whole = chain.invoke("hi")
    merged: dict[str, Any] = {}
    for part in chain.stream("hi"):
        assert isinstance(part, dict)
        for key, value in part.items():
            merged[key] = value if key not in merged else merged[key] + value
    assert isinstance(whole, dict)
    assert whole["parsed"] == merged["parsed"] == parsed
    assert type(whole["parsing_error"]) is type(merged["parsing_error"])
    assert whole["raw"].content == merged["raw"].content == text


# -- item 3: prose keeps its text when tools are bound --------------------------


@tool
def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"sunny in {city}"


PROSE = [
    "To call a tool, the model writes <tool_call> followed by JSON. That is all; "
    "no call is needed.",
    'The API returns {"name": "Alice", "input": "raw"} for each user',
    'Write `{"tool_calls": [{"name": "get_weather", "arguments": {"city": "X"}}]}` '
    "to call it.",
]


@pytest.mark.parametrize("text", PROSE)
async def test_prose_keeps_every_character_with_tools_bound(
    server: LocalServer, text: str
) -> None:
    model = make(server).bind_tools([get_weather])
    server.script(Reply(text, chunk_size=3), Reply(text, chunk_size=3), text)
    for message in (
        model.invoke("hi"),
        streamed(model, "hi"),
        await model.ainvoke("hi"),
    ):
        assert isinstance(message, AIMessage)
        assert message.content == text
        assert message.tool_calls == []
        assert message.invalid_tool_calls == []
        assert message.response_metadata["finish_reason"] == "stop"


def test_the_call_shapes_of_today_are_still_calls(server: LocalServer) -> None:
    call = '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]}'
    model = make(server).bind_tools([get_weather])
    server.script(
        f"I'll check.\n```json\n{call}\n```",
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>',
    )
    for _ in range(2):
        message = model.invoke("hi")
        assert [c["args"] for c in message.tool_calls] == [{"city": "Oslo"}]


# -- item 17: the model repeating its instructions makes no call ----------------


def test_the_echoed_instructions_make_no_call(server: LocalServer) -> None:
    model = make(server)
    message = model.bind_tools([get_weather]).invoke("hi")
    assert "get_weather" in message.content  # the echo repeats the tool list
    assert message.tool_calls == []
    assert message.invalid_tool_calls == []
    message = streamed(model.bind_tools([get_weather]), "hi")
    assert message.tool_calls == []
    assert message.invalid_tool_calls == []


def test_function_calling_with_echoed_instructions_is_no_validation_error(
    server: LocalServer,
) -> None:
    chain = make(server).with_structured_output(
        Person, method="function_calling", include_raw=True
    )
    result = chain.invoke("hi")
    assert isinstance(result, dict)
    assert result["parsed"] is None
    assert result["parsing_error"] is None
    assert result["raw"].response_metadata["tool_call_missing"] is True
