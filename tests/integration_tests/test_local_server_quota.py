"""`LocalServer(quota=...)`: the upstream's quotas, over real HTTP.

The quota's clock is pinned where a test needs exact hints; nothing is timed.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from langchain_aichatfree import ChatAIChatFree
from langchain_aichatfree._quota_policy import cooldown_for, next_pacific_midnight
from langchain_aichatfree._upstream_text import (
    UpstreamKind,
    classify_upstream_message,
    parse_retry_hint,
)
from langchain_aichatfree.errors import RateLimitError
from langchain_aichatfree.testing import UPSTREAM_ERRORS, LocalServer, Quota, Reply
from tests.integration_tests.local_server._helpers import hi, post

T0 = 1_796_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def chatgpt_body(text: str = "hi", password: str | None = None) -> dict[str, Any]:
    from tests.integration_tests.local_server._helpers import sign

    return {
        "messages": [{"role": "user", "content": text}],
        "time": 1,
        "pass": password,
        "sign": sign(1, text),
    }


def message(body: bytes) -> str:
    return str(json.loads(body)["error"]["message"])


async def test_per_minute_limit_answers_geminis_text_with_the_window_hint() -> None:
    clock = Clock()
    quota = Quota(rpm=2, window=10.0, clock=clock)
    async with LocalServer(quota=quota) as server, aiohttp.ClientSession() as s:
        assert (await post(s, server, hi())).status == 200
        clock.now += 3
        assert (await post(s, server, hi())).status == 200
        clock.now += 1.5
        refused = await post(s, server, hi())
        assert refused.status == 500
        text = message(refused.body)
        assert text.startswith(
            "[GoogleGenerativeAI Error]: Error fetching from  [429 Too Many Requests]"
            " You exceeded your current quota"
        )
        assert "GenerateRequestsPerMinutePerProjectPerModel-FreeTier" in text
        # The oldest request leaves the 10 s window 5.5 s from now.
        assert "Please retry in 5.5s." in text
        # The server deletes URLs, and the RetryInfo after the Help link with them.
        assert "http" not in text
        assert "retryDelay" not in text
        assert '"quotaValue":"2"' in text
        assert classify_upstream_message(text) == (UpstreamKind.RATE_LIMIT, 5.5)
        # The refused request was not counted: the window frees on time.
        clock.now = T0 + 10
        assert (await post(s, server, hi())).status == 200
        assert (await post(s, server, hi())).status == 500
    assert (quota.served, quota.refused_per_minute, quota.refused_per_day) == (3, 2, 0)


async def test_daily_cap_names_the_per_day_quota_with_a_short_hint() -> None:
    clock = Clock()
    quota = Quota(rpm=10, rpd=3, window=4.0, day=100.0, clock=clock)
    async with LocalServer(quota=quota) as server, aiohttp.ClientSession() as s:
        for _ in range(3):
            assert (await post(s, server, hi())).status == 200
            clock.now += 1
        refused = await post(s, server, hi())
        text = message(refused.body)
        assert "GenerateRequestsPerDayPerProjectPerModel-FreeTier" in text
        assert '"quotaValue":"3"' in text
        # A real daily cap carries a short hint; only the quota id tells.
        assert parse_retry_hint(text) == pytest.approx(1.0)
        deadline, reason = cooldown_for(text, None, now=clock.now, strikes=1)
        assert (deadline, reason) == (next_pacific_midnight(clock.now), "daily cap")
        # The next (shortened) day has a fresh budget.
        clock.now = T0 + 100
        assert (await post(s, server, hi())).status == 200
    assert quota.refused_per_day == 1


async def test_days_end_at_midnight_pacific_by_default() -> None:
    midnight = next_pacific_midnight(T0)
    clock = Clock(midnight - 2)
    quota = Quota(rpd=1, clock=clock)
    async with LocalServer(quota=quota) as server, aiohttp.ClientSession() as s:
        assert (await post(s, server, hi())).status == 200
        clock.now = midnight - 0.5
        assert (await post(s, server, hi())).status == 500
        clock.now = midnight
        assert (await post(s, server, hi())).status == 200


async def test_chatgpt_demo_forwards_openais_429() -> None:
    clock = Clock()
    quota = Quota(rpm=1, rpd=2, window=20.0, day=3600.0, clock=clock)
    server = LocalServer(quota=quota, dialect="chatgpt-demo")
    async with server, aiohttp.ClientSession() as s:
        assert (await post(s, server, chatgpt_body())).status == 200
        refused = await post(s, server, chatgpt_body())
        assert refused.status == 429
        error = json.loads(refused.body)["error"]
        assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
        assert "on requests per min (RPM): Limit 1, Used 1" in error["message"]
        assert "Please try again in 20s." in error["message"]
        clock.now += 20
        assert (await post(s, server, chatgpt_body())).status == 200
        clock.now += 40
        refused = await post(s, server, chatgpt_body())
        text = json.loads(refused.body)["error"]["message"]
        assert "requests per day (RPD): Limit 2" in text
        # OpenAI names the real wait: the rest of the (shortened) day.
        assert "Please try again in 59m0s." in text
        assert parse_retry_hint(text) == pytest.approx(3540)
        assert cooldown_for(text, None, now=clock.now, strikes=1)[1] == "daily cap"


async def test_servers_sharing_one_quota_are_one_project() -> None:
    clock = Clock()
    shared = Quota(rpm=3, window=60.0, clock=clock)
    own = Quota(rpm=3, window=60.0, clock=clock)
    async with (
        LocalServer(quota=shared) as a,
        LocalServer(quota=shared) as b,
        LocalServer(quota=own) as c,
        aiohttp.ClientSession() as s,
    ):
        statuses = [(await post(s, server, hi())).status for server in (a, b, a, b)]
        assert statuses == [200, 200, 200, 500]
        assert (await post(s, c, hi())).status == 200
    assert shared.served == 3
    assert own.served == 1


async def test_refused_requests_consume_no_script_and_rejections_no_quota() -> None:
    clock = Clock()
    quota = Quota(rpm=1, clock=clock)
    server = LocalServer(quota=quota, passwords="pw")
    async with server, aiohttp.ClientSession() as s:
        server.script("first", "second")
        # A wrong password never reaches the upstream: not counted.
        assert (await post(s, server, hi(password="nope"))).status == 401
        assert (await post(s, server, hi(password="pw"))).body == b"first"
        assert (await post(s, server, hi(password="pw"))).status == 500
        clock.now += 60
        assert (await post(s, server, hi(password="pw"))).body == b"second"
        # Scripted failures still count: the upstream was called.
        server.script(Reply(error="boom"))
        clock.now += 60
        assert (await post(s, server, hi(password="pw"))).status == 500
        assert quota.served == 3


async def test_the_chat_model_sees_a_rate_limit_with_the_servers_hint() -> None:
    for dialect in ("gemini", "chatgpt-demo"):
        quota = Quota(rpm=1, window=30.0)
        async with (
            LocalServer(quota=quota, dialect=dialect) as server,
            ChatAIChatFree(
                base_url=server.url, dialect=dialect, max_retries=0
            ) as model,
        ):
            assert (await model.ainvoke("hi")).content == "Echo: hi"
            with pytest.raises(RateLimitError) as info:
                await model.ainvoke("hi")
            assert info.value.retry_after is not None
            assert 25 < info.value.retry_after <= 30
        assert (quota.served, quota.refused) == (1, 1)


@pytest.mark.parametrize(
    "kwargs",
    [{"rpm": 0}, {"rpd": 0}, {"window": 0}, {"day": -1.0}],
)
def test_bad_quota_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Quota(**kwargs)


def test_quota_repr() -> None:
    assert repr(Quota(rpm=2, window=1.0)) == (
        "Quota(rpm=2, rpd=None, window=1.0, day=None)"
    )


@pytest.mark.parametrize(
    "text",
    [
        *UPSTREAM_ERRORS.values(),
        Reply.rate_limited(retry_in=2).error,
        Reply.rate_limited().error,
    ],
)
def test_upstream_texts_have_their_urls_deleted_like_the_real_server(
    text: str | None,
) -> None:
    """The real server deletes every URL (up to a space) from upstream messages."""
    assert text is not None
    assert "http" not in text
