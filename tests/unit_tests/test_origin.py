"""`_origin`: one rule for "the same site", for redirects and the probe."""

from __future__ import annotations

import pytest

from langchain_aichatfree._origin import origin, same_site

ORIGINS = [
    ("https://a.example/api/generate", "https://a.example/v2/api/generate", True),
    ("https://a.example/x", "http://a.example/x", False),
    ("https://a.example/x", "https://b.example/x", False),
    ("http://127.0.0.1:8000/x", "http://127.0.0.1:8000/y?z=1", True),
    ("http://127.0.0.1:8000/x", "http://127.0.0.1:8001/x", False),
    # An explicit default port is the same origin (a same-site redirect).
    ("https://a.example/x", "https://A.example:443/y", True),
    ("http://a.example/x", "http://a.example:80/y", True),
    ("https://a.example/x", "https://a.example:80/y", False),
]


@pytest.mark.parametrize(("a", "b", "same"), ORIGINS)
def test_same_origin_is_scheme_host_and_port(a: str, b: str, same: bool) -> None:
    assert same_site(a, b) is same
    assert same_site(b, a) is same


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


def test_origin() -> None:
    assert origin("https://User:pw@Your.Site:8443/a/b?c") == "https://your.site:8443"
    assert origin("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
