"""`intake-admin check-site` sees what a browser sees.

A server (or a proxy in front of it) can tell a checking tool from an
applicant's browser by the request's headers and serve each what it expects.
Here a real server sits behind a hostile reverse proxy on loopback that
serves tampered bytes, or a loosened header, only to clients whose headers
look like a real browser's. check-site fetches through real headless
Chromium (and, with `--http`, with a browser's headers), so it is served
what the applicant is served, and fails.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live_server import LiveServer

from .conftest import Organisation, serve
from .people import People, Person
from .support import (
    copy_app_package,
    publish,
    pythonpath_with,
    server_chain,
    sign_draft,
    write_chain,
)
from .tampering_proxy import replace_header, replace_script, tampering_proxy

pytestmark = pytest.mark.browser

TARGET = "/static/js/mailbox-page.js"
# What the attacker's script does first: mark the page, so the test can see it ran.
PAYLOAD = b"\ndocument.documentElement.dataset.tampered = 'yes';\n"
LOOSE_CSP = "default-src * 'unsafe-inline' 'unsafe-eval'; connect-src *"


def signed_site(
    people: People, organisation: Organisation, url: str, tag: str, *extra: object
) -> Path:
    """a1 drafts from the live server, a1 and a2 sign, a1 combines."""
    a1, a2 = people.admin("admin-a1"), people.admin("admin-a2")
    root = a1.receive(organisation.trust_root, f"{tag}-root.json")
    draft = a1.home / f"{tag}.draft.json"
    a1.run(
        "intake-admin", "site-digest", "--server", url, "--trust-root", root, "--out", draft, *extra
    )
    sigs = sign_draft(draft, [a1, a2], a1, tag)
    chain = write_chain(a1.home / f"{tag}-chain.json", server_chain(url))
    signed = a1.home / f"{tag}.json"
    a1.run("intake-admin", "combine", draft, *sigs, "--current", chain, "--out", signed)
    return signed


@contextmanager
def snapshot_server(organisation: Organisation, work: Path) -> Iterator[LiveServer]:
    """A real server running from a copy of the `app` package: the files it
    serves cannot change under the test (the checkout's may, while it is edited)."""
    copy = copy_app_package(work / "app-copy")
    with serve(organisation, work / "server", PYTHONPATH=pythonpath_with(copy)) as live:
        yield live


@pytest.fixture(scope="module")
def server(
    organisation: Organisation, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with snapshot_server(organisation, tmp_path_factory.mktemp("snapshot")) as live:
        yield live


@pytest.fixture(scope="module")
def published(people: People, organisation: Organisation, server: LiveServer) -> Path:
    signed = signed_site(people, organisation, server.url, "browser-site")
    publish(people.admin("admin-a1"), server.url, signed)
    return signed


@pytest.fixture(scope="module")
def outsider(people: People, organisation: Organisation) -> tuple[Person, Path]:
    """Anyone outside, with nothing but the trust root."""
    boris = people.verifiers["boris"]
    return boris, boris.receive(organisation.trust_root, "check-root.json")


def check_site(who: tuple[Person, Path], url: str, *args: str) -> subprocess.CompletedProcess[str]:
    person, root = who
    return person.run("intake-admin", "check-site", url, "--trust-root", root, *args, ok=False)


def tampered_marker(chromium: Any, url: str) -> str | None:
    """Load the mailbox page as an applicant would; the attacker's mark, if its script ran."""
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(url + "/mailbox/")
        page.wait_for_function(
            "() => document.getElementById('mailbox').dataset.state !== 'loading'"
        )
        marker = page.evaluate("document.documentElement.dataset.tampered ?? null")
        return None if marker is None else str(marker)
    finally:
        context.close()


@pytest.fixture(scope="module")
def tampered_script(server: LiveServer) -> tuple[bytes, bytes]:
    original = httpx.get(server.url + TARGET).raise_for_status().content
    return original, original + PAYLOAD


def test_check_site_is_served_what_a_browser_is_served_and_flags_a_script_swapped_for_browsers(
    outsider: tuple[Person, Path],
    server: LiveServer,
    published: Path,
    chromium: Any,
    tampered_script: tuple[bytes, bytes],
) -> None:
    original, tampered = tampered_script
    with tampering_proxy(server.url, replace_script(TARGET, tampered, original)) as (url, log):
        # The attack works: a browser behind the proxy runs the attacker's script.
        assert tampered_marker(chromium, url) == "yes"

        flagged = check_site(outsider, url)
        assert flagged.returncode == 1, flagged.stderr
        changed = {line.split(":")[0] for line in flagged.stderr.splitlines()}
        # The script, and each mailbox page (whose SRI was rewritten), in both languages.
        for path in (TARGET, "/mailbox/", "/en/mailbox/"):
            assert f"CHANGED {path}" in changed, flagged.stderr
        assert "differs from the site document the admins signed" in flagged.stderr
        assert TARGET in log.to_browsers

        # The standard-library fallback sends a browser's headers too.
        fallback = check_site(outsider, url, "--http")
        assert fallback.returncode == 1, fallback.stderr
        assert f"CHANGED {TARGET}:" in fallback.stderr


def test_check_site_flags_a_security_header_loosened_for_browsers_only(
    outsider: tuple[Person, Path], server: LiveServer, published: Path
) -> None:
    with tampering_proxy(server.url, replace_header("Content-Security-Policy", LOOSE_CSP)) as (
        url,
        _log,
    ):
        flagged = check_site(outsider, url, "--json")
    assert flagged.returncode == 1, flagged.stderr
    report = json.loads(flagged.stdout)
    assert report["ok"] is False
    # Every byte matches; every path's CSP is reported, with what was signed and what came.
    assert not [f for f in report["files"].values() if f["status"] != "ok"]
    csp = [h for h in report["headers"] if h["name"] == "content-security-policy"]
    assert {h["path"] for h in csp} >= {"/", "/en/", "/mailbox/", TARGET}
    assert all(h["actual"] == LOOSE_CSP and "default-src 'none'" in h["expected"] for h in csp)
    assert "HEADER / content-security-policy" in flagged.stderr


def test_check_site_passes_an_honest_server_in_browser_mode(
    outsider: tuple[Person, Path], server: LiveServer, published: Path
) -> None:
    # Honest, yet behind a proxy: the checker is not fooled into false alarms either.
    with tampering_proxy(server.url, None) as (url, log):
        passed = check_site(outsider, url, "--json")
    assert passed.returncode == 0, passed.stderr
    report = json.loads(passed.stdout)
    assert report["ok"] is True
    assert report["mode"] == "browser"
    assert report["site_document"]["headers_signed"] is True
    for path in ("/", "/en/", "/mailbox/", "/en/mailbox/", TARGET, "/static/wordlists/ru.txt"):
        assert report["files"][path]["status"] == "ok", path
    assert "OK: all" in passed.stderr
    assert TARGET in log.to_others or TARGET in log.to_browsers


@pytest.fixture
def fresh_server(organisation: Organisation, tmp_path: Path) -> Iterator[LiveServer]:
    with snapshot_server(organisation, tmp_path) as live:
        yield live


def test_a_site_document_without_signed_headers_fails_unless_allowed(
    people: People,
    organisation: Organisation,
    outsider: tuple[Person, Path],
    fresh_server: LiveServer,
) -> None:
    """A version-2 document (no `headers`) is still accepted by the server,
    but check-site says the headers are not covered and fails by default."""
    a1, a2 = people.admin("admin-a1"), people.admin("admin-a2")
    v3 = json.loads(signed_site(people, organisation, fresh_server.url, "v2-site").read_text())
    payload = json.loads(base64.b64decode(v3["payload"]))
    del payload["headers"]
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    v2_draft = a1.home / "v2-only.draft.json"
    v2_draft.write_text(
        json.dumps(
            {
                "payloadType": v3["payloadType"],
                "payload": base64.b64encode(canonical.encode()).decode(),
                "signatures": [],
            }
        )
    )
    sigs = sign_draft(v2_draft, [a1, a2], a1, "v2-only")
    chain = write_chain(a1.home / "v2-only-chain.json", server_chain(fresh_server.url))
    v2 = a1.home / "v2-only.json"
    a1.run("intake-admin", "combine", v2_draft, *sigs, "--current", chain, "--out", v2)
    publish(a1, fresh_server.url, v2)

    refused = check_site(outsider, fresh_server.url)
    assert refused.returncode == 1, refused.stderr
    assert "headers not covered" in refused.stderr
    allowed = check_site(outsider, fresh_server.url, "--allow-unsigned-headers")
    assert allowed.returncode == 0, allowed.stderr
    assert "headers not covered" in allowed.stderr


def test_check_site_through_a_dead_proxy_fails_and_never_goes_direct(
    outsider: tuple[Person, Path], server: LiveServer, published: Path
) -> None:
    """With --proxy (Tor), nothing may bypass it: a proxy that is down is an
    error, not a silent direct connection from the checker's own address."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"socks5://127.0.0.1:{closed.getsockname()[1]}"
        for mode in ((), ("--http",)):
            failed = check_site(outsider, server.url, "--proxy", dead, *mode)
            assert failed.returncode != 0, failed.stderr
            assert "OK: all" not in failed.stderr
