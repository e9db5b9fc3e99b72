"""Probing a deployment's site over the network (aiohttp); the parsing is `_probe`.

`probe_site` fetches the page and its chat script, reads the family and the
signing secret from them, and asks ``/api/auth`` whether a password is needed
(and whether a given one is accepted). It is kept apart from `_transport`, the
answer path, because it has other rules:

* every fetch stays on the site: a redirect to another host is refused, not
  followed, and a script on another site is not fetched;
* every body is bounded (a page at `MAX_PAGE_BYTES`, a script at
  `MAX_SCRIPT_BYTES`) and read under the model's timeouts and TLS setting;
* the password goes to ``/api/auth`` only, in the body of a POST that is never
  redirected.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import aiohttp
from pydantic import SecretStr

from langchain_aichatfree._constants import (
    AUTH_PATH,
    DEFAULT_CHUNK_TIMEOUT,
    MAX_PAGE_BYTES,
    MAX_PROBE_SCRIPTS,
    MAX_REDIRECTS,
    MAX_SCRIPT_BYTES,
    PROBE_TIMEOUT,
    USER_AGENT,
)
from langchain_aichatfree._origin import origin, same_site
from langchain_aichatfree._probe import (
    FAMILY_NAMES,
    Dialect,
    ScriptRef,
    SiteSettings,
    parse_page,
    script_imports,
    site_url,
)
from langchain_aichatfree._probe_script import detect_dialect, find_secret, sends_to_api
from langchain_aichatfree.errors import (
    AIChatFreeError,
    Probe,
    SiteProbeError,
    probe_error,
)

_MAX_AUTH_BYTES = 64 * 1024
_READ_SIZE = 64 * 1024
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ProbeOptions:
    """How a probe fetches: the model's timeouts, TLS and proxy settings, and bounds.

    Attributes:
        timeout: Seconds one request may take, first byte to last.
        chunk_timeout: Longest wait for the server (to connect, between reads).
        verify_ssl: Whether TLS certificates are verified.
        proxy: HTTP proxy URL, if any.
        max_page_bytes: Largest page read.
        max_script_bytes: Largest script read.
    """

    timeout: float | None = PROBE_TIMEOUT
    chunk_timeout: float | None = DEFAULT_CHUNK_TIMEOUT
    verify_ssl: bool = True
    proxy: str | None = None
    max_page_bytes: int = MAX_PAGE_BYTES
    max_script_bytes: int = MAX_SCRIPT_BYTES


class _TooLarge(Exception):
    def __init__(self, size: int | None) -> None:
        super().__init__(size)
        self.size = size


@dataclass(slots=True)
class _Found:
    """What the scripts read so far revealed."""

    dialect: Dialect | None = None
    dialect_url: str = ""
    secret: str | None = None
    secret_url: str = ""


async def probe_site(
    url: str, *, password: str | None = None, options: ProbeOptions | None = None
) -> SiteSettings:
    """Find a deployment's settings from its site's URL.

    Args:
        url: The site, e.g. ``https://your.site`` (``https://`` is assumed when
            no scheme is given).
        password: A site password to check (sent to ``/api/auth`` only).
        options: Timeouts, TLS, proxy and size bounds.

    Returns:
        The settings found.

    Raises:
        ValueError: `url` is not an http(s) URL.
        SiteProbeError: The site is not one of the families, or its chat script
            or secret cannot be read; the message says what was seen.
        APIConnectionError: The site could not be reached.
        APITimeoutError: The site did not answer in time.
    """
    options = options or ProbeOptions()
    start = site_url(url)
    timeout = aiohttp.ClientTimeout(
        total=options.timeout,
        sock_connect=options.chunk_timeout,
        sock_read=options.chunk_timeout,
    )
    connector = aiohttp.TCPConnector(ssl=options.verify_ssl)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers={"User-Agent": USER_AGENT}
    ) as session:
        return await _Probe(session, options).run(start, password)


class _Probe:
    def __init__(self, session: aiohttp.ClientSession, options: ProbeOptions) -> None:
        self.session = session
        self.options = options
        self.notes: list[str] = []
        self.skipped: list[tuple[ScriptRef, str]] = []

    async def run(self, start: str, password: str | None) -> SiteSettings:
        limit = self.options.max_page_bytes
        try:
            page_url, raw, kind = await self.get(start, limit, "page", upgrade=True)
        except _TooLarge as e:
            raise probe_error(Probe.PAGE_TOO_LARGE, url=start, limit=limit) from e
        base = origin(page_url)
        page = parse_page(raw.decode("utf-8", "replace"), page_url)
        found = await self.read_scripts(base, list(page.scripts))
        if found.dialect is None or found.secret is None:
            seen = page.describe()
            if "html" not in kind:
                seen = f"a {kind or 'document without a content type'}: {seen}"
            raise self.not_found(page_url, seen, found)
        required = not await self.auth(base, None)
        accepted = None if password is None else await self.auth(base, password)
        return SiteSettings(
            base_url=base,
            dialect=found.dialect,
            secret=found.secret,
            password_required=required,
            password_accepted=accepted,
            script_url=found.secret_url,
            notes=tuple(self.notes),
        )

    # -- the scripts ----------------------------------------------------------

    async def read_scripts(self, base: str, refs: list[ScriptRef]) -> _Found:
        """Fetch the page's scripts in order until the family and secret are known."""
        found = _Found()
        queue = deque(refs)
        seen = {ref.url for ref in refs}
        fetched = 0
        while queue and (found.dialect is None or found.secret is None):
            ref = queue.popleft()
            if not same_site(base, ref.url):
                self.skip(ref, "is on another site: not fetched")
                continue
            if fetched == MAX_PROBE_SCRIPTS:
                self.notes.append(
                    f"stopped after {MAX_PROBE_SCRIPTS} scripts; {len(queue) + 1} "
                    "more not fetched"
                )
                break
            fetched += 1
            try:
                _, raw, _ = await self.get(
                    ref.url, self.options.max_script_bytes, "script", upgrade=False
                )
            except _TooLarge as e:
                size = f"{e.size} bytes" if e.size else "sent without a length"
                self.skip(
                    ref,
                    f"is larger than {self.options.max_script_bytes // _MIB} MiB "
                    f"({size}), far larger than a real chat script (1.2 to 1.3 "
                    "MB): not read",
                )
                continue
            except SiteProbeError as e:
                self.skip(ref, f"could not be read ({e.message})")
                continue
            script = raw.decode("utf-8", "replace")
            self.scan(ref, script, found)
            for imported in script_imports(script, ref.url):
                if imported.url not in seen:
                    seen.add(imported.url)
                    queue.append(imported)
        return found

    def skip(self, ref: ScriptRef, reason: str) -> None:
        """Note a script that was not read, and why."""
        self.skipped.append((ref, reason))
        self.notes.append(f"{ref.url} ({ref.how}) {reason}")

    def scan(self, ref: ScriptRef, script: str, found: _Found) -> None:
        """Record what one script says about the family and the secret."""
        dialect = detect_dialect(script) if sends_to_api(script) else None
        if dialect is not None and found.dialect is None:
            found.dialect, found.dialect_url = dialect, ref.url
        search = find_secret(script)
        if len(search.secrets) > 1:
            raise probe_error(
                Probe.SEVERAL_SECRETS,
                url=ref.url,
                count=len(search.secrets),
                shown=", ".join(repr(s) for s in search.secrets),
            )
        if search.secrets and found.secret is None:
            found.secret, found.secret_url = search.secrets[0], ref.url
        elif search.unreadable and found.secret is None:
            self.notes.append(
                f"{ref.url} signs requests in a way this probe cannot read: "
                f"{search.unreadable[0]}"
            )

    def not_found(self, page_url: str, page: str, found: _Found) -> AIChatFreeError:
        """The error for a page whose chat script, family or secret was not found."""
        notes = "; ".join(self.notes)
        notes = f" ({notes})" if notes else ""
        chat = [
            (ref, reason)
            for ref, reason in self.skipped
            if ref.how == "astro-island" or "generator" in ref.url.lower()
        ]
        if found.dialect is None and found.secret is None and chat:
            ref, reason = chat[0]
            others = [n for n in self.notes if not n.startswith(ref.url + " ")]
            rest = f" ({'; '.join(others)})" if others else ""
            return probe_error(
                Probe.CHAT_SCRIPT_UNREAD,
                url=page_url,
                script=ref.url,
                reason=reason,
                seen=page + rest,
            )
        if found.dialect is None and found.secret is None:
            return probe_error(Probe.NOT_A_DEPLOYMENT, url=page_url, seen=page + notes)
        if found.secret is None:
            return probe_error(
                Probe.NO_SECRET,
                url=page_url,
                family=FAMILY_NAMES[found.dialect or "gemini"],
                script=found.dialect_url,
                notes=notes,
            )
        return probe_error(
            Probe.NO_FAMILY, url=page_url, script=found.secret_url, notes=notes
        )

    # -- the requests -----------------------------------------------------------

    async def get(
        self, url: str, limit: int, what: str, *, upgrade: bool
    ) -> tuple[str, bytes, str]:
        """GET a page or script on the site, following same-site redirects.

        Returns:
            The final URL, the body and its content type.

        Raises:
            SiteProbeError: A redirect to another site, too many redirects, or a
                status other than 200.
            _TooLarge: The body is larger than `limit`.
        """
        start = url
        for _ in range(MAX_REDIRECTS + 1):
            async with self.request("GET", url) as response:
                location = response.headers.get("Location")
                if 300 <= response.status < 400 and location:
                    target = urljoin(str(response.url), location)
                    if not same_site(url, target, upgrade=upgrade):
                        raise probe_error(
                            Probe.REDIRECT_ELSEWHERE,
                            url=url,
                            status=response.status,
                            target=target,
                            target_site=origin(target),
                        )
                    url = target
                    continue
                if response.status != 200:
                    raise probe_error(
                        Probe.STATUS, url=url, status=response.status, what=what
                    )
                body = await self.read(response, limit, url)
                return url, body, response.content_type
        raise probe_error(Probe.TOO_MANY_REDIRECTS, url=start, limit=MAX_REDIRECTS)

    async def auth(self, base: str, password: str | None) -> bool:
        """Ask the site's ``/api/auth`` whether `password` (or none) is accepted.

        Raises:
            SiteProbeError: The endpoint is missing or answers something else.
        """
        url = base + AUTH_PATH
        headers = {
            "Content-Type": "application/json",
            "Origin": base,
            "Referer": base + "/",
        }
        async with self.request(
            "POST", url, json={"pass": password}, headers=headers
        ) as response:
            try:
                raw = await self.read(response, _MAX_AUTH_BYTES, url)
            except _TooLarge:
                raw = b""
            status = response.status
        text = raw.decode("utf-8", "replace")
        code = _auth_code(text) if status == 200 else None
        if code is None:
            shown = " ".join(text.split())[:120] or "an empty body"
            raise probe_error(
                Probe.NO_PASSWORD_CHECK, url=url, status=status, shown=shown
            )
        return code == 0

    def request(self, method: str, url: str, **kwargs: Any) -> _Request:
        return _Request(
            self.session.request(
                method,
                url,
                allow_redirects=False,
                proxy=self.options.proxy,
                **kwargs,
            ),
            url,
        )

    async def read(
        self, response: aiohttp.ClientResponse, limit: int, url: str
    ) -> bytes:
        """Read a body of at most `limit` bytes; stop reading past it."""
        length = response.content_length
        if length is not None and length > limit:
            raise _TooLarge(length)
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.content.iter_chunked(_READ_SIZE):
                size += len(chunk)
                if size > limit:
                    raise _TooLarge(length)
                chunks.append(chunk)
        except (TimeoutError, asyncio.TimeoutError) as e:
            raise probe_error(Probe.TIMED_OUT, url=url) from e
        except (aiohttp.ClientError, OSError) as e:
            raise probe_error(Probe.UNREACHABLE, url=url, cause=e) from e
        return b"".join(chunks)


class _Request:
    """One request: its response, with aiohttp's failures mapped to ours."""

    def __init__(self, pending: Any, url: str) -> None:
        self.pending = pending
        self.url = url

    async def __aenter__(self) -> aiohttp.ClientResponse:
        try:
            response: aiohttp.ClientResponse = await self.pending.__aenter__()
        except (TimeoutError, asyncio.TimeoutError) as e:
            raise probe_error(Probe.TIMED_OUT, url=self.url) from e
        except (aiohttp.ClientError, OSError) as e:
            raise probe_error(Probe.UNREACHABLE, url=self.url, cause=e) from e
        return response

    async def __aexit__(self, *exc_info: object) -> None:
        await self.pending.__aexit__(*exc_info)


def _auth_code(text: str) -> int | None:
    try:
        data: Any = json.loads(text)
    except ValueError:
        return None
    code = data.get("code") if isinstance(data, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


# -- for the models -----------------------------------------------------------------

_DISCOVERED = ("base_url", "dialect", "secret")


def check_not_discovered(fields: Mapping[str, Any]) -> None:
    """Refuse fields that `from_site` finds itself.

    Raises:
        TypeError: `fields` sets ``base_url``, ``dialect`` or ``secret``.
    """
    clash = sorted(name for name in _DISCOVERED if name in fields)
    if clash:
        msg = (
            f"from_site finds {', '.join(clash)} itself; to set them, use the "
            "constructor instead."
        )
        raise TypeError(msg)


def probe_options(
    *,
    timeout: float | None,
    chunk_timeout: float | None,
    verify_ssl: bool,
    proxy: str | None,
) -> ProbeOptions:
    """A probe's options from a model's (validated) settings.

    A model without a `timeout` (no limit) still bounds each probe request by
    `PROBE_TIMEOUT`.
    """
    return ProbeOptions(
        timeout=timeout if timeout is not None else PROBE_TIMEOUT,
        chunk_timeout=chunk_timeout,
        verify_ssl=verify_ssl,
        proxy=proxy,
    )


async def site_fields(
    url: str, password: SecretStr | None, options: ProbeOptions
) -> dict[str, Any]:
    """Probe a site for a model: ``base_url``, ``dialect``, ``secret``, ``password``.

    Args:
        url: The site.
        password: The site password, if any (checked at ``/api/auth`` only).
        options: How to fetch (the model's timeouts, TLS and proxy).

    Returns:
        The settings the probe found, and the password.

    Raises:
        AuthenticationError: The site needs a password and none was given, or
            it refused the one given.
        SiteProbeError: See `probe_site`.
    """
    plain = password.get_secret_value() if password is not None else None
    settings = await probe_site(url, password=plain, options=options)
    if settings.password_required and plain is None:
        raise probe_error(Probe.PASSWORD_MISSING, url=settings.base_url)
    if settings.password_accepted is False:
        raise probe_error(Probe.PASSWORD_REFUSED, url=settings.base_url)
    return {
        "base_url": settings.base_url,
        "dialect": settings.dialect,
        "secret": settings.secret,
        "password": password,
    }
