"""Reading a deployment's site: pure functions, no I/O (`_site` does the fetching).

A GeminiProChat or chatgpt-demo site serves a server-rendered page whose chat
component is a hashed script under ``/_astro/`` (PROTOCOL.md, "The site around
the API"), built with the deployment's settings baked in.

The functions here check the site's URL, tell whether a URL is on the same
site, and find the script URLs in the page (and in scripts' imports);
`langchain_aichatfree._probe_script` reads the chat script itself (the family
and the secret).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, Final, Literal
from urllib.parse import urljoin, urlsplit

from langchain_aichatfree._origin import DEFAULT_PORTS

Dialect = Literal["gemini", "chatgpt-demo"]

FAMILY_NAMES: Final[dict[Dialect, str]] = {
    "gemini": "GeminiProChat",
    "chatgpt-demo": "chatgpt-demo",
}
"""How each dialect's web app is called, for messages."""


_STATIC_IMPORT: Final = re.compile(
    r"""(?:\bimport\s*(?:[\w$*{}\s,]+?\s*from\s*)?|\bimport\s*\()\s*["']([^"'\s]+\.m?js)["']"""
)
"""`import{a as b}from"./auth.x.js"`, `import"./x.js"`, `import("./x.js")`."""

# -- URLs -----------------------------------------------------------------------


def site_url(url: str) -> str:
    """Check the URL a user gave for a site, adding ``https://`` if it has none.

    Args:
        url: ``https://your.site``, ``your.site``, ``http://127.0.0.1:8000/``...

    Returns:
        The URL to fetch first.

    Raises:
        ValueError: It is not an http(s) URL with a host.
    """
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if "@" in parts.netloc:  # not shown: it holds a password
        msg = (
            "the site's URL holds a user name or password, which the probe does "
            "not send: give the address without them"
        )
        raise ValueError(msg)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        msg = f"expected a site's http(s) URL such as https://your.site, got {url!r}"
        raise ValueError(msg)
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError as e:
        raise ValueError(f"bad port in {url!r}: {e}") from None
    return text


# -- the page -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScriptRef:
    """A script the page loads.

    Attributes:
        url: Its absolute URL.
        how: How the page refers to it (``"astro-island"``, ``"script"``,
            ``"modulepreload"`` or ``"import"`` from another script).
    """

    url: str
    how: str


@dataclass(frozen=True, slots=True)
class Page:
    """What a site's page holds that the probe needs.

    Attributes:
        scripts: The scripts it loads, the likeliest chat script first.
        title: The page's title ("" if none).
        islands: How many Astro islands (``<astro-island>``) it has.
    """

    scripts: tuple[ScriptRef, ...]
    title: str
    islands: int

    def describe(self) -> str:
        """Say in a few words what the page is, for error messages."""
        title = f"titled {self.title!r}" if self.title else "without a title"
        names = ", ".join(_file_name(s.url) for s in self.scripts[:5]) or "none"
        more = f" and {len(self.scripts) - 5} more" if len(self.scripts) > 5 else ""
        return (
            f"an HTML page {title} with {self.islands} Astro island(s) and "
            f"{len(self.scripts)} script(s) ({names}{more})"
        )


class _PageParser(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.islands: list[tuple[str, str]] = []
        self.scripts: list[str] = []
        self.preloads: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "astro-island" and found.get("component-url"):
            self.islands.append((found["component-url"], _island_name(found)))
        elif tag == "script" and found.get("src"):
            self.scripts.append(found["src"])
        elif tag == "link" and "modulepreload" in found.get("rel", "").lower().split():
            if found.get("href"):
                self.preloads.append(found["href"])
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def _island_name(attrs: dict[str, str]) -> str:
    """The component's name from an island's ``opts`` (``{"name": "Generator"}``)."""
    try:
        opts: Any = json.loads(attrs.get("opts") or "{}")
    except ValueError:
        return ""
    name = opts.get("name") if isinstance(opts, dict) else None
    return name if isinstance(name, str) else ""


def _file_name(url: str) -> str:
    return urlsplit(url).path.rpartition("/")[2] or url


def _looks_like_chat(url: str, name: str = "") -> bool:
    return "generator" in (name + " " + _file_name(url)).lower()


def parse_page(html: str, page_url: str) -> Page:
    """Find the scripts a page loads, the likeliest chat script first.

    The order: Astro islands' ``component-url`` (those named like the chat
    component, ``Generator``, first), then ``<script src>``, then
    ``<link rel="modulepreload">``. Relative URLs are resolved against the
    page's URL; duplicates are dropped.

    Args:
        html: The page.
        page_url: The page's final URL (after redirects).

    Returns:
        The page's scripts, title and island count.
    """
    parser = _PageParser(page_url)
    parser.feed(html)
    parser.close()
    islands = sorted(parser.islands, key=lambda island: not _looks_like_chat(*island))
    ordered = [
        *((url, "astro-island") for url, _ in islands),
        *((url, "script") for url in parser.scripts),
        *((url, "modulepreload") for url in parser.preloads),
    ]
    scripts = _unique(
        ScriptRef(urljoin(page_url, url.strip()), how) for url, how in ordered
    )
    return Page(tuple(scripts), " ".join(parser.title.split()), len(parser.islands))


def _unique(refs: Iterable[ScriptRef]) -> list[ScriptRef]:
    seen: set[str] = set()
    kept = []
    for ref in refs:
        if ref.url not in seen:
            seen.add(ref.url)
            kept.append(ref)
    return kept


def script_imports(script: str, script_url: str) -> list[ScriptRef]:
    """The modules a script imports statically or dynamically, as absolute URLs.

    The signing function may sit in a chunk the chat script imports.

    Args:
        script: The script's text.
        script_url: Its URL, which relative imports are resolved against.

    Returns:
        The imported scripts, in order of appearance, without duplicates.
    """
    return _unique(
        ScriptRef(urljoin(script_url, match.group(1)), "import")
        for match in _STATIC_IMPORT.finditer(script)
    )


# -- the result -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SiteSettings:
    """What a probe found: the settings that make a model talk to the site.

    Attributes:
        base_url: The site's root URL (after same-site redirects).
        dialect: The web app family.
        secret: The signing secret (public: it is in the site's browser code).
        password_required: Whether the site wants a password.
        password_accepted: Whether the given password was accepted, or
            ``None`` when none was given.
        script_url: The script the secret was read from.
        notes: What else the probe noticed (scripts it skipped, and why).
    """

    base_url: str
    dialect: Dialect
    secret: str
    password_required: bool
    password_accepted: bool | None
    script_url: str
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready values (never a password)."""
        return {
            "base_url": self.base_url,
            "dialect": self.dialect,
            "secret": self.secret,
            "password_required": self.password_required,
            "password_accepted": self.password_accepted,
            "script_url": self.script_url,
            "notes": list(self.notes),
        }
