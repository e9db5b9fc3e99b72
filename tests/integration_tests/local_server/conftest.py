"""The local server tests' fixtures: the server runs on the test's own loop.

These tests read the server's state (its connections, its request log) between
their own awaits, and one checks that a server refuses to block its own loop,
so ``server`` is started with ``async with`` (async mode) rather than in a
thread. It is built from the shared ``server_options`` like every other server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from langchain_aichatfree.testing import LocalServer


@pytest.fixture
async def server(server_options: dict[str, Any]) -> AsyncIterator[LocalServer]:
    """A `LocalServer` started on the running test's loop."""
    async with LocalServer(**server_options) as started:
        yield started


@pytest.fixture
async def session(server: LocalServer) -> AsyncIterator[aiohttp.ClientSession]:
    """A client session for the test (after the server has started)."""
    async with aiohttp.ClientSession() as client:
        yield client
