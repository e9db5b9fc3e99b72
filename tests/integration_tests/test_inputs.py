"""Settings and call arguments against the local server: limits, secrets, re-asks."""

from __future__ import annotations

import json
import math
import socket
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.rate_limiters import BaseRateLimiter
from pydantic import BaseModel

from langchain_aichatfree import AIChatFreeError, ChatAIChatFree
from langchain_aichatfree._cli import main
from langchain_aichatfree.testing import UPSTREAM_ERRORS, LocalServer, Reply

PASSWORD = "PW-frames-51c7-recognisable"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(passwords=PASSWORD) as s:
        yield s


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- infinite seconds ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["timeout", "chunk_timeout"])
async def test_infinite_seconds_are_no_limit_in_a_real_call(
    server: LocalServer, name: str
) -> None:
    async with ChatAIChatFree(
        base_url=server.url, password=PASSWORD, **{name: math.inf}
    ) as model:
        assert (await model.ainvoke("hi")).content == "Echo: hi"
        chunks = [c.content async for c in model.astream("there")]
        assert "".join(map(str, chunks)) == "Echo: there"
    arguments: dict[str, Any] = {name: math.inf}
    with ChatAIChatFree(base_url=server.url, password=PASSWORD) as model:
        assert model.invoke("call", **arguments).content == "Echo: call"


def test_the_commands_timeout_inf_is_no_limit(
    server: LocalServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AICHATFREE_BASE_URL", server.url)
    monkeypatch.setenv("AICHATFREE_PASSWORD", PASSWORD)
    monkeypatch.setattr(sys, "stdin", None)
    assert main(["--timeout", "inf", "hello"]) == 0
    assert capsys.readouterr().out == "Echo: hello\n"


def test_the_commands_json_never_shows_url_credentials(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", None)
    url = f"http://user:{PASSWORD}@127.0.0.1:{closed_port()}"
    assert main(["--json", "--base-url", url, "hi"]) == 2
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err
    assert "must not contain a user name or password" in err


# -- the password in frame locals ------------------------------------------------------


def _frames(error: BaseException) -> Iterator[types.FrameType]:
    """Every frame of an error's traceback, its causes' and contexts' too."""
    seen: set[int] = set()
    todo: list[BaseException] = [error]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        tb = current.__traceback__
        while tb is not None:
            yield tb.tb_frame
            tb = tb.tb_next
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]


def _leaks(error: BaseException) -> list[str]:
    """`file:function:local` for every local whose repr shows the password."""
    found = []
    for frame in _frames(error):
        for name, value in frame.f_locals.items():
            try:
                shown = repr(value)
            except Exception:  # a repr that fails shows nothing
                continue
            if PASSWORD in shown:
                code = frame.f_code
                found.append(f"{code.co_filename}:{code.co_name}:{name}")
    return found


FAILURES: dict[str, Any] = {
    "upstream error": Reply(error=UPSTREAM_ERRORS["api_key_invalid"]),
    "cut short": Reply(chunks=["partial ", "answer"], fail_after=1),
    "retried then failed": Reply(error=UPSTREAM_ERRORS["upstream_503"]),
    "timeout": Reply("late", first_byte_delay=5),
}


@pytest.mark.parametrize("case", sorted(FAILURES))
@pytest.mark.parametrize("api", ["invoke", "stream"])
def test_no_frame_local_holds_the_password(
    server: LocalServer, case: str, api: str
) -> None:
    server.script(*[FAILURES[case]] * 2)
    model = ChatAIChatFree(
        base_url=server.url,
        password=PASSWORD,
        max_retries=1 if case == "retried then failed" else 0,
        chunk_timeout=0.5,
    )
    with model, pytest.raises(AIChatFreeError) as info:
        if api == "invoke":
            model.invoke("hi")
        else:
            list(model.stream("hi"))
    assert server.requests[0].payload["pass"] == PASSWORD  # sent where it belongs
    assert _leaks(info.value) == []


def test_no_frame_local_holds_the_password_when_unreachable() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    model = ChatAIChatFree(base_url=url, password=PASSWORD, max_retries=0)
    with model, pytest.raises(AIChatFreeError) as info:
        model.invoke("hi")
    assert _leaks(info.value) == []


def test_no_frame_local_holds_the_password_after_a_wrong_password(
    server: LocalServer,
) -> None:
    model = ChatAIChatFree(base_url=server.url, password=PASSWORD + "-x")
    with model, pytest.raises(AIChatFreeError) as info:
        model.invoke("hi")
    assert _leaks(info.value) == []


# -- the forced-tool re-ask and the rate limiter -----------------------------------


class CountingLimiter(BaseRateLimiter):
    """Never waits; counts how often it is consulted."""

    def __init__(self) -> None:
        self.acquired = 0

    def acquire(self, *, blocking: bool = True) -> bool:
        self.acquired += 1
        return True

    async def aacquire(self, *, blocking: bool = True) -> bool:
        self.acquired += 1
        return True


class Weather(BaseModel):
    """The weather in a city."""

    city: str


CALL = json.dumps({"tool_calls": [{"name": "Weather", "arguments": {"city": "P"}}]})


@pytest.mark.parametrize("api", ["invoke", "ainvoke", "stream"])
async def test_the_forced_tool_reask_consults_the_rate_limiter(
    server: LocalServer, api: str
) -> None:
    limiter = CountingLimiter()
    server.script("Probably sunny.", CALL)
    async with ChatAIChatFree(
        base_url=server.url, password=PASSWORD, rate_limiter=limiter
    ) as model:
        bound = model.bind_tools([Weather], tool_choice="Weather")
        if api == "invoke":
            answer = bound.invoke("weather?")
        elif api == "ainvoke":
            answer = await bound.ainvoke("weather?")
        else:
            chunks = list(bound.stream("weather?"))
            answer = chunks[-1]
    assert answer.response_metadata["tool_call_forced_retry"] is True
    assert len(server.requests) == 2
    assert limiter.acquired == 2  # once per request


# -- the local server's own options ---------------------------------------------


@pytest.mark.parametrize("name", ["first_byte_delay", "chunk_delay", "stall_seconds"])
def test_a_reply_refuses_a_nan_delay(name: str) -> None:
    options: dict[str, Any] = {name: math.nan}
    with pytest.raises(ValueError, match=name):
        Reply("x", **options)


def test_the_local_server_refuses_a_nan_upstream_timeout() -> None:
    with pytest.raises(ValueError, match="upstream_timeout"):
        LocalServer(upstream_timeout=math.nan)
