"""Structured output read from a JSON answer, and the parsers LangChain runs.

Pure, no I/O. With ``method="json_schema"`` or ``"json_mode"`` the model is
asked to answer with one JSON object; `parse_json_answer` finds the first JSON
value in the answer (tolerating a code fence or prose around it) and
`JsonAnswerParser` validates it. This is a second, simpler finder than
`_tool_reader`'s: it looks for one JSON value, not for tool calls.

LangChain's cumulative parsers stop without an error when a stream ends on an
answer `invoke` would refuse; every parser here (`JsonAnswerParser`, and
`ToolObjectParser` / `ToolDictParser` for ``method="function_calling"``) ends
a stream as `invoke` does. `parse_with_raw` serves ``include_raw=True``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.exceptions import OutputParserException
from langchain_core.messages import BaseMessage, BaseMessageChunk
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.output_parsers.transform import BaseCumulativeTransformOutputParser
from langchain_core.outputs import ChatGenerationChunk, Generation, GenerationChunk
from langchain_core.runnables import Runnable, RunnableGenerator
from langchain_core.runnables.utils import AddableDict
from langchain_core.utils.json import parse_partial_json
from pydantic import BaseModel, ValidationError
from pydantic.v1 import ValidationError as ValidationErrorV1

from langchain_aichatfree._tool_calls import FENCE


def _json_start(text: str) -> int:
    """Where the answer's JSON value starts (inside a fence if there is one)."""
    fence = text.find(FENCE)
    brace = min((i for i in (text.find("{"), text.find("[")) if i != -1), default=-1)
    if fence != -1 and (brace == -1 or fence < brace):
        inner = text.find("\n", fence)
        if inner != -1:
            nested = _json_start(text[inner:])
            return -1 if nested == -1 else inner + nested
    return brace


def parse_json_answer(text: str, *, partial: bool = False) -> Any:
    """Read the JSON value of an answer, tolerating a fence or prose around it.

    Args:
        text: The answer.
        partial: Whether the answer may be incomplete (streaming): an incomplete
            value is completed as far as it goes, and ``None`` means nothing
            usable yet.

    Returns:
        The first JSON value in the answer.

    Raises:
        OutputParserException: No JSON value (not raised when `partial`).
    """
    start = _json_start(text)
    if start == -1:
        if partial:
            return None
        msg = f"The answer holds no JSON object: {text!r}"
        raise OutputParserException(msg, llm_output=text)
    try:
        value, _ = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError as e:
        if partial:
            end = text.find(FENCE, start)
            return parse_partial_json(text[start:] if end == -1 else text[start:end])
        msg = f"The answer's JSON is invalid: {e}"
        raise OutputParserException(msg, llm_output=text) from e
    return value


def _validate_into(model: type, value: Any) -> Any:
    """Validate `value` into a pydantic model, v2 or v1."""
    if issubclass(model, BaseModel):
        return model.model_validate(value)
    return model.parse_obj(value)  # type: ignore[attr-defined]


_Accumulated = GenerationChunk | ChatGenerationChunk


def _as_generation_chunk(chunk: str | BaseMessage) -> _Accumulated:
    """One streamed input as a generation chunk (as LangChain's parsers do)."""
    if isinstance(chunk, BaseMessageChunk):
        return ChatGenerationChunk(message=chunk)
    if isinstance(chunk, BaseMessage):
        return ChatGenerationChunk(message=BaseMessageChunk(**chunk.model_dump()))
    return GenerationChunk(text=chunk)


@dataclass(slots=True)
class _StreamedAnswer:
    """The answer so far and the last result yielded, for `_EndsLikeInvoke`."""

    whole: _Accumulated | None = None
    last: Any = None

    def add(self, chunk: str | BaseMessage) -> list[Generation]:
        """Add one streamed input; returns the answer so far, to parse."""
        added = _as_generation_chunk(chunk)
        if self.whole is None:
            self.whole = added
        else:
            self.whole = self.whole + added  # type: ignore[operator]
        return [self.whole]

    def is_new_partial(self, parsed: Any) -> bool:
        """Whether a partial result is worth yielding (remembered if it is)."""
        if parsed is None or parsed == self.last:
            return False
        self.last = parsed
        return True


class _EndsLikeInvoke(BaseCumulativeTransformOutputParser[Any]):
    """A streaming parser whose stream ends as `invoke` does on the same answer.

    LangChain's cumulative parsers yield each new partial result and then just
    stop: an answer that never parses, or fails validation, or is cut off
    after a partial result that happened to be valid, ends the stream without
    an error, where `invoke` raises. Here, once the input ends, the whole
    answer is parsed as `invoke` parses it: its error is raised, and its
    result is yielded if it differs from the last partial one.
    """

    def _transform(self, input: Iterator[str | BaseMessage]) -> Iterator[Any]:
        answer = _StreamedAnswer()
        for chunk in input:
            parsed = self.parse_result(answer.add(chunk), partial=True)
            if answer.is_new_partial(parsed):
                yield parsed
        if answer.whole is not None:
            final = self.parse_result([answer.whole])
            if final != answer.last:
                yield final

    async def _atransform(
        self,
        input: AsyncIterator[str | BaseMessage],
    ) -> AsyncIterator[Any]:
        answer = _StreamedAnswer()
        async for chunk in input:
            parsed = await self.aparse_result(answer.add(chunk), partial=True)
            if answer.is_new_partial(parsed):
                yield parsed
        if answer.whole is not None:
            final = await self.aparse_result([answer.whole])
            if final != answer.last:
                yield final


class ToolObjectParser(_EndsLikeInvoke, PydanticToolsParser):
    """`PydanticToolsParser` whose stream ends as `invoke` does (an error raised)."""


class ToolDictParser(_EndsLikeInvoke, JsonOutputKeyToolsParser):
    """`JsonOutputKeyToolsParser` whose stream ends as `invoke` does."""


class JsonAnswerParser(_EndsLikeInvoke):
    """Parse an answer that is a JSON object, validating it with a pydantic model.

    Streaming yields each new valid partial object as the text arrives (a
    pydantic object only once it validates). A final answer that is not JSON,
    or does not validate, raises `OutputParserException`, from `invoke` and at
    the end of a stream alike; a stream whose last partial object was cut off
    raises rather than leave that object as the result.
    """

    pydantic_object: type | None = None
    """Validate into this pydantic model (v2 or v1); ``None`` returns the dict."""

    def parse_result(self, result: list[Generation], *, partial: bool = False) -> Any:
        """Parse the answer's text.

        Args:
            result: One generation holding the answer.
            partial: Whether the answer is still streaming.

        Returns:
            The dict or pydantic object (``None`` while nothing is valid yet).

        Raises:
            OutputParserException: The final answer is not valid.
        """
        text = result[0].text
        value = parse_json_answer(text, partial=partial)
        if self.pydantic_object is None or value is None:
            return value
        try:
            return _validate_into(self.pydantic_object, value)
        except (ValidationError, ValidationErrorV1) as e:
            if partial:
                return None
            name = self.pydantic_object.__name__
            msg = f"Failed to parse {name} from the answer {text!r}. Got: {e}"
            raise OutputParserException(msg, llm_output=text) from e

    def parse(self, text: str) -> Any:
        """Parse a complete answer.

        Args:
            text: The answer.

        Returns:
            The dict or pydantic object.
        """
        return self.parse_result([Generation(text=text)])

    @property
    def _type(self) -> str:
        return "aichatfree_json_answer"


@dataclass(slots=True)
class _RawMessage:
    """The raw message of ``include_raw=True`` as it streams, for `parse_with_raw`."""

    whole: Any = None

    def add(self, item: Mapping[str, Any]) -> AddableDict | None:
        """Add one streamed ``{"raw": chunk}``; returns what to pass on, if any."""
        chunk = item.get("raw")
        if chunk is None:
            return None
        self.whole = chunk if self.whole is None else self.whole + chunk
        return AddableDict(raw=chunk)


def _parsed(parsed: Any) -> AddableDict:
    return AddableDict(parsed=parsed, parsing_error=None)


def _parsing_error(error: Exception) -> AddableDict:
    return AddableDict(parsed=None, parsing_error=error)


def parse_with_raw(parser: Runnable[Any, Any]) -> Runnable[Any, Any]:
    """``{"raw": message}`` to ``{"raw", "parsed", "parsing_error"}``, streamed too.

    The raw message streams as it arrives; once it is whole, it is parsed as
    `invoke` parses it, and the object (or the error, which is not raised)
    comes last. So a stream ends with the same ``parsed`` and
    ``parsing_error`` as `invoke`, never with a partial object an error
    would have replaced.

    Args:
        parser: The parser of the answer (any error it raises is caught).

    Returns:
        The runnable to put after ``RunnableMap(raw=model)``.
    """

    def transform(inputs: Iterator[Mapping[str, Any]]) -> Iterator[AddableDict]:
        raw = _RawMessage()
        for item in inputs:
            passed = raw.add(item)
            if passed is not None:
                yield passed
        try:
            parsed = parser.invoke(raw.whole)
        except Exception as e:
            yield _parsing_error(e)
            return
        yield _parsed(parsed)

    async def atransform(
        inputs: AsyncIterator[Mapping[str, Any]],
    ) -> AsyncIterator[AddableDict]:
        raw = _RawMessage()
        async for item in inputs:
            passed = raw.add(item)
            if passed is not None:
                yield passed
        try:
            parsed = await parser.ainvoke(raw.whole)
        except Exception as e:
            yield _parsing_error(e)
            return
        yield _parsed(parsed)

    return RunnableGenerator(transform, atransform, name="parse_with_raw")
