"""A pytest plugin with the ``aichatfree_server`` fixture.

Enable it in a ``conftest.py`` (or a test module)::

    pytest_plugins = ["langchain_aichatfree.testing.pytest_plugin"]

then take the fixture in any test, sync or async::

    def test_hello(aichatfree_server):
        aichatfree_server.script("Hello!")
        ...  # call your chain with base_url=aichatfree_server.url
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from langchain_aichatfree.testing._server import LocalServer

__all__ = ["aichatfree_server"]


@pytest.fixture
def aichatfree_server() -> Iterator[LocalServer]:
    """A started `LocalServer` (gemini dialect, no secret, no password).

    It runs in a background thread with its own event loop, so it serves sync
    tests and async tests (on any loop) alike, and is stopped after the test.

    Yields:
        The running server; ``.url`` is its base URL.
    """
    with LocalServer() as server:
        yield server
