"""`LocalServer`: the AIChatFree server, protocol-faithful, on 127.0.0.1.

How a request is handled (see docs/protocol.md):

1. ``POST /api/generate`` (or ``//api/generate``); anything else is a 404 with
   an empty body.
2. The body is parsed and checked in the real server's order (`_checks`): last
   role, password, signature, then the upstream's own rules. A refusal is sent
   at once, byte for byte as the real server sends it.
3. The fake upstream answers: the next scripted `Reply`, or the responder's.
   Its writes go out as separate HTTP chunks, the status line and headers with
   the first one, exactly like the real server holds them back until the
   model's first token.

Connections are tracked by subclassing aiohttp's low-level `web.Server`, whose
``connection_made``/``connection_lost`` hooks every ``RequestHandler`` (one per
TCP connection) calls; a response that is waiting (a delay or a stall) also
wakes up when its connection is lost, so a client going away is seen at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, Final, Literal

from aiohttp import web

from langchain_aichatfree.testing import _js
from langchain_aichatfree.testing._checks import (
    MALFORMED,
    Accepted,
    Rejection,
    accepted_passwords,
    check_chatgpt_demo,
    check_gemini,
    openai_error,
    site_error,
    upstream_error,
)
from langchain_aichatfree.testing._quota import Quota
from langchain_aichatfree.testing._reply import (
    _PREFIX,
    UPSTREAM_ERRORS,
    Reply,
    echo_responder,
)
from langchain_aichatfree.testing._site import SitePages, SiteRequest, SiteRoutes

_log = logging.getLogger("langchain_aichatfree.testing")

SENTINEL: Final = b"Internal server error"
"""What the real server writes as its last chunk when the upstream fails."""

_STREAM_CONTENT_TYPE: Final = "text/plain; charset=utf-8"
_GENERATE_PATHS: Final = frozenset({"/api/generate", "//api/generate"})
_SHUTDOWN_TIMEOUT: Final = 5.0
_POLL_INTERVAL: Final = 0.01

Dialect = Literal["gemini", "chatgpt-demo"]
Responder = Callable[[list[dict[str, str]]], "str | Reply"]
_Wake = Literal["elapsed", "gave_up", "lost", "stopping"]


@dataclass(frozen=True)
class RecordedRequest:
    """One POST the local server received, and what it answered.

    The entry in `LocalServer.requests` is appended when the response is decided
    and replaced by an updated copy when the response ends (records are frozen,
    so a reference taken earlier keeps the outcome it had then). The final
    outcome is in place before the response's last byte is sent.

    Attributes:
        time: ``time.monotonic()`` when the request was received.
        path: The request path, e.g. ``"/api/generate"``.
        headers: The request headers (case-insensitive).
        body: The raw request body.
        payload: The parsed JSON body, or ``None`` when it is not JSON.
        status: The status sent (or being sent).
        connection: The TCP connection's number (1 for the server's first
            connection); the same across keep-alive requests.
        outcome: ``"pending"`` (the response is under way), ``"ok"`` (complete
            answer), ``"sentinel"`` (``fail_after``: ``Internal server error``
            then a clean end), ``"stalled"`` (the server gave up on a silent
            upstream), ``"cut"`` (TCP connection aborted), ``"error"`` (an
            upstream error before the first token), ``"rejected"`` (400/401
            from the checks), ``"malformed"`` (500 with an empty body),
            ``"not_found"`` (404), ``"client_disconnected"`` (the client went
            away first) or ``"server_stopped"`` (aborted by `LocalServer.stop`).
    """

    time: float
    path: str
    headers: Mapping[str, str]
    body: bytes
    payload: Any
    status: int
    connection: int
    outcome: str


class _Connection:
    """What the server knows about one TCP connection."""

    __slots__ = ("closed", "number", "transport", "wake")

    def __init__(self, number: int, transport: asyncio.Transport | None) -> None:
        self.number = number
        self.transport = transport
        self.closed = False
        self.wake = asyncio.Event()
        """Set when the connection is lost or the server stops."""


class _TrackingServer(web.Server):
    """aiohttp's low-level server, telling its owner about connections."""

    def __init__(
        self,
        handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
        *,
        on_made: Callable[[web.RequestHandler, asyncio.Transport], None],
        on_lost: Callable[[web.RequestHandler], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self._on_made = on_made
        self._on_lost = on_lost

    def connection_made(
        self, handler: web.RequestHandler, transport: asyncio.Transport
    ) -> None:
        super().connection_made(handler, transport)
        self._on_made(handler, transport)

    def connection_lost(
        self, handler: web.RequestHandler, exc: BaseException | None = None
    ) -> None:
        super().connection_lost(handler, exc)
        self._on_lost(handler)


class LocalServer:
    """A protocol-faithful AIChatFree server on 127.0.0.1, for tests and demos.

    It speaks docs/protocol.md like the real server: the same checks in the same
    order, the same status codes, bodies and headers, status line and headers
    held back until the first chunk, one HTTP chunk per upstream event, and the
    real failure modes (`Reply`). Run it on the current event loop
    (``async with LocalServer() as server:``) or in a background thread with its
    own loop (``with LocalServer() as server:``), which works from sync and async
    code alike.

    Example:
        .. code-block:: python

            async with LocalServer() as server:
                server.script("Hello!", Reply.rate_limited(retry_in=2))
                ...  # POST f"{server.url}/api/generate"

    Args:
        host: The interface to listen on.
        port: The port; 0 picks a free one (see `url`).
        secret: The deployment's ``PUBLIC_SECRET_KEY`` the signature covers.
        passwords: The accepted site passwords; a string is split on commas like
            the real server's setting. ``None`` or empty: no password required.
        dialect: ``"gemini"`` (GeminiProChat, AIChatFree) or ``"chatgpt-demo"``
            (OpenAI-style messages, upstream statuses forwarded).
        responder: Answers a request when nothing is scripted. It receives the
            turns as ``[{"role": ..., "text": ...}]`` (text: the parts joined with
            ``""``); the default, `echo_responder`, answers
            ``"Echo: <last user text>"``.
        rechunk: Re-split every successful answer's body into writes of this many
            bytes (``Reply``'s failure counts then count these writes).
        upstream_timeout: How long the server waits for a silent upstream before
            giving up (the real one: about 300 s).
        quota: The upstream's per-minute and per-day limits (`Quota`): past
            them, requests get the upstream's real quota errors. One `Quota`
            given to several servers is shared by them (one Google project).
        site: The web pages served around the API (`SitePages`: the real app's
            page, chat script, ``/api/auth`` and ``/password`` by default, or a
            site a probe must refuse); ``None`` for the API alone.

    Attributes:
        quota: The `Quota` given, or ``None``.
        requests: Every POST received, in order (see `RecordedRequest`), except
            the site's ``/api/auth``.
        site_requests: Every request for the site's pages, scripts and
            ``/api/auth``, in order (see `SiteRequest`).
        connections_opened: TCP connections accepted so far.
        disconnects: Responses whose client went away before they finished.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        secret: str = "",
        passwords: Sequence[str] | str | None = None,
        dialect: Dialect = "gemini",
        responder: Responder | None = None,
        rechunk: int | None = None,
        upstream_timeout: float = 300.0,
        quota: Quota | None = None,
        site: SitePages | None = SitePages(),  # noqa: B008 - frozen
    ) -> None:
        if dialect not in ("gemini", "chatgpt-demo"):
            raise ValueError(f"unknown dialect {dialect!r}")
        if rechunk is not None and rechunk < 1:
            raise ValueError("`rechunk` must be at least 1")
        if not upstream_timeout > 0:  # NaN too
            raise ValueError("`upstream_timeout` must be positive")
        self._host = host
        self._port = port
        self._secret = secret
        self._passwords = accepted_passwords(passwords)
        self._dialect: Dialect = dialect
        self._responder: Responder = responder or echo_responder
        self._rechunk = rechunk
        self._upstream_timeout = upstream_timeout
        self.quota = quota
        self._site = (
            None
            if site is None
            else SiteRoutes(
                site, dialect=dialect, secret=secret, passwords=self._passwords
            )
        )

        self.requests: list[RecordedRequest] = []
        self.site_requests: list[SiteRequest] = []
        self.connections_opened = 0
        self.disconnects = 0
        self._handlers_running = 0
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._connections: dict[web.RequestHandler, _Connection] = {}
        self._runner: web.ServerRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._url: str | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._thread_stop: Callable[[], None] | None = None

    # -- public surface -------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL, e.g. ``"http://127.0.0.1:54321"`` (no trailing slash).

        Raises:
            RuntimeError: The server has not been started.
        """
        if self._url is None:
            raise RuntimeError("LocalServer is not started")
        return self._url

    @property
    def dialect(self) -> Dialect:
        """The web app family this server imitates."""
        return self._dialect

    @property
    def open_connections(self) -> int:
        """TCP connections currently open."""
        return len(self._connections)

    def script(self, *replies: str | Reply) -> None:
        """Queue the fake upstream's next answers (thread-safe).

        Each request that reaches the upstream call consumes one, in order;
        requests refused earlier (bad password, bad history...) consume none.
        When the queue is empty the responder answers.

        Args:
            *replies: Answers; a ``str`` means ``Reply(text=...)``.

        Raises:
            TypeError: A reply is neither ``str`` nor `Reply`.
        """
        queued = []
        for reply in replies:
            if isinstance(reply, str):
                reply = Reply(text=reply)
            if not isinstance(reply, Reply):
                raise TypeError(f"expected str or Reply, got {type(reply).__name__}")
            queued.append(reply)
        with self._lock:
            self._script.extend(queued)

    def clear(self) -> None:
        """Empty the request log and the script queue."""
        with self._lock:
            self.requests.clear()
            self.site_requests.clear()
            self._script.clear()

    async def start(self) -> None:
        """Start listening, on the running event loop.

        Raises:
            RuntimeError: The server is already running.
        """
        if self._runner is not None or self._thread is not None:
            raise RuntimeError("LocalServer is already running")
        server = _TrackingServer(
            self._handle_counted,
            on_made=self._connection_made,
            on_lost=self._connection_lost,
            access_log=None,
        )
        runner = web.ServerRunner(server, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._stopping = False
        self._runner = runner
        self._loop = asyncio.get_running_loop()
        port = runner.addresses[0][1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._url = f"http://{host}:{port}"

    async def stop(self) -> None:
        """Stop listening and close every connection (on the server's loop).

        Responses still under way are ended at once by aborting their
        connection. Calling it on a stopped server does nothing.
        """
        runner = self._runner
        if runner is None:
            return
        self._stopping = True
        for connection in list(self._connections.values()):
            connection.wake.set()
        await runner.cleanup()
        self._runner = None
        self._loop = None

    async def serve_until_signalled(
        self, on_started: Callable[[LocalServer], None] | None = None
    ) -> None:
        """Start, serve until SIGINT or SIGTERM (Ctrl-C), then stop: for shells.

        Args:
            on_started: Called once the server listens (to print its URL).

        Raises:
            OSError: The address cannot be listened on.
        """
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            # Not on Windows, where Ctrl-C raises KeyboardInterrupt instead.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        async with self:
            if on_started is not None:
                on_started(self)
            await stop.wait()

    async def __aenter__(self) -> LocalServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def __enter__(self) -> LocalServer:
        if self._runner is not None or self._thread is not None:
            raise RuntimeError("LocalServer is already running")
        ready = threading.Event()
        failures: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(self._serve_in_thread(ready))
            except BaseException as e:  # reported to the caller of __enter__
                failures.append(e)
                ready.set()

        thread = threading.Thread(target=run, name="aichatfree-local-server")
        thread.daemon = True
        thread.start()
        ready.wait()
        if failures:
            thread.join()
            raise failures[0]
        self._thread = thread
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        thread, stop = self._thread, self._thread_stop
        if thread is None or stop is None:
            return
        stop()
        thread.join()
        self._thread = None
        self._thread_stop = None

    async def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 5.0
    ) -> None:
        """Wait, without blocking the loop, until ``predicate()`` is true.

        Args:
            predicate: Checked every 10 ms, e.g. ``lambda: server.disconnects``.
            timeout: Seconds to wait at most.

        Raises:
            TimeoutError: Still false after ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            await asyncio.sleep(_POLL_INTERVAL)

    async def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until no TCP connection is open and no request is being handled.

        A handler can still be finishing (counting a disconnect, recording
        its outcome) after its connection closed, so both are waited for.

        Args:
            timeout: Seconds to wait at most.

        Raises:
            TimeoutError: Connections still open after ``timeout``.
        """
        await self.wait_for(
            lambda: self.open_connections == 0 and self._handlers_running == 0,
            timeout,
        )

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Block until ``predicate()`` is true (for a server in thread mode).

        Args:
            predicate: Checked every 10 ms.
            timeout: Seconds to wait at most.

        Raises:
            RuntimeError: Called on the server's own event loop, which it would
                block (use `wait_for` there).
            TimeoutError: Still false after ``timeout``.
        """
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None and running is self._loop:
            raise RuntimeError("wait_until would block the server; use wait_for")
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            time.sleep(_POLL_INTERVAL)

    # -- lifecycle helpers ----------------------------------------------------

    async def _serve_in_thread(self, ready: threading.Event) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        await self.start()

        def request_stop() -> None:
            loop.call_soon_threadsafe(stop.set)

        self._thread_stop = request_stop
        ready.set()
        try:
            await stop.wait()
        finally:
            await self.stop()

    def _connection_made(
        self, handler: web.RequestHandler, transport: asyncio.Transport
    ) -> None:
        self.connections_opened += 1
        self._connections[handler] = _Connection(self.connections_opened, transport)

    def _connection_lost(self, handler: web.RequestHandler) -> None:
        connection = self._connections.pop(handler, None)
        if connection is not None:
            connection.closed = True
            connection.wake.set()

    # -- the request log ------------------------------------------------------

    def _record(self, record: RecordedRequest) -> RecordedRequest:
        with self._lock:
            self.requests.append(record)
        return record

    def _update(self, record: RecordedRequest, **changes: Any) -> RecordedRequest:
        new = dataclasses.replace(record, **changes)
        with self._lock:
            for index in range(len(self.requests) - 1, -1, -1):
                if self.requests[index] is record:
                    self.requests[index] = new
                    break
        return new

    # -- handling one request -------------------------------------------------

    async def _handle_counted(self, request: web.BaseRequest) -> web.StreamResponse:
        self._handlers_running += 1
        try:
            return await self._handle(request)
        finally:
            self._handlers_running -= 1

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        received = time.monotonic()
        connection = self._connections.get(request.protocol)
        if connection is None:  # not seen through connection_made; be safe
            connection = _Connection(0, request.transport)
        if self._site is not None and self._site.handles(request.method, request.path):
            return await self._site.respond(request, self.site_requests)
        if request.method != "POST":
            return web.Response(status=404)
        try:
            body = await request.content.read()
        except (ConnectionError, web.RequestPayloadError):
            self.disconnects += 1
            return web.Response(status=400)
        decision: Rejection | Accepted
        try:
            payload = _js.parse_json(body)
        except ValueError:
            payload, decision = None, MALFORMED
        else:
            decision = self._check(payload)
        if request.path not in _GENERATE_PATHS:
            decision = Rejection(404, b"", None, "not_found")
        record = RecordedRequest(
            time=received,
            path=request.path,
            headers=request.headers,
            body=body,
            payload=payload,
            status=0,
            connection=connection.number,
            outcome="pending",
        )
        if isinstance(decision, Rejection):
            self._record(
                dataclasses.replace(
                    record, status=decision.status, outcome=decision.outcome
                )
            )
            return _plain_response(decision)
        reply = self._next_reply(decision)
        failure = self._upstream_failure(reply)
        status = 200 if failure is None else failure.status
        record = self._record(dataclasses.replace(record, status=status))
        try:
            return await self._send(request, connection, record, reply)
        except ConnectionError:  # the client left while nothing caught it
            self._abandon("lost", connection, record, None)
            return web.Response()

    def _check(self, payload: Any) -> Rejection | Accepted:
        check = check_gemini if self._dialect == "gemini" else check_chatgpt_demo
        return check(payload, secret=self._secret, passwords=self._passwords)

    def _next_reply(self, accepted: Accepted) -> Reply:
        if self.quota is not None:  # the upstream refuses before it answers
            refusal = self.quota.take(self._dialect)
            if refusal is not None:
                return refusal
        with self._lock:
            scripted = self._script.popleft() if self._script else None
        if scripted is not None:
            return scripted
        try:
            reply = self._responder(accepted.turns)
        except Exception as e:
            _log.exception("the LocalServer responder failed")
            return Reply(error=f"responder failed: {e!r}")
        if isinstance(reply, str):
            return Reply(text=reply)
        if isinstance(reply, Reply):
            return reply
        _log.error("the LocalServer responder returned %r", reply)
        return Reply(error=f"responder returned {type(reply).__name__}")

    def _upstream_failure(self, reply: Reply) -> Rejection | None:
        """The error response a failing reply makes, or ``None`` if it succeeds."""
        if reply.status is not None:
            phrase = _reason(reply.status)
            if self._dialect == "chatgpt-demo":
                return openai_error(reply.status, reply.error or phrase)
            if reply.status != 429 and reply.status < 500:
                # A refusal of the site's own (401, 403...), sent as asked.
                return site_error(reply.status, reply.error or phrase)
            # The real GeminiProChat server answers 500 for an upstream failure.
            return upstream_error(reply.error or f"{_PREFIX}[{reply.status} {phrase}]")
        if reply.error is not None:
            return upstream_error(reply.error)
        return None

    def _gave_up_before_first_chunk(self) -> Rejection:
        if self._dialect == "gemini":
            return upstream_error(UPSTREAM_ERRORS["fetch_failed"])
        return upstream_error("fetch failed")

    async def _pause(self, connection: _Connection, seconds: float) -> _Wake:
        """Wait like the server waits for its upstream.

        Returns ``"gave_up"`` when ``seconds`` reaches the upstream timeout
        (after waiting that long), ``"lost"``/``"stopping"`` as soon as the
        connection is lost or the server stops, else ``"elapsed"``.
        """
        if self._stopping:
            return "stopping"
        if connection.closed:
            return "lost"
        if seconds <= 0:
            return "elapsed"
        try:
            await asyncio.wait_for(
                connection.wake.wait(), min(seconds, self._upstream_timeout)
            )
        except asyncio.TimeoutError:
            return "gave_up" if seconds >= self._upstream_timeout else "elapsed"
        return "stopping" if self._stopping else "lost"

    async def _send(
        self,
        request: web.BaseRequest,
        connection: _Connection,
        record: RecordedRequest,
        reply: Reply,
    ) -> web.StreamResponse:
        """Play one reply: delays, writes and failures, as `Reply` documents."""
        response: web.StreamResponse | None = None
        woke = await self._pause(connection, reply.first_byte_delay)
        if woke == "gave_up":
            return self._give_up(record)
        if woke != "elapsed":
            return self._abandon(woke, connection, record, response)
        failure = self._upstream_failure(reply)
        if failure is not None:
            self._update(record, status=failure.status, outcome="error")
            return _plain_response(failure)

        writes = reply.writes(self._rechunk)
        total = len(writes)
        for written in range(total + 1):
            if _due(reply.cut_after, written, total):
                self._update(record, outcome="cut")
                if connection.transport is not None:
                    connection.transport.abort()
                return response if response is not None else web.Response()
            if _due(reply.fail_after, written, total):
                return await self._end(request, record, response, SENTINEL, "sentinel")
            if _due(reply.stall_after, written, total):
                woke = await self._pause(connection, reply.stall_seconds)
                if woke in ("lost", "stopping"):
                    return self._abandon(woke, connection, record, response)
                if response is None:
                    return self._give_up(record)
                return await self._end(request, record, response, SENTINEL, "stalled")
            if written == total:
                return await self._end(request, record, response, b"", "ok")
            if written > 0:
                woke = await self._pause(connection, reply.chunk_delay)
                if woke == "gave_up":
                    return await self._end(
                        request, record, response, SENTINEL, "stalled"
                    )
                if woke != "elapsed":
                    return self._abandon(woke, connection, record, response)
            try:
                if response is None:  # the headers go out now: the client may be gone
                    response = await _prepare_stream(request)
                await response.write(writes[written])
            except ConnectionError:
                return self._abandon("lost", connection, record, response)
            await asyncio.sleep(0)  # let each write leave as its own chunk
        raise AssertionError("unreachable")  # pragma: no cover

    async def _end(
        self,
        request: web.BaseRequest,
        record: RecordedRequest,
        response: web.StreamResponse | None,
        last: bytes,
        outcome: str,
    ) -> web.StreamResponse:
        """Write ``last`` (if any) and end the chunked body cleanly."""
        record = self._update(record, outcome=outcome)
        try:
            if response is None:
                response = await _prepare_stream(request)
            if last:
                await response.write(last)
            await response.write_eof()
        except ConnectionError:
            self.disconnects += 1
            self._update(record, outcome="client_disconnected")
        return response if response is not None else web.Response()

    def _give_up(self, record: RecordedRequest) -> web.StreamResponse:
        """The upstream stayed silent before its first token: a 500."""
        failure = self._gave_up_before_first_chunk()
        self._update(record, status=failure.status, outcome="stalled")
        return _plain_response(failure)

    def _abandon(
        self,
        why: _Wake,
        connection: _Connection,
        record: RecordedRequest,
        response: web.StreamResponse | None,
    ) -> web.StreamResponse:
        """Stop a response whose client left, or because the server stops."""
        if why == "stopping":
            if connection.transport is not None:
                connection.transport.abort()
            self._update(record, outcome="server_stopped")
        else:
            self.disconnects += 1
            self._update(record, outcome="client_disconnected")
        # aiohttp finishes the returned response; on a closed transport that
        # fails quietly (it treats it as a premature client disconnection).
        return response if response is not None else web.Response()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # e.g. 529
        return "Error"


def _due(count: int | None, written: int, total: int) -> bool:
    """Whether a failure set to happen after ``count`` writes is due now.

    A count past the last write triggers after the last write.
    """
    return count is not None and written == min(count, total)


async def _prepare_stream(request: web.BaseRequest) -> web.StreamResponse:
    """Start the 200 answer; aiohttp sends the headers with the first chunk."""
    response = web.StreamResponse(
        status=200, headers={"Content-Type": _STREAM_CONTENT_TYPE}
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    return response


def _plain_response(rejection: Rejection) -> web.Response:
    headers = (
        {"Content-Type": rejection.content_type}
        if rejection.content_type is not None
        else None
    )
    return web.Response(
        status=rejection.status, body=rejection.body or None, headers=headers
    )
