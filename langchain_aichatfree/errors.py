"""The errors this package raises, and the functions that build every one of them.

Every error is a subclass of a `langchain_core.exceptions.ModelError` class, so
callers and LangChain's retry middleware can read `is_retryable` without knowing
this package. Whether a kind of error is retryable is a property of its class,
never changed on one instance::

    AIChatFreeError (ModelError)
    ├── AuthenticationError (ModelAuthenticationError)     401: password or signature
    │   └── PermissionDeniedError (ModelPermissionDeniedError)   403
    ├── InvalidRequestError (ModelInvalidRequestError)     400, 3xx, bad history
    │   └── NotFoundError (ModelNotFoundError)             404: no endpoint, no model
    ├── SiteProbeError (ModelInvalidRequestError)          not a deployment's site
    ├── RateLimitError (ModelRateLimitError)               quota exceeded   [retryable]
    ├── APIError (ModelAPIError)                           5xx              [retryable]
    │   ├── StreamInterruptedError                         answer cut short [retryable]
    │   ├── DeploymentError                                the site's own upstream key
    │   ├── UnexpectedResponseError                        a 200 that is a page
    │   └── ResponseTooLargeError                          over max_response_bytes
    └── APIConnectionError (ModelConnectionError)          network          [retryable]
        ├── APITimeoutError (ModelTimeoutError)            timeouts         [retryable]
        │   └── DeadlineExceededError                      caller's deadline passed
        └── ClientClosedError                              close() during the call

`PermissionDeniedError` and `NotFoundError` subclass the classes that 403 and
404 raised before they had their own, so existing `except` clauses still
catch them.

`make_status_error` is the one function that maps a response (status, body) to
an error; the failures met on the way (timeouts, cut bodies, a close) are rows
of one table, `_FAILURES`, built by `failure_error`: every message is worded
here. Any text a server sent is shown with the site password redacted
(`redact`): a server or proxy that echoes the request body would otherwise put
it into an error message.

What to do about an error (`Advice`) is worded once, in `advice_text`, with the
names of the settings filled in: the library's (`password`, `secret`) by
default, the command line's flags by the CLI.

Input that can be rejected before any request (an empty last message, an image
block) raises a plain `ValueError` instead: nothing was sent.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import quote, quote_plus

from langchain_core.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
    ModelTimeoutError,
)
from pydantic import SecretStr

from langchain_aichatfree._constants import (
    DEFAULT_BASE_URL,
    ENV_PASSWORD,
    ENV_SECRET,
    SERVER_SENTINEL,
)
from langchain_aichatfree._protocol import UpstreamKind, classify_upstream_message

__all__ = [
    "AIChatFreeError",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "Advice",
    "AuthenticationError",
    "ClientClosedError",
    "DeadlineExceededError",
    "DeploymentError",
    "Failure",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "Probe",
    "RateLimitError",
    "ResponseTooLargeError",
    "SiteProbeError",
    "StreamInterruptedError",
    "UnexpectedResponseError",
    "advice_text",
    "failure_error",
    "make_content_type_error",
    "make_deadline_error",
    "make_status_error",
    "pool_out_error",
    "pool_wait_error",
    "probe_error",
    "redact",
    "redirect_error",
]

_MAX_BODY_IN_ERROR = 2000
REDACTED: Final = "[password]"
"""What a redacted password reads as in an error."""


class Advice(enum.Enum):
    """What a caller can do about an error (worded by `advice_text`)."""

    SET_PASSWORD = enum.auto()
    SET_SECRET = enum.auto()
    SECRET_OR_DIALECT = enum.auto()
    CHECK_CREDENTIALS = enum.auto()
    OPERATOR = enum.auto()
    CHECK_BASE_URL = enum.auto()
    TRY_GEMINI_DIALECT = enum.auto()


_ADVICE: Final[Mapping[Advice, str]] = {
    Advice.SET_PASSWORD: "Set {password} to the site password.",
    Advice.SET_SECRET: (
        "Set {secret} to the deployment's PUBLIC_SECRET_KEY, published in its "
        "browser code."
    ),
    Advice.SECRET_OR_DIALECT: (
        "If the site is a chatgpt-demo deployment (OpenAI-style chat), set "
        "{dialect} to chatgpt-demo: the gemini form always fails its signature "
        "check. Otherwise set {secret} to the deployment's PUBLIC_SECRET_KEY, "
        "published in its browser code."
    ),
    Advice.CHECK_CREDENTIALS: "Check {password} and {secret}.",
    Advice.OPERATOR: (
        "This is the site operator's setting, not yours: only the operator can fix it."
    ),
    Advice.CHECK_BASE_URL: (
        "Check {base_url}: it should be the site's root, e.g. " + DEFAULT_BASE_URL + "."
    ),
    Advice.TRY_GEMINI_DIALECT: (
        "If the site is a GeminiProChat deployment (such as AIChatFree), set "
        "{dialect} to gemini: a message without `parts` makes it fail this way."
    ),
}
"""Each advice's sentence; ``{password}``, ``{secret}``, ``{dialect}`` and
``{base_url}`` are the names of the settings, as the caller knows them."""

SETTING_NAMES: Final[Mapping[str, str]] = {
    "password": f"`password` (or {ENV_PASSWORD})",
    "secret": f"`secret` (or {ENV_SECRET})",
    "dialect": "`dialect`",
    "base_url": "`base_url`",
}
"""The settings as a `ChatAIChatFree` user names them."""


def advice_text(advice: Advice | None, names: Mapping[str, str] = SETTING_NAMES) -> str:
    """Say what to do about an error, naming the settings as the caller knows them.

    Args:
        advice: The error's `advice`.
        names: How to name ``password``, ``secret``, ``dialect`` and
            ``base_url`` (the command line passes its flags).

    Returns:
        One or two sentences, or "" for no advice.
    """
    return "" if advice is None else _ADVICE[advice].format_map(names)


class AIChatFreeError(ModelError):
    """Base class of every error raised by a call to an AIChatFree deployment.

    Attributes:
        message: What went wrong, with what to do where we know it.
        status_code: The HTTP status, if a response arrived.
        body: The response body as text (cut at 2,000 characters), if any, with
            the site password redacted.
        partial_text: The answer text received before the failure ("" if none).
        server_message: The server's own message (the ``error.message`` of a
            JSON error body), if it sent one, with the site password redacted.
        advice: What the caller can do, if we know (worded by `advice_text`).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body: str | None = None,
        partial_text: str = "",
        server_message: str | None = None,
        advice: Advice | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.body = body
        self.partial_text = partial_text
        self.server_message = server_message
        self.advice = advice


class AuthenticationError(AIChatFreeError, ModelAuthenticationError):
    """The site password or the signing secret was refused (HTTP 401)."""


class PermissionDeniedError(AuthenticationError, ModelPermissionDeniedError):
    """The deployment refused access (HTTP 403)."""


class InvalidRequestError(AIChatFreeError, ModelInvalidRequestError):
    """The deployment rejected the request as malformed; retrying will not help."""


class NotFoundError(InvalidRequestError, ModelNotFoundError):
    """HTTP 404: no chat endpoint at `base_url`, or the upstream has no such model."""


class SiteProbeError(AIChatFreeError, ModelInvalidRequestError):
    """A site could not be read as a deployment (`from_site`, `aichatfree probe`).

    The page is not one of the web app families, its chat script could not be
    read (on another site, far too large, missing), the signing secret could not
    be found in it, or the site redirected to another host. The message says
    what the probe saw.

    Attributes:
        url: The address that was being read when the probe gave up.
    """

    def __init__(
        self, message: str, *, url: str, status_code: int | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.url = url


class RateLimitError(AIChatFreeError, ModelRateLimitError):
    """The deployment's upstream quota is exhausted; retry later.

    Attributes:
        retry_after: Seconds the server asked to wait, if it said.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body: str | None = None,
        partial_text: str = "",
        server_message: str | None = None,
        advice: Advice | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message,
            status_code=status_code,
            body=body,
            partial_text=partial_text,
            server_message=server_message,
            advice=advice,
        )
        self.retry_after = retry_after


class APIError(AIChatFreeError, ModelAPIError):
    """The deployment or its upstream failed (HTTP 5xx)."""


class StreamInterruptedError(APIError):
    """The answer was cut short: the server's mid-stream failure, or a broken body.

    The text received so far is in `partial_text`; it is never returned as if it
    were the complete answer.
    """


class DeploymentError(APIError):
    """The deployment is misconfigured: its own upstream API key was refused.

    Only the site's operator can fix it (a Gemini key that is not valid, an
    OpenAI key refused behind a chatgpt-demo site); the caller's own `password`
    and `secret` were accepted. Not retryable.
    """

    is_retryable = False


class UnexpectedResponseError(APIError):
    """A 200 whose body is a page (HTML, JSON), not an answer. Not retryable.

    A captcha, login or error page will not turn into an answer by asking again.
    """

    is_retryable = False


class ResponseTooLargeError(APIError):
    """The answer exceeded `max_response_bytes`; the connection was closed.

    Not retryable: the same question would get the same long answer.
    """

    is_retryable = False


class APIConnectionError(AIChatFreeError, ModelConnectionError):
    """The deployment could not be reached, or the connection broke."""


class APITimeoutError(APIConnectionError, ModelTimeoutError):
    """An attempt exceeded `timeout`, or the server was silent for `chunk_timeout`."""


class ClientClosedError(APIConnectionError):
    """The model was closed (`close()`, `aclose()`) while the call was under way.

    Its connection was closed with it; the text received so far is in
    `partial_text`. Not retryable: the close was asked for.
    """

    is_retryable = False


class DeadlineExceededError(APITimeoutError):
    """The caller's overall deadline for one answer passed, retries included.

    Not retryable: the time the caller allowed is spent. The ``aichatfree``
    command's ``--timeout`` raises it.

    Attributes:
        seconds: The deadline, in seconds from the start of the call.
    """

    is_retryable = False

    def __init__(self, message: str, *, seconds: float, partial_text: str = "") -> None:
        super().__init__(message, partial_text=partial_text)
        self.seconds = seconds


def make_deadline_error(
    seconds: float, partial_text: str = ""
) -> DeadlineExceededError:
    """The error for an answer not complete within the caller's deadline.

    Args:
        seconds: The deadline that passed.
        partial_text: The text shown before it passed.

    Returns:
        A `DeadlineExceededError`; the call it ends is cancelled.
    """
    shown = " (the text shown is incomplete)" if partial_text else ""
    return DeadlineExceededError(
        f"No complete answer within {seconds:g} s, retries included; the request "
        f"was cancelled{shown}.",
        seconds=seconds,
        partial_text=partial_text,
    )


# -- reading what a server sent ------------------------------------------------


def _echoed_forms(secret: str) -> set[str]:
    """The ways a body that echoes the request may spell `secret`."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
    layer = {secret}
    for _ in range(3):  # the JSON request, quoted in a JSON error, quoted again
        layer = {
            json.dumps(form, ensure_ascii=ascii_only)[1:-1]
            for form in layer
            for ascii_only in (True, False)
        }
        forms |= layer
    return forms


def redact(text: str, secrets: Iterable[SecretStr | str | None]) -> str:
    """Replace every secret in a server's text, in each form a body may echo it.

    A proxy or server that echoes the request may return the password as it is
    in the JSON body (escaped, perhaps inside another JSON string), or
    URL-encoded; each form is replaced.

    Args:
        text: What the server sent.
        secrets: The values to hide (``None`` and "" are skipped).

    Returns:
        The text with each secret replaced by ``[password]``.
    """
    for given in secrets:
        secret = given.get_secret_value() if isinstance(given, SecretStr) else given
        if not secret:
            continue
        for form in sorted(_echoed_forms(secret), key=len, reverse=True):
            text = text.replace(form, REDACTED)
    return text


def _read_body(
    body: bytes | str, secrets: Iterable[SecretStr | str | None]
) -> tuple[str, str | None]:
    """A body as text to show (bounded) and its server message, secrets redacted.

    The message is parsed from the whole body before anything is cut, and each
    is redacted on its own: JSON escaping spells a secret differently in each.
    """
    secrets = tuple(secrets)
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    message = _error_message(text)
    if message is not None:
        message = redact(message, secrets)
    return redact(text, secrets)[:_MAX_BODY_IN_ERROR], message


def _error_message(body: str) -> str | None:
    """The `error.message` of a JSON error body, if there is one."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return None


def _parse_retry_after(value: str) -> float | None:
    """Seconds from a `Retry-After` header given in seconds (dates are ignored)."""
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds < float("inf") else None


def _with_advice(text: str, advice: Advice | None) -> str:
    hint = advice_text(advice)
    return f"{text} {hint}" if hint else text


# -- the one mapping from a response to an error ----------------------------------

_UPSTREAM_ERRORS: Final[Mapping[UpstreamKind, tuple[type[AIChatFreeError], str]]] = {
    UpstreamKind.RATE_LIMIT: (RateLimitError, "Rate limited by the upstream model"),
    UpstreamKind.BAD_REQUEST: (
        InvalidRequestError,
        "The upstream model rejected the request",
    ),
    UpstreamKind.BAD_UPSTREAM_KEY: (
        DeploymentError,
        "The deployment's own model API key was refused",
    ),
    UpstreamKind.TRANSIENT: (APIError, "Upstream failure"),
}
"""What an upstream failure's text means: the class, and how the message starts."""

_UPSTREAM_ADVICE: Final[Mapping[UpstreamKind, Advice]] = {
    UpstreamKind.BAD_UPSTREAM_KEY: Advice.OPERATOR,
}


def _auth_advice(server_message: str | None, dialect: str | None) -> Advice:
    """What to do about a 401 from the site's own checks."""
    lowered = (server_message or "").lower()
    if "signature" in lowered:
        return Advice.SECRET_OR_DIALECT if dialect == "gemini" else Advice.SET_SECRET
    if not server_message or "password" in lowered:
        return Advice.SET_PASSWORD
    return Advice.CHECK_CREDENTIALS


def make_status_error(
    status: int,
    body: bytes | str,
    retry_after_header: str | None = None,
    *,
    dialect: str | None = None,
    redact_secrets: Iterable[SecretStr | str | None] = (),
) -> AIChatFreeError:
    """Map a non-200 response to the error a caller should see.

    This is the one place that knows what the server's statuses and messages
    mean (docs/protocol.md, section 4); the transport only reads the whole body
    and raises what this returns.

    Args:
        status: The HTTP status code.
        body: The response body (read in full, up to a bound, before calling this).
        retry_after_header: The response's `Retry-After` header, if any.
        dialect: The dialect the request was sent in, if known: it decides
            whether a refused signature or a body-less 500 may mean the wrong
            dialect.
        redact_secrets: Values never to show (the site password).

    Returns:
        The error to raise, carrying the server's own message.
    """
    text, server_message = _read_body(body, redact_secrets)
    shown = server_message or (text.strip() or "empty body")
    where = f"(HTTP {status})"
    common: dict[str, Any] = {
        "status_code": status,
        "body": text,
        "server_message": server_message,
    }
    upstream_kind, hinted = (
        classify_upstream_message(server_message)
        if server_message is not None
        else (None, None)
    )

    if upstream_kind is UpstreamKind.BAD_UPSTREAM_KEY and (
        status == 401 or status >= 500
    ):
        # The site passed our checks; its own model key was refused (a Gemini
        # key in a 500, an OpenAI key forwarded as 401 by chatgpt-demo).
        return _upstream_error(upstream_kind, shown, where, None, common)
    if status == 401:
        advice = _auth_advice(server_message, dialect)
        return AuthenticationError(
            _with_advice(f"{shown} {where}", advice), advice=advice, **common
        )
    if status == 403:
        return PermissionDeniedError(
            f"{shown} {where} The deployment refused access.", **common
        )
    if status == 429:
        retry_after = hinted
        if retry_after_header is not None:
            retry_after = _parse_retry_after(retry_after_header) or retry_after
        return RateLimitError(
            f"Rate limited: {shown} {where}", retry_after=retry_after, **common
        )
    if 300 <= status < 400:
        return InvalidRequestError(
            f"The deployment answered with a redirect {where} that has no "
            "`Location` to follow. Set `base_url` to the deployment's final "
            "address.",
            **common,
        )
    if status == 404:
        if server_message is not None:
            # chatgpt-demo forwards its upstream's 404: the model it is set to
            # use does not exist there.
            return NotFoundError(
                _with_advice(
                    f"The deployment's upstream has no such model: {shown} {where}",
                    Advice.OPERATOR,
                ),
                advice=Advice.OPERATOR,
                **common,
            )
        return NotFoundError(
            _with_advice(
                f"No chat endpoint at this address {where}.", Advice.CHECK_BASE_URL
            ),
            advice=Advice.CHECK_BASE_URL,
            **common,
        )
    if status < 500:
        return InvalidRequestError(f"{shown} {where}", **common)
    if upstream_kind is None:
        dialect_advice = (
            Advice.TRY_GEMINI_DIALECT
            if dialect == "chatgpt-demo" and not text.strip()
            else None
        )
        return APIError(
            _with_advice(f"Server error {where}: {shown}", dialect_advice),
            advice=dialect_advice,
            **common,
        )
    return _upstream_error(upstream_kind, shown, where, hinted, common)


def _upstream_error(
    kind: UpstreamKind,
    shown: str,
    where: str,
    retry_after: float | None,
    common: dict[str, Any],
) -> AIChatFreeError:
    """The error for an upstream failure the deployment passed on."""
    cls, head = _UPSTREAM_ERRORS[kind]
    advice = _UPSTREAM_ADVICE.get(kind)
    message = _with_advice(f"{head}: {shown} {where}", advice)
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=retry_after, **common)
    return cls(message, advice=advice, **common)


def make_content_type_error(
    content_type: str,
    body: bytes,
    *,
    redact_secrets: Iterable[SecretStr | str | None] = (),
) -> AIChatFreeError:
    """The error for a 200 answer that is a page (HTML, JSON), not an answer.

    Args:
        content_type: The response's `Content-Type`.
        body: The body, read in full up to a bound.
        redact_secrets: Values never to show (the site password).

    Returns:
        An `UnexpectedResponseError` (not retryable).
    """
    text, server_message = _read_body(body, redact_secrets)
    shown = f": {server_message}" if server_message else ""
    return UnexpectedResponseError(
        f"The deployment answered 200 with {content_type!r} instead of plain text"
        f"{shown}. Is `base_url` the chat site itself, and not behind a login or "
        "captcha page?",
        status_code=200,
        body=text,
        server_message=server_message,
    )


# -- errors the transport meets on the way ---------------------------------------


class Failure(enum.Enum):
    """What went wrong on the way to an answer (the rows of `_FAILURES`)."""

    UNREACHABLE = enum.auto()
    TIMED_OUT = enum.auto()
    BODY_CUT = enum.auto()
    CONNECTION_BROKE = enum.auto()
    SERVER_SENTINEL = enum.auto()
    TOO_LARGE = enum.auto()
    CLOSED = enum.auto()
    TOO_MANY_REDIRECTS = enum.auto()


_PARTIAL: Final = "; the partial answer is in `partial_text`."

_FAILURES: Final[Mapping[Failure, tuple[type[AIChatFreeError], int | None, str]]] = {
    Failure.UNREACHABLE: (APIConnectionError, None, "Could not reach {url}: {cause}"),
    Failure.TIMED_OUT: (
        APITimeoutError,
        None,
        "The request to {url} timed out {where} (timeout={timeout}, "
        "chunk_timeout={chunk_timeout}).",
    ),
    Failure.BODY_CUT: (
        StreamInterruptedError,
        200,
        "The answer's body was cut off after {received} bytes ({cause})" + _PARTIAL,
    ),
    Failure.CONNECTION_BROKE: (
        StreamInterruptedError,
        200,
        "The connection broke after {received} bytes of the answer ({cause!r})"
        + _PARTIAL,
    ),
    Failure.SERVER_SENTINEL: (
        StreamInterruptedError,
        200,
        "The server reported a failure in the middle of the answer "
        f"({SERVER_SENTINEL!r}) after {{characters}} characters" + _PARTIAL,
    ),
    Failure.TOO_LARGE: (
        ResponseTooLargeError,
        200,
        "The answer exceeded max_response_bytes={limit} bytes; the connection was "
        "closed. Raise max_response_bytes if the answer is legitimately this long.",
    ),
    Failure.CLOSED: (
        ClientClosedError,
        None,
        "The model was closed (close() or aclose()) while this call was under "
        "way, {where}; its connection was closed.",
    ),
    Failure.TOO_MANY_REDIRECTS: (
        InvalidRequestError,
        300,
        "More than {limit} redirects from {url}.",
    ),
}
"""Each failure's class, status (200 once an answer had begun) and message."""


def failure_error(
    failure: Failure, *, received: int = 0, partial_text: str = "", **details: object
) -> AIChatFreeError:
    """The error for a failure met on the way to an answer (`_FAILURES`).

    Args:
        failure: What went wrong.
        received: Body bytes received before it.
        partial_text: The answer received before it.
        **details: The row's other fields: ``url``, ``cause``, ``timeout``,
            ``chunk_timeout``, ``limit``.

    Returns:
        The error, with `partial_text` set.
    """
    cls, status, template = _FAILURES[failure]
    where = (
        f"after {received} bytes of the answer"
        if received
        else "before the first byte of the answer"
    )
    message = template.format(
        where=where, received=received, characters=len(partial_text), **details
    )
    return cls(message, status_code=status, partial_text=partial_text)


def redirect_error(
    status: int,
    target: str,
    *,
    same_site: bool,
    redact_secrets: Iterable[SecretStr | str | None] = (),
) -> InvalidRequestError:
    """A redirect that is not followed.

    Args:
        status: The 3xx status.
        target: Where it points (absolute).
        same_site: Whether it points to the same scheme, host and port (then
            only because `follow_redirects` is off).
        redact_secrets: Values never to show (the site password).

    Returns:
        The error.
    """
    advice = (
        "Set follow_redirects=True to follow redirects on the same site, or set "
        "`base_url` to the final address."
        if same_site
        else "It points to another site and is never followed (the request carries "
        "the site password). Set `base_url` to the final address if you trust it."
    )
    shown = redact(target, tuple(redact_secrets))
    return InvalidRequestError(
        f"The deployment redirected the request (HTTP {status}) to {shown}. {advice}",
        status_code=status,
    )


# -- the site probe (`aichatfree probe`, `from_site`) ------------------------------


class Probe(enum.Enum):
    """Why a site probe gave up (the rows of `_PROBE_FAILURES`)."""

    PAGE_TOO_LARGE = enum.auto()
    STATUS = enum.auto()
    REDIRECT_ELSEWHERE = enum.auto()
    TOO_MANY_REDIRECTS = enum.auto()
    CHAT_SCRIPT_UNREAD = enum.auto()
    NOT_A_DEPLOYMENT = enum.auto()
    NO_SECRET = enum.auto()
    NO_FAMILY = enum.auto()
    SEVERAL_SECRETS = enum.auto()
    NO_PASSWORD_CHECK = enum.auto()
    UNREACHABLE = enum.auto()
    TIMED_OUT = enum.auto()
    PASSWORD_MISSING = enum.auto()
    PASSWORD_REFUSED = enum.auto()


_PROBE_FAILURES: Final[Mapping[Probe, tuple[type[AIChatFreeError], str]]] = {
    Probe.PAGE_TOO_LARGE: (
        SiteProbeError,
        "the page {url} is larger than {limit} bytes: not a chat site's page "
        "(those are a few KB)",
    ),
    Probe.STATUS: (SiteProbeError, "the {what} {url} answered HTTP {status}"),
    Probe.REDIRECT_ELSEWHERE: (
        SiteProbeError,
        "{url} redirects (HTTP {status}) to {target}, on another site: not "
        "followed. If that is the deployment, probe {target_site} instead.",
    ),
    Probe.TOO_MANY_REDIRECTS: (
        SiteProbeError,
        "{url} redirected more than {limit} times",
    ),
    Probe.CHAT_SCRIPT_UNREAD: (
        SiteProbeError,
        "{url} loads its chat component from {script}, which {reason}; without "
        "it the family and secret cannot be read. Saw {seen}.",
    ),
    Probe.NOT_A_DEPLOYMENT: (
        SiteProbeError,
        "{url} is not a GeminiProChat or chatgpt-demo site: found no chat script "
        "that posts to /api/generate. Saw {seen}.",
    ),
    Probe.NO_SECRET: (
        SiteProbeError,
        "{url} looks like a {family} site (its chat script {script} posts to "
        "/api/generate), but no script has a generateSignature function whose "
        "secret could be read{notes}. Find PUBLIC_SECRET_KEY in the site's "
        "browser code and pass it as `secret` (--secret).",
    ),
    Probe.NO_FAMILY: (
        SiteProbeError,
        "{url}: found the signing function in {script}, but no script that "
        "posts to /api/generate in a known family's way (GeminiProChat or "
        "chatgpt-demo){notes}. Pass `dialect` yourself.",
    ),
    Probe.SEVERAL_SECRETS: (
        SiteProbeError,
        "{url} has {count} signing functions with different secrets ({shown}); "
        "cannot tell which one the site uses",
    ),
    Probe.NO_PASSWORD_CHECK: (
        SiteProbeError,
        '{url} did not answer like the families\' password check ({{"code": 0}} '
        'or {{"code": -1}}): HTTP {status}, {shown}',
    ),
    Probe.UNREACHABLE: (APIConnectionError, "Could not reach {url}: {cause}"),
    Probe.TIMED_OUT: (APITimeoutError, "{url} did not answer in time."),
    Probe.PASSWORD_MISSING: (
        AuthenticationError,
        "{url} requires a password: pass password=... or set " + ENV_PASSWORD + ".",
    ),
    Probe.PASSWORD_REFUSED: (
        AuthenticationError,
        "{url} refused the password (its /api/auth answered code -1). Check "
        "password (or " + ENV_PASSWORD + ").",
    ),
}
"""Each way a probe gives up: the error's class and its message."""


def probe_error(
    failure: Probe, *, url: str, status: int | None = None, **details: object
) -> AIChatFreeError:
    """The error for a site probe that gave up (`_PROBE_FAILURES`).

    Args:
        failure: Why.
        url: The address being read (never with credentials: the probe refuses
            those).
        status: The HTTP status that made it give up, if one did.
        **details: The row's other fields (what was seen, the script, ...).

    Returns:
        The error: a `SiteProbeError` (with `url`), or a connection or
        authentication error.
    """
    cls, template = _PROBE_FAILURES[failure]
    message = template.format(url=url, status=status, **details)
    if cls is SiteProbeError:
        return SiteProbeError(message, url=url, status_code=status)
    return cls(message, status_code=status)


def pool_out_error(reasons: str) -> AuthenticationError:
    """The error of a call whose every deployment is out of the pool.

    Args:
        reasons: Each deployment's URL and why it is out (no secrets).

    Returns:
        A non-retryable `AuthenticationError`: only new credentials help.
    """
    return AuthenticationError(
        f"Every deployment of the pool is out: {reasons}. Fix their credentials "
        "and make a new model."
    )


def pool_wait_error(
    max_wait: float, reasons: str, retry_after: float
) -> RateLimitError:
    """The error of a call no deployment could take within `max_wait`.

    Args:
        max_wait: The call's `max_wait`, in seconds.
        reasons: Each deployment's URL, why it is not free, and for how long.
        retry_after: Seconds until the earliest deployment frees.

    Returns:
        A `RateLimitError` with that `retry_after`.
    """
    return RateLimitError(
        f"No deployment comes free within max_wait={max_wait:g} s ({reasons}). "
        f"Retry in {retry_after:.1f} s.",
        retry_after=retry_after,
    )
