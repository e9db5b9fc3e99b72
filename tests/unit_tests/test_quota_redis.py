"""The Redis store without a Redis: its URL checks and its redaction of passwords.

Its behaviour against a real Redis is in tests/integration_tests/test_quota_store.py.
"""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:s3cret@h:1/0", "redis://:***@h:1/0"),
        ("redis://user:p%40ss@h:1/0", "redis://user:***@h:1/0"),
        ("rediss://user@h:1", "rediss://user@h:1"),
        ("redis://:x@[::1]:6379/2", "redis://:***@[::1]:6379/2"),
        ("unix:///tmp/r.sock?db=1&password=zz", "unix:///tmp/r.sock?db=1&password=***"),
    ],
)
def test_redis_urls_are_shown_without_passwords(url: str, shown: str) -> None:
    from langchain_aichatfree._quota_redis import RedisStore
    from langchain_aichatfree._redis_connection import redact_url

    assert redact_url(url) == shown
    assert shown in repr(RedisStore(url))


@pytest.mark.parametrize(
    "url", ["redis://:s3cret@h:notaport/0", "redis://h:1/0?db=x&password=s3cret"]
)
def test_a_bad_redis_url_fails_when_made_without_its_password(url: str) -> None:
    from langchain_aichatfree._quota_redis import RedisStore

    with pytest.raises(ValueError, match="invalid Redis quota store URL") as info:
        RedisStore(url)
    assert "s3cret" not in str(info.value)
