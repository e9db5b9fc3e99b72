"""Every `examples/*.py` runs against the local server; the docstring's code is theirs.

Examples are found with a glob, so a new one is run without being listed here.
`SETUPS` gives one its server, environment and expected output; an example may
also declare its server itself, in a module-level `LOCAL_SERVER` dict of
`LocalServer` keyword arguments (`examples/demo.py` honours it too). An example
without an entry must still run to the end and print something.

Examples run in this process (imported by path, then `main()`), reading their
configuration from the environment as a user's script would.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from langchain_aichatfree import ChatAIChatFree
from langchain_aichatfree.testing import (
    UPSTREAM_ERRORS,
    LocalServer,
    RecordedRequest,
    Reply,
)

EXAMPLES = Path(__file__).parents[2] / "examples"
ENV_NAMES = (
    "AICHATFREE_BASE_URL",
    "AICHATFREE_SECRET",
    "AICHATFREE_PASSWORD",
    "AICHATFREE_DIALECT",
)
PASSWORD = "example-pw-8812"


@dataclass
class Setup:
    """How to run one example, and what it must print.

    Attributes:
        server: `LocalServer` keyword arguments (over the example's own
            `LOCAL_SERVER`), or `None` when the example starts its own server.
        env: Environment besides AICHATFREE_BASE_URL (the server's URL).
        expect: Texts the output must contain, in this order.
        check: Further checks of the server's request log and the output.
    """

    server: dict[str, Any] | None = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    expect: tuple[str, ...] = ()
    check: Callable[[list[RecordedRequest], str], None] | None = None


def planned(plan: dict[str, list[Reply]]) -> Callable[[list[dict[str, str]]], Any]:
    """A responder: each question's planned replies in turn, then an echo."""

    def respond(turns: list[dict[str, str]]) -> str | Reply:
        question = turns[-1]["text"]
        queue = plan.get(question)
        return queue.pop(0) if queue else f"Echo: {question}"

    return respond


def last_texts(requests: list[RecordedRequest]) -> list[str]:
    texts = []
    for request in requests:
        last = request.payload["messages"][-1]
        texts.append(last.get("content") or last["parts"][0]["text"])
    return texts


def check_chat_history(requests: list[RecordedRequest], output: str) -> None:
    asked = [r for r in requests if last_texts([r])[0].endswith("What is my name?")]
    ada, bob = (r.payload["messages"] for r in asked)
    assert [m["role"] for m in ada] == ["user", "model", "user"]
    assert "My name is Ada." in ada[0]["parts"][0]["text"]
    assert len(bob) == 1


def check_error_handling(requests: list[RecordedRequest], output: str) -> None:
    # The first rate limit was retried without the caller noticing.
    assert last_texts(requests).count("Hello!") == 2
    assert last_texts(requests).count("What is 2 + 2?") == 1  # hint too long


def check_streaming_callbacks(requests: list[RecordedRequest], output: str) -> None:
    counts = [int(n) for n in re.findall(r"\[(\d+) chunks", output)]
    assert len(counts) == 2
    assert all(n > 1 for n in counts)


def check_secret_kept(requests: list[RecordedRequest], output: str) -> None:
    assert PASSWORD not in output
    assert requests[-1].payload["pass"] == PASSWORD


def check_chatgpt_demo(requests: list[RecordedRequest], output: str) -> None:
    check_secret_kept(requests, output)
    roles = [m["role"] for m in requests[-1].payload["messages"]]
    assert roles == ["system", "user"]


SELF_HOSTED_ENV = {"AICHATFREE_PASSWORD": PASSWORD, "AICHATFREE_SECRET": "site-key"}

SETUPS: dict[str, dict[str, Setup]] = {
    "quickstart.py": {
        "": Setup(
            expect=(
                "invoke: Echo: [System instructions]",
                "What is LangChain, in one sentence?",
                "'finish_reason': 'stop'",
                "stream: Echo: Write a haiku about rivers.",
                "chain: Echo: [System instructions]\nAnswer in the style of a pirate.",
                "batch: Capital of France? -> Echo: Capital of France?",
                "batch: 2 + 2? -> Echo: 2 + 2?",
                "astream: Echo: Tell me a story\n",
                "ainvoke: Echo: Hi!",
            )
        )
    },
    "streaming_callbacks.py": {
        "": Setup(
            server={
                "responder": lambda turns: Reply(
                    f"Echo: {turns[-1]['text']}", chunk_size=4, chunk_delay=0.005
                )
            },
            expect=(
                "stream: Echo: Tell me a story\n",
                "invoke with callbacks: Echo: [System instructions]",
                "Hi!\n  [",
                "chain with callbacks: Echo: Name three rivers.\n  [",
            ),
            check=check_streaming_callbacks,
        )
    },
    "chat_history.py": {
        "": Setup(
            expect=(
                "ada: Hi! My name is Ada.\nbot: Echo: [System instructions]",
                "ada: What is my name?\nbot: Echo: What is my name?",
                "bob: What is my name?\nbot: Echo: [System instructions]",
                "history 'ada': 4 messages",
                "history 'bob': 2 messages",
            ),
            check=check_chat_history,
        )
    },
    "pool.py": {
        "": Setup(
            server=None,  # it starts three servers with quotas
            expect=(
                # (How many one deployment answers depends on timing.)
                "One deployment (rpm declared):\n  answered ",
                "; the servers refused 0 requests",
                "A pool of three (rpm declared):\n  answered 18 of 18, rate limited "
                "0; the servers refused 0 requests\n  served by: a 6, b 6, c 6",
                "A pool of three (nothing declared; 429s steer it):",
                "rate_limit ->",
            ),
        )
    },
    "error_handling.py": {
        "": Setup(
            server={
                "responder": planned(
                    {
                        "Hello!": [Reply.rate_limited(retry_in=0.05)],
                        "What is 2 + 2?": [Reply.rate_limited(retry_in=3600)],
                        "Name a colour.": [Reply(error=UPSTREAM_ERRORS["bad_history"])],
                        "Tell me a long story.": [
                            Reply(chunks=["Once upon", " a time"], fail_after=2)
                        ],
                    }
                )
            },
            expect=(
                "Hello!\n  -> Echo: Hello!",
                "Name a colour.\n  InvalidRequestError, retryable=False",
                "  -> Once upon a time\n  [cut short after 16 characters; ask again]",
                # Last since issue 13: the deployment then cools down for an hour.
                "What is 2 + 2?\n  rate limited; try again in 3600 s",
                "offline: APIConnectionError, retryable=True",
            ),
            check=check_error_handling,
        )
    },
    "self_hosted.py": {
        "gemini": Setup(
            server={"passwords": PASSWORD, "secret": "site-key"},
            env=SELF_HOSTED_ENV,
            expect=(
                "(gemini), password: **********",
                "answer: Echo: [System instructions]",
                "What can you do?",
            ),
            check=check_secret_kept,
        ),
        "chatgpt-demo": Setup(
            server={
                "passwords": PASSWORD,
                "secret": "site-key",
                "dialect": "chatgpt-demo",
            },
            env={**SELF_HOSTED_ENV, "AICHATFREE_DIALECT": "chatgpt-demo"},
            expect=("(chatgpt-demo), password: **********", "answer: Echo: What"),
            check=check_chatgpt_demo,
        ),
    },
    "from_site.py": {
        "gemini": Setup(
            server={"secret": "site-key"},
            expect=("dialect 'gemini', secret 'site-key'", "answer: Echo: Hi!"),
        ),
        "chatgpt-demo": Setup(
            server={"dialect": "chatgpt-demo", "passwords": PASSWORD},
            env={"AICHATFREE_PASSWORD": PASSWORD},
            expect=("dialect 'chatgpt-demo', secret ''", "answer: Echo: Hi!"),
            check=check_secret_kept,
        ),
    },
    "demo.py": {
        "offline": Setup(
            server=None,
            expect=(
                "talks to the package's local offline server",
                "AICHATFREE_BASE_URL=https://aichatfree.info make demo",
                "=== quickstart.py ===",
                "invoke: LangChain is",
                "stream: Silver water runs",
                "batch: Capital of France? -> Paris.",
                "astream: Once upon a time",
                "ainvoke: Hello!",
                "=== aichatfree probe ===\n$ aichatfree probe http://127.0.0.1:",
                "Family:    GeminiProChat (dialect 'gemini')",
                "Secret:    'demo-secret'",
                "export AICHATFREE_SECRET=demo-secret",
                "from_site: Hello! How can I help you today?",
            ),
        ),
        "deployment": Setup(
            expect=(
                "Talking to http://127.0.0.1:",
                "=== quickstart.py ===",
                "batch: Capital of France? -> Echo: Capital of France?",
                "=== aichatfree probe ===",
                "from_site: Echo: Hi!",
            )
        ),
    },
}


def cases() -> list[Any]:
    params = []
    for path in sorted(EXAMPLES.glob("*.py")):
        for variant, setup in SETUPS.get(path.name, {"": Setup()}).items():
            name = f"{path.stem}-{variant}" if variant else path.stem
            params.append(pytest.param(path, setup, id=name))
    return params


@pytest.fixture
def load(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], ModuleType]]:
    """Import an example by path; forget it (and what it imported) afterwards."""
    before = set(sys.modules)

    def load_example(path: Path) -> ModuleType:
        name = f"examples_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, module)
        spec.loader.exec_module(module)
        return module

    yield load_example
    for name in set(sys.modules) - before:
        if name.startswith("examples_"):
            del sys.modules[name]


def test_examples_are_found() -> None:
    found = {p.name for p in EXAMPLES.glob("*.py")}
    assert set(SETUPS) <= found


@pytest.mark.parametrize(("path", "setup"), cases())
def test_example_runs(
    path: Path,
    setup: Setup,
    load: Callable[[Path], ModuleType],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    for name, value in setup.env.items():
        monkeypatch.setenv(name, value)
    if setup.server is None:  # the example starts its own server
        run_main(load(path))
        output = capsys.readouterr().out
        requests: list[RecordedRequest] = []
        assert "AICHATFREE_BASE_URL" not in os.environ  # put back as it was
    else:
        declared = getattr(load(path), "LOCAL_SERVER", {})
        with LocalServer(**{**declared, **setup.server}) as server:
            monkeypatch.setenv("AICHATFREE_BASE_URL", server.url)
            run_main(load(path))  # again: module-level code reads the URL now
            output = capsys.readouterr().out
            server.wait_until(lambda: server.open_connections == 0)
            requests = list(server.requests)
    assert output.strip(), f"{path.name} printed nothing"
    position = 0
    for text in setup.expect:
        found = output.find(text, position)
        assert found >= 0, f"{text!r} not in the output after {position}:\n{output}"
        position = found + len(text)
    if setup.check is not None:
        setup.check(requests, output)


def run_main(module: ModuleType) -> None:
    main = getattr(module, "main", None)
    assert callable(main), f"{module.__file__} has no main()"
    main()


# -- the class docstring's code is the examples' code -------------------------


def docstring_blocks(doc: str) -> list[str]:
    """The `.. code-block:: python` and ```` ```python ```` blocks of a docstring."""
    lines = inspect.cleandoc(doc).splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        marker = lines[index].strip()
        index += 1
        if marker not in (".. code-block:: python", "```python"):
            continue
        fenced = marker.startswith("```")
        indent = len(lines[index - 1]) - len(lines[index - 1].lstrip())
        body = []
        while index < len(lines):
            line = lines[index]
            if fenced and line.strip() == "```":
                index += 1
                break
            depth = len(line) - len(line.lstrip())
            if not fenced and line.strip() and depth <= indent:
                break
            body.append(line)
            index += 1
        blocks.append(textwrap.dedent("\n".join(body)).strip("\n"))
    return blocks


def contains(source: str, block: str) -> bool:
    """Whether `block`'s lines appear in `source` in a row, at any one indentation."""
    want = [line for line in block.splitlines() if line.strip()]
    have = [line for line in source.splitlines() if line.strip()]
    for start in range(len(have) - len(want) + 1):
        first = have[start]
        if not first.endswith(want[0]):
            continue
        pad = first[: len(first) - len(want[0])]
        if pad.strip():
            continue
        if all(have[start + k] == pad + want[k] for k in range(len(want))):
            return True
    return False


BLOCKS = docstring_blocks(ChatAIChatFree.__doc__ or "")


def test_the_docstring_has_code_blocks() -> None:
    assert len(BLOCKS) >= 4


def test_block_search_respects_order_and_indentation() -> None:
    source = "def main():\n    a = 1\n\n    b = 2\n    if a:\n        c = 3\n"
    assert contains(source, "a = 1\nb = 2")
    assert contains(source, "b = 2\nif a:\n    c = 3")
    assert not contains(source, "b = 2\na = 1")
    assert not contains(source, "a = 1\nc = 3")
    assert not contains(source, "if a:\nc = 3")


@pytest.mark.parametrize(
    "block", BLOCKS, ids=[b.splitlines()[0].strip()[:40] for b in BLOCKS]
)
def test_docstring_block_is_in_an_example(block: str) -> None:
    sources = {p.name: p.read_text() for p in sorted(EXAMPLES.glob("*.py"))}
    homes = [name for name, source in sources.items() if contains(source, block)]
    assert homes, f"this ChatAIChatFree docstring block is in no example:\n{block}"
