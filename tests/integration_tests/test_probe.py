"""The site probe against the local server's pages: `probe_site`, `from_site`, and
``aichatfree probe`` run as a real process."""

from __future__ import annotations

import asyncio
import getpass
import json
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import trustme
from aiohttp import web

from langchain_aichatfree import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ChatAIChatFree,
    Deployment,
    SiteProbeError,
)
from langchain_aichatfree._cli import main
from langchain_aichatfree._site import ProbeOptions, probe_site
from langchain_aichatfree.testing import LocalServer, SitePages
from langchain_aichatfree.testing._site import _build
from tests._command import Result, child_env, run_command, run_each

PASSWORD = "probe-pw-7731"
WRONG = "probe-wrong-2210"
SECRETS = ["", "s3cret-test", "ü`${x}\\ \U0001f600"]


def generate_requests(server: LocalServer) -> list[Any]:
    return [r for r in server.requests if r.path.endswith("/api/generate")]


# -- the probe on every local variant -----------------------------------------------


@pytest.mark.parametrize("dialect", ["gemini", "chatgpt-demo"])
@pytest.mark.parametrize("secret", SECRETS)
async def test_finds_dialect_and_secret_without_password(dialect, secret):
    async with LocalServer(dialect=dialect, secret=secret) as server:
        found = await probe_site(server.url)
    assert (found.base_url, found.dialect, found.secret) == (
        server.url,
        dialect,
        secret,
    )
    assert found.password_required is False
    assert found.password_accepted is None
    assert found.script_url.startswith(server.url + "/_astro/Generator.")
    assert found.notes == ()
    # The page, the chat script, one password check: nothing more, nothing else.
    assert [(r.method, r.path.split(".")[0]) for r in server.site_requests] == [
        ("GET", "/"),
        ("GET", "/_astro/Generator"),
        ("POST", "/api/auth"),
    ]
    assert json.loads(server.site_requests[-1].body) == {"pass": None}
    assert server.requests == []


@pytest.mark.parametrize("dialect", ["gemini", "chatgpt-demo"])
@pytest.mark.parametrize(
    ("given", "accepted"), [(None, None), (PASSWORD, True), (WRONG, False)]
)
async def test_password_required(dialect, given, accepted):
    async with LocalServer(
        dialect=dialect, secret="k", passwords=f"other,{PASSWORD}"
    ) as server:
        found = await probe_site(server.url, password=given)
    assert (found.dialect, found.secret) == (dialect, "k")
    assert found.password_required is True
    assert found.password_accepted is accepted
    # The password went to /api/auth, and nowhere else.
    bodies = [(r.path, r.body) for r in server.site_requests]
    carrying = [path for path, body in bodies if given and given.encode() in body]
    assert carrying == (["/api/auth"] if given else [])
    assert server.requests == []


async def test_a_password_on_a_site_without_one_is_accepted():
    async with LocalServer() as server:
        found = await probe_site(server.url, password=PASSWORD)
    assert (found.password_required, found.password_accepted) == (False, True)


async def test_the_settings_found_make_a_working_model():
    async with LocalServer(
        dialect="chatgpt-demo", secret="s3cret-test", passwords=PASSWORD
    ) as server:
        found = await probe_site(server.url, password=PASSWORD)
        async with ChatAIChatFree(
            base_url=found.base_url,
            dialect=found.dialect,
            secret=found.secret,
            password=PASSWORD,
        ) as model:
            assert (await model.ainvoke("hi")).content == "Echo: hi"


# -- sites that must fail clearly ---------------------------------------------------


@pytest.fixture
async def elsewhere() -> AsyncIterator[LocalServer]:
    """Another site, which must never be asked for anything."""
    async with LocalServer(secret="elsewhere-secret") as other:
        yield other
        assert other.site_requests == []
        assert other.requests == []


async def probe_variant(variant: str, elsewhere: LocalServer) -> SiteProbeError:
    pages = SitePages(variant=variant, elsewhere=elsewhere.url)  # type: ignore[arg-type]
    async with LocalServer(site=pages, passwords=PASSWORD) as server:
        with pytest.raises(SiteProbeError) as caught:
            await probe_site(server.url, password=PASSWORD)
        # Nothing carried the password: the probe stopped before /api/auth.
        assert not [r for r in server.site_requests if PASSWORD.encode() in r.body]
        assert server.requests == []
    return caught.value


async def test_unrelated_site(elsewhere):
    error = await probe_variant("unrelated", elsewhere)
    assert "is not a GeminiProChat or chatgpt-demo site" in error.message
    assert "titled 'Notes from the garden'" in error.message
    assert "(main.js)" in error.message


async def test_script_without_the_signing_function(elsewhere):
    error = await probe_variant("no_signature", elsewhere)
    assert "looks like a GeminiProChat site" in error.message
    assert "no script has a generateSignature function" in error.message
    assert "--secret" in error.message


async def test_chat_script_on_another_site_is_not_fetched(elsewhere):
    error = await probe_variant("cross_site_script", elsewhere)
    assert f"loads its chat component from {elsewhere.url}/_astro/Generator." in (
        error.message
    )
    assert "is on another site: not fetched" in error.message


async def test_script_far_larger_than_a_real_one_is_not_read(elsewhere):
    error = await probe_variant("huge_script", elsewhere)
    assert "is larger than 5 MiB" in error.message
    assert "far larger than a real chat script" in error.message


async def test_redirect_to_another_host_is_not_followed(elsewhere):
    error = await probe_variant("redirect", elsewhere)
    assert f"redirects (HTTP 302) to {elsewhere.url}/, on another site" in error.message
    assert f"probe {elsewhere.url} instead" in error.message
    assert error.status_code == 302


async def test_unreachable_site_is_a_connection_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(
        APIConnectionError, match=f"Could not reach http://127.0.0.1:{port}"
    ):
        await probe_site(f"http://127.0.0.1:{port}")


async def test_site_without_pages_says_what_it_answered():
    async with LocalServer(site=None) as server:
        with pytest.raises(SiteProbeError, match="answered HTTP 404") as caught:
            await probe_site(server.url)
    assert caught.value.status_code == 404


# -- a hand-made site: same-site redirects, imports, bounds -------------------------


class HandMade:
    """A small aiohttp site serving the local app's files in other ways."""

    def __init__(self) -> None:
        self.files = _build(SitePages(), "gemini", "hand-made")
        self.seen: list[tuple[str, str]] = []
        self.auth_status = 200
        self.page_override: bytes | None = None
        self.chat_script: str | None = None
        self.stall_scripts = False
        self.release = asyncio.Event()

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self.seen.append((request.method, request.path))
        if request.path == "/":
            raise web.HTTPFound("/chat/")  # same site: followed
        if request.path == "/chat/":
            body = self.page_override or self.files["/"].body
            return web.Response(body=body, content_type="text/html")
        if request.path == "/api/auth":
            if self.auth_status != 200:
                return web.Response(status=self.auth_status)
            return web.Response(text='{"code":0}')
        if request.path.startswith("/_astro/") and self.stall_scripts:
            await self.release.wait()  # the test's end
        if request.path == "/_astro/split.js" and self.chat_script is not None:
            return web.Response(text=self.chat_script, content_type="text/javascript")
        file = self.files.get(request.path)
        if file is None:
            return web.Response(status=404)
        return web.Response(body=file.body, content_type=file.content_type)


@pytest.fixture
async def hand_made() -> AsyncIterator[tuple[HandMade, str]]:
    site = HandMade()
    runner = web.ServerRunner(web.Server(site.handle))
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = runner.addresses[0][1]
    try:
        yield site, f"http://127.0.0.1:{port}"
    finally:
        site.release.set()
        await runner.cleanup()


async def test_tls_is_verified_unless_turned_off():
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    site = HandMade()
    runner = web.ServerRunner(web.Server(site.handle))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
    url = f"https://127.0.0.1:{runner.addresses[0][1]}"
    try:
        with pytest.raises(APIConnectionError, match="certificate"):
            await probe_site(url)
        assert site.seen == []
        found = await probe_site(url, options=ProbeOptions(verify_ssl=False))
        assert (found.base_url, found.secret) == (url, "hand-made")
        model = await ChatAIChatFree.afrom_site(url, verify_ssl=False)
        assert (model.secret, model.verify_ssl) == ("hand-made", False)
    finally:
        await runner.cleanup()


async def test_the_models_timeouts_bound_the_probe(hand_made):
    site, url = hand_made
    site.stall_scripts = True
    with pytest.raises(APITimeoutError, match="did not answer in time"):
        await ChatAIChatFree.afrom_site(url, chunk_timeout=0.2)


async def test_same_site_redirects_are_followed(hand_made):
    site, url = hand_made
    found = await probe_site(url + "/")
    assert (found.base_url, found.secret) == (url, "hand-made")
    assert site.seen[:2] == [("GET", "/"), ("GET", "/chat/")]


async def test_signing_function_in_an_imported_chunk_is_found(hand_made):
    site, url = hand_made
    # The chat component imports the chunk that holds generateSignature.
    site.chat_script = (
        'import{g as generateSignature}from"./auth.chunk.js";'
        'fetch("/api/generate",{body:JSON.stringify({messages:l})});'
        'l.map(k=>({role:k.role==="assistant"?"model":"user",parts:[{text:k.c}]}))'
    )
    site.files = {
        **site.files,
        "/_astro/auth.chunk.js": type(site.files["/"])(
            b"const generateSignature=async r=>{const{t:e,m:t}=r,a=`${e}:${t}:split`;"
            b"return 1};export{generateSignature as g};",
            "text/javascript",
        ),
    }
    site.page_override = (
        b'<astro-island component-url="/_astro/split.js" opts="{}"></astro-island>'
    )
    found = await probe_site(url)
    assert (found.dialect, found.secret) == ("gemini", "split")
    assert found.script_url == url + "/_astro/auth.chunk.js"


async def test_the_number_of_scripts_fetched_is_bounded(hand_made):
    site, url = hand_made
    tags = "".join(f'<script src="/_astro/n{i}.js"></script>' for i in range(12))
    site.page_override = f"<html><head>{tags}</head></html>".encode()
    with pytest.raises(SiteProbeError, match="stopped after 8 scripts; 4 more"):
        await probe_site(url)
    assert len([path for _, path in site.seen if path.startswith("/_astro/")]) == 8


async def test_a_page_larger_than_the_bound_is_refused(hand_made):
    site, url = hand_made
    site.page_override = b"<html>" + b" " * 2000 + b"</html>"
    options = ProbeOptions(max_page_bytes=1000)
    with pytest.raises(SiteProbeError, match="larger than 1000 bytes"):
        await probe_site(url, options=options)


async def test_a_site_without_the_password_check_says_so(hand_made):
    site, url = hand_made
    site.auth_status = 404
    with pytest.raises(SiteProbeError, match=r"/api/auth did not answer .* HTTP 404"):
        await probe_site(url)


# -- from_site ----------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["gemini", "chatgpt-demo"])
async def test_afrom_site_returns_a_configured_model(dialect):
    async with LocalServer(dialect=dialect, secret="k2", passwords=PASSWORD) as server:
        model = await ChatAIChatFree.afrom_site(
            server.url, PASSWORD, max_retries=0, temperature=0.5, model="gemini-x"
        )
        async with model:
            assert (model.base_url, model.dialect, model.secret) == (
                server.url,
                dialect,
                "k2",
            )
            assert (model.max_retries, model.temperature, model.model) == (
                0,
                0.5,
                "gemini-x",
            )
            assert (await model.ainvoke("hi")).content == "Echo: hi"
        assert PASSWORD not in repr(model)


def test_from_site_sync_reads_the_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("AICHATFREE_PASSWORD", PASSWORD)
    with LocalServer(secret="k3", passwords=PASSWORD) as server:
        with ChatAIChatFree.from_site(server.url) as model:
            assert model.invoke("hi").content == "Echo: hi"
            assert model.password is not None
        assert [r.path for r in server.site_requests].count("/api/auth") == 2


def test_from_site_password_problems_are_authentication_errors(monkeypatch):
    monkeypatch.delenv("AICHATFREE_PASSWORD", raising=False)
    with LocalServer(passwords=PASSWORD) as server:
        with pytest.raises(AuthenticationError, match="requires a password"):
            ChatAIChatFree.from_site(server.url)
        with pytest.raises(AuthenticationError, match="refused the password"):
            ChatAIChatFree.from_site(server.url, password=WRONG)
        # The field's own name and alias are read too.
        model = ChatAIChatFree.from_site(server.url, api_key=PASSWORD)
        assert model.password is not None
        assert model.password.get_secret_value() == PASSWORD


def test_from_site_checks_every_setting_before_any_request():
    with LocalServer() as server:
        with pytest.raises(ValueError, match="max_retries"):
            ChatAIChatFree.from_site(server.url, max_retries=-1)
        with pytest.raises(ValueError, match="password"):
            ChatAIChatFree.from_site(server.url, password="bad \ud800")
        assert server.site_requests == []
        # No limit (inf) is a valid setting: each probe request is still bounded.
        model = ChatAIChatFree.from_site(server.url, timeout=float("inf"))
        assert model.timeout is None


def test_from_site_refuses_the_settings_it_finds():
    with pytest.raises(TypeError, match="finds dialect, secret itself"):
        ChatAIChatFree.from_site("http://127.0.0.1:1", secret="x", dialect="gemini")


def test_from_site_fails_clearly_on_an_unrelated_site():
    with (
        LocalServer(site=SitePages(variant="unrelated")) as server,
        pytest.raises(SiteProbeError, match="not a GeminiProChat"),
    ):
        ChatAIChatFree.from_site(server.url)


def test_local_server_without_site_keeps_get_a_404():
    with LocalServer(site=None) as server:
        import urllib.request

        with pytest.raises(Exception, match="404"):
            urllib.request.urlopen(server.url + "/", timeout=5)


# -- through the real command -------------------------------------------------------


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, LocalServer]]:
    with (
        LocalServer(secret="cli-secret", passwords=PASSWORD) as gemini,
        LocalServer(dialect="chatgpt-demo") as chatgpt,
        LocalServer(site=SitePages(variant="unrelated")) as unrelated,
    ):
        yield {"gemini": gemini, "chatgpt": chatgpt, "unrelated": unrelated}


@pytest.fixture(scope="module")
def runs(
    servers: dict[str, LocalServer],
) -> dict[str, subprocess.CompletedProcess[str]]:
    """The real command, once per exit status (processes are slow to start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    gemini = servers["gemini"].url
    cases: dict[str, tuple[list[str], dict[str, str]]] = {
        "text": ([gemini], {}),
        "wrong": ([gemini, "--json"], {"AICHATFREE_PASSWORD": WRONG}),
        "check": ([gemini, "--check"], {"AICHATFREE_PASSWORD": PASSWORD}),
        "unrelated": ([servers["unrelated"].url], {}),
        "closed": ([closed], {}),
    }

    def run(case: tuple[list[str], dict[str, str]]) -> Any:
        args, env = case
        return lambda: run_command(["probe", *args], child_env(**env))

    return run_each({name: run(case) for name, case in cases.items()})


@pytest.fixture
def run_main(monkeypatch, capsys):
    """The command's `main()` in this process: the same code, no start-up."""

    def run(*argv: str, **env: str) -> Result:
        monkeypatch.delenv("AICHATFREE_PASSWORD", raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        code = main(["probe", *argv])
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def no_password(result: subprocess.CompletedProcess[str]) -> None:
    assert PASSWORD not in result.stdout + result.stderr
    assert WRONG not in result.stdout + result.stderr


def test_cli_prints_what_it_found_and_the_settings(runs, servers):
    result = runs["text"]
    assert result.returncode == 0, result.stderr
    url = servers["gemini"].url
    out = result.stdout
    assert f"Site:      {url}\n" in out
    assert "Family:    GeminiProChat (dialect 'gemini')" in out
    assert "Secret:    'cli-secret' (public" in out
    assert "Password:  required; set AICHATFREE_PASSWORD" in out
    assert f"  export AICHATFREE_BASE_URL={url}\n" in out
    assert "  export AICHATFREE_DIALECT=gemini\n" in out
    assert "  export AICHATFREE_SECRET=cli-secret\n" in out
    assert "read -rs AICHATFREE_PASSWORD && export AICHATFREE_PASSWORD" in out
    assert f"      base_url={url!r},\n      dialect='gemini',\n" in out
    assert result.stderr == ""


def test_cli_json(run_main, servers):
    result = run_main(servers["chatgpt"].url, "--json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found == {
        "base_url": servers["chatgpt"].url,
        "dialect": "chatgpt-demo",
        "secret": "",
        "password_required": False,
        "password_accepted": None,
        "script_url": found["script_url"],
        "notes": [],
        "check": None,
    }
    assert found["script_url"].startswith(servers["chatgpt"].url + "/_astro/")


def test_cli_timeout_inf_is_no_limit_of_the_answer(run_main, servers):
    result = run_main(servers["chatgpt"].url, "--json", "--check", "--timeout", "inf")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["check"]["answered"] is True


def test_cli_json_with_a_password(run_main, servers):
    result = run_main(servers["gemini"].url, "--json", AICHATFREE_PASSWORD=PASSWORD)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert (found["password_required"], found["password_accepted"]) == (True, True)
    no_password(result)


def test_cli_refused_password_exits_3(runs):
    result = runs["wrong"]
    assert result.returncode == 3
    assert json.loads(result.stdout)["password_accepted"] is False
    assert "refused the password" in result.stderr
    no_password(result)


def test_cli_check_sends_one_tiny_question(runs, servers):
    result = runs["check"]
    assert result.returncode == 0, result.stderr
    assert "Check:     answered 'Echo: Reply with the single word OK.'" in result.stdout
    sent = generate_requests(servers["gemini"])
    assert len(sent) == 1
    assert sent[0].payload["pass"] == PASSWORD
    no_password(result)


def test_cli_check_in_json(run_main, servers):
    result = run_main(servers["chatgpt"].url, "--check", "--json")
    assert result.returncode == 0, result.stderr
    check = json.loads(result.stdout)["check"]
    assert check == {"answered": True, "text": "Echo: Reply with the single word OK."}


def test_cli_unrelated_site_exits_2_saying_what_it_saw(runs):
    result = runs["unrelated"]
    assert result.returncode == 2
    assert result.stdout == ""
    line = result.stderr.strip()
    assert line.startswith("aichatfree: probe failed: ")
    assert "is not a GeminiProChat or chatgpt-demo site" in line
    assert "'Notes from the garden'" in line


def test_cli_unrelated_site_in_json(run_main, servers):
    result = run_main(servers["unrelated"].url, "--json")
    assert result.returncode == 2
    error = json.loads(result.stdout)["error"]
    assert (error["type"], error["exit_code"]) == ("SiteProbeError", 2)


def test_cli_unreachable_site_exits_6(runs):
    result = runs["closed"]
    assert result.returncode == 6
    assert "network error: Could not reach" in result.stderr
    assert "Check the URL and your connection." in result.stderr
    assert "--base-url" not in result.stderr


def test_cli_bad_url_exits_2(run_main):
    result = run_main("ftp://your.site")
    assert result.returncode == 2
    assert "expected a site's http(s) URL" in result.stderr


def test_cli_ask_password_checks_the_typed_one(run_main, servers, monkeypatch):
    server = servers["gemini"]
    server.clear()
    prompts: list[str] = []

    def typed(prompt: str) -> str:  # the terminal: what a person types
        prompts.append(prompt)
        return PASSWORD

    monkeypatch.setattr(getpass, "getpass", typed)
    result = run_main(server.url, "--ask-password", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["password_accepted"] is True
    assert prompts == ["Site password (hidden): "]
    assert json.loads(server.site_requests[-1].body) == {"pass": PASSWORD}
    no_password(result)


def test_cli_password_flag_is_refused(run_main):
    result = run_main("http://127.0.0.1:1", "--password", PASSWORD)
    assert result.returncode == 2
    assert "process list" in result.stderr


# -- Deployment.from_site -----------------------------------------------------------


@pytest.mark.parametrize("dialect", ["gemini", "chatgpt-demo"])
async def test_deployment_afrom_site_finds_the_settings(dialect):
    async with LocalServer(dialect=dialect, secret="k4", passwords=PASSWORD) as server:
        deployment = await Deployment.afrom_site(
            server.url, PASSWORD, rpm=7, quota_group="proj"
        )
        assert (deployment.base_url, deployment.dialect, deployment.secret) == (
            server.url,
            dialect,
            "k4",
        )
        assert (deployment.rpm, deployment.quota_group) == (7, "proj")
        assert deployment.password is not None
        assert PASSWORD not in repr(deployment)
        async with ChatAIChatFree(deployments=[deployment], max_retries=0) as model:
            assert (await model.ainvoke("hi")).content == "Echo: hi"
        # The probe asked no question: the one request to the API is ours.
        assert len(server.requests) == 1


def test_deployment_from_site_sync_and_its_refusals():
    with LocalServer(secret="k5", passwords=PASSWORD) as server:
        assert Deployment.from_site(server.url, PASSWORD).secret == "k5"
        with pytest.raises(AuthenticationError):
            Deployment.from_site(server.url)  # a password is needed
        with pytest.raises(AuthenticationError):
            Deployment.from_site(server.url, "wrong")
        with pytest.raises(TypeError, match="secret"):
            Deployment.from_site(server.url, PASSWORD, secret="x")
        fetched = len(server.site_requests)
        with pytest.raises(ValueError, match="rpm"):
            Deployment.from_site(server.url, PASSWORD, rpm=0)
        assert len(server.site_requests) == fetched  # refused before any fetch
        assert server.requests == []  # the probe never asks a question
