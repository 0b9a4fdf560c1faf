"""Real Chromium driving the applicant's crypto module against a small static server.

The server (Python's ``http.server`` in a thread, on 127.0.0.1 and a free
port) serves ``app/static/`` at ``/static/``, ``tests/vectors/`` at
``/vectors/`` and the harness pages at ``/harness/``, every response under
the applicant page's Content-Security-Policy (no inline script, no eval), so
a test that passes here also runs under the real page's policy. ``/sink/NAME``
takes ``PUT ?offset=n`` bodies and appends them to a file, the way the real
upload API does, so envelopes of any size reach Python without crossing
``page.evaluate``.

Every browser test runs twice: ``wasm`` (an ordinary Chromium) and
``jitless`` (``--js-flags=--jitless``: no WebAssembly, as Tor Browser's
"Safer" level), where the asm.js build must do the same work.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import re
import shutil
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import BASE_ARGS, CHROMIUM, JITLESS_ARGS

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "app" / "static"
VECTORS = ROOT / "tests" / "vectors"
HARNESS = Path(__file__).resolve().parent / "harness"

# The applicant page's policy: scripts from our origin only, WebAssembly
# compilation allowed but no eval, fetches to our origin only.
CSP = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# The same without 'wasm-unsafe-eval': WebAssembly exists but may not compile,
# so the loader must fall back to the asm.js build.
CSP_NO_WASM = CSP.replace(" 'wasm-unsafe-eval'", "")

LAUNCH_ARGS = BASE_ARGS
MODES = {"wasm": [], "jitless": JITLESS_ARGS}

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".css": "text/css; charset=utf-8",
}
_SINK_NAME = re.compile(r"[a-z0-9-]{1,64}")


def _resolve(base: Path, rel: str) -> Path | None:
    """``base/rel`` if it is a file inside ``base`` (no ``..`` escapes)."""
    target = (base / rel).resolve()
    if base.resolve() not in target.parents or not target.is_file():
        return None
    return target


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a test's output should be its assertions."""

    def _send(self, status: int, body: bytes, content_type: str, csp: str = CSP) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", csp)
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        routes = {
            "/static/": (STATIC, CSP),
            "/vectors/": (VECTORS, CSP),
            "/harness/": (HARNESS, CSP),
            "/harness-nowasm/": (HARNESS, CSP_NO_WASM),
        }
        for prefix, (base, csp) in routes.items():
            if path.startswith(prefix):
                target = _resolve(base, urllib.parse.unquote(path[len(prefix) :]) or "index.html")
                if target is None:
                    break
                ctype = CONTENT_TYPES.get(target.suffix, "application/octet-stream")
                self._send(200, target.read_bytes(), ctype, csp)
                return
        self._send(404, b"not found", "text/plain")

    def do_PUT(self) -> None:
        """Append the body at ``?offset=n`` (409 if n is not the current size)."""
        parts = urllib.parse.urlsplit(self.path)
        name = parts.path.removeprefix("/sink/")
        query = urllib.parse.parse_qs(parts.query)
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if not parts.path.startswith("/sink/") or not _SINK_NAME.fullmatch(name):
            self._send(404, b"not found", "text/plain")
            return
        path = self.server.sink_dir / name
        with self.server.sink_lock:
            current = path.stat().st_size if path.exists() else 0
            offset = int(query.get("offset", ["-1"])[0])
            if offset != current:
                self._send(409, json.dumps({"offset": current}).encode(), "application/json")
                return
            with path.open("ab") as out:
                out.write(body)
            current += len(body)
        self._send(200, json.dumps({"offset": current}).encode(), "application/json")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    sink_dir: Path
    sink_lock: threading.Lock


@dataclass(frozen=True)
class StaticServer:
    """Where the harness is served and where uploaded envelopes land."""

    url: str
    sink_dir: Path

    def sink(self, name: str) -> Path:
        return self.sink_dir / name


@pytest.fixture(scope="session")
def static_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticServer]:
    if not (STATIC / "vendor" / "manifest.json").is_file():
        pytest.fail(
            "app/static/vendor/ is missing: run `npm ci --ignore-scripts` and "
            "`.venv/bin/python scripts/vendor_assets.py` (or `make vendor`)"
        )
    server = _Server(("127.0.0.1", 0), _Handler)
    server.sink_dir = tmp_path_factory.mktemp("sink")
    server.sink_lock = threading.Lock()
    thread = threading.Thread(target=server.serve_forever, name="static-server", daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield StaticServer(f"http://{host!s}:{port}", server.sink_dir)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        shutil.rmtree(server.sink_dir, ignore_errors=True)


@pytest.fixture(scope="session", params=sorted(MODES))
def browser_mode(request: pytest.FixtureRequest) -> str:
    """``wasm`` or ``jitless``: every browser test runs in both."""
    return str(request.param)


@pytest.fixture(scope="session")
def browser(playwright_instance: Any, browser_mode: str) -> Iterator[Any]:
    instance = playwright_instance.chromium.launch(
        executable_path=str(CHROMIUM), args=LAUNCH_ARGS + MODES[browser_mode], headless=True
    )
    try:
        yield instance
    finally:
        instance.close()


class Harness:
    """One harness page, loaded and ready (libsodium initialised)."""

    def __init__(self, page: Any, mode: str, info: dict[str, Any]) -> None:
        self.page = page
        self.mode = mode
        self.info = info

    def call(self, name: str, *args: Any) -> Any:
        """Await ``harness.NAME(...args)`` in the page and return its JSON result."""
        return self.page.evaluate(
            "async ([name, args]) => window.harness[name](...args)", [name, list(args)]
        )

    def violations(self) -> list[str]:
        return list(self.page.evaluate("() => window.harness.violations"))


def open_harness(page: Any, url: str, mode: str) -> Harness:
    """Load the harness at ``url`` and wait until libsodium is ready (or failed)."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.wait_for_function("() => window.harness !== undefined", timeout=30_000)
    info = page.evaluate("() => window.harness.ready")
    if errors:
        raise AssertionError(f"page errors: {errors}")
    return Harness(page, mode, info)


@pytest.fixture
def harness(browser: Any, browser_mode: str, static_server: StaticServer) -> Iterator[Harness]:
    context = browser.new_context()
    page = context.new_page()
    try:
        h = open_harness(page, f"{static_server.url}/harness/index.html", browser_mode)
        if h.info.get("error"):
            raise AssertionError(f"libsodium did not load: {h.info['error']}")
        yield h
    finally:
        with contextlib.suppress(Exception):
            context.close()
