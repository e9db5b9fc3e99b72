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

Every error is built here, in this package's private modules:

* `_classes`: the tree above;
* `_advice`: what to do about an error (`Advice`, `advice_text`);
* `_body`: reading what a server sent, its password redacted (`redact`);
* `_status`: `make_status_error`, the one function that maps a response
  (status, body) to an error, and the 200 that is a page, the redirect not
  followed;
* `_table`: `ErrorRow` and `error_from_row`, the one builder of the tables;
* `_failures`: the failures met on the way to an answer (timeouts, cut
  bodies, a close), rows of `_FAILURES` built by `failure_error`, and the
  caller's deadline;
* `_probe_failures`: why a site probe gave up (`probe_error`);
* `_pool_failures`: a pool none of whose deployments could take a call.

Every message is worded there. Any text a server sent is shown with the site
password redacted (`redact`): a server or proxy that echoes the request body
would otherwise put it into an error message.

What to do about an error (`Advice`) is worded once, in `advice_text`, with the
names of the settings filled in: the library's (`password`, `secret`) by
default, the command line's flags by the CLI.

Input that can be rejected before any request (an empty last message, an image
block) raises a plain `ValueError` instead: nothing was sent.
"""

from __future__ import annotations

from langchain_aichatfree.errors._advice import (
    SETTING_NAMES,
    Advice,
    advice_text,
)
from langchain_aichatfree.errors._body import REDACTED, redact
from langchain_aichatfree.errors._classes import (
    AIChatFreeError,
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ClientClosedError,
    DeadlineExceededError,
    DeploymentError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseTooLargeError,
    SiteProbeError,
    StreamInterruptedError,
    UnexpectedResponseError,
)
from langchain_aichatfree.errors._failures import (
    Failure,
    failure_error,
    make_deadline_error,
)
from langchain_aichatfree.errors._pool_failures import (
    pool_out_error,
    pool_rate_limit_error,
    pool_wait_error,
)
from langchain_aichatfree.errors._probe_failures import Probe, probe_error
from langchain_aichatfree.errors._status import (
    make_content_type_error,
    make_status_error,
    redirect_error,
)

__all__ = [
    "REDACTED",
    "SETTING_NAMES",
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
    "pool_rate_limit_error",
    "pool_wait_error",
    "probe_error",
    "redact",
    "redirect_error",
]
