"""Reading a site's chat script (`_probe_script`): its family and its secret."""

from __future__ import annotations

from typing import Any

import pytest

from langchain_aichatfree._probe import parse_page
from langchain_aichatfree._probe_script import detect_dialect, find_secret, sends_to_api
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
