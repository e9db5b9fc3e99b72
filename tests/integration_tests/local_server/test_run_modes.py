"""Thread mode, the pytest fixture and the command line."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from typing import Any

import aiohttp
import pytest
from yarl import URL

from langchain_aichatfree.testing import (
    LocalServer,
)
from tests.integration_tests.local_server._helpers import (
    BAD_PASSWORD,
    hi,
    post,
    sign,
)

pytest_plugins = ["langchain_aichatfree.testing.pytest_plugin"]


async def _client_roundtrip(url: str, payload: dict[str, Any]) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/api/generate", json=payload) as response,
    ):
        return response.status, await response.read()


def test_thread_mode():
    with LocalServer(secret="t") as server:
        server.script("from the thread")
        status, body = asyncio.run(_client_roundtrip(server.url, hi(secret="t")))
        assert (status, body) == (200, b"from the thread")
        server.wait_until(lambda: server.open_connections == 0)
        assert server.connections_opened == 1
        assert server.requests[-1].outcome == "ok"
        url = server.url
    with pytest.raises(aiohttp.ClientConnectionError):
        asyncio.run(_client_roundtrip(url, hi(secret="t")))


async def test_thread_mode_from_async_code():
    with LocalServer() as server:
        async with aiohttp.ClientSession() as session:
            assert (await post(session, server, hi())).body == b"Echo: hi"
        await server.wait_idle()


async def test_wait_until_refuses_to_block_its_own_loop(server):
    with pytest.raises(RuntimeError):
        server.wait_until(lambda: True)


def test_thread_mode_reports_startup_failure():
    with LocalServer() as first:
        port = URL(first.url).port
        with (
            pytest.raises(OSError, match="address already in use"),
            LocalServer(port=port or 0),
        ):
            pass


def test_fixture_in_sync_test(aichatfree_server):
    assert isinstance(aichatfree_server, LocalServer)
    aichatfree_server.script("fixture")
    status, body = asyncio.run(_client_roundtrip(aichatfree_server.url, hi()))
    assert (status, body) == (200, b"fixture")


async def test_fixture_in_async_test(aichatfree_server):
    async with aiohttp.ClientSession() as session:
        answer = await post(session, aichatfree_server, hi())
    assert answer.body == b"Echo: hi"
    await aichatfree_server.wait_idle()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_cli(signum):
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "langchain_aichatfree.testing",
        "--port",
        "0",
        "--password",
        "a",
        "b",
        "--secret",
        "s",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        match = re.fullmatch(
            r"AIChatFree local server listening on (http://127\.0\.0\.1:\d+)\n", line
        )
        assert match, line
        url = match.group(1)
        status, body = await _client_roundtrip(url, hi(secret="s", password="b"))
        assert (status, body) == (200, b"Echo: hi")
        status, body = await _client_roundtrip(url, hi(secret="s"))
        assert (status, body) == (401, BAD_PASSWORD)
    finally:
        if proc.returncode is None:
            proc.send_signal(signum)
        rc = await asyncio.wait_for(proc.wait(), 10)
    assert rc == 0
    assert await proc.stdout.read() == b""


@pytest.mark.parametrize(
    "aichatfree_server_options",
    [{"passwords": "pw", "secret": "s", "dialect": "chatgpt-demo"}],
)
def test_fixture_options_set_password_secret_and_dialect(aichatfree_server):
    assert aichatfree_server.dialect == "chatgpt-demo"
    payload = {
        "messages": [{"role": "user", "content": "hi"}],
        "time": 1,
        "pass": "pw",
        "sign": sign(1, "hi", "s"),
    }
    status, body = asyncio.run(_client_roundtrip(aichatfree_server.url, payload))
    assert (status, body) == (200, b"Echo: hi")
    status, body = asyncio.run(
        _client_roundtrip(aichatfree_server.url, {**payload, "pass": "no"})
    )
    assert (status, body) == (401, BAD_PASSWORD)
