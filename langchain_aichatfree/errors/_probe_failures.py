"""The ways a site probe (`aichatfree probe`, `from_site`) gives up: one table.

Each is a row of `_PROBE_FAILURES`, built by `probe_error`: a `SiteProbeError`
when the site is not a deployment's, or a connection or authentication error.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

from langchain_aichatfree._constants import ENV_PASSWORD
from langchain_aichatfree.errors._classes import (
    AIChatFreeError,
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    SiteProbeError,
)
from langchain_aichatfree.errors._table import ErrorRow, error_from_row


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


_PROBE_FAILURES: Final[Mapping[Probe, ErrorRow]] = {
    Probe.PAGE_TOO_LARGE: ErrorRow(
        SiteProbeError,
        "the page {url} is larger than {limit} bytes: not a chat site's page "
        "(those are a few KB)",
    ),
    Probe.STATUS: ErrorRow(SiteProbeError, "the {what} {url} answered HTTP {status}"),
    Probe.REDIRECT_ELSEWHERE: ErrorRow(
        SiteProbeError,
        "{url} redirects (HTTP {status}) to {target}, on another site: not "
        "followed. If that is the deployment, probe {target_site} instead.",
    ),
    Probe.TOO_MANY_REDIRECTS: ErrorRow(
        SiteProbeError,
        "{url} redirected more than {limit} times",
    ),
    Probe.CHAT_SCRIPT_UNREAD: ErrorRow(
        SiteProbeError,
        "{url} loads its chat component from {script}, which {reason}; without "
        "it the family and secret cannot be read. Saw {seen}.",
    ),
    Probe.NOT_A_DEPLOYMENT: ErrorRow(
        SiteProbeError,
        "{url} is not a GeminiProChat or chatgpt-demo site: found no chat script "
        "that posts to /api/generate. Saw {seen}.",
    ),
    Probe.NO_SECRET: ErrorRow(
        SiteProbeError,
        "{url} looks like a {family} site (its chat script {script} posts to "
        "/api/generate), but no script has a generateSignature function whose "
        "secret could be read{notes}. Find PUBLIC_SECRET_KEY in the site's "
        "browser code and pass it as `secret` (--secret).",
    ),
    Probe.NO_FAMILY: ErrorRow(
        SiteProbeError,
        "{url}: found the signing function in {script}, but no script that "
        "posts to /api/generate in a known family's way (GeminiProChat or "
        "chatgpt-demo){notes}. Pass `dialect` yourself.",
    ),
    Probe.SEVERAL_SECRETS: ErrorRow(
        SiteProbeError,
        "{url} has {count} signing functions with different secrets ({shown}); "
        "cannot tell which one the site uses",
    ),
    Probe.NO_PASSWORD_CHECK: ErrorRow(
        SiteProbeError,
        '{url} did not answer like the families\' password check ({{"code": 0}} '
        'or {{"code": -1}}): HTTP {status}, {shown}',
    ),
    Probe.UNREACHABLE: ErrorRow(APIConnectionError, "Could not reach {url}: {cause}"),
    Probe.TIMED_OUT: ErrorRow(APITimeoutError, "{url} did not answer in time."),
    Probe.PASSWORD_MISSING: ErrorRow(
        AuthenticationError,
        "{url} requires a password: pass password=... or set " + ENV_PASSWORD + ".",
    ),
    Probe.PASSWORD_REFUSED: ErrorRow(
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
    row = _PROBE_FAILURES[failure]
    extra = {"url": url} if row.cls is SiteProbeError else {}
    fields = {"url": url, "status": status, **details}
    return error_from_row(row, fields, status_code=status, **extra)
