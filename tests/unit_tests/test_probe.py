"""Reading a site's URL and page (`_probe`): pure functions, tables.

The chat script's reading (family, secret) is in test_probe_script.py.
"""

from __future__ import annotations

import pytest

import langchain_aichatfree
from langchain_aichatfree._probe import (
    ScriptRef,
    parse_page,
    script_imports,
    site_url,
)
from langchain_aichatfree.errors import SiteProbeError

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


def test_site_probe_error_is_an_invalid_request_and_public() -> None:
    from langchain_core.exceptions import ModelInvalidRequestError

    error = SiteProbeError("nope", url="https://x")
    assert isinstance(error, ModelInvalidRequestError)
    assert isinstance(error, langchain_aichatfree.AIChatFreeError)
    assert not error.is_retryable
    assert error.url == "https://x"
    assert "SiteProbeError" in langchain_aichatfree.__all__
