"""The only module that does network I/O (aiohttp).

* `SessionPool`: one `aiohttp.ClientSession` per event loop, reused across calls
  (keep-alive) and closed cleanly, also when the loop shuts down.
* `AnswerCall`: one call to the deployment: the signed request, the status check
  with the body read before raising, the body streamed through `AnswerState`,
  timeouts, and the retry loop, which retries only while nothing has reached the
  caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
import warnings
import weakref
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Coroutine,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from langchain_core.rate_limiters import BaseRateLimiter
from pydantic import SecretStr

from langchain_aichatfree._constants import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_WAIT,
    INITIAL_RETRY_DELAY,
    MAX_HINTED_RETRY_DELAY,
    MAX_REDIRECTS,
    MAX_RETRY_DELAY,
    RETRY_JITTER,
)
from langchain_aichatfree._protocol import PreparedRequest, is_page_media_type
from langchain_aichatfree._stream import AnswerState
from langchain_aichatfree.errors import (
    AIChatFreeError,
    Failure,
    RateLimitError,
    failure_error,
    make_content_type_error,
    make_status_error,
    redirect_error,
)

if TYPE_CHECKING:
    from langchain_aichatfree._router import Route, Router, Target

logger = logging.getLogger("langchain_aichatfree")

MAX_CONNECTIONS = 1000
"""Connections one session may keep open at once (a cap, not a pool size)."""


def _drive(awaitable: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine that needs no loop, here and now.

    Closing a session whose loop is closed or stopped does no real waiting:
    aiohttp closes the connector's transports synchronously before its first
    await, which marks the session closed. Should the coroutine still want to
    wait for something, that wait is abandoned (a stopped loop never finishes it).
    """
    try:
        awaitable.send(None)
    except StopIteration:
        return
    awaitable.close()


async def _finish(keeper: AsyncGenerator[None, None]) -> None:
    await keeper.aclose()


_BACKGROUND_TASKS: set[asyncio.Task[None]] = set()


def _close_entry(loop: asyncio.AbstractEventLoop, entry: _Entry) -> None:
    """Close a pooled session from any thread, as its loop's state allows."""
    if loop.is_closed() or not loop.is_running():
        _drive(_finish(entry.keeper))
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        task = loop.create_task(_finish(entry.keeper))
        _BACKGROUND_TASKS.add(task)
        task.add_done_callback(_BACKGROUND_TASKS.discard)
        return
    future = asyncio.run_coroutine_threadsafe(_finish(entry.keeper), loop)
    with contextlib.suppress(Exception):
        future.result(timeout=2.0)


def _close_all(sessions: dict[asyncio.AbstractEventLoop, _Entry]) -> None:
    for loop, entry in list(sessions.items()):
        _close_entry(loop, entry)
    sessions.clear()


@dataclass(slots=True)
class _Entry:
    session: aiohttp.ClientSession
    keeper: AsyncGenerator[None, None]
    """Suspended in the loop's care; closing it closes the session."""
    reading: set[aiohttp.StreamReader]
    """The bodies calls are reading from the session right now."""


class _SessionClosed(aiohttp.ClientConnectionError):
    """Set on a body being read when its session is closed under it."""


async def _keep(
    session: aiohttp.ClientSession, reading: set[aiohttp.StreamReader]
) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        # aiohttp's connector drops a closed connection's body stream without
        # ending it: a read waiting on it would wait for `chunk_timeout` (or
        # forever), and a read started later raises a bare RuntimeError. End
        # each body being read first, so its call stops at once and can say why.
        for stream in list(reading):
            # On a closed loop (a pool closed after it) a waiting read's future
            # cannot be woken: that read will never run again anyway.
            with contextlib.suppress(RuntimeError):
                stream.set_exception(_SessionClosed("the session was closed"))
        reading.clear()
        await session.close()


class SessionPool:
    """One aiohttp session per event loop, for one chat model.

    A session is made the first time a loop calls, and reused by every later
    call on that loop. Each session has a keeper: an async generator started on
    its loop and left suspended, which closes the session when it is closed. The
    loop's `shutdown_asyncgens()` closes it when the loop ends (`asyncio.run`,
    pytest-asyncio and aiohttp's runners all call it), and `aclose()`, `close()`
    and garbage collection of the pool close it otherwise: a session is never
    left for aiohttp to warn about.
    """

    def __init__(self) -> None:
        self._sessions: dict[asyncio.AbstractEventLoop, _Entry] = {}
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _close_all, self._sessions)

    def __reduce__(self) -> tuple[type[SessionPool], tuple[()]]:
        # A copy or an unpickled model starts with no sessions of its own.
        return (SessionPool, ())

    async def session(self, *, verify_ssl: bool = True) -> aiohttp.ClientSession:
        """The current loop's session, made on first use.

        Args:
            verify_ssl: Whether TLS certificates are verified (the pool belongs to
                one model, whose setting does not change).

        Returns:
            The session.
        """
        loop = asyncio.get_running_loop()
        entry = self._sessions.get(loop)
        if entry is not None and not entry.session.closed:
            return entry.session
        self._prune()
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS, ssl=verify_ssl),
            auto_decompress=True,
        )
        reading: set[aiohttp.StreamReader] = set()
        entry = _Entry(session, _keep(session, reading), reading)
        with self._lock:
            self._sessions[loop] = entry
        await entry.keeper.__anext__()  # started: now the loop will close it
        return session

    def reading(self, session: aiohttp.ClientSession) -> set[aiohttp.StreamReader]:
        """Where a call registers the body it reads from a pooled `session`.

        Closing the session ends every body registered here with an error, so
        a call reading one stops at once (see `_keep`).

        Args:
            session: A session this pool returned on the running loop.

        Returns:
            The set to add the body to while reading it (a throwaway set if the
            session is no longer the pool's, e.g. already closed).
        """
        entry = self._sessions.get(asyncio.get_running_loop())
        if entry is None or entry.session is not session:
            return set()
        return entry.reading

    def _take(
        self, which: Callable[[asyncio.AbstractEventLoop], bool]
    ) -> list[tuple[asyncio.AbstractEventLoop, _Entry]]:
        with self._lock:
            taken = [(loop, e) for loop, e in self._sessions.items() if which(loop)]
            for loop, _ in taken:
                del self._sessions[loop]
        return taken

    def _prune(self) -> None:
        """Close the sessions of loops that have closed."""
        for loop, entry in self._take(lambda loop: loop.is_closed()):
            _close_entry(loop, entry)

    async def aclose(self) -> None:
        """Close every session: the current loop's awaited, others scheduled."""
        current = asyncio.get_running_loop()
        for loop, entry in self._take(lambda _: True):
            if loop is current:
                await _finish(entry.keeper)
            else:
                _close_entry(loop, entry)

    def close(self) -> None:
        """Close every session from synchronous code."""
        for loop, entry in self._take(lambda _: True):
            _close_entry(loop, entry)


@dataclass(frozen=True, slots=True)
class CallOptions:
    """Everything one call needs besides the conversation, fixed before any I/O."""

    url: str
    headers: Mapping[str, str]
    secret: str
    password: SecretStr | None
    timeout: float | None
    chunk_timeout: float | None
    max_retries: int
    stop: Sequence[str] = ()
    max_tokens: int | None = None
    proxy: str | None = None
    connector: aiohttp.BaseConnector | None = None
    rate_limiter: BaseRateLimiter | None = None
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    follow_redirects: bool = False
    verify_ssl: bool = True
    dialect: str | None = None
    router: Router | None = None
    """The model's deployments and quota store; without one, every attempt
    goes to `url` and nothing is counted."""
    max_wait: float = DEFAULT_MAX_WAIT


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
class AnswerCall:
    """One call: up to `max_retries + 1` attempts, each a streamed response.

    Iterate `stream()` for text as it arrives (retries stop once a piece has been
    yielded), or await `collect()` for the whole answer (retries may then also
    follow a failure in the middle of a body, since nothing was shown yet).

    Attributes:
        state: The current attempt's answer state (the final one once done).
        attempts: Requests sent so far.
    """

    pool: SessionPool
    request: PreparedRequest
    options: CallOptions
    state: AnswerState = field(default_factory=AnswerState)
    attempts: int = 0

    async def collect(self) -> AnswerState:
        """Run the call to the end without showing anything on the way.

        Returns:
            The final answer state.
        """
        async for _ in self._run(buffered=True):
            pass  # pragma: no cover - nothing is yielded when buffered
        return self.state

    def stream(
        self, reader: Callable[[], Callable[[str], str]] | None = None
    ) -> AsyncIterator[str]:
        """Text pieces as they arrive, one per network read.

        Args:
            reader: Makes, for each attempt, a function that takes each piece
                and returns what the caller is shown of it (a reader that holds
                text back, as the tool-call reader does). Retries stop once
                something has been shown, not merely received.

        Returns:
            The pieces shown.
        """
        return self._run(buffered=False, reader=reader)

    async def _run(
        self,
        *,
        buffered: bool,
        reader: Callable[[], Callable[[str], str]] | None = None,
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
        session, owned = await self._session()
        reading = set() if owned else self.pool.reading(session)
        try:
            target = await route.pick() if route is not None else None
            retries = 0
            while True:
                delivered = False
                show = reader() if reader is not None else None
                try:
                    async for piece in self._attempt(
                        session, target, route, reading, buffered=buffered
                    ):
                        shown = show(piece) if show is not None else piece
                        if shown:
                            delivered = True
                            yield shown
                except AIChatFreeError as error:
                    target, retries = await self._next(
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

    async def _next(
        self,
        route: Route | None,
        target: Target | None,
        error: AIChatFreeError,
        *,
        delivered: bool,
        retries: int,
    ) -> tuple[Target | None, int]:
        """Where the attempt after a failed one goes; raise `error` if none."""
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
            if route is not None and not route.backs_off(error):
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

    async def _session(self) -> tuple[aiohttp.ClientSession, bool]:
        if self.options.connector is not None:
            session = aiohttp.ClientSession(
                connector=self.options.connector, connector_owner=False
            )
            return session, True
        return await self.pool.session(verify_ssl=self.options.verify_ssl), False

    async def _attempt(
        self,
        session: aiohttp.ClientSession,
        target: Target | None,
        route: Route | None,
        reading: set[aiohttp.StreamReader],
        *,
        buffered: bool,
    ) -> AsyncIterator[str]:
        if target is None:
            options, request = self.options, self.request
        else:
            options, request = target.options, target.request
        state = self.state = AnswerState(
            stop=options.stop,
            max_tokens=options.max_tokens,
            max_bytes=options.max_response_bytes,
        )
        if session.closed:  # closed while this call waited to retry
            raise failure_error(Failure.CLOSED)
        self.attempts += 1
        timeout = aiohttp.ClientTimeout(
            total=options.timeout,
            sock_connect=options.chunk_timeout,
            sock_read=options.chunk_timeout,
        )
        silence: _Silence | None = None
        response: aiohttp.ClientResponse | None = None
        complete = False
        try:
            response = await self._post(session, options, request, timeout, reading)
            if session.closed:
                raise _SessionClosed("the session was closed")
            if route is not None and target is not None:
                await route.answering(target)
            content_type = response.headers.get("Content-Type")
            if content_type and is_page_media_type(response.content_type):
                page = await _read_bounded(response.content, _MAX_ERROR_BODY)
                raise make_content_type_error(
                    content_type, page, redact_secrets=(options.password,)
                )
            read = response.content.readany
            # Without a connection the whole body is in already: nothing to time.
            if options.chunk_timeout is not None and response.connection is not None:
                silence = _Silence.take_over(response, options.chunk_timeout)
                read = silence.read
            while data := await read():
                piece = state.feed(data)  # raises past max_response_bytes
                if piece and not buffered:
                    yield piece
                if state.done:
                    return
            piece = state.finish()
            complete = True
            if state.replaced:
                _warn_replaced(options)
            if piece and not buffered:
                yield piece
        except (TimeoutError, asyncio.TimeoutError) as e:  # total and chunk timeouts
            failure = Failure.CLOSED if session.closed else Failure.TIMED_OUT
            raise failure_error(
                failure,
                received=state.received_bytes,
                partial_text=state.partial_text(),
                url=options.url,
                timeout=options.timeout,
                chunk_timeout=options.chunk_timeout,
            ) from e
        except (aiohttp.ClientError, OSError, RuntimeError) as e:
            # aiohttp raises RuntimeError for a read on a connection it closed.
            if isinstance(e, _SessionClosed) or session.closed:
                failure = Failure.CLOSED
            elif isinstance(e, RuntimeError):
                raise
            elif isinstance(e, aiohttp.ClientPayloadError):
                failure = Failure.BODY_CUT
            elif state.received_bytes:
                failure = Failure.CONNECTION_BROKE
            else:
                failure = Failure.UNREACHABLE
            raise failure_error(
                failure,
                received=state.received_bytes,
                partial_text=state.partial_text(),
                url=options.url,
                cause=e,
            ) from e
        finally:
            if response is not None:
                reading.discard(response.content)
            if silence is not None:
                silence.stop()
            if response is not None:
                if complete:
                    response.release()
                else:
                    response.close()

    @staticmethod
    def _body(options: CallOptions, request: PreparedRequest) -> aiohttp.BytesPayload:
        """A freshly signed body, wrapped so that no frame's locals show it.

        The body holds the password in plain text. It is never bound to a
        local of ours, and aiohttp's own frames only see the payload object,
        whose repr does not include its bytes.
        """
        return aiohttp.BytesPayload(
            request.body(time.time_ns() // 1_000_000, options.secret, options.password),
            content_type="text/plain;charset=UTF-8",
        )

    async def _post(
        self,
        session: aiohttp.ClientSession,
        options: CallOptions,
        request: PreparedRequest,
        timeout: aiohttp.ClientTimeout,
        reading: set[aiohttp.StreamReader],
    ) -> aiohttp.ClientResponse:
        """Send the request; return a 200 response or raise the mapped error.

        Redirects are never followed automatically: the body carries the site
        password. With `follow_redirects`, a redirect to the same origin is
        posted again, signed afresh (at most `MAX_REDIRECTS` times); any other
        is an error.
        """
        url = options.url
        for _ in range(MAX_REDIRECTS + 1):
            response = await session.post(
                url,
                data=self._body(options, request),
                headers=options.headers,
                proxy=options.proxy,
                timeout=timeout,
                allow_redirects=False,
            )
            reading.add(response.content)  # a close() ends its body at once
            if response.status == 200:
                return response
            try:
                location = response.headers.get("Location")
                if 300 <= response.status < 400 and location:
                    target = urljoin(str(response.url), location)
                    if options.follow_redirects and _same_origin(url, target):
                        url = target
                        continue
                    raise redirect_error(
                        response.status,
                        target,
                        same_site=_same_origin(options.url, target),
                        redact_secrets=(options.password,),
                    )
                raw = await _read_bounded(response.content, _MAX_ERROR_BODY)
                raise make_status_error(
                    response.status,
                    raw,
                    response.headers.get("Retry-After"),
                    dialect=options.dialect,
                    redact_secrets=(options.password,),
                )
            finally:
                reading.discard(response.content)
                response.close()
        raise failure_error(
            Failure.TOO_MANY_REDIRECTS, url=options.url, limit=MAX_REDIRECTS
        )


class _Silence:
    """The chunk timeout while a body is read: the longest wait for bytes.

    aiohttp's `sock_read` re-arms a timer on every network read (a cancelled
    handle and a new one: 3-8 µs a read, the largest per-read cost after
    aiohttp's own). It still times the wait for the headers; then this
    watchdog takes over. It is armed once and re-armed only when it fires, at
    most once per `limit`: it then looks at how long the current read has been
    waiting and sleeps again for the rest if that is under `limit`. Only time
    spent waiting for the server counts: a caller that keeps a piece longer
    than `limit` does not make a server that then answers look silent. On
    expiry it fails the body stream with a timeout, as aiohttp's own read
    timeout does.
    """

    __slots__ = ("_handle", "_limit", "_loop", "_since", "_stream")

    def __init__(self, stream: aiohttp.StreamReader, limit: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._stream = stream
        self._limit = limit
        self._since: float | None = None
        self._handle = self._loop.call_at(self._loop.time() + limit, self._check)

    @classmethod
    def take_over(cls, response: aiohttp.ClientResponse, limit: float) -> _Silence:
        """Stop aiohttp's per-read timer for the rest of `response`; watch its body.

        The connection's `read_timeout` (which aiohttp's websocket client
        adjusts the same way) is set anew for every request on the connection.
        """
        connection = response.connection
        if connection is not None and connection.protocol is not None:
            connection.protocol.read_timeout = None
        return cls(response.content, limit)

    async def read(self) -> bytes:
        """The stream's `readany`, timed."""
        self._since = self._loop.time()
        try:
            return await self._stream.readany()
        finally:
            self._since = None

    def stop(self) -> None:
        self._handle.cancel()

    def _check(self) -> None:
        now = self._loop.time()
        since = self._since
        if since is None or now - since < self._limit:
            start = now if since is None else since
            self._handle = self._loop.call_at(start + self._limit, self._check)
            return
        self._stream.set_exception(
            aiohttp.ServerTimeoutError("Timeout on reading data from socket")
        )


_MAX_ERROR_BODY = 64 * 1024
"""Bytes of an error body read (bodies are small; a hostile one is not read whole)."""


async def _read_bounded(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """The whole body, or its first `limit` bytes: never just the first read.

    `StreamReader.read(n)` returns whatever is buffered, which behind a proxy
    that splits writes may be one byte of an error's JSON; a body is only
    classified once it is all in (or the bound is reached).

    Args:
        stream: The response's body.
        limit: Most bytes read.

    Returns:
        The bytes read.
    """
    parts: list[bytes] = []
    size = 0
    while size < limit:
        data = await stream.read(limit - size)
        if not data:
            break
        parts.append(data)
        size += len(data)
    return b"".join(parts)


def _same_origin(a: str, b: str) -> bool:
    ua, ub = urlsplit(a), urlsplit(b)
    return (ua.scheme, ua.hostname, ua.port) == (ub.scheme, ub.hostname, ub.port)


def _warn_replaced(options: CallOptions) -> None:
    message = (
        f"The answer from {options.url} contained invalid UTF-8; the bad bytes "
        "were replaced with U+FFFD."
    )
    logger.warning(message)
    warnings.warn(message, UnicodeWarning, stacklevel=2)
