"""`make demo`: the quickstart (and the agent example) against a deployment.

With AICHATFREE_BASE_URL set, the examples talk to that deployment (with
AICHATFREE_PASSWORD / AICHATFREE_SECRET if it needs them). Without it, the demo
starts the package's local offline server, `LocalServer`, with a few canned
answers streamed a little at a time, so it runs anywhere, without a network.

Last, `aichatfree probe` reads the site (its page, chat script and password
check) to find the settings to use, and `ChatAIChatFree.from_site` does the same
in code.

An example may declare the local server it needs in a module-level
`LOCAL_SERVER` dict of `LocalServer` keyword arguments (e.g. a `responder`);
the demo (and the test that runs every example) then starts that one for it.

    python examples/demo.py
    AICHATFREE_BASE_URL=https://aichatfree.info python examples/demo.py
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from langchain_aichatfree import ChatAIChatFree
from langchain_aichatfree.testing import LocalServer, Reply

HERE = Path(__file__).resolve().parent
EXAMPLES = ("quickstart.py", "agent.py", "pool.py")
"""Run in this order; a missing one (or one without `main()`) is skipped."""

CHUNK_SIZE = 6
CHUNK_DELAY = 0.02
"""Bytes per chunk and seconds between chunks of a canned answer."""

CANNED: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("langchain",),
        "LangChain is an open-source framework for building applications on "
        "language models, by composing prompts, models, tools and parsers.",
    ),
    (
        ("haiku",),
        "Silver water runs / carving patience into stone / the sea calls it home.",
    ),
    (
        ("salty",),
        "Arr, rain wears salt from the rocks, matey, and the rivers carry it to "
        "the sea, where the sun takes back only the water!",
    ),
    (("capital of france",), "Paris."),
    (("2 + 2", "2+2"), "4."),
    (
        ("story",),
        "Once upon a time, a small model lived on a laptop with no network. Its "
        "answers were canned, but it streamed each one proudly, a few letters at "
        "a time.",
    ),
    (("hi!", "hello"), "Hello! How can I help you today?"),
)
"""Answers keyed on words of the question (the first match wins)."""


def canned_responder(turns: list[dict[str, str]]) -> Reply:
    """Answer the quickstart's questions plausibly; say so for anything else."""
    question = turns[-1]["text"]
    lowered = question.lower()
    matches = (a for keys, a in CANNED if any(key in lowered for key in keys))
    asked = question.splitlines()[-1]
    answer = next(matches, f"(The offline demo server has no answer to {asked!r}.)")
    return Reply(answer, chunk_size=CHUNK_SIZE, chunk_delay=CHUNK_DELAY)


def load(path: Path) -> ModuleType:
    """Import an example by path (its module-level code runs now)."""
    name = f"examples_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables for the duration, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run(path: Path, *, offline: bool) -> None:
    """Run one example's `main()`, on its own local server if it declares one."""
    print(f"\n=== {path.name} ===", flush=True)
    if not offline:
        load(path).main()
        return
    settings: dict[str, Any] = getattr(load(path), "LOCAL_SERVER", {})
    settings = {"responder": canned_responder, **settings}
    settings.setdefault("secret", os.environ.get("AICHATFREE_SECRET", ""))
    with LocalServer(**settings) as server, environment(AICHATFREE_BASE_URL=server.url):
        load(path).main()  # loaded again: its module-level code reads the URL


def probe(base_url: str | None) -> None:
    """`aichatfree probe URL`, then `from_site`: from a site's URL to a model."""
    print("\n=== aichatfree probe ===", flush=True)
    with contextlib.ExitStack() as stack:
        if base_url is None:  # a local site, with a secret baked into its script
            server = LocalServer(secret="demo-secret", responder=canned_responder)
            base_url = stack.enter_context(server).url
        command = [sys.executable, "-m", "langchain_aichatfree", "probe", base_url]
        print("$ aichatfree probe", base_url, flush=True)
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        print(done.stdout + done.stderr, end="", flush=True)
        if done.returncode == 0:
            with ChatAIChatFree.from_site(base_url) as model:
                print("from_site:", model.invoke("Hi!").content, flush=True)


def has_main(path: Path) -> bool:
    return path.is_file() and "\ndef main(" in path.read_text(encoding="utf-8")


def main() -> None:
    examples = [HERE / name for name in EXAMPLES if has_main(HERE / name)]
    base_url = os.environ.get("AICHATFREE_BASE_URL")
    if base_url:
        print(f"Talking to {base_url} (from AICHATFREE_BASE_URL).")
    else:
        print(
            "AICHATFREE_BASE_URL is not set, so this demo talks to the package's "
            "local offline server (canned answers, no network).\nTo use a real "
            "deployment: AICHATFREE_BASE_URL=https://aichatfree.info make demo"
        )
    for path in examples:
        run(path, offline=not base_url)
    probe(base_url)


if __name__ == "__main__":
    main()
