"""Structured output read from a JSON answer."""

from __future__ import annotations

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.outputs import Generation
from pydantic.v1 import BaseModel as BaseModelV1

from langchain_aichatfree._json_answer import JsonAnswerParser, parse_json_answer
from tests.unit_tests._tool_cases import Person

# -- JSON answers (structured output) --------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "Ann"}',
        '```json\n{"name": "Ann"}\n```',
        'Here you are:\n{"name": "Ann"}\nHope that helps.',
        'Sure.\n```\n{"name": "Ann"}\n```',
    ],
)
def test_parse_json_answer(text: str) -> None:
    assert parse_json_answer(text) == {"name": "Ann"}
    assert JsonAnswerParser(pydantic_object=Person).parse(text) == Person(name="Ann")


def test_parse_json_answer_partial() -> None:
    assert parse_json_answer("Sure", partial=True) is None
    assert parse_json_answer('```json\n{"name": "An', partial=True) == {"name": "An"}
    with pytest.raises(OutputParserException, match="no JSON object"):
        parse_json_answer("Sure")
    with pytest.raises(OutputParserException, match="invalid"):
        parse_json_answer('{"name": ')


def test_json_answer_parser_validates() -> None:
    parser = JsonAnswerParser(pydantic_object=Person)
    with pytest.raises(OutputParserException, match="Failed to parse Person"):
        parser.parse('{"nom": "Ann"}')
    partial = [Generation(text='{"nom": "An')]
    assert parser.parse_result(partial, partial=True) is None

    class Old(BaseModelV1):
        name: str

    assert JsonAnswerParser(pydantic_object=Old).parse('{"name": "A"}') == Old(name="A")
