"""The rules for settings, shared by the fields and a call's keyword arguments.

Each setting's rule is one annotated type: `ChatAIChatFree` declares its fields
with these types, and the keyword arguments of a single call are validated by a
model built from those same fields, so a call obeys exactly the rules the
constructor does. Pure: no I/O.

Numbers are strict: a `bool` is not a number and a string is not parsed, so
`max_tokens=True` or `timeout="5"` is an error, not a guess. Seconds must be
finite and positive; `float("inf")` means no limit, like `None`.

The rules that span settings live here too: an unknown constructor argument
(`refuse_unknown_arguments`), `deployments` against the fields it replaces
(`check_deployments`), and each field's rule applied again when the field is
assigned (`assignment_rules`).
"""

from __future__ import annotations

import difflib
import functools
import math
import os
import re
from collections.abc import Collection, Mapping
from typing import Annotated, Any, Final
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    Strict,
    TypeAdapter,
)

from langchain_aichatfree._constants import (
    DEFAULT_BASE_URL,
    DEFAULT_QUOTA_STORE,
    ENV_PASSWORD,
    ENV_QUOTA_STORE,
)

_CONTROL_OR_SPACE: Final = re.compile(r"[\x00-\x20\x7f\s]")
"""Characters a URL may not contain (after surrounding whitespace is removed)."""

_HEADER_NAME: Final = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
"""An HTTP header name (an RFC 9110 token)."""


def _infinite_means_no_limit(value: object) -> object:
    """`float("inf")` seconds is no limit: the same as `None`."""
    if isinstance(value, float) and value == math.inf:
        return None
    return value


def check_encodable(value: str, what: str) -> str:
    """Refuse text that cannot be sent as UTF-8 (a lone surrogate).

    The value itself is never quoted: it may be a secret.

    Args:
        value: The text.
        what: How the error names it ("secret", "Message 2").

    Returns:
        The text.

    Raises:
        ValueError: If it holds an unpaired surrogate.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        msg = (
            f"{what} contains an unpaired surrogate at position {e.start}, which "
            "cannot be sent as UTF-8."
        )
        raise ValueError(msg) from None
    return value


def redact_url(url: str) -> str:
    """The URL with any user name and password replaced by ``***``.

    Args:
        url: Any URL (or text that is not one).

    Returns:
        The URL safe to show in a message or a trace.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<an unparsable URL>"
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"***@{host}").geturl()


def public_url(base_url: str) -> str:
    """The base URL as it may be shown: no user or password, no trailing slash.

    Args:
        base_url: The site's root URL.

    Returns:
        The same URL without credentials (``https://u:p@a.example/`` becomes
        ``https://a.example``), for metadata, logs, status and quota groups.
    """
    parts = urlsplit(base_url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")


def _hide_credentials(value: object) -> object:
    """Redact a URL's credentials before any check can fail on it.

    Pydantic keeps the input of a failed check in `ValidationError.errors()`
    (which `hide_input_in_errors` does not cover), and a URL with credentials
    is always refused: so the input it records is the redacted URL.
    """
    if isinstance(value, str) and "@" in value:
        return redact_url(value)
    return value


def _check_url(url: str, what: str, *, example: str) -> str:
    """The shared checks of `base_url` and `proxy`; returns the stripped URL."""
    url = url.strip()
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        msg = f"{what} is not a valid URL ({e}): {shown!r}."
        raise ValueError(msg) from None
    del port  # read only to check it: urlsplit validates the port lazily
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        msg = f"{what} must be an http(s) URL such as {example!r}, got {shown!r}."
        raise ValueError(msg)
    if _CONTROL_OR_SPACE.search(url):
        msg = f"{what} must not contain spaces or control characters, got {shown!r}."
        raise ValueError(msg)
    if "?" in url or "#" in url:
        msg = (
            f"{what} must not have a query or a fragment ('?...' or '#...'), got "
            f"{shown!r}: give the address alone, such as {example!r}."
        )
        raise ValueError(msg)
    return url


def check_base_url(url: str) -> str:
    """Validate `base_url`: an http(s) root, with no credentials, query or fragment.

    Surrounding whitespace (a stray newline in an environment variable) is
    removed. Credentials in the URL are refused: they would be sent in
    `Origin` and `Referer` and show in reprs, dumps and traces.

    Args:
        url: The configured URL.

    Returns:
        The URL, stripped.

    Raises:
        ValueError: If it cannot be a deployment's root URL.
    """
    url = _check_url(url, "base_url", example=DEFAULT_BASE_URL)
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        msg = (
            "base_url must not contain a user name or password "
            f"({redact_url(url)!r}): they would be sent to the site in headers "
            "and appear in reprs and traces. Put the site password in `password` "
            f"(or {ENV_PASSWORD}) instead."
        )
        raise ValueError(msg)
    return url


def check_proxy(url: str | None) -> str | None:
    """Validate `proxy`: an http(s) proxy URL without credentials.

    Args:
        url: The proxy URL, or `None`.

    Returns:
        The URL, stripped, or `None`.

    Raises:
        ValueError: If it is not an http(s) URL, or carries credentials.
    """
    if url is None:
        return None
    url = _check_url(url, "proxy", example="http://proxy.example:3128")
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        msg = (
            f"proxy must not contain a user name or password ({redact_url(url)!r}): "
            "the URL shows in reprs, dumps, traces and error messages. Proxy "
            "authentication is not supported; use a proxy that needs none (such "
            "as a local forwarding proxy that authenticates upstream)."
        )
        raise ValueError(msg)
    return url


def _check_stop(stop: list[str] | None) -> list[str] | None:
    if stop is not None and not all(stop):
        msg = f"stop must be a list of non-empty strings, got {stop!r}."
        raise ValueError(msg)
    return stop


def _check_secret(secret: str) -> str:
    return check_encodable(secret, "secret")


def _as_secret(value: object) -> object:
    """Wrap a plain password at once: a failed check then records it masked."""
    return SecretStr(value) if isinstance(value, str) else value


def _check_password(password: SecretStr | None) -> SecretStr | None:
    if password is not None:
        check_encodable(password.get_secret_value(), "password")
    return password


def _default_quota_store(value: object) -> object:
    """`None` is the default store (env `AICHATFREE_QUOTA_STORE`, else memory).

    A serialised model holds the store URL as a secret (it may carry the Redis
    password); loaded without it, the default applies.
    """
    if value is None:
        return os.environ.get(ENV_QUOTA_STORE, DEFAULT_QUOTA_STORE)
    return value


def _check_quota_store(value: str) -> str:
    if value != "memory" and urlsplit(value).scheme not in {
        "redis",
        "rediss",
        "unix",
    }:
        msg = (
            "quota_store must be 'memory' or a redis://, rediss:// or unix:// "
            f"URL, got {public_url(value)!r}."
        )
        raise ValueError(msg)
    return value


def _check_headers(headers: dict[str, str] | None) -> dict[str, str] | None:
    if headers is None:
        return None
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            msg = f"default_headers has an invalid header name {name!r}."
            raise ValueError(msg)
        if "\r" in value or "\n" in value or "\x00" in value:
            msg = f"default_headers[{name!r}] contains a line break or NUL."
            raise ValueError(msg)
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            msg = (
                f"default_headers[{name!r}] has characters HTTP headers cannot "
                "carry (only Latin-1)."
            )
            raise ValueError(msg) from None
    return headers


PositiveSeconds = Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True)]
Seconds = Annotated[PositiveSeconds | None, BeforeValidator(_infinite_means_no_limit)]
"""Seconds, finite and positive, or `None` (or `inf`) for no limit."""

RetryCount = Annotated[int, Field(ge=0, strict=True)]
PositiveInt = Annotated[int, Field(ge=1, strict=True)]
Temperature = Annotated[float, Field(ge=0.0, le=2.0, allow_inf_nan=False, strict=True)]
ModelName = Annotated[str, Field(min_length=1, strict=True)]
StopSequences = Annotated[list[str] | None, AfterValidator(_check_stop)]
# `Strict()`, not `Field(strict=True)`: pydantic 2.7 cannot merge a
# `Field` in the type with a field's own `Field(default_factory=...)`.
BaseURL = Annotated[
    str,
    Strict(),
    AfterValidator(check_base_url),
    BeforeValidator(_hide_credentials),
]
ProxyURL = Annotated[
    str | None, AfterValidator(check_proxy), BeforeValidator(_hide_credentials)
]
Secret = Annotated[str, Strict(), AfterValidator(_check_secret)]
Password = Annotated[
    SecretStr | None, AfterValidator(_check_password), BeforeValidator(_as_secret)
]
Headers = Annotated[dict[str, str] | None, AfterValidator(_check_headers)]
QuotaStoreURL = Annotated[
    str, AfterValidator(_check_quota_store), BeforeValidator(_default_quota_store)
]
"""``"memory"`` or a Redis URL; `None` is the default."""


def closest_name(name: str, known: Collection[str]) -> str | None:
    """The known name closest to a misspelled one, if any is close enough.

    Args:
        name: The unknown name.
        known: Every accepted name.

    Returns:
        The closest accepted name, or `None`.
    """
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(unknown: Collection[str], known: Collection[str]) -> str:
    """Suggestions for misspelled names, as a sentence ("" if there are none).

    Args:
        unknown: The unknown names.
        known: Every accepted name.

    Returns:
        E.g. `` Did you mean 'base_url' for 'baseurl'?``, with a leading space.
    """
    pairs = [
        f"{close!r} for {name!r}"
        for name in sorted(unknown)
        if (close := closest_name(name, known)) is not None
    ]
    return f" Did you mean {', '.join(pairs)}?" if pairs else ""


@functools.cache
def _accepted_names(model_class: type[BaseModel]) -> frozenset[str]:
    """The names a model class's constructor accepts: fields and aliases."""
    names: set[str] = set()
    for name, info in model_class.model_fields.items():
        names.add(name)
        if isinstance(info.alias, str):
            names.add(info.alias)
    return frozenset(names)


def refuse_unknown_arguments(model_class: type[BaseModel], data: object) -> None:
    """An unknown constructor argument is an error naming the closest real field.

    A misspelled `base_url` would otherwise send the prompt, and the password,
    to the public site. A `TypeError`, as Python raises for an unexpected
    keyword argument (and pydantic does not wrap it with the whole input,
    password included).

    Args:
        model_class: The model being built.
        data: Its input (only a dict's keys are checked).

    Raises:
        TypeError: For an argument that is no field's name or alias.
    """
    if not isinstance(data, dict):
        return
    known = _accepted_names(model_class)
    unknown = [k for k in data if isinstance(k, str) and k not in known]
    if unknown:
        msg = (
            f"{model_class.__name__} got unexpected keyword arguments {unknown}."
            f"{did_you_mean(unknown, known)} The settings are listed in "
            "the class docstring and the README's Configuration section."
        )
        raise TypeError(msg)


def check_deployments(
    deployments: Collection[object] | None, fields_set: Collection[str]
) -> None:
    """`deployments`, when given, names some and replaces the one-site fields.

    Args:
        deployments: The pool, if given.
        fields_set: The fields given explicitly.

    Raises:
        ValueError: An empty pool, or a pool with `base_url`, `password`,
            `secret` or `dialect` given too.
    """
    if deployments is None:
        return
    explicit = sorted({"base_url", "password", "secret", "dialect"} & set(fields_set))
    if explicit:
        msg = (
            f"Set either deployments or {', '.join(explicit)}, not both: "
            "each Deployment has its own base_url, password, secret and "
            "dialect."
        )
        raise ValueError(msg)
    if not deployments:
        msg = "deployments must name at least one Deployment."
        raise ValueError(msg)


@functools.cache
def assignment_rules(
    model_class: type[BaseModel], settings_class: type[BaseModel]
) -> Mapping[str, TypeAdapter[Any]]:
    """Each setting of a class, with the rule it obeys when assigned.

    Args:
        model_class: The model class (the settings class or a subclass).
        settings_class: The class whose fields are the settings (the fields of
            other bases, such as LangChain's, are left alone).

    Returns:
        A `TypeAdapter` per setting, from the field's annotation in
        `model_class` (input hidden from errors).
    """
    return {
        name: TypeAdapter(
            model_class.model_fields[name].rebuild_annotation(),
            config=ConfigDict(
                hide_input_in_errors=True, title=f"{model_class.__name__}.{name}"
            ),
        )
        for name in sorted(settings_class.model_fields)
    }
