"""One attempt's HTTP exchange (aiohttp): the request, the status, the answer's body.

`stream_answer` posts one signed request, follows a same-origin redirect when
asked, maps a non-200 to its error (the body read before raising), refuses a
200 that is a page, and streams the body through `AnswerState`, timed by the
chunk timeout's watchdog. Every network failure becomes the error of its kind
(`failure_error`). Retrying is the business of `_retrying_call`; sessions are
`_sessions`'.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin

import aiohttp
from pydantic import SecretStr

from langchain_aichatfree._constants import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_WAIT,
    MAX_REDIRECTS,
)
from langchain_aichatfree._origin import same_site
from langchain_aichatfree._protocol import PreparedRequest, is_page_media_type
from langchain_aichatfree._response_body import (
    MAX_ERROR_BODY,
    SilenceWatchdog,
    read_bounded,
)
from langchain_aichatfree._sessions import SessionClosed
from langchain_aichatfree._stream import AnswerState
from langchain_aichatfree.errors import (
    Failure,
    failure_error,
    make_content_type_error,
    make_status_error,
    redirect_error,
)

if TYPE_CHECKING:
    from langchain_core.rate_limiters import BaseRateLimiter

    from langchain_aichatfree._router import Router

__all__ = ["CallOptions", "stream_answer"]

logger = logging.getLogger("langchain_aichatfree")


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


async def stream_answer(
    session: aiohttp.ClientSession,
    options: CallOptions,
    request: PreparedRequest,
    state: AnswerState,
    reading: set[aiohttp.StreamReader],
    *,
    accepted: Callable[[], Awaitable[None]] | None = None,
    buffered: bool = False,
) -> AsyncIterator[str]:
    """One attempt: send `request`, then yield the answer's text as it arrives.

    Args:
        session: The session to send it on.
        options: The attempt's options (its deployment's URL and credentials).
        request: The conversation, in the deployment's dialect.
        state: A fresh answer state, fed the body (it is the attempt's result).
        reading: Where the body is registered while it is read, so that
            closing the session ends it (`SessionPool.reading`).
        accepted: Awaited once the deployment answered 200 with an answer.
        buffered: Yield nothing; the answer is only gathered into `state`.

    Yields:
        Text pieces, one per network read.

    Raises:
        AIChatFreeError: The error of whatever went wrong (the status's,
            a timeout, a cut body, a close, ...), with the partial answer.
    """
    if session.closed:  # closed while this call waited to retry
        raise failure_error(Failure.CLOSED)
    timeout = aiohttp.ClientTimeout(
        total=options.timeout,
        sock_connect=options.chunk_timeout,
        sock_read=options.chunk_timeout,
    )
    watchdog: SilenceWatchdog | None = None
    response: aiohttp.ClientResponse | None = None
    complete = False
    try:
        response = await _post(session, options, request, timeout, reading)
        if session.closed:
            raise SessionClosed("the session was closed")
        if accepted is not None:
            await accepted()
        content_type = response.headers.get("Content-Type")
        if content_type and is_page_media_type(response.content_type):
            page = await read_bounded(response.content, MAX_ERROR_BODY)
            raise make_content_type_error(
                content_type, page, redact_secrets=(options.password,)
            )
        read = response.content.readany
        # Without a connection the whole body is in already: nothing to time.
        if options.chunk_timeout is not None and response.connection is not None:
            watchdog = SilenceWatchdog.take_over(response, options.chunk_timeout)
            read = watchdog.read
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
        if isinstance(e, SessionClosed) or session.closed:
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
        if watchdog is not None:
            watchdog.stop()
        if response is not None:
            if complete:
                response.release()
            else:
                response.close()


def _signed_body(
    options: CallOptions, request: PreparedRequest
) -> aiohttp.BytesPayload:
    """A freshly signed body, wrapped so that no frame's locals show it.

    The body holds the password in plain text. It is never bound to a local of
    ours, and aiohttp's own frames only see the payload object, whose repr does
    not include its bytes.
    """
    return aiohttp.BytesPayload(
        request.body(time.time_ns() // 1_000_000, options.secret, options.password),
        content_type="text/plain;charset=UTF-8",
    )


async def _post(
    session: aiohttp.ClientSession,
    options: CallOptions,
    request: PreparedRequest,
    timeout: aiohttp.ClientTimeout,
    reading: set[aiohttp.StreamReader],
) -> aiohttp.ClientResponse:
    """Send the request; return a 200 response or raise the mapped error.

    Redirects are never followed automatically: the body carries the site
    password. With `follow_redirects`, a redirect to the same origin is posted
    again, signed afresh (at most `MAX_REDIRECTS` times); any other is an error.
    """
    url = options.url
    for _ in range(MAX_REDIRECTS + 1):
        response = await session.post(
            url,
            data=_signed_body(options, request),
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
                if options.follow_redirects and same_site(url, target):
                    url = target
                    continue
                raise redirect_error(
                    response.status,
                    target,
                    same_site=same_site(options.url, target),
                    redact_secrets=(options.password,),
                )
            raw = await read_bounded(response.content, MAX_ERROR_BODY)
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


def _warn_replaced(options: CallOptions) -> None:
    """Say (log and warning) that the answer's invalid UTF-8 was replaced."""
    message = (
        f"The answer from {options.url} contained invalid UTF-8; the bad bytes "
        "were replaced with U+FFFD."
    )
    logger.warning(message)
    warnings.warn(message, UnicodeWarning, stacklevel=2)
