"""Which quota store a URL names, and the in-memory store's own checks.

The stores themselves (memory and Redis, one shared suite) are tested in
tests/integration_tests/test_quota_store.py, against a real Redis; the pure
policy in test_quota_policy.py.
"""

from __future__ import annotations

import sys

import pytest

from langchain_aichatfree._quota import MemoryStore, store_from_url


def test_memory_url_is_one_store_per_prefix() -> None:
    a = store_from_url("memory")
    assert isinstance(a, MemoryStore)
    assert store_from_url("memory") is a
    assert store_from_url("memory", prefix="other:") is not a
    assert store_from_url("memory", rpm_window=2.0).rpm_window == 2.0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "url",
    ["", "redis", "http://127.0.0.1:6379", "memcached://x", "hunter2-password"],
)
def test_unknown_store_url_is_a_value_error_without_its_text(url: str) -> None:
    with pytest.raises(ValueError, match="memory") as info:
        store_from_url(url)
    assert "hunter2" not in str(info.value)
    assert "127.0.0.1" not in str(info.value)


def test_redis_url_gives_a_redis_store_without_connecting() -> None:
    from langchain_aichatfree._quota_redis import RedisStore

    store = store_from_url("redis://:s3cret-pw@127.0.0.1:1/0", prefix="t:")
    assert isinstance(store, RedisStore)
    assert store is store_from_url("redis://:s3cret-pw@127.0.0.1:1/0", prefix="t:")
    assert "s3cret-pw" not in repr(store)
    assert "***" in repr(store)
    for url in ("rediss://127.0.0.1:1/0", "unix:///tmp/none.sock"):
        assert isinstance(store_from_url(url), RedisStore)


def test_redis_url_without_the_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "langchain_aichatfree._quota_redis")
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ImportError, match=r"langchain-aichatfree\[redis\]"):
        store_from_url("redis://127.0.0.1:6379/0", prefix="missing:")


def test_memory_store_rejects_a_bad_window() -> None:
    with pytest.raises(ValueError, match="rpm_window"):
        MemoryStore(rpm_window=0)
