"""The Redis quota store's connections: one per event loop, its URL never shown.

`RedisConnections` makes, for each event loop that asks, a small blocking
connection pool with short timeouts and no retries inside the client (the
store falls back to local state instead), registers the store's Lua scripts
on it, and closes it when the loop ends. `redact_url` and `scrub` keep the
URL's passwords out of reprs, logs and errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from urllib.parse import parse_qsl, unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript

from langchain_aichatfree._constants import REDIS_MAX_CONNECTIONS
from langchain_aichatfree._quota_redis_scripts import (
    ACQUIRE,
    COOL_DOWN,
    MERGE_COUNTS,
    RELEASE,
    STATUS,
)

__all__ = ["RedisConnection", "RedisConnections", "redact_url", "scrub"]


def _passwords(url: str) -> list[str]:
    """The passwords a Redis URL carries (in its user info or its query)."""
    parts = urlsplit(url)
    found: list[str] = []
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        raw = userinfo.split(":", 1)[1]
        found += [raw, unquote(raw)]
    for name, value in parse_qsl(parts.query):
        if name.lower() == "password" and value:
            found.append(value)
    return [secret for secret in found if secret]


def redact_url(url: str) -> str:
    """The URL with its passwords replaced by ``***`` (for reprs and logs).

    Args:
        url: A Redis URL; a password may be in its user info or in a
            ``password=`` query parameter.

    Returns:
        The same URL, without the passwords.
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostport}"
    query = "&".join(
        f"{name}=***" if name.lower() == "password" else f"{name}={value}"
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    shown = f"{parts.scheme}://{netloc}{parts.path}"
    return shown + (f"?{query}" if query else "")


def scrub(text: str, url: str) -> str:
    """Replace the passwords of `url` in a text (a Redis error may quote them).

    Args:
        text: Any text.
        url: The Redis URL whose passwords to hide.

    Returns:
        The text with each password replaced by ``***``.
    """
    for secret in _passwords(url):
        text = text.replace(secret, "***")
    return text


class RedisConnection:
    """The client, pool and registered scripts of one event loop."""

    def __init__(
        self, client: aioredis.Redis, pool: aioredis.BlockingConnectionPool
    ) -> None:
        self.client = client
        self.pool = pool
        self.acquire: AsyncScript = client.register_script(ACQUIRE)
        self.cool_down: AsyncScript = client.register_script(COOL_DOWN)
        self.release: AsyncScript = client.register_script(RELEASE)
        self.status: AsyncScript = client.register_script(STATUS)
        self.merge_counts: AsyncScript = client.register_script(MERGE_COUNTS)
        self.closer = self._close_when_ended()
        """Suspended in its loop's care: the loop's shutdown_asyncgens()
        (``asyncio.run`` calls it) ends it, which closes the connections."""

    async def _close_when_ended(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            await self.close()

    async def take_out(self, key: str, reason: str, seconds: float) -> None:
        """Set the take-out key for ``seconds`` (one ``SET ... PX``)."""
        await self.client.set(key, reason, px=max(1, int(seconds * 1000)))

    async def close(self) -> None:
        """Close the client and disconnect its pool."""
        await self.client.aclose()
        await self.pool.disconnect()


class RedisConnections:
    """One `RedisConnection` per event loop, to one Redis URL.

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://``.
        connect_timeout: Seconds to connect to Redis.
        socket_timeout: Seconds to wait for one Redis answer (and for a free
            connection of the pool).
    """

    def __init__(
        self, url: str, *, connect_timeout: float, socket_timeout: float
    ) -> None:
        self.url = url
        self._connect_timeout = connect_timeout
        self._socket_timeout = socket_timeout
        self._by_loop: dict[asyncio.AbstractEventLoop, RedisConnection] = {}

    def __len__(self) -> int:
        """How many event loops have a connection (ended loops' are pruned)."""
        return len(self._by_loop)

    async def current(self) -> RedisConnection:
        """The running loop's connection, made (without I/O) on first use.

        Returns:
            The connection.
        """
        loop = asyncio.get_running_loop()
        connection = self._by_loop.get(loop)
        if connection is None:
            # Loops that ended closed their connections through the closer.
            for old in [old for old in self._by_loop if old.is_closed()]:
                self._by_loop.pop(old, None)
            # A few connections, reused: a burst of calls waits briefly for
            # one rather than opening a connection each (slow under load).
            pool = aioredis.BlockingConnectionPool.from_url(
                self.url,
                max_connections=REDIS_MAX_CONNECTIONS,
                timeout=self._socket_timeout,
                socket_connect_timeout=self._connect_timeout,
                socket_timeout=self._socket_timeout,
                # Untyped in redis 5.0: the ignore is for the oldest allowed.
                retry=Retry(NoBackoff(), 0),  # type: ignore[no-untyped-call,unused-ignore]
                retry_on_timeout=False,
                health_check_interval=0,
            )
            client = aioredis.Redis(connection_pool=pool)
            connection = self._by_loop[loop] = RedisConnection(client, pool)
            await connection.closer.__anext__()
        return connection

    async def aclose(self) -> None:
        """Close the running loop's connection (others close with their loop)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - always called from a loop
            return
        connection = self._by_loop.pop(loop, None)
        if connection is not None:
            await connection.closer.aclose()
