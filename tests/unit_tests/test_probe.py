"""Reading a site's page and chat script (`_probe`): pure functions, tables."""

from __future__ import annotations

from typing import Any

import pytest

import langchain_aichatfree
from langchain_aichatfree._probe import (
    ScriptRef,
    detect_dialect,
    find_secret,
    origin,
    parse_page,
    same_site,
    script_imports,
    sends_to_api,
    site_url,
)
from langchain_aichatfree.errors import SiteProbeError
from langchain_aichatfree.testing._site import SitePages, _build

# The two shapes of PROTOCOL.md, byte for byte.
INLINED = (
    "const generateSignature=async r=>{const{t:e,m:t}=r,a=`${e}:${t}:s3cret-test`;"
    "return await digestMessage(a)}"
)
EMPTY = (
    'const generateSignature=async r=>{const{t:e,m:t}=r,n={}.PUBLIC_SECRET_KEY||"",'
    "a=`${e}:${t}:${n}`;return await digestMessage(a)}"
)


@pytest.mark.parametrize(
    ("script", "secrets"),
    [
        (INLINED, ("s3cret-test",)),
        (EMPTY, ("",)),
        # Other one-letter names, as another build or family gives them.
        (
            "const generateSignature=async o=>{const{t:s,m:i}=o,c=`${s}:${i}:k-9`;"
            "return await digestMessage(c)}",
            ("k-9",),
        ),
        (
            "const generateSignature=async $=>{const{t:_,m:x}=$,q={}.PUBLIC_SECRET_KEY"
            '||"",w=`${_}:${x}:${q}`;return await digestMessage(w)}',
            ("",),
        ),
        # No `||""`: JavaScript prints undefined, and so does the server.
        (
            "const generateSignature=async r=>{const{t:e,m:t}=r,n={}.PUBLIC_SECRET_KEY,"
            "a=`${e}:${t}:${n}`;return await digestMessage(a)}",
            ("undefined",),
        ),
        # The env object holding the key, and a function declaration.
        (
            "async function generateSignature(r){const{t:e,m:t}=r,n={PUBLIC_SECRET_KEY:"
            '"k\\u00fc"}.PUBLIC_SECRET_KEY||"";return await digestMessage(`${e}:${t}:'
            "${n}`)}",
            ("kü",),
        ),
        # Escapes inside the template literal: ` \ ${ and non-ASCII.
        (
            "const generateSignature=async r=>{const{t:e,m:t}=r,"
            "a=`${e}:${t}:a\\`b\\${c}\\\\d\\u00e9\\u{1F600}`;return 1}",
            ("a`b${c}\\dé\U0001f600",),
        ),
        # An empty inlined secret, and a string literal inside ${...}.
        (
            "const generateSignature=async r=>{const{t:e,m:t}=r,a=`${e}:${t}:`;"
            "return 1}",
            ("",),
        ),
        (
            "const generateSignature=async r=>{const{t:e,m:t}=r,a=`${e}:${t}:${'x'}y`;"
            "return 1}",
            ("xy",),
        ),
        # Only uses, no definition: nothing to read.
        ("sign:await generateSignature({t:d,m:l})", ()),
        ("x=`${a}:${b}:c`", ()),
        ("", ()),
    ],
)
def test_find_secret(script: str, secrets: tuple[str, ...]) -> None:
    found = find_secret(script)
    assert found.secrets == secrets
    assert found.unreadable == ()


def test_find_secret_in_the_middle_of_a_bundle() -> None:
    script = "var a=`${x}:${y}`;" * 50 + INLINED + ";sign:await generateSignature({})"
    assert find_secret(script).secrets == ("s3cret-test",)


@pytest.mark.parametrize(
    "script",
    [
        "const generateSignature=async r=>{const{t:e,m:t}=r,a=`${e}:${t}:${r.key}`}",
        "const generateSignature=async r=>{const{t:e,m:t}=r,a=`${e}:${t}:${n}`}",
        "const generateSignature=async r=>{const{t:e,m:t}=r,n=g(),a=`${e}:${t}:${n}`}",
        "const generateSignature=async r=>{const{t:e,m:t}=r,a=`${e}:${t}:unended",
    ],
)
def test_unreadable_signing_function_is_reported_with_an_excerpt(script: str) -> None:
    found = find_secret(script)
    assert found.secrets == ()
    assert found.found_function
    assert found.unreadable[0].startswith("generateSignature=async r=>")


def test_several_secrets_are_all_returned() -> None:
    other = INLINED.replace("s3cret-test", "other")
    assert find_secret(INLINED + ";" + other).secrets == ("s3cret-test", "other")
    assert find_secret(INLINED + ";" + INLINED).secrets == ("s3cret-test",)


# What the families' minified chat scripts send (GeminiProChat keeps `assistant`
# in its own message list, so both markers are in its script).
GEMINI_SENDS = (
    'const l=s().map(k=>({role:k.role==="assistant"?"model":"user",parts:[{text:'
    'k.content}]}));fetch("/api/generate",{});s([{role:"assistant",content:v()}])'
)
CHATGPT_SENDS = (
    'const l=[...s()];b()&&l.unshift({role:"system",content:b()});fetch('
    '"/api/generate",{});s([{role:"assistant",content:v()}])'
)


@pytest.mark.parametrize(
    ("script", "dialect"),
    [
        (GEMINI_SENDS, "gemini"),
        (CHATGPT_SENDS, "chatgpt-demo"),
        ("parts: [{ text: m.content }], role: 'model'", "gemini"),
        ('{role: "assistant", content: x}', "chatgpt-demo"),
        ('{role:"user",content:x}', None),  # both families say this
        ('parts:[{text:x}],role:"user"', None),  # no model role
        ("function katex(e){return e}", None),
    ],
)
def test_detect_dialect(script: str, dialect: str | None) -> None:
    assert detect_dialect(script) == dialect


def test_sends_to_api() -> None:
    assert sends_to_api(GEMINI_SENDS)
    assert not sends_to_api("fetch('/api/other')")


PAGE = """<!DOCTYPE html><html><head><title>  Gemini
 Pro Chat </title>
<link rel="modulepreload" href="/_astro/web.abc.js">
<link rel="stylesheet" href="/_astro/x.css">
<script type="module" src="/_astro/hoisted.def.js"></script></head><body>
<astro-island uid="a" component-url="/_astro/Header.1.js"
 opts="{&quot;name&quot;:&quot;Header&quot;}"></astro-island>
<astro-island uid="b" component-url="/_astro/Generator.x7Kq.js"
 renderer-url="/_astro/client.9.js"
 opts="{&quot;name&quot;:&quot;Generator&quot;,&quot;value&quot;:true}"></astro-island>
<script src="https://cdn.example.com/analytics.js"></script>
<script>inline()</script>
<link rel="modulepreload" href="/_astro/web.abc.js">
</body></html>"""


def test_parse_page_puts_the_chat_island_first() -> None:
    page = parse_page(PAGE, "https://your.site/chat/")
    assert page.scripts == (
        ScriptRef("https://your.site/_astro/Generator.x7Kq.js", "astro-island"),
        ScriptRef("https://your.site/_astro/Header.1.js", "astro-island"),
        ScriptRef("https://your.site/_astro/hoisted.def.js", "script"),
        ScriptRef("https://cdn.example.com/analytics.js", "script"),
        ScriptRef("https://your.site/_astro/web.abc.js", "modulepreload"),
    )
    assert page.title == "Gemini Pro Chat"
    assert page.islands == 2
    assert "titled 'Gemini Pro Chat' with 2 Astro island(s)" in page.describe()


def test_parse_page_of_something_else() -> None:
    page = parse_page('{"status": "ok"}', "https://api.example.com/")
    assert page.scripts == ()
    assert page.describe() == (
        "an HTML page without a title with 0 Astro island(s) and 0 script(s) (none)"
    )


def test_relative_island_urls_resolve_against_the_page() -> None:
    html = '<astro-island component-url="_astro/Generator.a.js"></astro-island>'
    page = parse_page(html, "https://your.site/sub/")
    assert page.scripts[0].url == "https://your.site/sub/_astro/Generator.a.js"


def test_script_imports() -> None:
    script = (
        'import{c as a,s as b}from"./web.abc.js";import"./side.js";'
        'const m=()=>import("../x/lazy.js");import * as k from "./k.mjs";'
        'import{c as a}from"./web.abc.js";const s="import not.js";'
    )
    urls = [r.url for r in script_imports(script, "https://s.io/_astro/Generator.js")]
    assert urls == [
        "https://s.io/_astro/web.abc.js",
        "https://s.io/_astro/side.js",
        "https://s.io/x/lazy.js",
        "https://s.io/_astro/k.mjs",
    ]


@pytest.mark.parametrize(
    ("base", "url", "upgrade", "same"),
    [
        ("https://your.site", "https://your.site/_astro/a.js", False, True),
        ("https://your.site", "https://YOUR.site:443/x", False, True),
        ("https://your.site", "https://www.your.site/x", False, False),
        ("https://your.site", "https://your.site:8443/x", False, False),
        ("https://your.site", "http://your.site/x", False, False),
        ("http://your.site", "https://your.site/x", False, False),
        ("http://your.site", "https://your.site/x", True, True),
        ("https://your.site", "http://your.site/x", True, False),  # a downgrade
        ("http://your.site:8000", "https://your.site/x", True, False),
        ("http://127.0.0.1:8000", "http://localhost:8000/x", False, False),
        ("https://your.site", "//cdn.example.com/x.js", False, False),
    ],
)
def test_same_site(base: str, url: str, upgrade: bool, same: bool) -> None:
    assert same_site(base, url, upgrade=upgrade) is same


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("https://your.site", "https://your.site"),
        ("your.site", "https://your.site"),
        ("  http://127.0.0.1:8000/ ", "http://127.0.0.1:8000/"),
    ],
)
def test_site_url(given: str, url: str) -> None:
    assert site_url(given) == url


@pytest.mark.parametrize("given", ["ftp://your.site", "https://", "http://x:99999", ""])
def test_site_url_rejects(given: str) -> None:
    with pytest.raises(ValueError, match=r"URL|port"):
        site_url(given)


def test_site_url_refuses_credentials_without_showing_them() -> None:
    with pytest.raises(ValueError, match="user name or password") as caught:
        site_url("https://user:hunter2@your.site")
    assert "hunter2" not in str(caught.value)


def test_origin() -> None:
    assert origin("https://User:pw@Your.Site:8443/a/b?c") == "https://your.site:8443"
    assert origin("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"


# The local server's site, built without a server: what the probe reads there.


@pytest.mark.parametrize("dialect", ["gemini", "chatgpt-demo"])
@pytest.mark.parametrize("secret", ["", "s3cret-test", "ü`${x}\\ \U0001f600"])
def test_the_local_sites_chat_script_reads_back(dialect: Any, secret: str) -> None:
    files = _build(SitePages(), dialect, secret)
    page = parse_page(files["/"].body.decode(), "http://127.0.0.1:1/")
    chat = page.scripts[0]
    assert chat.how == "astro-island"
    script = files[chat.url.removeprefix("http://127.0.0.1:1")].body.decode()
    assert 1_200_000 <= len(script.encode()) <= 1_300_000  # a real one's size
    assert script.isascii()  # esbuild writes ASCII, escaping the rest
    assert sends_to_api(script)
    assert detect_dialect(script) == dialect
    assert find_secret(script).secrets == (secret,)


def test_the_local_site_without_signature_has_the_family_but_no_function() -> None:
    files = _build(SitePages(variant="no_signature"), "gemini", "k")
    chat = parse_page(files["/"].body.decode(), "http://h/").scripts[0]
    script = files[chat.url.removeprefix("http://h")].body.decode()
    assert detect_dialect(script) == "gemini"
    assert not find_secret(script).found_function


def test_site_probe_error_is_an_invalid_request_and_public() -> None:
    from langchain_core.exceptions import ModelInvalidRequestError

    error = SiteProbeError("nope", url="https://x")
    assert isinstance(error, ModelInvalidRequestError)
    assert isinstance(error, langchain_aichatfree.AIChatFreeError)
    assert not error.is_retryable
    assert error.url == "https://x"
    assert "SiteProbeError" in langchain_aichatfree.__all__
