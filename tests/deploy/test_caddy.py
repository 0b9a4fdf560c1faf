"""deploy/caddy/Caddyfile run by a real Caddy in front of a real `intake serve`.

The public site is served over plain HTTP here (INTAKE_DOMAIN=http://...):
certificates need a public name. Everything else is the production file,
unchanged: headers, body limits, the onion site, and logs without addresses.
The test client connects from 127.0.0.2, an address nothing else uses, so
finding it anywhere proves a leak.
"""

from __future__ import annotations

import gzip
import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import brotli
import httpx
import pytest

from app.security import security_headers
from app.settings import Settings
from harness.caddy import run_caddy
from tests.deploy.helpers import (
    DEPLOY,
    Org,
    prepare_database,
    require_tool,
    seal_submission,
    serve,
)

CLIENT_ADDRESS = "127.0.0.2"
ONION = "http://" + "a" * 56 + ".onion"
MiB = 2**20


def client() -> httpx.Client:
    """A client whose connections come from CLIENT_ADDRESS."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=CLIENT_ADDRESS), timeout=60)


@contextmanager
def caddy(upstream: str, log_path: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Caddy with the production Caddyfile; yields (public URL, onion URL)."""
    with run_caddy(upstream, log_path, tmp_path, caddy=require_tool("caddy")) as site:
        yield site.public, site.onion


@dataclass(frozen=True)
class Site:
    public: str
    onion: str
    caddy_log: Path
    app_log: Path
    settings: Settings


@pytest.fixture(scope="module")
def site(org: Org, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("caddy")
    env = prepare_database(
        org,
        f"sqlite:///{tmp / 'intake.db'}",
        tmp / "blobs",
        INTAKE_ONION_LOCATION=ONION,
        INTAKE_HTTPS="true",
    )
    with (
        serve(env, tmp / "app.log") as app,
        caddy(app.removeprefix("http://"), tmp / "caddy.log", tmp) as (public, onion),
    ):
        settings = Settings(environment="test", onion_location=ONION, https=True)
        yield Site(public, onion, tmp / "caddy.log", tmp / "app.log", settings)


def expected_headers(settings: Settings) -> dict[str, str]:
    return {name.decode(): value.decode() for name, value in security_headers(settings)}


def assert_security_headers(response: httpx.Response, expected: dict[str, str]) -> None:
    for name, value in expected.items():
        # Exactly once, and the app's value: Caddy replaces, never doubles.
        assert response.headers.get_list(name) == [value], name
    assert "server" not in response.headers
    assert "via" not in response.headers


def test_public_site_answers_with_the_apps_security_headers_once(site: Site) -> None:
    with client() as web:
        response = web.get(site.public + "/api/v1/manifests")
    assert response.status_code == 200
    assert_security_headers(response, expected_headers(site.settings))
    assert response.headers["onion-location"] == ONION


def test_caddys_own_error_answers_carry_the_same_headers(site: Site) -> None:
    with client() as web:
        response = web.post(
            site.public + "/api/v1/mailbox",
            content=b"{" + b" " * MiB + b"}",
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too-large"
    expected = expected_headers(site.settings)
    del expected["onion-location"]  # the app's header; this answer never reached the app
    assert_security_headers(response, expected)


@pytest.mark.parametrize("chunked", [False, True], ids=["declared-length", "chunked"])
def test_bodies_over_the_limit_are_refused_before_the_app(site: Site, chunked: bool) -> None:
    body = b"x" * (MiB + 1)
    with client() as web:
        content = iter([body[: MiB // 2], body[MiB // 2 :]]) if chunked else body
        response = web.post(
            site.public + "/api/v1/mailbox",
            content=content,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 413
        # Just under the limit reaches the app (which refuses it in its own words).
        small = web.post(
            site.public + "/api/v1/mailbox",
            content=b'{"token": "' + b"A" * (MiB - 100) + b'"}',
            headers={"Content-Type": "application/json"},
        )
    assert small.status_code == 422
    assert small.json()["error"]["code"] == "invalid-request"


def test_upload_chunks_have_their_own_larger_limit(site: Site, org: Org) -> None:
    envelope = seal_submission(org, "big", [20 * MiB]).envelopes
    eid = next(key for key in envelope if key != "form")
    declared = {
        "kind": "submission",
        "mailbox": None,
        "envelopes": [{"id": key, "size": len(data)} for key, data in envelope.items()],
    }
    with client() as web:
        created = web.post(site.public + "/api/v1/submissions", json=declared)
        assert created.status_code == 201, created.text
        target = f"{site.public}/api/v1/submissions/{created.json()['id']}/envelopes/{eid}"
        headers = {"Content-Type": "application/octet-stream"}
        # 2 MiB in one request: over the general limit, under the upload limit.
        fits = web.put(f"{target}?offset=0", content=envelope[eid][: 2 * MiB], headers=headers)
        assert fits.status_code == 200, fits.text
        assert fits.json() == {"offset": 2 * MiB}
        too_big = web.put(
            f"{target}?offset={2 * MiB}",
            content=envelope[eid][2 * MiB : 2 * MiB + 17 * MiB],
            headers=headers,
        )
        assert too_big.status_code == 413
        progress = web.get(target).json()
    # Whatever reached the app before the cut is kept; the upload resumes.
    assert 2 * MiB <= progress["offset"] <= 2 * MiB + 16 * MiB


def test_onion_site_drops_onion_location_and_hsts(site: Site) -> None:
    with client() as web:
        response = web.get(site.onion + "/api/v1/manifests", headers={"Host": ONION[7:]})
    assert response.status_code == 200
    assert "onion-location" not in response.headers
    assert "strict-transport-security" not in response.headers
    expected = expected_headers(site.settings)
    for name in ("onion-location", "strict-transport-security"):
        del expected[name]
    assert_security_headers(response, expected)


class Recorder(http.server.BaseHTTPRequestHandler):
    """An upstream that answers with the headers it received."""

    seen: list[dict[str, str]] = []  # noqa: RUF012 -- one recorder per test run

    def do_GET(self) -> None:
        Recorder.seen.append({k.lower(): v for k, v in self.headers.items()})
        body = json.dumps(Recorder.seen[-1]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_no_client_address_reaches_the_upstream_or_any_log(site: Site, tmp_path: Path) -> None:
    recorder = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=recorder.serve_forever, daemon=True)
    thread.start()
    log = tmp_path / "caddy.log"
    upstream = f"127.0.0.1:{recorder.server_address[1]}"
    with caddy(upstream, log, tmp_path) as (public, _), client() as web:
        seen = web.get(public + "/", headers={"X-Forwarded-For": "203.0.113.9"}).json()
        recorder.shutdown()
        recorder.server_close()
        # The upstream gone: Caddy's 502 path logs nothing about the request either.
        assert web.get(public + "/").status_code == 502
    assert {"x-forwarded-for", "x-real-ip", "forwarded", "x-forwarded-proto"}.isdisjoint(seen)
    # And none of the requests above, nor those of the other tests, left the
    # client's address (or any access log line) behind.
    for path in (log, site.caddy_log, site.app_log):
        text = path.read_text()
        assert CLIENT_ADDRESS not in text, path
        assert "203.0.113.9" not in text, path
        assert '"http.log.access' not in text, path


def test_the_apps_compressed_answers_pass_through_caddy_unchanged(site: Site) -> None:
    """Caddy forwards Accept-Encoding and hands back the app's coding, Vary and
    headers; the decoded bytes are the file's (its SRI holds). It compresses
    nothing itself: an API answer the app sends plain stays plain."""
    static = DEPLOY.parent / "app" / "static"
    expected = expected_headers(site.settings)
    with client() as web:
        for coding, decode in (("gzip", gzip.decompress), ("br", brotli.decompress)):
            for path in ("/static/vendor/libsodium.mjs", "/static/js/intake-page.js"):
                with web.stream(
                    "GET", site.public + path, headers={"Accept-Encoding": coding}
                ) as r:
                    raw = b"".join(r.iter_raw())
                assert r.status_code == 200, path
                assert r.headers["content-encoding"] == coding, path
                assert "accept-encoding" in r.headers["vary"].lower(), path
                assert decode(raw) == (static / path.removeprefix("/static/")).read_bytes()
                assert len(raw) < len(decode(raw))
                assert_security_headers(r, expected)
        page = web.get(site.public + "/", headers={"Accept-Encoding": "gzip"})
        assert page.headers["content-encoding"] == "gzip"
        assert "<html" in page.text
        plain = web.get(
            site.public + "/static/js/intake-page.js", headers={"Accept-Encoding": "identity"}
        )
        assert "content-encoding" not in plain.headers
        assert plain.content == (static / "js/intake-page.js").read_bytes()
        api = web.get(site.public + "/api/v1/status", headers={"Accept-Encoding": "gzip, br, zstd"})
        assert api.status_code == 200
        assert "content-encoding" not in api.headers
        # The one API answer the app compresses, the public manifest chain,
        # passes through as the app coded it.
        with web.stream(
            "GET", site.public + "/api/v1/manifests", headers={"Accept-Encoding": "br"}
        ) as chain:
            raw = b"".join(chain.iter_raw())
        assert chain.headers["content-encoding"] == "br"
        assert json.loads(brotli.decompress(raw))["chain"]
