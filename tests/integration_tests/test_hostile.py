"""Odd and hostile responses: each ends in a clear error or a documented result."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trustme
from aiohttp import web

from langchain_aichatfree import (
    APIConnectionError,
    APIError,
    ChatAIChatFree,
    InvalidRequestError,
)
from langchain_aichatfree.testing import LocalServer, Reply


class OddServer:
    """A deliberately broken deployment, one misbehaviour per path prefix."""

    def __init__(self) -> None:
        self.hits: list[tuple[str, bytes]] = []
        self.port = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.hits.append((request.path, body))
        kind = request.path.split("/")[1]
        if kind == "html":
            return web.Response(
                text="<html>Just a moment...</html>", content_type="text/html"
            )
        if kind == "json200":
            return web.json_response({"error": {"message": "Quota exceeded"}})
        if kind == "notjson500":
            return web.Response(status=500, text="upstream exploded")
        if kind == "empty500":
            return web.Response(status=500)
        if kind == "same":
            raise web.HTTPTemporaryRedirect("/final/api/generate")
        if kind == "other":
            raise web.HTTPTemporaryRedirect(
                f"http://localhost:{self.port}/final/api/generate"
            )
        if kind == "loop":
            raise web.HTTPTemporaryRedirect("/loop/api/generate")
        if kind == "final":
            return web.Response(text="redirected answer", content_type="text/plain")
        return web.Response(status=404)


@pytest.fixture
async def odd() -> AsyncIterator[tuple[OddServer, str]]:
    server = OddServer()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = runner.addresses[0][1]
    yield server, f"http://127.0.0.1:{server.port}"
    await runner.cleanup()


def model(url: str, **kwargs: Any) -> ChatAIChatFree:
    return ChatAIChatFree(base_url=url, password="pw-secret", **kwargs)


async def test_200_html_page_is_an_error(odd: tuple[OddServer, str]) -> None:
    server, url = odd
    async with model(url + "/html") as m:
        with pytest.raises(APIError, match="text/html") as info:
            await m.ainvoke("hi")
    assert not info.value.is_retryable
    assert len(server.hits) == 1


async def test_200_json_is_an_error_with_its_message(
    odd: tuple[OddServer, str],
) -> None:
    _, url = odd
    async with model(url + "/json200") as m:
        with pytest.raises(APIError, match="Quota exceeded"):
            await m.ainvoke("hi")


async def test_error_body_that_is_not_json(odd: tuple[OddServer, str]) -> None:
    server, url = odd
    async with model(url + "/notjson500", max_retries=1) as m:
        with pytest.raises(APIError, match="upstream exploded") as info:
            await m.ainvoke("hi")
    assert info.value.status_code == 500
    assert info.value.is_retryable
    assert len(server.hits) == 2


async def test_empty_500(odd: tuple[OddServer, str]) -> None:
    _, url = odd
    async with model(url + "/empty500", max_retries=0) as m:
        with pytest.raises(APIError, match="empty body"):
            await m.ainvoke("hi")


async def test_redirects_are_not_followed_by_default(
    odd: tuple[OddServer, str],
) -> None:
    server, url = odd
    async with model(url + "/same") as m:
        with pytest.raises(InvalidRequestError, match="follow_redirects=True"):
            await m.ainvoke("hi")
    assert [path for path, _ in server.hits] == ["/same/api/generate"]


async def test_same_host_redirect_followed_when_allowed(
    odd: tuple[OddServer, str],
) -> None:
    server, url = odd
    async with model(url + "/same", follow_redirects=True) as m:
        assert (await m.ainvoke("hi")).text == "redirected answer"
    assert [path for path, _ in server.hits] == [
        "/same/api/generate",
        "/final/api/generate",
    ]


async def test_redirect_to_another_host_is_never_followed(
    odd: tuple[OddServer, str],
) -> None:
    server, url = odd
    async with model(url + "/other", follow_redirects=True) as m:
        with pytest.raises(InvalidRequestError, match="another site") as info:
            await m.ainvoke("hi")
    assert "pw-secret" not in str(info.value)
    # The password went to the configured site only, never to the redirect target.
    assert [path for path, _ in server.hits] == ["/other/api/generate"]


async def test_redirect_loop_is_bounded(odd: tuple[OddServer, str]) -> None:
    server, url = odd
    async with model(url + "/loop", follow_redirects=True) as m:
        with pytest.raises(InvalidRequestError, match="redirects"):
            await m.ainvoke("hi")
    assert len(server.hits) == 4


async def test_invalid_utf8_is_replaced_with_a_warning() -> None:
    with LocalServer() as server:
        server.script(Reply(chunks=[b"ok \xff", b"\xfe ok"]))
        async with ChatAIChatFree(base_url=server.url) as m:
            with pytest.warns(UnicodeWarning, match="invalid UTF-8"):
                answer = await m.ainvoke("hi")
    assert answer.text == "ok \ufffd\ufffd ok"


async def test_answer_larger_than_max_response_bytes() -> None:
    with LocalServer() as server:
        server.script(Reply("x" * 300_000, chunk_size=4096))
        async with ChatAIChatFree(base_url=server.url, max_response_bytes=50_000) as m:
            with pytest.raises(APIError, match="max_response_bytes=50000") as info:
                await m.ainvoke("hi")
        await server.wait_idle()
    assert not info.value.is_retryable
    assert len(info.value.partial_text) == 50_000
    assert len(server.requests) == 1
    assert server.open_connections == 0


@pytest.fixture(scope="module")
def tls() -> tuple[trustme.CA, ssl.SSLContext]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return ca, context


async def test_tls_is_verified_unless_turned_off(
    tls: tuple[trustme.CA, ssl.SSLContext],
) -> None:
    _, context = tls

    async def handle(request: web.Request) -> web.Response:
        return web.Response(text="secure hello", content_type="text/plain")

    app = web.Application()
    app.router.add_post("/api/generate", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    url = f"https://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with ChatAIChatFree(base_url=url, max_retries=0) as m:
            with pytest.raises(APIConnectionError, match="certificate"):
                await m.ainvoke("hi")
        async with ChatAIChatFree(base_url=url, verify_ssl=False) as m:
            assert (await m.ainvoke("hi")).text == "secure hello"
    finally:
        await runner.cleanup()
