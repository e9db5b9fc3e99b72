"""What counts as a tool call: real-world answers, malformed calls, prose."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk

from langchain_aichatfree._tool_reader import parse_answer
from tests.unit_tests._tool_cases import (
    CALL,
    PARIS,
    SETUP,
    calls,
    get_weather,
    invalid,
    make_setup,
    now,
)

# -- the envelope reader: real-world answers -----------------------------------

# (id, answer, content, calls)
VALID_CASES: list[tuple[str, str, str, list[tuple[str, dict[str, Any]]]]] = [
    ("plain text", "It is sunny today.\n", "It is sunny today.\n", []),
    ("instructed envelope", CALL, "", PARIS),
    ("whitespace around", f"\n\n  {CALL}\n", "", PARIS),
    ("json fence", f"```json\n{CALL}\n```", "", PARIS),
    ("bare fence", f"```\n{CALL}\n```\n", "", PARIS),
    ("fence on one line", f"```json {CALL}```", "", PARIS),
    (
        "prose before a fence",
        f"I'll check the weather.\n\n```json\n{CALL}\n```",
        "I'll check the weather.",
        PARIS,
    ),
    (
        "prose after",
        f"{CALL}\nLet me know if you need more.",
        "Let me know if you need more.",
        PARIS,
    ),
    ("sentence around", f"Calling: {CALL} now.", "Calling: now.", PARIS),
    (
        "prose both sides of a fence",
        f"Sure!\n```json\n{CALL}\n```\nOne moment.",
        "Sure!\nOne moment.",
        PARIS,
    ),
    (
        "single call, arguments",
        '{"name": "get_weather", "arguments": {"city": "Paris"}}',
        "",
        PARIS,
    ),
    (
        "single call, parameters",
        '{"name": "get_weather", "parameters": {"city": "Paris"}}',
        "",
        PARIS,
    ),
    (
        "single call, args",
        '{"name": "get_weather", "args": {"city": "Paris"}}',
        "",
        PARIS,
    ),
    (
        "a list of calls",
        '[{"name": "get_weather", "arguments": {"city": "Oslo"}}, '
        '{"name": "now", "arguments": {}}]',
        "",
        [("get_weather", {"city": "Oslo"}), ("now", {})],
    ),
    (
        "several calls in the envelope",
        '{"tool_calls": [{"name": "now", "arguments": {}}, '
        '{"name": "get_weather", "arguments": {"city": "Rome"}}]}',
        "",
        [("now", {}), ("get_weather", {"city": "Rome"})],
    ),
    (
        "openai function, object arguments",
        '{"type": "function", "function": {"name": "get_weather", '
        '"arguments": {"city": "Paris"}}}',
        "",
        PARIS,
    ),
    (
        "openai function, string arguments",
        '{"type": "function", "function": {"name": "get_weather", '
        '"arguments": "{\\"city\\": \\"Paris\\"}"}}',
        "",
        PARIS,
    ),
    (
        "openai tool_calls list",
        '{"tool_calls": [{"id": "call_1", "type": "function", "function": '
        '{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}}]}',
        "",
        PARIS,
    ),
    (
        "tool_call tags",
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n'
        '</tool_call>\n<tool_call>{"name": "now", "arguments": {}}</tool_call>',
        "",
        [*PARIS, ("now", {})],
    ),
    (
        "tag left open at the end",
        'Checking.\n<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}',
        "Checking.",
        PARIS,
    ),
    (
        "tags in a fence",
        f"```\n<tool_call>{CALL}</tool_call>\n```",
        "",
        PARIS,
    ),
    (
        "json lines",
        '{"name": "now", "arguments": {}}\n{"name": "now", "arguments": {}}',
        "",
        [("now", {}), ("now", {})],
    ),
    (
        "unicode arguments",
        '{"tool_calls": [{"name": "get_weather", "arguments": '
        '{"city": "東京 🌸 Zürich"}}]}',
        "",
        [("get_weather", {"city": "東京 🌸 Zürich"})],
    ),
    (
        "escaped unicode arguments",
        '{"name": "get_weather", "arguments": {"city": "\\u6771\\u4eac"}}',
        "",
        [("get_weather", {"city": "東京"})],
    ),
    (
        "nested arguments with braces and quotes in strings",
        '{"tool_calls": [{"name": "Plan", "arguments": {"steps": ["a {b}", '
        '"say \\"hi\\" ``` <tool_call>"], "owner": {"name": "Ann", '
        '"tags": [[1], {"k": "]}"}]}}}]}',
        "",
        [
            (
                "Plan",
                {
                    "steps": ["a {b}", 'say "hi" ``` <tool_call>'],
                    "owner": {"name": "Ann", "tags": [[1], {"k": "]}"}]},
                },
            )
        ],
    ),
    ("no-argument call by name only", '{"name": "now"}', "", [("now", {})]),
    (
        "id written by the model is replaced",
        '{"tool_calls": [{"id": "1", "name": "now", "arguments": {}}]}',
        "",
        [("now", {})],
    ),
    ("an empty envelope", '{"tool_calls": []}', "", []),
    (
        "json that is not an envelope",
        'Here: {"name": "Alice", "age": 3} and [1, 2].',
        'Here: {"name": "Alice", "age": 3} and [1, 2].',
        [],
    ),
    (
        "a json fence that is not an envelope",
        'Data:\n```json\n{"a": [1, {"b": 2}]}\n```\n',
        'Data:\n```json\n{"a": [1, {"b": 2}]}\n```\n',
        [],
    ),
    (
        "code with braces",
        "```python\ndef f(x):\n    return {'a': x, \"b\": [x]}\n```\nDone.",
        "```python\ndef f(x):\n    return {'a': x, \"b\": [x]}\n```\nDone.",
        [],
    ),
    (
        "markdown",
        "See [the docs](https://x.y) and <b>bold</b>, `code` and {x} or {}.",
        "See [the docs](https://x.y) and <b>bold</b>, `code` and {x} or {}.",
        [],
    ),
    (
        "an unterminated quote in prose",
        'He said {"hi and left.',
        'He said {"hi and left.',
        [],
    ),
]


@pytest.mark.parametrize(
    ("text", "content", "expected"),
    [case[1:] for case in VALID_CASES],
    ids=[case[0] for case in VALID_CASES],
)
def test_parse_answer(
    text: str, content: str, expected: list[tuple[str, dict[str, Any]]]
) -> None:
    answer = parse_answer(text, SETUP)
    assert answer.content == content
    assert calls(answer) == expected
    assert answer.invalid_tool_calls == []
    ids = [c["id"] for c in answer.tool_calls]
    assert all(ids)
    assert len(set(ids)) == len(ids)


# (id, answer, content, [(name, error fragment)])
INVALID_CASES: list[tuple[str, str, str, list[tuple[str | None, str]]]] = [
    (
        "truncated json",
        'On it. {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Par',
        "On it.",
        [("get_weather", "Malformed tool call: Unterminated string")],
    ),
    (
        "truncated fence",
        '```json\n{"name": "get_weather", "arguments": {"city":',
        "",
        [("get_weather", "Malformed tool call")],
    ),
    (
        "trailing comma",
        '{"name": "get_weather", "arguments": {"city": "Paris",},}',
        "",
        [("get_weather", "Malformed tool call")],
    ),
    (
        "unknown tool",
        '{"name": "search_web", "arguments": {"q": "x"}}',
        "",
        [("search_web", "'search_web' is not a bound tool")],
    ),
    (
        "arguments string that is not json",
        '{"name": "get_weather", "arguments": "{city: Paris}"}',
        "",
        [("get_weather", "The arguments are not valid JSON")],
    ),
    (
        "arguments that are not an object",
        '{"name": "get_weather", "arguments": ["Paris"]}',
        "",
        [("get_weather", "must be a JSON object")],
    ),
    (
        "a call without a name",
        '{"tool_calls": [{"arguments": {"city": "Paris"}}]}',
        "",
        [(None, "no tool name")],
    ),
    (
        "a tag that holds no call",
        '<tool_call>{"city": "Paris"}</tool_call>',
        "",
        [(None, "must hold a call")],
    ),
    (
        "a tag that holds no json",
        "<tool_call>get_weather(city='Paris')</tool_call>",
        "",
        [(None, "Malformed tool call")],
    ),
]


@pytest.mark.parametrize(
    ("text", "content", "expected"),
    [case[1:] for case in INVALID_CASES],
    ids=[case[0] for case in INVALID_CASES],
)
def test_malformed_envelopes_become_invalid_tool_calls(
    text: str, content: str, expected: list[tuple[str | None, str]]
) -> None:
    answer = parse_answer(text, SETUP)
    assert answer.content == content
    assert answer.tool_calls == []
    found = invalid(answer)
    assert [name for name, _ in found] == [name for name, _ in expected]
    for (_, error), (_, fragment) in zip(found, expected, strict=True):
        assert fragment in error
    for bad in answer.invalid_tool_calls:
        assert bad["args"]  # the raw text is kept for debugging
        assert bad["args"] in text or json.loads(bad["args"]) is not None
        assert bad["id"]


def test_a_malformed_call_keeps_the_valid_ones() -> None:
    answer = parse_answer(
        '{"tool_calls": [{"name": "now", "arguments": {}}, '
        '{"name": "nope", "arguments": {}}]}',
        SETUP,
    )
    assert calls(answer) == [("now", {})]
    assert invalid(answer)[0][0] == "nope"


def test_parallel_false_keeps_the_first_call_and_reports_the_others() -> None:
    setup = make_setup(tools=[get_weather, now], parallel_tool_calls=False)
    answer = parse_answer(
        '{"tool_calls": [{"name": "now", "arguments": {}}, '
        '{"name": "get_weather", "arguments": {"city": "Paris"}}]}',
        setup,
    )
    assert calls(answer) == [("now", {})]
    assert invalid(answer) == [
        (
            "get_weather",
            "parallel_tool_calls=False allows one call; this one was not made.",
        )
    ]


# (id, answer): prose that mentions or quotes calls keeps every character
# (issue 10 item 3), and is never a call.
PROSE_CASES: list[tuple[str, str]] = [
    (
        "the tag named in prose",
        "To call a tool, the model writes <tool_call> followed by JSON. That is "
        "all; no call is needed.",
    ),
    ("both tags named in prose", "Wrap calls in <tool_call> and </tool_call> tags."),
    ("a fenced example of the tag", "```\n<tool_call> is the tag\n```\nok"),
    (
        "data with a name and an input",
        'The API returns {"name": "Alice", "input": "raw"} for each user',
    ),
    ("a list of such data", 'Rows: [{"name": "Alice", "args": {"a": 1}}] in all.'),
    ("data with a name and arguments text", '{"name": "Bob", "parameters": "none"}'),
    ("an envelope in inline code", f"You would write `{CALL}` to call it."),
    ("an envelope in quotes", f'You would write "{CALL}" to call it.'),
    ("an envelope in curly quotes", f"The model answers \u201c{CALL}\u201d."),
    (
        "the instructed template, in a sentence",
        'The format is {"tool_calls": [{"name": "<tool name>", "arguments": '
        "{<arguments>}}]} exactly.",
    ),
    (
        "the re-ask template, at the end of a sentence",
        'Answer with {"tool_calls": [{"name": "<tool name>", "arguments": {...}}]}.',
    ),
    (
        "a malformed call followed by prose",
        '{"name": "get_weather", "arguments": {"city": "Paris",},} is wrong.',
    ),
]


@pytest.mark.parametrize(
    "text", [case[1] for case in PROSE_CASES], ids=[case[0] for case in PROSE_CASES]
)
def test_prose_keeps_every_character(text: str) -> None:
    answer = parse_answer(text, SETUP)
    assert answer.content == text
    assert answer.tool_calls == []
    assert answer.invalid_tool_calls == []
    assert not answer.envelope


def test_a_malformed_call_at_the_very_end_is_still_an_invalid_call() -> None:
    text = 'Calling: {"name": "get_weather", "arguments": {"city": "Paris",},}\n '
    answer = parse_answer(text, SETUP)
    assert answer.content == "Calling:"
    assert invalid(answer)[0][0] == "get_weather"
    assert "Malformed tool call" in invalid(answer)[0][1]


def test_a_tag_that_opens_with_a_bound_tool_name_is_a_call() -> None:
    answer = parse_answer("Sure. <tool_call>now()</tool_call> Done.", SETUP)
    assert answer.content == "Sure. Done."
    [(name, error)] = invalid(answer)
    assert name is None
    assert "Malformed tool call" in error
    answer = parse_answer("<tool_call>nowhere to go", SETUP)
    assert answer.content == "<tool_call>nowhere to go"


ALL_CASES = [
    *(case[1] for case in VALID_CASES + INVALID_CASES),
    *(case[1] for case in PROSE_CASES),
]


def test_tool_call_chunks_merge_back_into_the_same_calls() -> None:
    text = (
        '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}, '
        '{"name": "nope", "arguments": {}}]}\n'
        '{"tool_calls": [{"name": "now", "arguments": {'
    )
    answer = parse_answer(text, SETUP)
    assert [c["name"] for c in answer.invalid_tool_calls] == ["nope", "now"]
    chunk = AIMessageChunk(
        content="", tool_call_chunks=answer.tool_call_chunks(), chunk_position="last"
    )
    merged = AIMessageChunk(content="a") + chunk
    assert merged.tool_calls == answer.tool_calls
    # LangChain rebuilds invalid calls from the chunks (without the error); a
    # truncated envelope must not be "repaired" into a call it never was.
    assert [c["name"] for c in merged.invalid_tool_calls] == ["nope", "now"]
    assert [c["id"] for c in merged.invalid_tool_calls] == [
        c["id"] for c in answer.invalid_tool_calls
    ]
