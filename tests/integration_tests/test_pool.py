"""A pool of deployments: routing, failover, cooldowns, budgets, status.

Several `LocalServer`s play the deployments; the quota store is the process's
memory store (emptied after each test by tests/conftest.py), or a real Redis
(tests/_redis.py) where sharing between processes is the point. No test
asserts a duration: waiting shows in the routing records and request counts.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from langchain_aichatfree import (
    AuthenticationError,
    ChatAIChatFree,
    Deployment,
    InvalidRequestError,
    RateLimitError,
    StreamInterruptedError,
)
from langchain_aichatfree._quota_policy import next_pacific_midnight
from langchain_aichatfree.testing import UPSTREAM_ERRORS, LocalServer, Reply
from tests._redis import RedisServer

PASSWORD = "pool-pw-7731"
WRONG = "wrong-pw-1187"
DAILY_CAP = (
    "[GoogleGenerativeAI Error]: Error fetching from  [429 Too Many Requests] You "
    "exceeded your current quota. * Quota exceeded for metric: generativelanguage."
    "googleapis.com/generate_content_free_tier_requests, limit: 250 "
    '[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":'
    '[{"quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]}]\n'
    "Please retry in 38s."
)


@pytest.fixture
def servers() -> Iterator[list[LocalServer]]:
    with LocalServer() as a, LocalServer() as b, LocalServer() as c:
        yield [a, b, c]


def pool(*servers: LocalServer, **fields: object) -> list[Deployment]:
    return [Deployment(base_url=s.url, **fields) for s in servers]


def counts(servers: list[LocalServer]) -> list[int]:
    return [len(s.requests) for s in servers]


# -- picking ----------------------------------------------------------------------


async def test_calls_spread_over_the_pool(servers: list[LocalServer]) -> None:
    async with ChatAIChatFree(deployments=pool(*servers)) as model:
        answers = [await model.ainvoke(f"q{i}") for i in range(6)]
    assert counts(servers) == [2, 2, 2]
    served = [a.response_metadata["deployment"] for a in answers]
    assert sorted(served) == sorted([s.url for s in servers] * 2)
    for answer in answers:
        assert answer.response_metadata["routing"] == [
            {
                "deployment": answer.response_metadata["deployment"],
                "outcome": "ok",
                "waited": 0.0,
            }
        ]


async def test_most_remaining_budget_first_and_never_over_it(
    servers: list[LocalServer],
) -> None:
    a, b, _ = servers
    deployments = [
        Deployment(base_url=a.url, rpm=2),
        Deployment(base_url=b.url, rpm=4),
    ]
    async with ChatAIChatFree(deployments=deployments, max_wait=0) as model:
        first = await model.ainvoke("q")
        assert first.response_metadata["deployment"] == b.url  # 4 left beats 2
        for _ in range(5):
            await model.ainvoke("q")
        assert counts([a, b]) == [2, 4]
        with pytest.raises(RateLimitError) as info:
            await model.ainvoke("one too many")
    assert counts([a, b]) == [2, 4]  # no request went out over a budget
    assert info.value.retry_after is not None
    assert 0 < info.value.retry_after <= 63.1  # the window plus its 5% margin
    assert "rpm" in info.value.message


# -- failing over -------------------------------------------------------------------


async def test_rate_limit_fails_over_at_once_and_cools_down(
    servers: list[LocalServer],
) -> None:
    a, b, c = servers
    a.script(Reply.rate_limited(retry_in=30))
    before = time.time()
    async with ChatAIChatFree(deployments=pool(a, b, c)) as model:
        answer = await model.ainvoke("hi")
        limited, served = answer.response_metadata["routing"]
        assert limited["deployment"] == a.url
        assert limited["outcome"] == "rate_limit"
        assert limited["cooldown_reason"] == "retry hint"
        assert before + 30 <= limited["cooldown_until"] <= time.time() + 33.1
        assert served == {"deployment": b.url, "outcome": "ok", "waited": 0.0}
        for _ in range(4):
            await model.ainvoke("again")
    assert counts(servers) == [1, 3, 2]  # a is not asked while it cools down


async def test_cooldown_is_shared_by_every_model_of_the_process(
    servers: list[LocalServer],
) -> None:
    a, b, _ = servers
    a.script(Reply.rate_limited(retry_in=30))
    async with ChatAIChatFree(deployments=pool(a, b)) as first:
        await first.ainvoke("hi")
    async with ChatAIChatFree(deployments=pool(a, b)) as second:
        answers = [await second.ainvoke("hi") for _ in range(3)]
    assert {x.response_metadata["deployment"] for x in answers} == {b.url}
    assert counts([a, b]) == [1, 4]


async def test_daily_cap_cools_down_until_midnight_pacific(
    servers: list[LocalServer],
) -> None:
    a, b, _ = servers
    a.script(Reply(error=DAILY_CAP))
    async with ChatAIChatFree(deployments=pool(a, b)) as model:
        answer = await model.ainvoke("hi")
        status = await model.aquota_status()
    limited = answer.response_metadata["routing"][0]
    assert limited["cooldown_reason"] == "daily cap"  # not the 38 s hint
    midnight = next_pacific_midnight(time.time())
    assert limited["cooldown_until"] == pytest.approx(midnight, abs=5)
    assert status[0]["cooling_until"] == pytest.approx(midnight, abs=5)
    assert status[0]["reason"] == "daily cap"


@pytest.mark.parametrize("kind", ["upstream_503", "fetch_failed"])
async def test_transient_failure_fails_over_at_once(
    servers: list[LocalServer], kind: str
) -> None:
    a, b, _ = servers
    a.script(Reply(error=UPSTREAM_ERRORS[kind]))
    async with ChatAIChatFree(deployments=pool(a, b)) as model:
        answer = await model.ainvoke("hi")
    failed, served = answer.response_metadata["routing"]
    assert (failed["deployment"], failed["outcome"]) == (a.url, "transient")
    assert served == {"deployment": b.url, "outcome": "ok", "waited": 0.0}


async def test_failing_deployment_is_picked_last_for_a_while(
    servers: list[LocalServer],
) -> None:
    a, b, c = servers
    a.script(Reply(error=UPSTREAM_ERRORS["upstream_503"]))
    async with ChatAIChatFree(deployments=pool(a, b, c)) as model:
        for _ in range(4):
            await model.ainvoke("hi")
    assert counts(servers) == [1, 2, 2]


async def test_no_failover_once_text_reached_the_caller(
    servers: list[LocalServer],
) -> None:
    a, b, _ = servers
    a.script(Reply(chunks=["Once upon", " a time"], fail_after=1))
    async with ChatAIChatFree(deployments=pool(a, b)) as model:
        shown = []
        with pytest.raises(StreamInterruptedError):
            async for chunk in model.astream("story"):
                shown.append(chunk.text)
    assert "".join(shown) == "Once upon"
    assert counts([a, b]) == [1, 0]


@pytest.mark.parametrize("kind", ["bad_history", "empty_text"])
async def test_bad_requests_are_never_retried(
    servers: list[LocalServer], kind: str
) -> None:
    a, b, _ = servers
    a.script(Reply(error=UPSTREAM_ERRORS[kind]))
    async with ChatAIChatFree(deployments=pool(a, b)) as model:
        with pytest.raises(InvalidRequestError):
            await model.ainvoke("hi")
    assert counts([a, b]) == [1, 0]


# -- taken out (401) ----------------------------------------------------------------


async def test_refused_password_takes_the_deployment_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="langchain_aichatfree")
    with LocalServer(passwords=PASSWORD) as a, LocalServer() as b:
        deployments = [
            Deployment(base_url=a.url, password=WRONG),
            Deployment(base_url=b.url),
        ]
        async with ChatAIChatFree(deployments=deployments) as model:
            answer = await model.ainvoke("hi")
            refused, served = answer.response_metadata["routing"]
            assert (refused["deployment"], refused["outcome"]) == (a.url, "auth")
            assert served["deployment"] == b.url
            for _ in range(3):
                await model.ainvoke("hi")
            status = await model.aquota_status()
        assert counts([a, b]) == [1, 4]
    assert status[0]["reason"].startswith("out: AuthenticationError")
    assert status[1]["reason"] is None
    assert any("taken out" in r.getMessage() for r in caplog.records)
    assert WRONG not in caplog.text
    assert WRONG not in json.dumps(status)


async def test_every_deployment_out_raises_the_last_error() -> None:
    with LocalServer(passwords=PASSWORD) as a, LocalServer(passwords=PASSWORD) as b:
        deployments = pool(a, b, password=WRONG)
        async with ChatAIChatFree(deployments=deployments) as model:
            with pytest.raises(AuthenticationError) as first:
                await model.ainvoke("hi")
            assert first.value.status_code == 401
            assert counts([a, b]) == [1, 1]
            with pytest.raises(AuthenticationError, match="Every deployment") as later:
                await model.ainvoke("hi")
        assert counts([a, b]) == [1, 1]  # nothing more was sent
    assert WRONG not in str(first.value) + str(later.value)


async def test_a_single_deployment_is_never_taken_out() -> None:
    with LocalServer(passwords=PASSWORD) as server:
        async with ChatAIChatFree(base_url=server.url, password=WRONG) as model:
            for _ in range(2):
                with pytest.raises(AuthenticationError):
                    await model.ainvoke("hi")
        assert len(server.requests) == 2


# -- waiting --------------------------------------------------------------------------


async def test_all_cooling_raises_with_time_until_the_earliest(
    servers: list[LocalServer],
) -> None:
    a, b, _ = servers
    a.script(Reply.rate_limited(retry_in=40))
    b.script(Reply.rate_limited(retry_in=30))
    async with ChatAIChatFree(deployments=pool(a, b), max_wait=5) as model:
        with pytest.raises(RateLimitError) as info:
            await model.ainvoke("hi")
        assert counts([a, b]) == [1, 1]  # failed over once, then gave up
        assert info.value.retry_after is not None
        assert 25 < info.value.retry_after <= 33.1  # b frees first
        with pytest.raises(RateLimitError) as again:
            await model.ainvoke("hi")
    assert counts([a, b]) == [1, 1]  # refused without a request
    assert again.value.retry_after is not None
    assert 25 < again.value.retry_after <= 33.1
    assert "max_wait=5" in again.value.message


async def test_a_call_waits_for_a_cooldown_within_max_wait(
    servers: list[LocalServer],
) -> None:
    a = servers[0]
    a.script(Reply.rate_limited(retry_in=0.3), Reply.rate_limited(retry_in=0.2))
    async with ChatAIChatFree(deployments=pool(a)) as model:
        answer = await model.ainvoke("hi")
    routing = answer.response_metadata["routing"]
    assert [r["outcome"] for r in routing] == ["rate_limit", "rate_limit", "ok"]
    assert routing[1]["waited"] > 0
    assert routing[2]["waited"] > 0
    assert len(a.requests) == 3


async def test_max_wait_per_call(servers: list[LocalServer]) -> None:
    a = servers[0]
    a.script(Reply.rate_limited(retry_in=0.5))
    async with ChatAIChatFree(deployments=pool(a), max_retries=0) as model:
        with pytest.raises(RateLimitError):
            await model.ainvoke("hi")
        with pytest.raises(RateLimitError, match="max_wait=0"):
            await model.ainvoke("hi", max_wait=0)
        assert len(a.requests) == 1
        answer = await model.ainvoke("hi")  # waits out the rest of it
    assert answer.response_metadata["routing"][0]["waited"] > 0
    assert len(a.requests) == 2


async def test_quota_group_shares_cooldowns(servers: list[LocalServer]) -> None:
    a, b, c = servers
    a.script(Reply.rate_limited(retry_in=30))
    deployments = [
        Deployment(base_url=a.url, quota_group="project-1"),
        Deployment(base_url=b.url, quota_group="project-1"),
        Deployment(base_url=c.url),
    ]
    async with ChatAIChatFree(deployments=deployments) as model:
        for _ in range(3):
            await model.ainvoke("hi")
        status = await model.aquota_status()
    assert counts(servers) == [1, 0, 3]
    assert [s["quota_group"] for s in status] == ["project-1", "project-1", c.url]
    assert status[0]["cooling_until"] == status[1]["cooling_until"] is not None


# -- dialects, metadata, status ---------------------------------------------------


async def test_a_pool_may_mix_dialects() -> None:
    with LocalServer() as gemini, LocalServer(dialect="chatgpt-demo") as demo:
        deployments = [
            Deployment(base_url=gemini.url),
            Deployment(base_url=demo.url, dialect="chatgpt-demo"),
        ]
        async with ChatAIChatFree(deployments=deployments) as model:
            answers = [
                await model.ainvoke([("system", "Be brief."), ("human", "hi")])
                for _ in range(2)
            ]
        # Gemini folds system text into the user turn; chatgpt-demo keeps it.
        assert answers[0].text.startswith("Echo: [System instructions]")
        assert answers[1].content == "Echo: hi"
        assert "parts" in gemini.requests[0].payload["messages"][0]
        assert demo.requests[0].payload["messages"][0] == {
            "role": "system",
            "content": "Be brief.",
        }


async def test_metadata_names_the_deployment_as_its_url() -> None:
    with LocalServer(passwords=PASSWORD) as server:
        deployment = Deployment(base_url=server.url + "/", password=PASSWORD)
        async with ChatAIChatFree(deployments=[deployment]) as model:
            answer = await model.ainvoke("hi")
            status = await model.aquota_status()
    assert answer.response_metadata["deployment"] == server.url
    assert status[0]["base_url"] == server.url
    assert PASSWORD not in json.dumps(answer.response_metadata)
    assert PASSWORD not in json.dumps(status)


def test_quota_status(servers: list[LocalServer]) -> None:
    a, b, _ = servers
    a.script(Reply.rate_limited(retry_in=30))
    deployments = pool(a, b, rpm=5)
    with ChatAIChatFree(deployments=deployments) as model:
        assert model.quota_status() == [
            {
                "base_url": a.url,
                "quota_group": a.url,
                "cooling_until": None,
                "reason": None,
                "rpm_used": 0,
                "rpd_used": 0,
            },
            {
                "base_url": b.url,
                "quota_group": b.url,
                "cooling_until": None,
                "reason": None,
                "rpm_used": 0,
                "rpd_used": 0,
            },
        ]
        model.invoke("hi")
        model.invoke("hi")
        first, second = model.quota_status()
    assert first["reason"] == "retry hint"
    assert first["cooling_until"] > time.time() + 25
    assert (first["rpm_used"], first["rpd_used"]) == (1, 1)
    assert (second["rpm_used"], second["rpd_used"]) == (2, 2)


async def test_the_model_alone_is_a_pool_of_one(servers: list[LocalServer]) -> None:
    a = servers[0]
    a.script(Reply.rate_limited(retry_in=30))
    async with ChatAIChatFree(base_url=a.url, max_wait=5) as model:
        with pytest.raises(RateLimitError):
            await model.ainvoke("hi")
    # Another model of the process sees the cooldown, and sends nothing.
    async with ChatAIChatFree(base_url=a.url, max_wait=1) as other:
        with pytest.raises(RateLimitError) as info:
            await other.ainvoke("hi")
        [status] = await other.aquota_status()
    assert len(a.requests) == 1
    assert info.value.retry_after is not None
    assert info.value.retry_after > 25
    assert status["reason"] == "retry hint"


# -- shared through Redis, between processes ----------------------------------------

_OTHER_PROCESS = textwrap.dedent(
    """
    import json, sys
    from langchain_aichatfree import ChatAIChatFree, Deployment, RateLimitError

    urls, store, rpm, calls = json.loads(sys.argv[1])
    model = ChatAIChatFree(
        deployments=[Deployment(base_url=u, rpm=rpm) for u in urls],
        quota_store=store, max_wait=0, max_retries=0,
    )
    served = []
    for _ in range(calls):
        try:
            served.append(model.invoke("hi").response_metadata["deployment"])
        except RateLimitError as e:
            served.append("rate limited")
    print(json.dumps(served))
    """
)


def other_process(
    urls: list[str], store: str, rpm: int | None, calls: int
) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", _OTHER_PROCESS, json.dumps([urls, store, rpm, calls])],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return list(json.loads(result.stdout))


async def test_cooldown_is_honoured_across_processes(
    servers: list[LocalServer], redis_server: RedisServer
) -> None:
    a, b, _ = servers
    a.script(Reply.rate_limited(retry_in=30))
    async with ChatAIChatFree(
        deployments=pool(a, b), quota_store=redis_server.url
    ) as model:
        answer = await model.ainvoke("hi")
    assert [r["outcome"] for r in answer.response_metadata["routing"]] == [
        "rate_limit",
        "ok",
    ]
    served = other_process([a.url, b.url], redis_server.url, None, 3)
    assert served == [b.url] * 3
    assert counts([a, b]) == [1, 4]


async def test_budgets_are_shared_across_processes(
    servers: list[LocalServer], redis_server: RedisServer
) -> None:
    a = servers[0]
    served = other_process([a.url], redis_server.url, 3, 2)
    assert served == [a.url] * 2
    async with ChatAIChatFree(
        deployments=[Deployment(base_url=a.url, rpm=3)],
        quota_store=redis_server.url,
        max_wait=0,
    ) as model:
        await model.ainvoke("hi")
        with pytest.raises(RateLimitError):
            await model.ainvoke("hi")
        [status] = await model.aquota_status()
    assert len(a.requests) == 3
    assert status["rpm_used"] == 3


async def test_calls_go_on_when_redis_is_down(
    servers: list[LocalServer], private_redis_server: RedisServer
) -> None:
    a, b, _ = servers
    private_redis_server.stop()
    async with ChatAIChatFree(
        deployments=pool(a, b), quota_store=private_redis_server.url
    ) as model:
        answers = [await model.ainvoke("hi") for _ in range(4)]
    assert [x.content for x in answers] == ["Echo: hi"] * 4


async def test_a_copy_with_another_deployment_goes_there(
    servers: list[LocalServer],
) -> None:
    a, b, _ = servers
    async with ChatAIChatFree(base_url=a.url) as model:
        await model.ainvoke("hi")
        async with model.model_copy(update={"base_url": b.url}) as copy:
            answer = await copy.ainvoke("hi")
    assert answer.response_metadata["deployment"] == b.url
    assert counts([a, b]) == [1, 1]


async def test_a_deployment_whose_own_key_is_refused_is_out_for_everyone(
    servers: list[LocalServer],
) -> None:
    a, b, _ = servers
    a.script(Reply(error=UPSTREAM_ERRORS["api_key_invalid"]))
    async with ChatAIChatFree(deployments=pool(a, b)) as first:
        answer = await first.ainvoke("hi")
    refused, served = answer.response_metadata["routing"]
    assert (refused["outcome"], refused["error"]) == ("auth", "DeploymentError")
    assert served["deployment"] == b.url
    # The site's key is the site's: another model (the store) knows it too.
    async with ChatAIChatFree(deployments=pool(a, b)) as second:
        for _ in range(3):
            await second.ainvoke("hi")
        status = await second.aquota_status()
    assert counts([a, b]) == [1, 4]
    assert status[0]["reason"].startswith("out: DeploymentError")
