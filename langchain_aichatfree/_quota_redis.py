"""The Redis quota store (work in progress: the interface is in `_quota`)."""

from __future__ import annotations

from langchain_aichatfree._quota import QuotaStore


def shared_redis_store(url: str, *, prefix: str, rpm_window: float) -> QuotaStore:
    """The process's `RedisStore` for this URL and prefix (not yet built)."""
    raise NotImplementedError("the Redis quota store is being built (h13-store)")
