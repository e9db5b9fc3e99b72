"""How a call ends when the server, a proxy or the caller gets in the way.

Issue 10's transport items: an error body classified only once it is all in
(behind a proxy that splits writes into single bytes), the password kept out of
any server text we show, a 200 refused only when it is really a page,
`close()`/`aclose()` during a call, and the advice a wrong dialect or a
misconfigured deployment gets.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest
from aiohttp import web

from langchain_aichatfree import (
    AIChatFreeError,
    APIError,
    AuthenticationError,
    ChatAIChatFree,
    ClientClosedError,
    DeploymentError,
    InvalidRequestError,
    RateLimitError,
    StreamInterruptedError,
    UnexpectedResponseError,
)
from langchain_aichatfree.testing import UPSTREAM_ERRORS, LocalServer, Reply
from tests.integration_tests._split_proxy import split_proxy

PASSWORD = 'hunter2 "ß"'
SECRET = "k"


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    async with LocalServer(secret=SECRET, passwords=PASSWORD) as server:
        yield server


def model_for(url: str, **kwargs: object) -> ChatAIChatFree:
    settings: dict[str, object] = {
        "base_url": url,
        "secret": SECRET,
        "password": PASSWORD,
        "max_retries": 2,
        "chunk_timeout": 30,
    }
    settings.update(kwargs)
    return ChatAIChatFree(**settings)


# -- item 19: the whole error body, however it is split --------------------------


@pytest.mark.parametrize(
    ("reply", "error_class", "text"),
    [
        (Reply.rate_limited(retry_in=3600), RateLimitError, "Please retry in 3600s"),
        (Reply(error=UPSTREAM_ERRORS["bad_history"]), InvalidRequestError, "alternate"),
        (
            Reply(error=UPSTREAM_ERRORS["api_key_invalid"]),
            DeploymentError,
            "API key not valid",
        ),
    ],
    ids=["quota", "bad_history", "bad_key"],
)
async def test_an_error_body_split_into_single_bytes_is_read_whole(
    server: LocalServer,
    reply: Reply,
    error_class: type[AIChatFreeError],
    text: str,
) -> None:
    server.script(reply)
    async with split_proxy(server.url) as url, model_for(url) as model:
        with pytest.raises(AIChatFreeError) as info:
            await model.ainvoke("hi")
    assert type(info.value) is error_class
    assert text in info.value.message
    assert info.value.status_code == 500
    assert "Server error (HTTP 500): {" not in info.value.message
    assert len(server.requests) == 1  # not retried: none of these is transient
    if isinstance(info.value, RateLimitError):
        assert info.value.retry_after == 3600


async def test_a_wrong_secret_through_a_splitting_proxy_names_the_secret(
    server: LocalServer,
) -> None:
    async with split_proxy(server.url) as url, model_for(url, secret="no") as model:
        with pytest.raises(AuthenticationError) as info:
            await model.ainvoke("hi")
    assert info.value.message.startswith("Invalid signature. (HTTP 401)")
    assert info.value.server_message == "Invalid signature."


# -- item 13: the password never in what we show of a server's text ----------------


def echo_app(kind: str) -> web.Application:
    """A server (or proxy) that puts the request, password included, in its errors."""

    async def echo_error(request: web.Request) -> web.Response:
        body = await request.text()
        if kind == "json":
            message = json.dumps({"error": {"message": f"Bad request: {body}"}})
            return web.Response(status=400, text=message)
        if kind == "page":
            return web.Response(text=f"<pre>{body}</pre>", content_type="text/html")
        if kind == "redirect":
            password = quote(json.loads(body)["pass"], safe="")
            raise web.HTTPFound(f"https://elsewhere.example/login?pass={password}")
        return web.Response(status=502, text=f"proxy could not parse {body}")

    app = web.Application()
    app.router.add_post("/api/generate", echo_error)
    return app


async def serve_app(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.mark.parametrize("kind", ["json", "page", "redirect", "plain"])
async def test_a_server_echoing_the_request_does_not_show_the_password(
    kind: str,
) -> None:
    runner, url = await serve_app(echo_app(kind))
    try:
        async with model_for(url, max_retries=0) as model:
            with pytest.raises(AIChatFreeError) as info:
                await model.ainvoke("hi")
    finally:
        await runner.cleanup()
    error = info.value
    shown = " ".join(
        str(part)
        for part in (error, error.body, error.server_message, repr(error), error.args)
    )
    forms = {
        PASSWORD,
        "hunter2",
        json.dumps(PASSWORD)[1:-1],
        json.dumps(PASSWORD, ensure_ascii=False)[1:-1],
        quote(PASSWORD, safe=""),
    }
    for form in forms:
        assert form not in shown
    assert "[password]" in shown


# -- item 22: a 200 without text/plain is an answer unless it is a page --------------


def typed_app(content_type: str | None) -> web.Application:
    async def answer(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        if content_type is not None:
            response.headers["Content-Type"] = content_type
        await response.prepare(request)
        body = (
            b'{"error":{"message":"login required"}}'
            if "json" in (content_type or "")
            else b"Hello there"
        )
        await response.write(body)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/api/generate", answer)
    return app


@pytest.mark.parametrize(
    ("content_type", "answered"),
    [
        (None, True),  # aiohttp then sends its default, application/octet-stream
        ("application/octet-stream", True),
        ("text/plain; charset=utf-8", True),
        ("text/html; charset=utf-8", False),
        ("application/json", False),
        ("application/problem+json", False),
        ("application/xhtml+xml", False),
    ],
)
async def test_only_a_real_page_is_refused(
    content_type: str | None, answered: bool
) -> None:
    runner, url = await serve_app(typed_app(content_type))
    try:
        async with model_for(url) as model:
            if answered:
                assert (await model.ainvoke("hi")).text == "Hello there"
            else:
                with pytest.raises(UnexpectedResponseError) as info:
                    await model.ainvoke("hi")
                assert not info.value.is_retryable
                if "json" in (content_type or ""):
                    assert "login required" in info.value.message
    finally:
        await runner.cleanup()


# -- item 6: close() and aclose() during a call ---------------------------------------


async def test_aclose_during_astream_ends_it_with_a_closed_error(
    server: LocalServer,
) -> None:
    server.script(Reply(chunks=["first", "second"], chunk_delay=30))
    model = model_for(server.url)
    pieces = []
    with pytest.raises(ClientClosedError) as info:
        async for chunk in model.astream("hi"):
            pieces.append(chunk.text)
            await model.aclose()  # between two reads: aiohttp's RuntimeError
    assert pieces == ["first"]
    assert info.value.partial_text == "first"
    assert not info.value.is_retryable
    assert len(server.requests) == 1
    # The model stays usable: a new call opens a new session.
    assert (await model.ainvoke("again")).text == "Echo: again"
    await model.aclose()


async def test_aclose_from_another_task_while_a_read_waits(
    server: LocalServer,
) -> None:
    server.script(Reply(chunks=["first", "second"], chunk_delay=30))
    model = model_for(server.url, chunk_timeout=None)  # nothing else ends a wait
    first = asyncio.Event()

    async def consume() -> list[str]:
        pieces = []
        async for chunk in model.astream("hi"):
            pieces.append(str(chunk.text))
            first.set()
        return pieces

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 10)
    for _ in range(5):
        await asyncio.sleep(0)  # the stream is now waiting for its next read
    await model.aclose()
    with pytest.raises(ClientClosedError) as info:
        await asyncio.wait_for(task, 60)  # before the fix: waited forever
    assert info.value.partial_text == "first"


async def test_aclose_during_a_retry_wait_is_a_closed_error(
    server: LocalServer,
) -> None:
    server.script(Reply.rate_limited(retry_in=2))
    model = model_for(server.url)
    task = asyncio.create_task(model.ainvoke("hi"))
    await server.wait_for(lambda: len(server.requests) == 1)
    await model.aclose()
    with pytest.raises(ClientClosedError) as info:
        await task  # before the fix: RuntimeError("Session is closed")
    assert "before the first byte" in info.value.message
    assert len(server.requests) == 1


def test_close_from_another_thread_during_a_sync_stream() -> None:
    with LocalServer() as server:
        server.script(Reply(chunks=["first", "second"], chunk_delay=30))
        # chunk_timeout=None: before the fix the stream then waited forever.
        model = ChatAIChatFree(base_url=server.url, chunk_timeout=None)
        pieces: list[str] = []
        outcome: list[BaseException] = []
        first = threading.Event()

        def consume() -> None:
            try:
                for chunk in model.stream("hi"):
                    pieces.append(chunk.text)
                    first.set()
            except BaseException as e:
                outcome.append(e)

        consumer = threading.Thread(target=consume, daemon=True)
        consumer.start()
        assert first.wait(30)
        model.close()  # from this thread, while the consumer's read waits
        consumer.join(60)
        assert not consumer.is_alive(), "the stream did not end when closed"
        assert pieces == ["first"]
        assert [type(e) for e in outcome] == [ClientClosedError]
        assert model.invoke("again").text == "Echo: again"
        model.close()


# -- item 21: the dialect, and the operator's own key ----------------------------------


async def test_a_chatgpt_demo_site_under_the_gemini_dialect_hears_of_the_dialect() -> (
    None
):
    async with (
        LocalServer(dialect="chatgpt-demo") as server,
        model_for(server.url, secret="", password=None) as model,
    ):
        with pytest.raises(AuthenticationError) as info:
            await model.ainvoke("hi")
    assert "Invalid signature." in info.value.message
    assert "chatgpt-demo" in info.value.message
    assert "`dialect`" in info.value.message


async def test_a_gemini_site_under_the_chatgpt_demo_dialect_hears_of_the_dialect() -> (
    None
):
    async with LocalServer() as server:
        model = model_for(
            server.url, secret="", password=None, dialect="chatgpt-demo", max_retries=0
        )
        async with model:
            with pytest.raises(APIError) as info:
                await model.ainvoke("hi")
    assert info.value.status_code == 500
    assert "`dialect` to gemini" in info.value.message


async def test_the_chatgpt_demo_operator_s_own_key_refused_is_not_our_credentials() -> (
    None
):
    refused = (
        "Incorrect API key provided: sk-abc***wxyz. You can find your API key at "
        "https://platform.openai.com/account/api-keys."
    )
    async with LocalServer(dialect="chatgpt-demo") as server:
        server.script(Reply(status=401, error=refused))
        async with model_for(
            server.url, secret="", password=None, dialect="chatgpt-demo"
        ) as model:
            with pytest.raises(DeploymentError) as info:
                await model.ainvoke("hi")
        assert len(server.requests) == 1
    assert not isinstance(info.value, AuthenticationError)
    assert info.value.status_code == 401
    assert "operator" in info.value.message
    assert "`password`" not in info.value.message


# -- item 23: the model name reported matches the dialect -----------------------------


@pytest.mark.parametrize(
    ("dialect", "name"),
    [("gemini", "gemini-1.5-pro"), ("chatgpt-demo", "gpt-3.5-turbo")],
)
def test_model_name_defaults_per_dialect(dialect: str, name: str) -> None:
    model = ChatAIChatFree(dialect=dialect)
    assert model.model == name
    assert model._get_ls_params()["ls_model_name"] == name
    assert ChatAIChatFree(dialect=dialect, model="mine").model == "mine"


@pytest.mark.parametrize("streaming", [False, True])
async def test_invoke_retries_a_broken_answer_unless_tokens_reached_callbacks(
    server: LocalServer, streaming: bool
) -> None:
    """What README's "Never after text was shown" says of `invoke`."""
    server.script(Reply(chunks=["part", "ial"], fail_after=1), "whole")
    async with model_for(server.url, streaming=streaming) as model:
        if streaming:
            with pytest.raises(StreamInterruptedError) as info:
                await model.ainvoke("hi")
            assert info.value.partial_text == "part"
            assert len(server.requests) == 1
        else:
            assert (await model.ainvoke("hi")).text == "whole"
            assert len(server.requests) == 2
