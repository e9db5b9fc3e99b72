"""Fixtures shared by the unit and integration tests."""

from tests._redis import private_redis_server, redis_server, redis_session_server

__all__ = ["private_redis_server", "redis_server", "redis_session_server"]
