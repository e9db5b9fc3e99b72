"""Fixtures shared by every test: a clean environment, the local server, Redis.

* The ``AICHATFREE_*`` variables of the shell that runs the tests are removed for
  the whole session, so a developer's own deployment settings never leak into a
  test (a test that needs one sets it with ``monkeypatch``).
* ``server`` is a started `LocalServer` (thread mode: it serves sync and async
  tests alike), one per test; ``module_server`` is one shared by a module's
  tests. Both are built from ``server_options``, the `LocalServer` keyword
  arguments, which a module overrides to give its server a secret, passwords, a
  dialect or a responder::

      @pytest.fixture(scope="module")
      def server_options() -> dict[str, Any]:
          return {"secret": "pub", "passwords": "pw"}

  A parametrised ``server_options`` runs the module's tests once per set.
* ``redis_server``, ``redis_session_server`` and ``private_redis_server``: a
  real Redis for the quota store's tests (`tests/_redis.py`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from langchain_aichatfree import _quota
from langchain_aichatfree.testing import LocalServer
from tests._redis import private_redis_server, redis_server, redis_session_server

__all__ = [
    "module_server",
    "private_redis_server",
    "redis_server",
    "redis_session_server",
    "server",
    "server_options",
]

ENV_PREFIX = "AICHATFREE_"
"""The prefix of every variable the package (and its examples) read."""

ENV_KEPT = frozenset({"AICHATFREE_REDIS_SERVER"})
"""Settings of the tests themselves (where the Redis binary is), not of a site."""


@pytest.fixture(scope="session", autouse=True)
def _clean_environment() -> Iterator[None]:
    """No ``AICHATFREE_*`` setting of the shell reaches a test."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(ENV_PREFIX) and name not in ENV_KEPT:
                patch.delenv(name)
        yield


@pytest.fixture(scope="module")
def server_options() -> dict[str, Any]:
    """`LocalServer` keyword arguments for ``server``; a module overrides this."""
    return {}


@pytest.fixture
def server(server_options: dict[str, Any]) -> Iterator[LocalServer]:
    """A started `LocalServer` for one test, set up by ``server_options``."""
    with LocalServer(**server_options) as started:
        yield started


@pytest.fixture(scope="module")
def module_server(server_options: dict[str, Any]) -> Iterator[LocalServer]:
    """A started `LocalServer` shared by a module's tests (``server_options``)."""
    with LocalServer(**server_options) as started:
        yield started


@pytest.fixture(autouse=True)
def _fresh_quota_state() -> Iterator[None]:
    """Every test starts with empty in-process quota stores.

    Local servers get ports the system hands out again later: a cooldown one
    test left on 127.0.0.1:PORT must not meet the next server on that port.
    """
    yield
    with _quota._memory_lock:
        _quota._memory_stores.clear()
