"""`_route` and `_router`: one call's routing over a pool, on the in-process store.

No network: the attempts' outcomes are told to the route as the retrying call
would tell them, and what it reserves, records and refuses is checked.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from langchain_core.messages import HumanMessage

from langchain_aichatfree import Deployment
from langchain_aichatfree._protocol import prepare_request
from langchain_aichatfree._quota import MemoryStore
from langchain_aichatfree._route import Route
from langchain_aichatfree._router import Router, endpoints_for
from langchain_aichatfree._transport import CallOptions
from langchain_aichatfree._turns import message_turns
from langchain_aichatfree.errors import (
    APIError,
    AuthenticationError,
    InvalidRequestError,
    RateLimitError,
)

URLS = ["https://a.example", "https://b.example", "https://c.example"]


def make_route(
    count: int = 2, *, max_wait: float = 0.0, store: MemoryStore | None = None
) -> Route:
    deployments = [Deployment(base_url=url) for url in URLS[:count]]
    router = Router(
        endpoints_for(deployments, lambda _: {}, "/api/generate"),
        MemoryStore() if store is None else store,
    )
    options = CallOptions(
        url="unused",
        headers={},
        secret="",
        password=None,
        timeout=None,
        chunk_timeout=None,
        max_retries=2,
    )
    request = prepare_request(message_turns([HumanMessage("hi")]), dialect="gemini")
    return router.route(request, options, max_wait)


async def test_each_attempt_goes_to_its_deployment_s_url() -> None:
    route = make_route()
    first = await route.pick()
    assert first.options.url == "https://a.example/api/generate"
    await route.succeeded(first)
    assert route.served_by == "https://a.example"
    assert [r["outcome"] for r in route.records] == ["ok"]


async def test_a_rate_limit_cools_its_deployment_and_fails_over() -> None:
    route = make_route()
    first = await route.pick()
    await route.failed(first, RateLimitError("slow down", retry_after=30.0))
    assert route.records[0]["outcome"] == "rate_limit"
    assert route.records[0]["cooldown_until"] is not None
    following = await route.failover()
    assert following is not None
    assert following.index == 1
    assert await route.failover() is None  # both tried
    assert route.router.order(route.records[0]["cooldown_until"] - 1) == [1]


async def test_a_transient_failure_ranks_its_deployment_last() -> None:
    route = make_route(3)
    first = await route.pick()
    await route.failed(first, APIError("boom"))
    assert route.records[-1]["outcome"] == "transient"
    following = await route.failover()  # the round robin goes on after it
    assert following is not None
    assert following.index == 1
    # Round robin alone would now try 2, 0, 1; the failure puts 0 last.
    assert route.router.order(time.time()) == [2, 1, 0]


async def test_a_refused_password_takes_the_deployment_out() -> None:
    route = make_route()
    first = await route.pick()
    error = AuthenticationError("Wrong password. Set it.")
    await route.failed(first, error)
    assert route.records[-1]["outcome"] == "auth"
    assert route.reroutes(error)  # another deployment is not out
    second = await route.failover()
    assert second is not None
    await route.failed(second, error)
    assert route.router.all_out
    assert not route.reroutes(error)
    with pytest.raises(AuthenticationError):
        await route.pick(error)


async def test_a_bad_request_is_recorded_and_not_rerouted() -> None:
    route = make_route()
    first = await route.pick()
    error = InvalidRequestError("bad history")
    await route.failed(first, error)
    assert route.records[-1]["outcome"] == "error"
    assert not route.reroutes(error)


async def test_a_cancelled_attempt_is_recorded_once() -> None:
    route = make_route()
    await route.pick()
    await route.abandon()
    await route.abandon()  # nothing reserved any more
    assert [r["outcome"] for r in route.records] == ["cancelled"]


async def test_no_free_deployment_within_max_wait_is_a_rate_limit() -> None:
    route = make_route(1)
    first = await route.pick()
    await route.failed(first, RateLimitError("slow down", retry_after=30.0))
    with pytest.raises(RateLimitError) as info:
        await route.pick()
    assert info.value.retry_after is not None
    assert info.value.retry_after > 25  # the hint, and a margin


async def test_the_pool_s_wait_leaves_the_attempt_s_error_as_it_was() -> None:
    route = make_route(1)
    first = await route.pick()
    error = RateLimitError("slow down", status_code=429, body="{}")
    await route.failed(first, error)
    with pytest.raises(RateLimitError) as info:
        await route.pick(error)
    assert error.retry_after is None  # no attribute changed after the fact
    raised = info.value
    assert raised.retry_after is not None
    assert raised.retry_after > 0
    assert (raised.message, raised.status_code, raised.body) == ("slow down", 429, "{}")
    assert raised.__cause__ is error


async def test_a_probe_that_outlived_its_lease_ends_only_its_own() -> None:
    store = MemoryStore(lease=0.2)
    late = make_route(1, store=store)
    group = late.router.endpoints[0].deployment.group
    await store.cool_down(group, text=None, retry_after=0.01)
    await asyncio.sleep(0.05)  # the cooldown ended: the next call probes
    first = await late.pick()
    assert first.probe
    await asyncio.sleep(0.3)  # the probe outlives its lease: another call probes
    following = late.router.route(late.request, late.options, 0.0)
    second = await following.pick()
    assert second.probe
    await late.failed(first, APIError("boom"))  # the late probe ends
    grant = await store.acquire(group, rpm=None, rpd=None)
    assert (grant.ok, grant.reason) == (False, "probing")
