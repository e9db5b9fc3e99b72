"""`LocalServer`: the AIChatFree server, protocol-faithful, on 127.0.0.1.

How a request is handled (see docs/protocol.md):

1. ``POST /api/generate`` (or ``//api/generate``); anything else is a 404 with
   an empty body.
2. The body is parsed and checked in the real server's order (`_checks`): last
   role, password, signature, then the upstream's own rules. A refusal is sent
   at once, byte for byte as the real server sends it.
3. The fake upstream (`_upstream`) answers: the next scripted `Reply`, or the
   responder's. Its writes go out as separate HTTP chunks (`_playback`), the
   status line and headers with the first one, exactly like the real server
   holds them back until the model's first token.

This module owns the server's lifecycle (start, stop, the thread mode, serving
until a signal) and the dispatch of a request; connections are tracked by
`_connections`, requests logged by `_request_log`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Final

from aiohttp import web

from langchain_aichatfree.testing import _js
from langchain_aichatfree.testing._checks import (
    MALFORMED,
    Accepted,
    Dialect,
    Rejection,
    accepted_passwords,
    check_request,
)
from langchain_aichatfree.testing._connections import ConnectionTracker, TrackingServer
from langchain_aichatfree.testing._playback import Playback, plain_response
from langchain_aichatfree.testing._quota import Quota
from langchain_aichatfree.testing._reply import Reply, echo_responder
from langchain_aichatfree.testing._request_log import RecordedRequest, RequestLog
from langchain_aichatfree.testing._site import SitePages, SiteRequest, SiteRoutes
from langchain_aichatfree.testing._upstream import FakeUpstream, Responder

__all__ = ["Dialect", "LocalServer", "RecordedRequest", "Responder"]

_GENERATE_PATHS: Final = frozenset({"/api/generate", "//api/generate"})
_SHUTDOWN_TIMEOUT: Final = 5.0
_POLL_INTERVAL: Final = 0.01


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
        self._lock = threading.Lock()
        self._upstream = FakeUpstream(
            dialect=dialect,
            responder=responder or echo_responder,
            quota=quota,
            rechunk=rechunk,
            timeout=upstream_timeout,
            lock=self._lock,
        )
        self._site = (
            None
            if site is None
            else SiteRoutes(
                site, dialect=dialect, secret=secret, passwords=self._passwords
            )
        )

        self._log = RequestLog(self._lock)
        self.requests: list[RecordedRequest] = self._log.records
        self.site_requests: list[SiteRequest] = []
        self._handlers_running = 0
        self._connections = ConnectionTracker()
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
    def quota(self) -> Quota | None:
        """The `Quota` given, or ``None``."""
        return self._upstream.quota

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted so far."""
        return self._connections.opened

    @property
    def disconnects(self) -> int:
        """Responses whose client went away before they finished."""
        return self._log.disconnects

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
        self._upstream.queue(replies)

    def clear(self) -> None:
        """Empty the request log and the script queue."""
        with self._lock:
            self.requests.clear()
            self.site_requests.clear()
            self._upstream.clear_script()

    async def start(self) -> None:
        """Start listening, on the running event loop.

        Raises:
            RuntimeError: The server is already running.
        """
        if self._runner is not None or self._thread is not None:
            raise RuntimeError("LocalServer is already running")
        server = TrackingServer(
            self._handle_counted,
            tracker=self._connections,
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
        self._connections.wake_all()
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

    # -- handling one request -------------------------------------------------

    async def _handle_counted(self, request: web.BaseRequest) -> web.StreamResponse:
        self._handlers_running += 1
        try:
            return await self._handle(request)
        finally:
            self._handlers_running -= 1

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        received = time.monotonic()
        connection = self._connections.of(request)
        if self._site is not None and self._site.handles(request.method, request.path):
            return await self._site.respond(request, self.site_requests)
        if request.method != "POST":
            return web.Response(status=404)
        try:
            body = await request.content.read()
        except (ConnectionError, web.RequestPayloadError):
            self._log.disconnects += 1
            return web.Response(status=400)
        decision: Rejection | Accepted
        try:
            payload = _js.parse_json(body)
        except ValueError:
            payload, decision = None, MALFORMED
        else:
            decision = check_request(
                payload,
                dialect=self._dialect,
                secret=self._secret,
                passwords=self._passwords,
            )
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
            self._log.add(
                dataclasses.replace(
                    record, status=decision.status, outcome=decision.outcome
                )
            )
            return plain_response(decision)
        reply = self._upstream.next_reply(decision)
        failure = self._upstream.failure(reply)
        status = 200 if failure is None else failure.status
        playback = Playback(
            request=request,
            connection=connection,
            record=self._log.add(dataclasses.replace(record, status=status)),
            upstream=self._upstream,
            log=self._log,
            is_stopping=lambda: self._stopping,
        )
        return await playback.play(reply)
