"""The web pages around the API, as the real (built) web apps serve them.

Both families are Astro apps (PROTOCOL.md, "The site around the API"):

* ``GET /`` is server-rendered HTML whose chat component is an
  ``<astro-island>`` loading a hashed ``/_astro/Generator.<hash>.js``;
* that script is large (KaTeX, highlight.js and markdown are bundled in: 1.2
  to 1.3 MB) and holds ``generateSignature`` with the secret baked in, in the
  two shapes the real builds produce (the secret inlined in the template
  literal, or ``{}.PUBLIC_SECRET_KEY||""`` when none was set), with one-letter
  names that differ between builds;
* ``POST /api/auth`` answers ``{"code":0}`` or ``{"code":-1}``; ``GET
  /password`` is the page the browser is sent to on ``-1``.

`SitePages` also makes the sites a probe must refuse: an unrelated site, a chat
script without the signing function, a chat script on another site, one far
larger than any real one, and a page that redirects to another host.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from aiohttp import web

from langchain_aichatfree.testing._checks import Dialect

SiteVariant = Literal[
    "app", "unrelated", "no_signature", "cross_site_script", "huge_script", "redirect"
]

REAL_SCRIPT_BYTES: Final = 1_250_000
"""About the size of a real chat script (1.2 to 1.3 MB minified)."""

HUGE_SCRIPT_BYTES: Final = 16 * 1024 * 1024
"""The ``huge_script`` variant's size: over ten times any real chat script."""

_AUTH_CONTENT_TYPE: Final = "text/plain;charset=UTF-8"
_HTML: Final = "text/html"
_JS: Final = "text/javascript"
_WRITE: Final = 64 * 1024


@dataclass(frozen=True)
class SitePages:
    """Which site `LocalServer` serves around its API (``site=``).

    Attributes:
        variant: ``"app"``: the real app's pages (the default).
            ``"unrelated"``: a page of some other site (no chat script).
            ``"no_signature"``: the chat script without ``generateSignature``.
            ``"cross_site_script"``: the page loads its chat script from
            `elsewhere`. ``"huge_script"``: the chat script is `huge_bytes`
            long. ``"redirect"``: ``GET /`` redirects to `elsewhere`.
        elsewhere: Another site's root URL, for the cross-site variants.
        script_bytes: The chat script's size (about a real one's by default).
        huge_bytes: The ``huge_script`` variant's size.
    """

    variant: SiteVariant = "app"
    elsewhere: str = "http://localhost:9"
    script_bytes: int = REAL_SCRIPT_BYTES
    huge_bytes: int = HUGE_SCRIPT_BYTES


@dataclass(frozen=True)
class SiteRequest:
    """A request for one of the site's pages, scripts or ``/api/auth``.

    Attributes:
        method: ``"GET"`` or ``"POST"``.
        path: The path, e.g. ``"/_astro/Generator.x7Kq2c9A.js"``.
        body: The request body (``/api/auth``'s carries the password).
    """

    method: str
    path: str
    body: bytes


@dataclass(frozen=True)
class _ServedFile:
    """One page or script the site serves, with its content type."""

    body: bytes
    content_type: str


class SiteRoutes:
    """Serves one `SitePages` for a `LocalServer` of a given dialect and secret."""

    def __init__(
        self,
        pages: SitePages,
        *,
        dialect: Dialect,
        secret: str,
        passwords: frozenset[str],
    ) -> None:
        self.pages = pages
        self._passwords = passwords
        self._files = _build(pages, dialect, secret)

    @functools.cached_property
    def _huge_name(self) -> str:
        return f"/_astro/Generator.{_hash(b'huge')}.js"

    def handles(self, method: str, path: str) -> bool:
        """Whether a request is for the site (else it is the API's)."""
        if method == "POST":
            return path == "/api/auth"
        return method == "GET" and (path in self._files or path.startswith("/_astro/"))

    async def respond(
        self, request: web.BaseRequest, log: list[SiteRequest]
    ) -> web.StreamResponse:
        """Answer a request `handles` accepted, and log it.

        Args:
            request: The request.
            log: Where the request is recorded.

        Returns:
            The response.
        """
        body = await request.read() if request.method == "POST" else b""
        log.append(SiteRequest(request.method, request.path, body))
        if request.method == "POST":
            return self._auth(body)
        variant = self.pages.variant
        if request.path == "/" and variant == "redirect":
            target = self.pages.elsewhere.rstrip("/") + "/"
            return web.Response(status=302, headers={"Location": target})
        if request.path == self._huge_name and variant == "huge_script":
            return await self._stream_huge(request)
        file = self._files.get(request.path)
        if file is None:
            return web.Response(status=404)
        return web.Response(body=file.body, content_type=file.content_type)

    def _auth(self, body: bytes) -> web.Response:
        """The families' password check: code 0 unless a password is needed."""
        try:
            data = json.loads(body)
        except ValueError:
            return web.Response(status=500)  # the real one throws: 500, empty
        given = data.get("pass") if isinstance(data, dict) else None
        ok = not self._passwords or given in self._passwords
        text = json.dumps({"code": 0 if ok else -1}, separators=(",", ":"))
        return web.Response(
            body=text.encode(), headers={"Content-Type": _AUTH_CONTENT_TYPE}
        )

    async def _stream_huge(self, request: web.BaseRequest) -> web.StreamResponse:
        """A chat script far larger than a real one, chunked (no length up front)."""
        response = web.StreamResponse(headers={"Content-Type": _JS})
        response.enable_chunked_encoding()
        await response.prepare(request)
        block = _filler(random.Random(7), _WRITE).encode()  # noqa: S311
        try:
            for _ in range(self.pages.huge_bytes // len(block)):
                await response.write(block)
            await response.write_eof()
        except ConnectionError:
            pass  # the client stopped reading, as it should
        return response


# -- building the files -------------------------------------------------------------


def _hash(content: bytes) -> str:
    """A Vite-style 8-character content hash."""
    digest = hashlib.sha256(content).digest()
    return base64.urlsafe_b64encode(digest).decode()[:8].replace("-", "D")


@functools.lru_cache(maxsize=16)
def _build(
    pages: SitePages, dialect: Dialect, secret: str
) -> Mapping[str, _ServedFile]:
    """Every file of the site, by path (cached: the chat script is large)."""
    rng = random.Random(f"{dialect}:{secret}:{pages.variant}")  # noqa: S311
    web_js = _solid_runtime(rng)
    web_name = f"/_astro/web.{_hash(web_js.encode())}.js"
    client_js = f'import{{r as e}}from"./{web_name.rpartition("/")[2]}";' + (
        'var t=(n)=>(o,s,i,{client:c})=>{if(!n.hasAttribute("ssr"))return;'
        "e(()=>o(s),n)};export{t as default};"
    )
    client_name = f"/_astro/client.{_hash(client_js.encode())}.js"
    hoisted_js = _HOISTED
    hoisted_name = f"/_astro/hoisted.{_hash(hoisted_js.encode())}.js"
    chat_js = _chat_script(rng, dialect, secret, pages, web_name)
    chat_name = f"/_astro/Generator.{_hash(chat_js.encode())}.js"
    if pages.variant == "huge_script":
        chat_name = f"/_astro/Generator.{_hash(b'huge')}.js"
    component_url = chat_name
    if pages.variant == "cross_site_script":
        component_url = pages.elsewhere.rstrip("/") + chat_name
    title = "Gemini Pro Chat" if dialect == "gemini" else "ChatGPT API"
    files = {
        "/": _ServedFile(
            _page(title, component_url, client_name, hoisted_name, web_name).encode(),
            _HTML,
        ),
        "/password": _ServedFile(_password_page(title).encode(), _HTML),
        web_name: _ServedFile(web_js.encode(), _JS),
        client_name: _ServedFile(client_js.encode(), _JS),
        hoisted_name: _ServedFile(hoisted_js.encode(), _JS),
    }
    if pages.variant != "huge_script":
        files[chat_name] = _ServedFile(chat_js.encode(), _JS)
    if pages.variant == "unrelated":
        files["/"] = _ServedFile(_UNRELATED_PAGE.encode(), _HTML)
        files["/assets/main.js"] = _ServedFile(_UNRELATED_SCRIPT.encode(), _JS)
    return files


def _page(title: str, component: str, client: str, hoisted: str, web_js: str) -> str:
    opts = "{&quot;name&quot;:&quot;Generator&quot;,&quot;value&quot;:true}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8">'
        '<meta name="viewport" content="width=device-width">'
        '<meta name="generator" content="Astro v4.16.18">'
        f"<title>{title}</title>"
        '<link rel="stylesheet" href="/_astro/index.C3nH7pQx.css">'
        f'<link rel="modulepreload" href="{web_js}">'
        f'<script type="module" src="{hoisted}"></script>'
        "</head><body><main><header><h1>" + title + "</h1></header>"
        '<astro-island uid="Z1xq9Jv" prefix="r0" '
        f'component-url="{component}" component-export="default" '
        f'renderer-url="{client}" props="{{}}" ssr="" client="load" '
        f'opts="{opts}" await-children="">'
        '<div my-6><div class="gen-text-wrapper"><textarea placeholder="Enter '
        'something..." class="gen-textarea"></textarea><button gen-slate-btn>'
        "Send</button></div></div></astro-island></main>"
        "<footer><p>Powered by Astro</p></footer></body></html>"
    )


def _password_page(title: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8">'
        f"<title>Password Protection - {title}</title></head><body>"
        '<main class="h-screen col-fcc"><div>Please input password</div>'
        '<form id="password_form"><input id="password_input" type="password" '
        'required><button id="submit">Go</button></form>'
        '<div id="error_message" class="hidden">Incorrect password. Please try '
        "again.</div></main><script>const f=document.getElementById("
        '"password_form"),i=document.getElementById("password_input");'
        'f.addEventListener("submit",async e=>{e.preventDefault();const r=await '
        'fetch("/api/auth",{method:"POST",headers:{"Content-Type":'
        '"application/json"},body:JSON.stringify({pass:i.value})});(await '
        'r.json()).code===0&&(localStorage.setItem("pass",i.value),'
        'window.location.href="/")});</script></body></html>'
    )


_HOISTED: Final = (
    'async function e(){const t=localStorage.getItem("pass"),n=await '
    'fetch("/api/auth",{method:"POST",headers:{"Content-Type":"application/json"},'
    "body:JSON.stringify({pass:t})});(await n.json()).code!==0&&"
    '(window.location.href="/password")}e();'
)

_UNRELATED_PAGE: Final = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Notes from the '
    'garden</title><script src="/assets/main.js" defer></script></head><body>'
    "<h1>Notes from the garden</h1><p>Tomatoes, again.</p></body></html>"
)
_UNRELATED_SCRIPT: Final = (
    'document.addEventListener("DOMContentLoaded",()=>{const e=document.'
    'querySelector("h1");e&&(e.title=`${location.host}:${Date.now()}`)});'
)


def _letters(rng: random.Random, count: int) -> list[str]:
    return rng.sample("abcdefghijklmnopqrsuvwxyz", count)


def _template_text(secret: str) -> str:
    """A secret as esbuild writes it inside a template literal (ASCII output)."""
    out = []
    for char in secret:
        if char in "`\\":
            out.append("\\" + char)
        elif char == "$":
            out.append("\\$")
        elif char == "\n":
            out.append("\\n")
        elif ord(char) > 0xFFFF:
            out.append(f"\\u{{{ord(char):X}}}")
        elif ord(char) > 0x7E or ord(char) < 0x20:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return "".join(out)


def _signing_function(rng: random.Random, secret: str) -> str:
    """``generateSignature`` minified, in the shape its build gives it."""
    p, a, b, n, c = _letters(rng, 5)
    head = f"const generateSignature=async {p}=>{{const{{t:{a},m:{b}}}={p},"
    tail = f";return await digestMessage({c})}}"
    if secret:
        return head + f"{c}=`${{{a}}}:${{{b}}}:{_template_text(secret)}`" + tail
    return (
        head + f'{n}={{}}.PUBLIC_SECRET_KEY||"",{c}=`${{{a}}}:${{{b}}}:${{{n}}}`' + tail
    )


_DIGEST: Final = (
    'async function digestMessage(r){if(typeof crypto<"u"&&crypto?.subtle?.digest)'
    '{const e=new TextEncoder().encode(r),t=await crypto.subtle.digest("SHA-256",e)'
    ';return Array.from(new Uint8Array(t)).map(n=>n.toString(16).padStart(2,"0"))'
    '.join("")}else return Eo(r).toString()}'
)


def _request_code(rng: random.Random, dialect: Dialect, signed: bool) -> str:
    """The component's request, as the family's minified Generator sends it."""
    s, ms, d, o, i, u, k, f = _letters(rng, 8)
    sign = "generateSignature" if signed else "Qc"
    if dialect == "gemini":
        build = (
            f'const {ms}={s}().map({k}=>({{role:{k}.role==="assistant"?"model":'
            f'"user",parts:[{{text:{k}.content}}]}})).slice(-{f});'
        )
        last = f'{ms}?.[{ms}.length-1]?.parts[0]?.text||""'
    else:
        build = (
            f'const {ms}=[...{s}()];Ze()&&{ms}.unshift({{role:"system",content:Ze()}});'
        )
        last = f'{ms}?.[{ms}.length-1]?.content||""'
    return (
        f'const Xr=async()=>{{Ye(!0),Je("");const {o}=localStorage.getItem("pass");'
        f"try{{const {i}=new AbortController;{build}const {d}=Date.now(),"
        f'{u}=await fetch("/api/generate",{{method:"POST",body:JSON.stringify({{'
        f"messages:{ms},time:{d},pass:{o},sign:await {sign}({{t:{d},m:{last}}})}}),"
        f"signal:{i}.signal}});if(!{u}.ok){{const Ke=await {u}.json();"
        f'throw Be(Ke.error),new Error("Request failed")}}}}catch{{}}}};'
        f'const Ge=()=>{{Ve()&&{s}([...{s}(),{{role:"assistant",content:Ve()}}])}};'
    )


def _filler(rng: random.Random, size: int) -> str:
    """Minified-looking library code (KaTeX, highlight.js...), `size` chars."""
    words = ("mord", "mbin", "mrel", "mopen", "keyword", "string", "title", "meta")
    pieces: list[str] = []
    total = 0
    count = 0
    while total < size:
        count += 1
        x, y = _letters(rng, 2)
        word = rng.choice(words)
        piece = (
            f'function K{count:x}({x},{y}){{return {x}.type==="{word}"?'
            f"{y}.push(`${{{x}.text}}`):{y}.concat([{x}.loc,{count}])}}"
            f'var H{count:x}={{scope:"{word}",begin:/\\b[a-z]{{{count % 9}}}\\b/}};'
        )
        pieces.append(piece)
        total += len(piece)
    return "".join(pieces)[:size]


def _chat_script(
    rng: random.Random,
    dialect: Dialect,
    secret: str,
    pages: SitePages,
    web_name: str,
) -> str:
    """The chat component's bundle, padded to `pages.script_bytes`."""
    signed = pages.variant != "no_signature"
    head = f'import{{c as Ye,a as Je,s as Ze}}from"./{web_name.rpartition("/")[2]}";'
    core = [_DIGEST]
    if signed:
        core.append(_signing_function(rng, secret) + ";")
    else:
        core.append("const Qc=async r=>digestMessage(`${r.t}${r.m}`);")
    core.append(_request_code(rng, dialect, signed))
    middle = "".join(core)
    room = max(pages.script_bytes - len(head) - len(middle), 0)
    before = _filler(rng, room // 2)
    after = _filler(rng, room - len(before))
    return head + before + middle + after


def _solid_runtime(rng: random.Random) -> str:
    return (
        'const e=Symbol("solid-proxy");function r(t,n){return t(n)}'
        "function c(t){let n=t;return[()=>n,o=>n=o]}"
        + _filler(rng, 20_000)
        + "export{c,c as a,r,c as s};"
    )
