"""What ``aichatfree probe`` prints (`_cli_probe.probe_report`) from what it found.

The probe itself, against the local server's site, is in
tests/integration_tests/test_probe.py.
"""

from __future__ import annotations

import pytest

from langchain_aichatfree._cli_probe import probe_report
from langchain_aichatfree._probe import SiteSettings

SITE = SiteSettings(
    base_url="https://your.site",
    dialect="gemini",
    secret="pub key",
    password_required=False,
    password_accepted=None,
    script_url="https://your.site/_astro/Generator.js",
)


def with_(**changes: object) -> SiteSettings:
    return SiteSettings(**{**SITE.to_dict(), "notes": (), **changes})


def test_report_of_an_open_site() -> None:
    report = probe_report(SITE, None)
    assert report.splitlines()[:4] == [
        "Site:      https://your.site",
        "Family:    GeminiProChat (dialect 'gemini'), chat script "
        "https://your.site/_astro/Generator.js",
        "Secret:    'pub key' (public: it is in the site's browser code)",
        "Password:  not required",
    ]
    assert "  export AICHATFREE_SECRET='pub key'\n" in report  # quoted for a shell
    assert "  export AICHATFREE_DIALECT=gemini\n" in report
    assert "      secret='pub key',\n" in report
    assert "read -rs" not in report
    assert "Check:" not in report
    assert report.endswith("  )\n")


@pytest.mark.parametrize(
    ("required", "accepted", "says"),
    [
        (True, True, "required; the one given is accepted"),
        (True, False, "required; the one given was REFUSED"),
        (True, None, "required; set AICHATFREE_PASSWORD (or use --ask-password)"),
    ],
)
def test_report_of_a_password(required: bool, accepted: bool | None, says: str) -> None:
    report = probe_report(
        with_(password_required=required, password_accepted=accepted), None
    )
    assert f"Password:  {says}" in report
    assert "read -rs AICHATFREE_PASSWORD && export AICHATFREE_PASSWORD" in report
    assert "# password: read from $AICHATFREE_PASSWORD" in report


@pytest.mark.parametrize(
    ("check", "line"),
    [
        ({"answered": True, "text": "OK\n"}, "Check:     answered 'OK'"),
        ({"answered": False, "error": {}}, "Check:     no answer (see below)"),
    ],
)
def test_report_of_a_check(check: dict[str, object], line: str) -> None:
    assert line in probe_report(SITE, check).splitlines()


def test_report_of_the_empty_secret_and_notes() -> None:
    report = probe_report(
        with_(secret="", dialect="chatgpt-demo", notes=("skipped a.js: too large",)),
        None,
    )
    assert "Family:    chatgpt-demo (dialect 'chatgpt-demo')" in report
    assert "Secret:    none (the empty secret)" in report
    assert "Note:      skipped a.js: too large" in report
    assert "  export AICHATFREE_SECRET=''\n" in report
