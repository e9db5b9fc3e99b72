"""A pytest plugin with the ``aichatfree_server`` fixture.

Enable it in a ``conftest.py`` (or a test module)::

    pytest_plugins = ["langchain_aichatfree.testing.pytest_plugin"]

then take the fixture in any test, sync or async (async tests need an async
plugin such as ``pytest-asyncio``)::

    def test_hello(aichatfree_server):
        aichatfree_server.script("Hello!")
        ...  # call your chain with base_url=aichatfree_server.url

The server is set up by ``aichatfree_server_options``, the `LocalServer`
keyword arguments: override that fixture (in a module or a ``conftest.py``) to
require a password or a secret, imitate the chatgpt-demo dialect, or play the
model with a responder::

    @pytest.fixture
    def aichatfree_server_options():
        return {"passwords": "pw", "secret": "site-key"}

or parametrize it for one test::

    @pytest.mark.parametrize("aichatfree_server_options", [{"passwords": "pw"}])
    def test_with_a_password(aichatfree_server): ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from langchain_aichatfree.testing._server import LocalServer

__all__ = ["aichatfree_server", "aichatfree_server_options"]


@pytest.fixture
def aichatfree_server_options() -> dict[str, Any]:
    """`LocalServer` keyword arguments for ``aichatfree_server`` (default: none).

    Returns:
        The arguments: ``passwords``, ``secret``, ``dialect``, ``responder``...
    """
    return {}


@pytest.fixture
def aichatfree_server(
    aichatfree_server_options: dict[str, Any],
) -> Iterator[LocalServer]:
    """A started `LocalServer`, set up by ``aichatfree_server_options``.

    By default: the gemini dialect, no secret, no password. It runs in a
    background thread with its own event loop, so it serves sync tests and
    async tests (on any loop) alike, and is stopped after the test.

    Yields:
        The running server; ``.url`` is its base URL.
    """
    with LocalServer(**aichatfree_server_options) as server:
        yield server
