"""The retrying call: up to `max_retries + 1` attempts, over the pool's deployments.

`RetryingCall` runs one call to the end: each attempt is `stream_answer`'s
(the transport), routed by the model's `Router` when it has one; after a
failure it fails over, backs off (`retry_delay`) or waits for a deployment, and
it never retries once text has reached the caller.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp

from langchain_aichatfree._constants import (
    INITIAL_RETRY_DELAY,
    MAX_HINTED_RETRY_DELAY,
    MAX_RETRY_DELAY,
    RETRY_JITTER,
)
from langchain_aichatfree._protocol import PreparedRequest
from langchain_aichatfree._route_choice import backs_off
from langchain_aichatfree._sessions import SessionPool
from langchain_aichatfree._stream import AnswerState
from langchain_aichatfree._transport import CallOptions, stream_answer
from langchain_aichatfree.errors import AIChatFreeError, RateLimitError

if TYPE_CHECKING:
    from langchain_aichatfree._route import Route, Target

__all__ = ["RetryingCall", "retry_delay"]

logger = logging.getLogger("langchain_aichatfree")

TextFilter = Callable[[str], str]
"""Takes each piece of an answer and returns what the caller is shown of it."""


def retry_delay(attempt: int, error: AIChatFreeError) -> float | None:
    """Seconds to wait before retry number `attempt + 1`, or `None` to give up.

    A server's hint ("Please retry in 2.5s") is honoured if it is at most
    `MAX_HINTED_RETRY_DELAY`; a longer one is not waited for. Otherwise the
    delay doubles from `INITIAL_RETRY_DELAY` up to `MAX_RETRY_DELAY`, less up
    to 25% jitter so that many callers do not retry in step.

    Args:
        attempt: The attempt that just failed, from 0.
        error: Its error.

    Returns:
        The delay, or `None` if the hinted delay is too long to wait.
    """
    if isinstance(error, RateLimitError) and error.retry_after is not None:
        if error.retry_after > MAX_HINTED_RETRY_DELAY:
            return None
        return error.retry_after
    backoff = min(INITIAL_RETRY_DELAY * 2.0**attempt, MAX_RETRY_DELAY)
    return backoff * (1 - RETRY_JITTER * random.random())  # noqa: S311


@dataclass(slots=True)
class RetryingCall:
    """One call: up to `max_retries + 1` attempts, each a streamed response.

    Iterate `stream()` for text as it arrives (retries stop once a piece has been
    shown), or await `collect()` for the whole answer (retries may then also
    follow a failure in the middle of a body, since nothing was shown yet).

    Attributes:
        state: The current attempt's answer state (the final one once done).
    """

    pool: SessionPool
    request: PreparedRequest
    options: CallOptions
    state: AnswerState = field(default_factory=AnswerState)

    async def collect(self) -> AnswerState:
        """Run the call to the end without showing anything on the way.

        Returns:
            The final answer state.
        """
        async for _ in self._run(buffered=True):
            pass  # pragma: no cover - nothing is yielded when buffered
        return self.state

    def stream(
        self, new_filter: Callable[[], TextFilter] | None = None
    ) -> AsyncIterator[str]:
        """Text pieces as they arrive, one per network read.

        Args:
            new_filter: Makes, for each attempt, a filter that takes each piece
                and returns what the caller is shown of it (a filter that holds
                text back, as the tool-call reader does). Retries stop once
                something has been shown, not merely received.

        Returns:
            The pieces shown.
        """
        return self._run(buffered=False, new_filter=new_filter)

    async def _run(
        self,
        *,
        buffered: bool,
        new_filter: Callable[[], TextFilter] | None = None,
    ) -> AsyncIterator[str]:
        """The retry loop, over the model's deployments when it has a router.

        The first attempt goes to the best free deployment. After a failure
        that another deployment may not share (a rate limit, a transient
        failure, a refused password), the call fails over at once to one it
        has not tried, if one is free; such a failover is not a retry. Else it
        retries (counted against `max_retries`): after a backoff for transient
        failures, after waiting (up to `max_wait`) for a cooldown to end.
        Nothing is retried once text was shown, nor a bad request.
        """
        options = self.options
        route = (
            options.router.route(self.request, options, options.max_wait)
            if options.router is not None
            else None
        )
        session, owned = await self._open_session()
        reading = set() if owned else self.pool.reading(session)
        try:
            target = await route.pick() if route is not None else None
            retries = 0
            while True:
                delivered = False
                shown_of = new_filter() if new_filter is not None else None
                try:
                    async for piece in self._attempt(
                        session, target, route, reading, buffered=buffered
                    ):
                        shown = shown_of(piece) if shown_of is not None else piece
                        if shown:
                            delivered = True
                            yield shown
                except AIChatFreeError as error:
                    target, retries = await self._after_failure(
                        route, target, error, delivered=delivered, retries=retries
                    )
                    continue
                if route is not None and target is not None:
                    await route.succeeded(target)
                    self.state.deployment = route.served_by
                    self.state.routing = route.records
                return
        finally:
            if route is not None:
                await route.abandon()
            if owned:
                await session.close()

    async def _after_failure(
        self,
        route: Route | None,
        target: Target | None,
        error: AIChatFreeError,
        *,
        delivered: bool,
        retries: int,
    ) -> tuple[Target | None, int]:
        """Where the attempt after a failed one goes; raise `error` if none.

        Returns:
            The next attempt's target (`None` without a router) and the
            retries made so far.
        """
        options = self.options
        if route is not None and target is not None:
            await route.failed(target, error)
        if delivered:
            raise error
        if not error.is_retryable and not (route is not None and route.reroutes(error)):
            raise error
        following = await route.failover() if route is not None else None
        if following is not None:
            logger.info(
                "AIChatFree request failed over to %s: %s",
                following.endpoint.deployment.url,
                type(error).__name__,
            )
        else:
            if retries == options.max_retries:
                raise error
            if route is not None and not backs_off(error):
                logger.info(
                    "Retrying AIChatFree request when a deployment is free "
                    "(attempt %d of %d): %s",
                    retries + 2,
                    options.max_retries + 1,
                    type(error).__name__,
                )
            else:
                delay = retry_delay(retries, error)
                if delay is None:
                    raise error
                logger.info(
                    "Retrying AIChatFree request in %.2f s (attempt %d of %d): %s",
                    delay,
                    retries + 2,
                    options.max_retries + 1,
                    type(error).__name__,
                )
                await asyncio.sleep(delay)
            retries += 1
            following = await route.pick(error) if route is not None else None
        if options.rate_limiter is not None:
            await options.rate_limiter.aacquire(blocking=True)
        return following, retries

    async def _open_session(self) -> tuple[aiohttp.ClientSession, bool]:
        """The session for this call, and whether the call owns (and closes) it.

        A caller's own `connector` gets a session of its own; else the pool's.
        """
        if self.options.connector is not None:
            session = aiohttp.ClientSession(
                connector=self.options.connector, connector_owner=False
            )
            return session, True
        return await self.pool.session(verify_ssl=self.options.verify_ssl), False

    def _attempt(
        self,
        session: aiohttp.ClientSession,
        target: Target | None,
        route: Route | None,
        reading: set[aiohttp.StreamReader],
        *,
        buffered: bool,
    ) -> AsyncIterator[str]:
        """One attempt, to `target`'s deployment (or the call's own `url`)."""
        if target is None:
            options, request = self.options, self.request
        else:
            options, request = target.options, target.request
        self.state = AnswerState(
            stop=options.stop,
            max_tokens=options.max_tokens,
            max_bytes=options.max_response_bytes,
        )
        accepted: Callable[[], Awaitable[None]] | None = None
        if route is not None and target is not None:
            accepted = functools.partial(route.answering, target)
        return stream_answer(
            session,
            options,
            request,
            self.state,
            reading,
            accepted=accepted,
            buffered=buffered,
        )
