"""The error tree: one class per kind of failure, each a langchain-core `ModelError`.

Whether a kind of error is retryable is a property of its class, never changed
on one instance. The tree is drawn in `langchain_aichatfree.errors`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

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

from langchain_aichatfree.errors._advice import Advice

if TYPE_CHECKING:
    from typing_extensions import Unpack


class _ErrorFields(TypedDict, total=False):
    """The keyword arguments every error takes (`AIChatFreeError`'s attributes)."""

    status_code: int | None
    body: str | None
    partial_text: str
    server_message: str | None
    advice: Advice | None


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
        retry_after: float | None = None,
        **fields: Unpack[_ErrorFields],
    ) -> None:
        super().__init__(message, **fields)
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
