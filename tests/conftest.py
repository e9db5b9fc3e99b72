"""Fixtures shared by the unit and integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from langchain_aichatfree import _quota
from tests._redis import private_redis_server, redis_server, redis_session_server

__all__ = ["private_redis_server", "redis_server", "redis_session_server"]


@pytest.fixture(autouse=True)
def _fresh_quota_state() -> Iterator[None]:
    # Local servers get ports the system hands out again later: a cooldown one
    # test left on 127.0.0.1:PORT must not meet the next server on that port.
    yield
    with _quota._memory_lock:
        _quota._memory_stores.clear()
