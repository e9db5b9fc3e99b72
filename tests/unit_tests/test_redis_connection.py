"""`_redis_connection` without a Redis: passwords out of URLs and error texts."""

from __future__ import annotations

import pytest

pytest.importorskip("redis")

from langchain_aichatfree._redis_connection import (
    RedisConnections,
    scrub,
)

SCRUBBED = [
    # (url, text a Redis error might say, what is shown)
    ("redis://:s3cret@h:1/0", "AUTH s3cret failed", "AUTH *** failed"),
    ("redis://user:p%40ss@h:1/0", "bad p@ss or p%40ss", "bad *** or ***"),
    ("unix:///tmp/r.sock?password=zz", "zz refused", "*** refused"),
    ("redis://h:1/0", "Connection refused", "Connection refused"),
]


@pytest.mark.parametrize(("url", "text", "shown"), SCRUBBED)
def test_a_redis_error_is_shown_without_the_url_s_password(
    url: str, text: str, shown: str
) -> None:
    assert scrub(text, url) == shown


def test_connections_are_made_per_loop_on_first_use_only() -> None:
    connections = RedisConnections(
        "redis://127.0.0.1:1/0", connect_timeout=0.1, socket_timeout=0.1
    )
    assert len(connections) == 0  # nothing is made before a loop asks
