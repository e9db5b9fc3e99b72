"""`with_structured_output` on a text-only deployment, against the local server.

The server plays the model: `comedian` answers a JSON joke, or, when a tool is
described in the prompt, calls it with the joke.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage
from langchain_core.prompts import ChatPromptTemplate
from pydantic import BaseModel, Field, ValidationError
from typing_extensions import TypedDict

from langchain_aichatfree import ChatAIChatFree
from langchain_aichatfree.testing import LocalServer, Reply

EXAMPLES = Path(__file__).parents[2] / "examples"

JOKE = {"setup": "Why do cats sit on laptops?", "punchline": "To watch the mouse."}


class Joke(BaseModel):
    """A joke to tell the user."""

    setup: str = Field(description="The question that sets up the joke")
    punchline: str = Field(description="The answer that resolves the joke")


class JokeDict(TypedDict):
    """A joke to tell the user."""

    setup: str
    punchline: str


SCHEMAS: dict[str, Any] = {
    "pydantic": Joke,
    "typeddict": JokeDict,
    "json_schema": Joke.model_json_schema(),
}


def comedian(turns: list[dict[str, str]]) -> str | Reply:
    """Call the described tool with the joke, or answer the joke as JSON."""
    prompt = turns[0]["text"]
    for line in prompt.splitlines():
        if line.startswith('{"tool": '):
            call = {"name": json.loads(line)["tool"], "arguments": JOKE}
            return json.dumps({"tool_calls": [call]})
    return Reply(json.dumps(JOKE), chunk_size=5, chunk_delay=0.002)


@pytest.fixture(scope="module")
def server_options() -> dict[str, Any]:
    return {"responder": comedian}


def make(server: LocalServer, **kwargs: Any) -> ChatAIChatFree:
    return ChatAIChatFree(base_url=server.url, chunk_timeout=5.0, **kwargs)


def is_joke(result: Any, kind: str) -> bool:
    return bool(result == (Joke(**JOKE) if kind == "pydantic" else JOKE))


@pytest.mark.parametrize("kind", list(SCHEMAS))
@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_structured_output_invoke_and_stream(
    server: LocalServer, method: str, kind: str
) -> None:
    with make(server) as model:
        chat = model.with_structured_output(SCHEMAS[kind], method=method)  # type: ignore[arg-type]
        assert is_joke(chat.invoke("Tell me a joke about cats."), kind)
        chunks = list(chat.stream("Tell me a joke about cats."))
        assert is_joke(chunks[-1], kind)
    prompt = json.loads(server.requests[0].body)["messages"][0]["parts"][0]["text"]
    if method == "json_schema":
        assert "Answer with one JSON object that conforms to this JSON schema" in prompt
        assert '"punchline": {' in prompt
    elif method == "function_calling":
        assert 'You must call the tool "' in prompt
        assert "Call one tool at a time" in prompt
    else:
        assert "Answer with one JSON object, and nothing else" in prompt
        assert "punchline" not in prompt


def test_json_schema_streams_valid_partial_objects(server: LocalServer) -> None:
    with make(server) as model:
        chat = model.with_structured_output(Joke)
        partials = list(chat.stream("Tell me a joke about cats."))
        dicts = list(model.with_structured_output(JokeDict).stream("Again?"))
    assert len(partials) > 2
    assert all(isinstance(p, Joke) for p in partials)
    assert partials[-1] == Joke(**JOKE)
    lengths = [len(p.punchline) for p in partials if isinstance(p, Joke)]
    assert lengths == sorted(lengths)
    assert len(dicts) > len(partials)  # a dict is usable before it validates
    assert dicts[-1] == JOKE
    for earlier, later in itertools.pairwise(dicts):
        assert set(earlier) <= set(later)


def test_function_calling_streams_one_whole_object(server: LocalServer) -> None:
    with make(server) as model:
        chat = model.with_structured_output(Joke, method="function_calling")
        assert list(chat.stream("Tell me a joke.")) == [Joke(**JOKE)]


@pytest.mark.parametrize(
    "answer",
    [
        f"Here is one:\n```json\n{json.dumps(JOKE)}\n```\nEnjoy!",
        f"Sure! {json.dumps(JOKE)}",
    ],
)
def test_json_answers_with_prose_or_fences_are_read(
    server: LocalServer, answer: str
) -> None:
    server.script(answer)
    with make(server) as model:
        assert model.with_structured_output(Joke).invoke("Joke?") == Joke(**JOKE)


def test_validation_errors_surface_as_in_langchain(server: LocalServer) -> None:
    bad = json.dumps({"setup": "No punchline."})
    call = json.dumps({"tool_calls": [{"name": "Joke", "arguments": {"x": 1}}]})
    server.script(bad, bad, "not json at all", call, call)
    with make(server) as model:
        with pytest.raises(OutputParserException, match="Failed to parse Joke"):
            model.with_structured_output(Joke).invoke("Joke?")
        raw = model.with_structured_output(Joke, include_raw=True).invoke("Joke?")
        assert isinstance(raw, dict)
        assert raw["parsed"] is None
        assert isinstance(raw["parsing_error"], OutputParserException)
        assert isinstance(raw["raw"], AIMessage)
        assert raw["raw"].content == bad
        with pytest.raises(OutputParserException, match="no JSON object"):
            model.with_structured_output(JokeDict).invoke("Joke?")
        tool_chat = model.with_structured_output(Joke, method="function_calling")
        with pytest.raises(ValidationError):
            tool_chat.invoke("Joke?")
        raw = model.with_structured_output(
            Joke, method="function_calling", include_raw=True
        ).invoke("Joke?")
        assert isinstance(raw, dict)
        assert isinstance(raw["parsing_error"], ValidationError)
        assert raw["raw"].tool_calls[0]["args"] == {"x": 1}


def test_function_calling_asks_again_once_for_the_call(server: LocalServer) -> None:
    server.script("Why did the cat... I forgot.")
    with make(server) as model:
        chat = model.with_structured_output(
            Joke, method="function_calling", include_raw=True
        )
        result = chat.invoke("Joke?")
    assert isinstance(result, dict)
    assert result["parsed"] == Joke(**JOKE)
    assert result["raw"].response_metadata["tool_call_forced_retry"] is True
    assert len(server.requests) == 2


class Options(BaseCallbackHandler):
    def __init__(self) -> None:
        self.options: list[Any] = []

    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        self.options.append(kwargs.get("options"))


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_tracing_shows_the_schema(server: LocalServer, method: str) -> None:
    handler = Options()
    with make(server) as model:
        chat = model.with_structured_output(Joke, method=method)  # type: ignore[arg-type]
        chat.invoke("Joke?", config={"callbacks": [handler]})
    [options] = handler.options
    traced = options["ls_structured_output_format"]
    assert traced["kwargs"]["method"] == method
    assert traced["schema"]["title"] == "Joke"
    assert set(traced["schema"]["properties"]) == {"setup", "punchline"}


def test_in_an_lcel_chain(server: LocalServer) -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are a comedian."), ("human", "Tell me a joke about {topic}.")]
    )
    with make(server) as model:
        chain = prompt | model.with_structured_output(Joke)
        jokes = chain.batch([{"topic": "cats"}, {"topic": "dogs"}])
    assert jokes == [Joke(**JOKE), Joke(**JOKE)]
    asked = sorted(
        r.payload["messages"][0]["parts"][0]["text"] for r in server.requests
    )
    assert asked[0].startswith("[System instructions]\nYou are a comedian.\n\nAnswer")
    assert asked[0].endswith("Tell me a joke about cats.")
    assert asked[1].endswith("Tell me a joke about dogs.")


def test_chatgpt_demo_dialect() -> None:
    with LocalServer(responder=comedian, dialect="chatgpt-demo") as server:
        with make(server, dialect="chatgpt-demo") as model:
            assert model.with_structured_output(Joke).invoke("Joke?") == Joke(**JOKE)
        [request] = server.requests
    system, user = request.payload["messages"]
    assert system["role"] == "system"
    assert system["content"].startswith("Answer with one JSON object that conforms")
    assert user == {"role": "user", "content": "Joke?"}


def test_the_structured_output_example_runs_offline(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AICHATFREE_BASE_URL", raising=False)
    path = EXAMPLES / "structured_output.py"
    spec = importlib.util.spec_from_file_location("structured_output_example", path)
    assert spec is not None
    assert spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.main()
    output = capsys.readouterr().out
    assert "joke: setup='Why do cats sit on laptops?'" in output
    partials = [line for line in output.splitlines() if line.startswith("partial:")]
    assert len(partials) > 1
    assert partials[-1].endswith("punchline='They have two banks.'")
