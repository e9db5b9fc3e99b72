"""Reading a deployment's site: pure functions, no I/O (`_site` does the fetching).

A GeminiProChat or chatgpt-demo site serves a server-rendered page whose chat
component is a hashed script under ``/_astro/`` (PROTOCOL.md, "The site around
the API"). That script was built with the deployment's settings baked in:

* it signs requests with ``generateSignature``, whose secret is inlined::

      const generateSignature=async r=>{const{t:e,m:t}=r,a=`${e}:${t}:s3cret-test`;...}

  or, with no secret set at build time, read from an empty ``env`` object::

      ...,n={}.PUBLIC_SECRET_KEY||"",a=`${e}:${t}:${n}`;...

* what it sends tells the family apart: ``parts:[{text}]`` with the roles
  ``user``/``model`` (GeminiProChat) or ``{role, content}`` (chatgpt-demo).

The functions here find the script URLs in the page, tell whether a URL is on
the same site, recognise the family and read the secret, each from text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Final, Literal
from urllib.parse import urljoin, urlsplit

Dialect = Literal["gemini", "chatgpt-demo"]

FAMILY_NAMES: Final[dict[Dialect, str]] = {
    "gemini": "GeminiProChat",
    "chatgpt-demo": "chatgpt-demo",
}
"""How each dialect's web app is called, for messages."""

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}

_SIGNATURE_NAME: Final = "generateSignature"
_SIGNATURE_WINDOW: Final = 800
"""Characters after the function's name searched for its template literal."""

_SIGNED_TEMPLATE: Final = re.compile(r"`\$\{([\w$]+)\}:\$\{([\w$]+)\}:")
"""The start of `${time}:${text}:...`, whatever the minifier named the variables."""

_GEMINI_PARTS: Final = re.compile(r"parts\s*:\s*\[\s*\{\s*text\s*:")
_GEMINI_MODEL: Final = re.compile(r"""["'`]model["'`]""")
_OPENAI_TURN: Final = re.compile(
    r"""role\s*:\s*["'`](?:assistant|system)["'`]\s*,\s*content\s*:"""
)
_GENERATE_CALL: Final = re.compile(r"""["'`]/api/generate["'`]""")
_STATIC_IMPORT: Final = re.compile(
    r"""(?:\bimport\s*(?:[\w$*{}\s,]+?\s*from\s*)?|\bimport\s*\()\s*["']([^"'\s]+\.m?js)["']"""
)
"""`import{a as b}from"./auth.x.js"`, `import"./x.js"`, `import("./x.js")`."""

_EXCERPT: Final = 160
"""Characters of a signing function quoted when its secret cannot be read."""


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
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        msg = f"expected a site's http(s) URL such as https://your.site, got {url!r}"
        raise ValueError(msg)
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError as e:
        raise ValueError(f"bad port in {url!r}: {e}") from None
    return text


def _origin_of(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    return scheme, (parts.hostname or "").lower(), port


def origin(url: str) -> str:
    """The site's root URL: scheme, host and port only (no trailing slash).

    Args:
        url: Any URL on the site.

    Returns:
        e.g. ``"https://your.site"`` or ``"http://127.0.0.1:8000"``.
    """
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower().rpartition('@')[2]}"


def same_site(base: str, url: str, *, upgrade: bool = False) -> bool:
    """Whether `url` is on the same site as `base` (scheme, host and port).

    Args:
        base: A URL of the site.
        url: The URL to check.
        upgrade: Also accept the move from ``http`` to ``https`` on the same
            host (a site's usual redirect), default ports on both sides.

    Returns:
        Whether it is the same site.
    """
    a, b = _origin_of(base), _origin_of(url)
    if a == b:
        return True
    return (
        upgrade
        and a[1] == b[1]
        and (a[0], b[0]) == ("http", "https")
        and (a[2], b[2]) == (80, 443)
    )


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


# -- the chat script --------------------------------------------------------------


def detect_dialect(script: str) -> Dialect | None:
    """Recognise the web app family from what its chat script sends.

    GeminiProChat sends ``parts: [{text}]`` with the roles ``user`` and
    ``model`` (its own message list still says ``assistant``, so this is checked
    first); chatgpt-demo sends ``{role, content}`` turns with ``assistant`` and
    ``system`` roles.

    Args:
        script: A script's text.

    Returns:
        The dialect, or ``None`` if the script is neither family's chat script.
    """
    if _GEMINI_PARTS.search(script) and _GEMINI_MODEL.search(script):
        return "gemini"
    if _OPENAI_TURN.search(script):
        return "chatgpt-demo"
    return None


def sends_to_api(script: str) -> bool:
    """Whether a script posts to ``/api/generate`` (the chat script does)."""
    return _GENERATE_CALL.search(script) is not None


@dataclass(frozen=True, slots=True)
class SecretSearch:
    """What a script says about the signing secret.

    Attributes:
        secrets: The secrets read from its signing functions (normally one).
        unreadable: Excerpts of signing functions whose secret could not be
            read (a shape this reader does not know).
    """

    secrets: tuple[str, ...] = ()
    unreadable: tuple[str, ...] = field(default=())

    @property
    def found_function(self) -> bool:
        """Whether the script has a signing function at all."""
        return bool(self.secrets or self.unreadable)


class _Unreadable(ValueError):
    """A piece of the minified code this reader cannot evaluate."""


def find_secret(script: str) -> SecretSearch:
    """Read the signing secret from a chat script's ``generateSignature``.

    Both shapes the real builds produce are read, whatever the minifier named
    the variables: the secret inlined in the template literal
    (``a=`${e}:${t}:s3cret-test```), and a variable set from the build's env
    object (``n={}.PUBLIC_SECRET_KEY||"",a=`${e}:${t}:${n}```), which gives the
    empty secret ("" from the ``||""`` fallback; JavaScript's ``"undefined"``
    without one, as the server computes it too). A secret set in the env object
    (``{PUBLIC_SECRET_KEY:"k"}.PUBLIC_SECRET_KEY``) and string literals with
    JavaScript escapes are read too.

    Args:
        script: A script's text.

    Returns:
        The secrets found (distinct, in order) and the excerpts of signing
        functions that could not be read.
    """
    secrets: list[str] = []
    unreadable: list[str] = []
    start = 0
    while (at := script.find(_SIGNATURE_NAME, start)) >= 0:
        start = at + len(_SIGNATURE_NAME)
        window = script[at : at + _SIGNATURE_WINDOW]
        match = _SIGNED_TEMPLATE.search(window)
        if match is None:
            continue  # a call site, or the name in another context
        if not _is_definition(script, at):
            continue  # a use: `sign:await generateSignature({t:i,m:s})`
        body = window[: match.start()]
        try:
            parts, _ = _read_template(window, match.start() + 1)
            secret = _template_secret(_after_time_and_text(parts), body)
        except _Unreadable:
            excerpt = window[: max(match.end() + 40, _EXCERPT)]
            unreadable.append(" ".join(excerpt.split())[:_EXCERPT])
            continue
        if secret not in secrets:
            secrets.append(secret)
    return SecretSearch(tuple(secrets), tuple(unreadable))


_FUNCTION_BEFORE: Final = re.compile(r"\bfunction\s*\*?\s*$")


def _is_definition(script: str, at: int) -> bool:
    """Whether the name at `at` is being defined (`name=`, `name:`, `function name`)."""
    after = script[at + len(_SIGNATURE_NAME) : at + len(_SIGNATURE_NAME) + 8].lstrip()
    if after.startswith((":", "=")) and not after.startswith(("==", "=>")):
        return True
    return _FUNCTION_BEFORE.search(script[max(0, at - 24) : at]) is not None


def _after_time_and_text(parts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The parts of `${time}:${text}:REST` that make REST (the secret)."""
    # parts: expr, ":", expr, ":REST..." (the regex matched this much)
    kind, text = parts[3]
    rest = text[1:]
    return ([(kind, rest)] if rest else []) + parts[4:]


def _template_secret(parts: Sequence[tuple[str, str]], body: str) -> str:
    """The text after ``${time}:${text}:``, with its ``${...}`` evaluated."""
    pieces = []
    for kind, value in parts:
        if kind == "text":
            pieces.append(_cook(value))
        else:
            pieces.append(_js_string(_evaluate(value.strip(), body)))
    return "".join(pieces)


def _read_template(text: str, start: int) -> tuple[list[tuple[str, str]], int]:
    """Split a template literal (opened just before `start`) into its parts.

    Returns:
        ``[("text", raw) | ("expr", source), ...]`` and the index after the
        closing backtick.

    Raises:
        _Unreadable: The literal does not end inside `text`.
    """
    parts: list[tuple[str, str]] = []
    raw: list[str] = []
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\":
            raw.append(text[index : index + 2])
            index += 2
        elif char == "`":
            if raw:
                parts.append(("text", "".join(raw)))
            return parts, index + 1
        elif text.startswith("${", index):
            if raw:
                parts.append(("text", "".join(raw)))
                raw = []
            end = _expression_end(text, index + 2)
            parts.append(("expr", text[index + 2 : end]))
            index = end + 1
        else:
            raw.append(char)
            index += 1
    raise _Unreadable("unterminated template literal")


def _expression_end(text: str, start: int) -> int:
    """The index of the ``}`` that closes a ``${`` whose inside starts at `start`."""
    depth = 0
    index = start
    while index < len(text):
        char = text[index]
        if char in "\"'":
            index = _string_end(text, index)
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return index
            depth -= 1
        index += 1
    raise _Unreadable("unterminated ${...}")


def _string_end(text: str, start: int) -> int:
    """The index after the string literal that starts at `start`."""
    quote = text[start]
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
        elif char == quote:
            return index + 1
        elif char == "\n":
            break
        else:
            index += 1
    raise _Unreadable("unterminated string literal")


_UNDEFINED: Final = object()
"""JavaScript's `undefined`, as an evaluated value."""

_STRING_AT: Final = re.compile(r"""\s*(["'])""")
_ENV_READ: Final = re.compile(r"\s*\.\s*PUBLIC_SECRET_KEY\b")
_FALLBACK: Final = re.compile(r"""\s*\|\|\s*""")


def _evaluate(source: str, body: str) -> object:
    """The value of a ``${...}`` expression: a literal, or a variable of `body`."""
    if re.fullmatch(r"[\w$]+", source):
        if source == "undefined":
            return _UNDEFINED
        return _variable(source, body)
    value, end = _expression(source, 0)
    if source[end:].strip():
        raise _Unreadable(f"cannot evaluate ${{{source}}}")
    return value


def _variable(name: str, body: str) -> object:
    """The value the function assigns to `name` (its last assignment before use)."""
    pattern = re.compile(rf"(?<![\w$.]){re.escape(name)}\s*=(?![=>])")
    matches = list(pattern.finditer(body))
    if not matches:
        raise _Unreadable(f"no assignment to {name}")
    value, _ = _expression(body, matches[-1].end())
    return value


def _expression(text: str, start: int) -> tuple[object, int]:
    """Evaluate ``operand ( || operand )*`` at `start`; return it and its end."""
    value, index = _operand(text, start)
    while match := _FALLBACK.match(text, index):
        other, index = _operand(text, match.end())
        if value is _UNDEFINED or value == "":
            value = other
    return value, index


def _operand(text: str, start: int) -> tuple[object, int]:
    """A string literal, ``void 0``, or ``{...}.PUBLIC_SECRET_KEY``."""
    stripped = len(text[start:]) - len(text[start:].lstrip())
    index = start + stripped
    if _STRING_AT.match(text, index):
        end = _string_end(text, index)
        return _cook(text[index + 1 : end - 1]), end
    if text.startswith("void 0", index):
        return _UNDEFINED, index + len("void 0")
    if text.startswith("{", index):
        end = _object_end(text, index)
        read = _ENV_READ.match(text, end)
        if read is None:
            raise _Unreadable("an object that is not the build's env")
        found = re.search(
            r"""(?:^|[{,])\s*["']?PUBLIC_SECRET_KEY["']?\s*:\s*(["'])""",
            text[index:end],
        )
        if found is None:
            return _UNDEFINED, read.end()
        literal = index + found.start(1)
        return _cook(text[literal + 1 : _string_end(text, literal) - 1]), read.end()
    raise _Unreadable(f"cannot evaluate {text[index : index + 40]!r}")


def _object_end(text: str, start: int) -> int:
    """The index after the object literal that opens at `start`."""
    depth = 0
    index = start
    while index < len(text):
        char = text[index]
        if char in "\"'":
            index = _string_end(text, index)
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    raise _Unreadable("unterminated object literal")


def _js_string(value: object) -> str:
    """How a template literal prints an evaluated value."""
    if value is _UNDEFINED:
        return "undefined"
    assert isinstance(value, str)  # noqa: S101 - only strings and undefined exist
    return value


_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v"}
_ESCAPE: Final = re.compile(
    r"\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|\r\n|[\s\S])"
)


def _cook(raw: str) -> str:
    """The value of a string or template literal's raw text (JavaScript escapes)."""

    def replace(match: re.Match[str]) -> str:
        escape = match.group(1)
        if escape[0] in "ux" and len(escape) > 1:
            digits = escape[1:].strip("{}")
            return chr(int(digits, 16))
        if escape in ("\n", "\r", "\r\n", "\u2028", "\u2029"):
            return ""  # a line continuation
        if escape == "0":
            return "\0"
        return _ESCAPES.get(escape, escape)

    return _ESCAPE.sub(replace, raw)


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
