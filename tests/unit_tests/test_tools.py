"""Emulated tools without a network: binding, instructions, and the envelope reader."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import Generation
from langchain_core.runnables import RunnableBinding
from langchain_core.tools import tool
from pydantic import BaseModel, Field
from pydantic.v1 import BaseModel as BaseModelV1
from typing_extensions import TypedDict

from langchain_aichatfree import ChatAIChatFree
from langchain_aichatfree._protocol import prepare_request
from langchain_aichatfree._tools import (
    JsonAnswerParser,
    ToolAnswer,
    ToolAnswerReader,
    ToolSetup,
    build_tool_setup,
    format_tool,
    normalize_tool_choice,
    parse_answer,
    parse_json_answer,
    reask_messages,
    reask_text,
    render_envelope,
    render_instructions,
)


@tool
def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"sunny in {city}"


@tool
def now() -> str:
    """Tell the time."""
    return "noon"


class Plan(BaseModel):
    """A plan."""

    steps: list[str]
    owner: dict[str, Any]


def make_setup(**kwargs: Any) -> ToolSetup:
    setup = build_tool_setup(**kwargs)
    assert setup is not None
    return setup


SETUP = make_setup(tools=[get_weather, now, Plan])

CALL = '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}'
PARIS = [("get_weather", {"city": "Paris"})]


def calls(answer: ToolAnswer) -> list[tuple[str, dict[str, Any]]]:
    return [(c["name"], c["args"]) for c in answer.tool_calls]


def invalid(answer: ToolAnswer) -> list[tuple[str | None, str]]:
    return [(c["name"], c["error"] or "") for c in answer.invalid_tool_calls]


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


def test_the_instructions_repeated_by_the_model_are_not_calls() -> None:
    # Issue 10 item 17: the tool list used the shape of a bare call.
    for setup in (SETUP, make_setup(tools=[Plan], tool_choice="Plan")):
        text = render_instructions(setup)
        answer = parse_answer(f"You said:\n{text}\nhi", setup)
        assert answer.tool_calls == []
        assert answer.invalid_tool_calls == []
        assert answer.content == f"You said:\n{text}\nhi"


ALL_CASES = [
    *(case[1] for case in VALID_CASES + INVALID_CASES),
    *(case[1] for case in PROSE_CASES),
]


def read_in_pieces(text: str, cuts: list[int]) -> tuple[list[str], ToolAnswer]:
    reader = ToolAnswerReader(SETUP.names)
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    shown = [reader.feed(text[a:b]) for a, b in itertools.pairwise(points)]
    return shown, reader.finish()


def comparable(answer: ToolAnswer) -> tuple[Any, ...]:
    return (
        answer.content,
        calls(answer),
        [(c["name"], c["args"], c["error"]) for c in answer.invalid_tool_calls],
    )


@pytest.mark.parametrize("text", ALL_CASES)
def test_one_character_at_a_time_reads_the_same(text: str) -> None:
    shown, tail = read_in_pieces(text, list(range(len(text))))
    streamed = ToolAnswer(
        "".join(shown) + tail.content,
        tail.tool_calls,
        tail.invalid_tool_calls,
        tail.envelope,
    )
    assert comparable(streamed) == comparable(parse_answer(text, SETUP))


@settings(max_examples=200, deadline=None)
@given(
    index=st.integers(0, len(ALL_CASES) - 1),
    cuts=st.lists(st.integers(0, 10_000), max_size=12),
)
def test_any_split_reads_the_same(index: int, cuts: list[int]) -> None:
    text = ALL_CASES[index]
    shown, tail = read_in_pieces(text, cuts)
    streamed = ToolAnswer(
        "".join(shown) + tail.content,
        tail.tool_calls,
        tail.invalid_tool_calls,
        tail.envelope,
    )
    assert comparable(streamed) == comparable(parse_answer(text, SETUP))


_TRICKY = st.sampled_from(
    [
        *("{", "}", "[", "]", '"', "\\", "`", "```", "<", "<tool_call>"),
        *("</tool_call>", " ", "\n", '"name": ', '"now"', '"arguments": ', "{}"),
        *("a", "é", "🌍"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(st.one_of(_TRICKY, st.text(max_size=5)), max_size=30),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
)
def test_text_is_never_lost_or_duplicated(parts: list[str], cuts: list[int]) -> None:
    text = "".join(parts)
    shown, tail = read_in_pieces(text, cuts)
    whole = parse_answer(text, SETUP)
    assert "".join(shown) + tail.content == whole.content
    if not whole.envelope:
        assert whole.content == text


def test_plain_text_is_shown_as_it_arrives() -> None:
    reader = ToolAnswerReader(SETUP.names)
    assert reader.feed("The weather ") == "The weather"
    assert reader.feed("is fine") == " is fine"
    assert reader.feed(". Let me check: ") == ". Let me check:"
    assert reader.feed('{"name": "get_wea') == ""  # held: may be a call
    assert reader.feed('ther", "arguments": {"city": "Paris"}}') == ""
    assert reader.feed("\nDone.") == " Done."
    tail = reader.finish()
    assert tail.content == ""
    assert calls(tail) == PARIS


def test_a_candidate_is_released_as_soon_as_it_is_ruled_out() -> None:
    reader = ToolAnswerReader(SETUP.names)
    assert reader.feed("Use `") == "Use"
    assert reader.feed("x` or {") == " `x` or"
    assert reader.feed(" y }") == " { y }"
    assert reader.feed(' {"a": 1}') == ' {"a": 1}'  # complete, and no call
    assert reader.feed("```python\n") == ""
    assert reader.feed("print(1)\n```") == "```python\nprint(1)"
    assert reader.finish().content == "\n```"


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


# -- binding -----------------------------------------------------------------


class Person(BaseModel):
    """A person."""

    name: str = Field(description="Full name")


class PersonDict(TypedDict):
    """A person."""

    name: str


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@pytest.mark.parametrize(
    ("tool_like", "name"),
    [
        (get_weather, "get_weather"),
        (add, "add"),
        (Person, "Person"),
        (PersonDict, "PersonDict"),
        (Person.model_json_schema(), "Person"),
        (
            {"type": "function", "function": {"name": "f", "parameters": {}}},
            "f",
        ),
        ({"type": "function", "name": "g", "parameters": {}}, "g"),
        ({"name": "h", "description": "d", "input_schema": {}}, "h"),
    ],
)
def test_format_tool_accepts_what_langchain_accepts(tool_like: Any, name: str) -> None:
    formatted = format_tool(tool_like)
    assert formatted["type"] == "function"
    assert formatted["function"]["name"] == name


def test_format_tool_refuses_builtin_tools() -> None:
    with pytest.raises(ValueError, match="only emulates function tools"):
        format_tool({"type": "web_search"})


NAMES = ("get_weather", "now")


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (None, ("auto", None)),
        ("auto", ("auto", None)),
        (False, ("auto", None)),
        ("none", ("none", None)),
        ("any", ("required", None)),
        ("required", ("required", None)),
        (True, ("required", None)),
        ("now", ("required", "now")),
        ({"type": "function", "function": {"name": "now"}}, ("required", "now")),
        ({"type": "tool", "name": "now"}, ("required", "now")),
        ({"type": "any"}, ("required", None)),
        ({"type": "auto"}, ("auto", None)),
    ],
)
def test_normalize_tool_choice(choice: Any, expected: tuple[str, str | None]) -> None:
    assert normalize_tool_choice(choice, NAMES) == expected


@pytest.mark.parametrize(
    ("choice", "match"),
    [("search", "not bound"), (3, "Unrecognised"), ({"type": "x"}, "Unrecognised")],
)
def test_bad_tool_choice(choice: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        normalize_tool_choice(choice, NAMES)


def test_build_tool_setup() -> None:
    assert build_tool_setup() is None
    assert build_tool_setup(tools=[]) is None
    with pytest.raises(ValueError, match="requires tools"):
        build_tool_setup(tools=[], tool_choice="any")
    setup = make_setup(tools=[now], tool_choice="none")
    assert not setup.parses_calls
    json_only = build_tool_setup(response_format={"type": "json_object"})
    assert json_only == ToolSetup(json_mode=True)
    assert not json_only.parses_calls
    from_schema = build_tool_setup(response_format=Person)
    assert from_schema is not None
    assert from_schema.json_schema is not None
    assert from_schema.json_schema["name"] == "Person"
    with pytest.raises(ValueError, match="json_schema"):
        build_tool_setup(response_format={"type": "json_schema"})


def test_instructions_describe_each_tool_and_the_exact_format() -> None:
    setup = make_setup(tools=[get_weather, now], tool_choice="get_weather")
    text = render_instructions(setup)
    lines = text.splitlines()
    described = [json.loads(line) for line in lines if line.startswith('{"tool": ')]
    assert [t["tool"] for t in described] == ["get_weather", "now"]
    assert described[0]["description"] == "Get the weather in a city."
    schema = described[0]["arguments_schema"]
    assert schema["properties"] == {"city": {"type": "string"}}
    assert '{"tool_calls": [{"name": "<tool name>", "arguments": {<arguments>}}]}' in (
        lines
    )
    assert 'You must call the tool "get_weather" now' in text


@pytest.mark.parametrize(
    ("kwargs", "line"),
    [
        ({}, "Call a tool only when you need one"),
        ({"tool_choice": "any"}, "You must call at least one tool now"),
        ({"tool_choice": "none"}, "Do not call any tool in this answer"),
        ({"parallel_tool_calls": False}, "Call one tool at a time"),
        ({"parallel_tool_calls": True}, "To call several tools at once"),
        (
            {"response_format": Person},
            "When you answer without calling a tool:\nAnswer with one JSON object "
            'that conforms to this JSON schema ("Person": A person.)',
        ),
    ],
)
def test_instructions_follow_the_options(kwargs: dict[str, Any], line: str) -> None:
    setup = make_setup(tools=[now], **kwargs)
    assert line in render_instructions(setup)


def test_history_renders_calls_in_the_instructed_format() -> None:
    rendered = render_envelope([{"name": "now", "args": {}, "id": "c1"}])
    assert json.loads(rendered) == {
        "tool_calls": [{"id": "c1", "name": "now", "arguments": {}}]
    }
    assert calls(parse_answer(rendered, SETUP)) == [("now", {})]


def test_instructions_are_folded_like_system_text_in_both_dialects() -> None:
    messages = [SystemMessage("Be brief."), HumanMessage("Weather in Paris?")]
    gemini = prepare_request(messages, dialect="gemini", instructions="TOOLS")
    [turn] = gemini.messages
    text = turn["parts"][0]["text"]
    assert text.index("Be brief.") < text.index("TOOLS") < text.index("Weather")
    assert text.endswith("Weather in Paris?")
    assert gemini.signed_text == text
    demo = prepare_request(messages, dialect="chatgpt-demo", instructions="TOOLS")
    assert demo.messages == [
        {"role": "system", "content": "Be brief.\n\nTOOLS"},
        {"role": "user", "content": "Weather in Paris?"},
    ]
    demo = prepare_request(messages[1:], dialect="chatgpt-demo", instructions="T")
    assert demo.messages[0] == {"role": "system", "content": "T"}


def test_an_agent_history_still_alternates_and_ends_with_the_user() -> None:
    history = [
        HumanMessage("Weather in Paris and the time?"),
        AIMessage(
            "",
            tool_calls=[
                {"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"},
                {"name": "now", "args": {}, "id": "c2"},
            ],
        ),
        ToolMessage("sunny", tool_call_id="c1", name="get_weather"),
        ToolMessage(
            [{"type": "text", "text": "clock broken"}],
            tool_call_id="c2",
            name="now",
            status="error",
        ),
    ]
    request = prepare_request(history, dialect="gemini", instructions="TOOLS")
    roles = [m["role"] for m in request.messages]
    assert roles == ["user", "model", "user"]
    model_turn = request.messages[1]["parts"][0]["text"]
    assert [c["id"] for c in json.loads(model_turn)["tool_calls"]] == ["c1", "c2"]
    assert request.messages[2]["parts"][0]["text"] == (
        "[Tool result get_weather (call c1)]\nsunny\n\n"
        "[Tool error now (call c2)]\nclock broken"
    )


def test_reask() -> None:
    setup = make_setup(tools=[now], tool_choice="now")
    text = reask_text(setup, parse_answer("It is noon.", setup))
    assert text.startswith("Your answer did not call a tool.")
    assert 'You must call the tool "now" now.' in text
    broken = reask_text(setup, parse_answer('{"name": "now", "arguments": [', setup))
    assert broken.startswith("Your tool call could not be used: Malformed")
    messages = reask_messages([HumanMessage("time?")], "It is noon.", text)
    assert [type(m) for m in messages] == [HumanMessage, AIMessage, HumanMessage]
    assert messages[1].content == "It is noon."


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


# -- the model's tool API, without a network ---------------------------------------


def test_bind_tools_binds_formatted_tools_and_options() -> None:
    model = ChatAIChatFree(base_url="http://127.0.0.1:9")
    bound = model.bind_tools(
        [get_weather, add, Person], tool_choice="add", parallel_tool_calls=False
    )
    assert isinstance(bound, RunnableBinding)
    assert [t["function"]["name"] for t in bound.kwargs["tools"]] == [
        "get_weather",
        "add",
        "Person",
    ]
    assert bound.kwargs["tool_choice"] == {
        "type": "function",
        "function": {"name": "add"},
    }
    assert bound.kwargs["parallel_tool_calls"] is False
    forced = model.bind_tools([now], tool_choice=True)
    assert isinstance(forced, RunnableBinding)
    assert forced.kwargs["tool_choice"] == "required"


def test_bind_tools_fails_early() -> None:
    model = ChatAIChatFree(base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="not bound"):
        model.bind_tools([now], tool_choice="get_weather")
    with pytest.raises(ValueError, match="only emulates function tools"):
        model.bind_tools([{"type": "code_interpreter"}])
    with pytest.raises(ValueError, match="requires tools"):
        model.invoke("hi", tools=[], tool_choice="any")


def test_with_structured_output_checks_its_arguments() -> None:
    model = ChatAIChatFree(base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="method must be"):
        model.with_structured_output(Person, method="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="strict"):
        model.with_structured_output(Person, method="json_mode", strict=True)
    with pytest.raises(ValueError, match="needs a schema"):
        model.with_structured_output(None)
    assert model.with_structured_output(None, method="json_mode") is not None


@pytest.mark.parametrize("dialect", ["gemini", "chatgpt-demo"])
def test_profile_tells_agents_the_truth(dialect: str) -> None:
    profile = ChatAIChatFree(dialect=dialect).profile
    assert profile is not None
    assert profile["tool_calling"] is True
    assert profile["tool_choice"] is True
    assert profile["structured_output"] is False
    assert profile["text_inputs"] is True
    assert profile["image_inputs"] is False
    assert profile["max_output_tokens"] == 8000
    assert profile["temperature"] is (dialect == "chatgpt-demo")
