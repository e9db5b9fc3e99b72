"""ChatAIChatFree's public API against the local protocol-faithful server."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from typing import Any
from uuid import UUID

import aiohttp
import pytest
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.rate_limiters import BaseRateLimiter

from langchain_aichatfree import (
    APITimeoutError,
    AuthenticationError,
    ChatAIChatFree,
    DeploymentError,
    InvalidRequestError,
    RateLimitError,
    StreamInterruptedError,
    generate_signature,
)
from langchain_aichatfree.testing import UPSTREAM_ERRORS, LocalServer, Reply

TEXT = "héllo wörld — 你好 🌍, and some more words to make several chunks."


@pytest.fixture(scope="module", params=["gemini", "chatgpt-demo"])
def server_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The local server, once per dialect: every test runs against both."""
    return {"secret": "pub", "passwords": "pw1,pw2", "dialect": request.param}


def make(server: LocalServer, **kwargs: Any) -> ChatAIChatFree:
    params: dict[str, Any] = {
        "base_url": server.url,
        "secret": "pub",
        "password": "pw2",
        "chunk_timeout": 5.0,
        "dialect": server.dialect,
    }
    params.update(kwargs)
    return ChatAIChatFree(**params)


def texts(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """(role, text) of each message sent, in either dialect."""
    return [
        (m["role"], m["parts"][0]["text"] if "parts" in m else m["content"])
        for m in payload["messages"]
    ]


# -- requests --------------------------------------------------------------


async def test_ainvoke_sends_a_signed_request_with_password(
    server: LocalServer,
) -> None:
    server.script(Reply(TEXT, chunk_size=7))
    async with make(server) as model:
        answer = await model.ainvoke(
            [SystemMessage("Be brief."), HumanMessage("Hi"), HumanMessage("again")]
        )
    assert answer.content == TEXT
    [request] = server.requests
    payload = request.payload
    assert payload["pass"] == "pw2"
    assert isinstance(payload["time"], int)
    sent = texts(payload)
    if server.dialect == "gemini":
        [(role, text)] = sent
        assert role == "user"
        assert text.endswith("Hi\n\nagain")
        assert "Be brief." in text
    else:
        assert sent == [("system", "Be brief."), ("user", "Hi"), ("user", "again")]
        text = "again"
    assert payload["sign"] == generate_signature(payload["time"], text, "pub")
    assert request.headers["Origin"] == server.url
    assert request.headers["Referer"] == server.url + "/"
    assert request.headers["Content-Type"] == "text/plain;charset=UTF-8"


def test_invoke_sync(server: LocalServer) -> None:
    server.script("sync answer")
    with make(server) as model:
        assert model.invoke("hi").content == "sync answer"


async def test_default_headers_override(server: LocalServer) -> None:
    async with make(
        server, default_headers={"User-Agent": "me/1", "X-Extra": "1"}
    ) as m:
        await m.ainvoke("hi")
    headers = server.requests[0].headers
    assert headers["User-Agent"] == "me/1"
    assert headers["X-Extra"] == "1"


async def test_echo_of_a_long_history(server: LocalServer) -> None:
    async with make(server) as model:
        answer = await model.ainvoke(
            [
                ("ai", "Welcome!"),
                ("human", "a"),
                ("human", "b"),
                ("ai", "c"),
                ("human", "d"),
            ]
        )
    assert answer.content == "Echo: d"
    roles = [role for role, _ in texts(server.requests[0].payload)]
    if server.dialect == "gemini":
        assert roles == ["user", "model", "user", "model", "user"]
    else:
        assert roles == ["assistant", "user", "user", "assistant", "user"]


# -- authentication ----------------------------------------------------------


async def test_wrong_password_names_the_setting(server: LocalServer) -> None:
    async with make(server, password="nope") as model:
        with pytest.raises(AuthenticationError, match="AICHATFREE_PASSWORD") as info:
            await model.ainvoke("hi")
    assert info.value.status_code == 401
    assert "nope" not in str(info.value)
    assert len(server.requests) == 1  # not retried


async def test_wrong_secret_names_the_setting(server: LocalServer) -> None:
    async with make(server, secret="wrong") as model:
        with pytest.raises(AuthenticationError, match="AICHATFREE_SECRET"):
            await model.ainvoke("hi")
    assert len(server.requests) == 1


# -- streaming -------------------------------------------------------------


async def test_astream_multibyte_split_one_byte_at_a_time(server: LocalServer) -> None:
    server.script(Reply(TEXT, chunk_size=1, chunk_delay=0.001))
    async with make(server) as model:
        chunks = [c async for c in model.astream("hi")]
    assert "".join(c.text for c in chunks) == TEXT
    assert all("\ufffd" not in c.text for c in chunks)
    assert len(chunks) > 3
    last = chunks[-1]
    assert last.chunk_position == "last"
    assert last.response_metadata["finish_reason"] == "stop"
    # Issue 10 item 23: the model reported follows the dialect (it was always
    # gemini-1.5-pro, also for chatgpt-demo).
    expected = {"gemini": "gemini-1.5-pro", "chatgpt-demo": "gpt-3.5-turbo"}
    assert last.response_metadata["model_name"] == expected[server.dialect]
    assert last.response_metadata["model_provider"] == "aichatfree"
    assert [c for c in chunks if c.usage_metadata] == [last]
    assert last.usage_metadata is not None
    assert last.usage_metadata["output_tokens"] > 0
    assert last.usage_metadata["input_tokens"] > 0


async def test_stream_sync_yields_chunks(server: LocalServer) -> None:
    server.script(Reply(TEXT, chunk_size=5, chunk_delay=0.001))
    model = make(server)
    chunks = await asyncio.to_thread(lambda: list(model.stream("hi")))
    assert "".join(c.text for c in chunks) == TEXT
    assert chunks[-1].chunk_position == "last"
    model.close()


async def test_merged_stream_is_one_message(server: LocalServer) -> None:
    server.script(Reply(TEXT, chunk_size=9))
    async with make(server) as model:
        full: AIMessageChunk | None = None
        async for chunk in model.astream("hi"):
            full = chunk if full is None else full + chunk
    assert full is not None
    assert full.content == TEXT
    assert full.response_metadata["finish_reason"] == "stop"


# -- truncation -------------------------------------------------------------


class Tokens(AsyncCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []

    async def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        self.tokens.append(token)


async def test_sentinel_raises_and_never_reaches_the_caller(
    server: LocalServer,
) -> None:
    server.script(Reply("partial answer here", chunk_size=4, fail_after=3))
    tokens = Tokens()
    seen = ""
    async with make(server) as model:
        with pytest.raises(StreamInterruptedError) as info:
            async for chunk in model.astream("hi", config={"callbacks": [tokens]}):
                seen += chunk.text
    assert info.value.partial_text == "partial answer"[:12]
    assert "Internal" not in seen
    assert "Internal" not in "".join(tokens.tokens)
    assert len(server.requests) == 1  # text had reached the caller: no retry


async def test_ainvoke_retries_an_interrupted_answer(server: LocalServer) -> None:
    server.script(Reply("partial", fail_after=1), Reply(TEXT))
    async with make(server) as model:
        answer = await model.ainvoke("hi")
    assert answer.content == TEXT
    assert len(server.requests) == 2


async def test_interrupted_every_time_raises_with_partial(server: LocalServer) -> None:
    server.script(*[Reply("abc def", chunk_size=4, fail_after=1)] * 3)
    async with make(server, max_retries=2) as model:
        with pytest.raises(StreamInterruptedError) as info:
            await model.ainvoke("hi")
    assert info.value.partial_text == "abc "
    assert len(server.requests) == 3


async def test_tcp_cut_raises_stream_interrupted(server: LocalServer) -> None:
    server.script(Reply(TEXT, chunk_size=10, cut_after=2))
    async with make(server, max_retries=0) as model:
        with pytest.raises(StreamInterruptedError) as info:
            async for _ in model.astream("hi"):
                pass
    assert (
        TEXT.encode()[:20].decode("utf-8", "ignore").startswith(info.value.partial_text)
    )


# -- retries ---------------------------------------------------------------


async def test_rate_limit_then_success(server: LocalServer) -> None:
    server.script(Reply.rate_limited(retry_in=0.01), TEXT)
    async with make(server) as model:
        assert (await model.ainvoke("hi")).content == TEXT
    assert len(server.requests) == 2


async def test_hinted_delay_is_honoured(server: LocalServer) -> None:
    server.script(Reply.rate_limited(retry_in=0.3), TEXT)
    async with make(server) as model:
        await model.ainvoke("hi")
    first, second = server.requests
    assert second.time - first.time >= 0.3


async def test_retries_are_bounded_by_max_retries(server: LocalServer) -> None:
    server.script(*[Reply.rate_limited(retry_in=0.01)] * 5)
    async with make(server, max_retries=2) as model:
        with pytest.raises(RateLimitError):
            await model.ainvoke("hi")
    assert len(server.requests) == 3


async def test_too_long_hint_is_raised_at_once(server: LocalServer) -> None:
    server.script(Reply.rate_limited(retry_in=3600))
    async with make(server) as model:
        with pytest.raises(RateLimitError) as info:
            await model.ainvoke("hi")
    assert info.value.retry_after == 3600
    assert len(server.requests) == 1


@pytest.mark.parametrize("kind", ["upstream_500", "upstream_503", "fetch_failed"])
async def test_transient_upstream_failures_are_retried(
    server: LocalServer, kind: str
) -> None:
    server.script(Reply(error=UPSTREAM_ERRORS[kind]), TEXT)
    async with make(server) as model:
        assert (await model.ainvoke("hi")).content == TEXT
    assert len(server.requests) == 2


@pytest.mark.parametrize("kind", ["bad_history", "empty_text", "api_key_invalid"])
async def test_permanent_failures_are_not_retried(
    server: LocalServer, kind: str
) -> None:
    server.script(Reply(error=UPSTREAM_ERRORS[kind]))
    async with make(server) as model:
        # Issue 11: the deployment's own key refused is a DeploymentError (it
        # was the caller's AuthenticationError).
        with pytest.raises((InvalidRequestError, DeploymentError)) as info:
            await model.ainvoke("hi")
    assert not info.value.is_retryable
    assert len(server.requests) == 1


async def test_no_retry_once_a_chunk_reached_the_caller(server: LocalServer) -> None:
    server.script(Reply("abcdefgh", chunk_size=2, fail_after=2), TEXT)
    async with make(server) as model:
        with pytest.raises(StreamInterruptedError):
            async for _ in model.astream("hi"):
                pass
    assert len(server.requests) == 1


class CountingLimiter(BaseRateLimiter):
    def __init__(self) -> None:
        self.calls = 0

    def acquire(self, *, blocking: bool = True) -> bool:
        self.calls += 1
        return True

    async def aacquire(self, *, blocking: bool = True) -> bool:
        self.calls += 1
        return True


async def test_rate_limiter_is_consulted_before_every_attempt(
    server: LocalServer,
) -> None:
    server.script(
        Reply.rate_limited(retry_in=0.01), Reply.rate_limited(retry_in=0.01), TEXT
    )
    limiter = CountingLimiter()
    async with make(server, rate_limiter=limiter) as model:
        await model.ainvoke("hi")
    assert len(server.requests) == 3
    assert limiter.calls == 3


# -- timeouts and cancellation ----------------------------------------------


async def test_silence_before_first_byte_times_out(server: LocalServer) -> None:
    server.script(Reply(TEXT, first_byte_delay=3))
    async with make(server, chunk_timeout=0.3, max_retries=0) as model:
        start = time.monotonic()
        with pytest.raises(APITimeoutError, match="before the first byte"):
            await model.ainvoke("hi")
    assert time.monotonic() - start < 2.5


async def test_silence_between_chunks_times_out(server: LocalServer) -> None:
    server.script(Reply(TEXT, chunk_size=10, stall_after=1, stall_seconds=3))
    async with make(server, chunk_timeout=0.3, max_retries=0) as model:
        with pytest.raises(APITimeoutError) as info:
            async for _ in model.astream("hi"):
                pass
    assert info.value.partial_text


async def test_total_timeout(server: LocalServer) -> None:
    server.script(Reply(TEXT, chunk_size=2, chunk_delay=0.1))
    async with make(server, timeout=0.5, max_retries=0) as model:
        with pytest.raises(APITimeoutError):
            await model.ainvoke("hi")


async def test_timeouts_are_retried(server: LocalServer) -> None:
    server.script(Reply(TEXT, first_byte_delay=2), TEXT)
    async with make(server, chunk_timeout=0.3, max_retries=1) as model:
        assert (await model.ainvoke("hi")).content == TEXT
    assert len(server.requests) == 2


async def test_cancelling_a_stream_closes_its_connection(server: LocalServer) -> None:
    server.script(Reply(TEXT * 20, chunk_size=8, chunk_delay=0.02))
    async with make(server) as model:
        started = asyncio.Event()

        async def consume() -> None:
            async for _ in model.astream("hi"):
                started.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(started.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await server.wait_idle()
        assert server.disconnects == 1
        assert server.open_connections == 0
        assert (await model.ainvoke("still usable?")).content == "Echo: still usable?"


async def test_cancelling_an_ainvoke_closes_its_connection(server: LocalServer) -> None:
    server.script(Reply(TEXT * 20, chunk_size=8, chunk_delay=0.02))
    async with make(server) as model:
        task = asyncio.create_task(model.ainvoke("hi"))
        await server.wait_for(lambda: len(server.requests) == 1)
        await asyncio.sleep(0.1)  # the answer is streaming
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await server.wait_for(lambda: server.disconnects == 1)
        await server.wait_idle()
        assert server.requests[0].outcome == "client_disconnected"


# -- stop sequences and max_tokens -------------------------------------------


async def test_stop_sequence_split_across_chunks(server: LocalServer) -> None:
    server.script(
        Reply("one two STOP three four" * 50, chunk_size=3, chunk_delay=0.001)
    )
    async with make(server) as model:
        chunks = [c async for c in model.astream("hi", stop=["STOP"])]
    assert "".join(c.text for c in chunks) == "one two "
    assert chunks[-1].response_metadata["finish_reason"] == "stop"
    await server.wait_idle()
    assert server.open_connections == 0  # the rest was not read


async def test_stop_on_invoke_and_model_level(server: LocalServer) -> None:
    server.script("alpha\nbeta")
    async with make(server, stop=["\n"]) as model:
        answer = await model.ainvoke("hi")
    assert answer.content == "alpha"


async def test_max_tokens_sets_length(server: LocalServer) -> None:
    server.script(Reply("x" * 400, chunk_size=16))
    async with make(server, max_tokens=10) as model:
        answer = await model.ainvoke("hi")
    assert answer.content == "x" * 40
    assert answer.response_metadata["finish_reason"] == "length"


# -- metadata ----------------------------------------------------------------


async def test_invoke_metadata_and_per_call_model(server: LocalServer) -> None:
    async with make(server) as model:
        answer = await model.ainvoke("hello there", model="gemini-2.0-flash")
    # Issue 13 added which deployment answered, and the call's routing.
    assert answer.response_metadata == {
        "model_name": "gemini-2.0-flash",
        "finish_reason": "stop",
        "model_provider": "aichatfree",
        "deployment": server.url,
        "routing": [{"deployment": server.url, "outcome": "ok", "waited": 0.0}],
    }
    assert answer.usage_metadata == {
        "input_tokens": 3,
        "output_tokens": 5,
        "total_tokens": 8,
    }


# -- sync bridge ----------------------------------------------------------------


def test_batch_from_sync_code(server: LocalServer) -> None:
    model = make(server)
    answers = model.batch([f"q{i}" for i in range(20)])
    assert [a.content for a in answers] == [f"Echo: q{i}" for i in range(20)]
    model.close()


async def test_sync_invoke_inside_a_running_loop(server: LocalServer) -> None:
    model = make(server)
    # A notebook cell or an async handler calling sync code: the loop is running.
    assert model.invoke("from a loop").content == "Echo: from a loop"
    assert next(c.text for c in model.stream("again")) == "Echo: again"
    model.close()


def test_sync_calls_do_not_leak_threads(server: LocalServer) -> None:
    model = make(server)
    model.invoke("warm up")
    before = threading.active_count()
    for i in range(10):
        model.invoke(f"q{i}")
        list(model.stream(f"s{i}"))
    model.batch(["a", "b", "c"])
    assert threading.active_count() == before
    model.close()


# -- callbacks and LCEL ---------------------------------------------------------


class SyncTokens(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []

    def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        self.tokens.append(token)


def test_sync_stream_fires_one_callback_per_chunk(server: LocalServer) -> None:
    server.script(Reply(TEXT, chunk_size=6, chunk_delay=0.001))
    handler = SyncTokens()
    model = make(server)
    chunks = list(model.stream("hi", config={"callbacks": [handler]}))
    assert handler.tokens == [c.text for c in chunks]
    model.close()


async def test_async_stream_fires_one_callback_per_chunk(server: LocalServer) -> None:
    server.script(Reply(TEXT, chunk_size=6, chunk_delay=0.001))
    handler = Tokens()
    async with make(server) as model:
        chunks = [c async for c in model.astream("hi", config={"callbacks": [handler]})]
    assert handler.tokens == [c.text for c in chunks]


@pytest.mark.parametrize("use_async", [False, True])
async def test_streaming_invoke_fires_token_callbacks(
    server: LocalServer, use_async: bool
) -> None:
    # Writes far enough apart that a loaded machine still reads them one by one.
    server.script(Reply(TEXT, chunk_size=6, chunk_delay=0.03))
    handler = SyncTokens()
    model = make(server, streaming=True)
    config: Any = {"callbacks": [handler]}
    if use_async:
        answer = await model.ainvoke("hi", config=config)
    else:
        answer = await asyncio.to_thread(model.invoke, "hi", config=config)
    assert answer.content == TEXT
    assert "".join(handler.tokens) == TEXT
    assert len([t for t in handler.tokens if t]) > 3
    await model.aclose()


async def test_astream_events(server: LocalServer) -> None:
    server.script(Reply(TEXT, chunk_size=6, chunk_delay=0.001))
    async with make(server) as model:
        events = [e async for e in model.astream_events("hi", version="v2")]
    streamed = "".join(
        e["data"]["chunk"].text for e in events if e["event"] == "on_chat_model_stream"
    )
    assert streamed == TEXT
    assert events[-1]["event"] == "on_chat_model_end"


async def test_lcel_chain_streams(server: LocalServer) -> None:
    server.script(Reply(TEXT, chunk_size=6, chunk_delay=0.001))
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are terse."), ("human", "{question}")]
    )
    async with make(server) as model:
        chain = prompt | model | StrOutputParser()
        pieces = [p async for p in chain.astream({"question": "why?"})]
    assert "".join(pieces) == TEXT
    assert len([p for p in pieces if p]) > 3
    sent = texts(server.requests[0].payload)
    assert "You are terse." in sent[0][1]
    assert sent[-1][1].endswith("why?")


# -- sessions --------------------------------------------------------------------


async def test_connections_are_reused(server: LocalServer) -> None:
    async with make(server) as model:
        for i in range(3):
            await model.ainvoke(f"q{i}")
        async for _ in model.astream("s"):
            pass
    assert server.connections_opened == 1


def test_sync_connections_are_reused(server: LocalServer) -> None:
    model = make(server)
    for i in range(3):
        model.invoke(f"q{i}")
    model.close()
    assert server.connections_opened == 1


async def test_model_without_aclose_leaves_no_warning(server: LocalServer) -> None:
    # filterwarnings=error: an unclosed session would fail the run at loop
    # shutdown, when the pool's closer closes it.
    model = make(server)
    await model.ainvoke("hi")


async def test_per_call_connector(server: LocalServer) -> None:
    connector = aiohttp.TCPConnector()
    try:
        async with make(server) as model:
            answer = await model.ainvoke("hi", connector=connector)
        assert answer.content == "Echo: hi"
    finally:
        await connector.close()


async def test_proxy_is_used(server: LocalServer) -> None:
    # The local server accepts absolute-form targets, so it can play the proxy:
    # the deployment's own host does not exist, only the proxy can answer.
    async with make(server, base_url="http://deployment.invalid") as model:
        answer = await model.ainvoke("via proxy", proxy=server.url)
    assert answer.content == "Echo: via proxy"


async def test_bad_input_sends_nothing(server: LocalServer) -> None:
    async with make(server) as model:
        with pytest.raises(ValueError, match="empty"):
            await model.ainvoke([HumanMessage("")])
        with pytest.raises(ValueError, match="must end with a user message"):
            async for _ in model.astream([("human", "q"), ("ai", "a")]):
                pass
    assert server.requests == []


async def test_callbacks_record_the_error(server: LocalServer) -> None:
    class Errors(AsyncCallbackHandler):
        def __init__(self) -> None:
            self.errors: list[BaseException] = []

        async def on_llm_error(
            self, error: BaseException, *, run_id: UUID, **kwargs: Any
        ) -> None:
            self.errors.append(error)

    server.script(Reply(error=UPSTREAM_ERRORS["bad_history"]))
    handler = Errors()
    async with make(server) as model:
        with pytest.raises(InvalidRequestError):
            await model.ainvoke("hi", config={"callbacks": [handler]})
    assert len(handler.errors) == 1


def test_sessions_close_with_their_loops(server: LocalServer) -> None:
    # Each asyncio.run makes and ends a loop; the model is never closed by hand.
    # Under filterwarnings=error an unclosed session or transport would fail here.
    model = make(server)
    for i in range(3):
        assert asyncio.run(model.ainvoke(f"q{i}")).text == f"Echo: q{i}"
    assert model.invoke("sync too").text == "Echo: sync too"
    del model
    gc.collect()
    server.wait_until(lambda: server.open_connections == 0)


def test_breaking_out_of_a_sync_stream_closes_its_connection(
    server: LocalServer,
) -> None:
    server.script(Reply(TEXT * 50, chunk_size=8, chunk_delay=0.02))
    model = make(server)
    for chunk in model.stream("hi"):
        assert chunk.text
        break
    server.wait_until(lambda: server.disconnects == 1)
    server.wait_until(lambda: server.open_connections == 0)
    assert model.invoke("again").text == "Echo: again"
    model.close()
