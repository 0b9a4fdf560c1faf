"""The real intake page in Chromium, its files sent compressed, still gets encryption ready.

Subresource Integrity is checked over the decoded bytes: a coding that
changed them, or an SRI value computed over the compressed copy, would leave
the page stuck before "ready". Each coding is forced through the request's
Accept-Encoding; what the browser received is read from its own responses.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.page import flow
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser

# Loaded before "ready" on every browser (the WebAssembly build or the asm.js one).
OURS = {"/", "/static/js/intake-page.js", "/static/js/intake-crypto.js", "/static/css/intake.css"}


def ready_with(
    browser: Browser, server: LiveServer, accept: str, fetched: list[str] | None = None
) -> dict[str, str]:
    """Open the page with `accept` as Accept-Encoding until encryption is ready;
    path -> Content-Encoding of every answer from our server (and every
    path fetched, in order, into `fetched`)."""
    context = browser.new_context(extra_http_headers={"Accept-Encoding": accept})
    received: dict[str, str] = {}

    def note(response: Any) -> None:
        if response.url.startswith(server.url):
            path = response.url[len(server.url) :].split("?", 1)[0]
            received[path] = response.headers.get("content-encoding", "")
            if fetched is not None:
                fetched.append(path)

    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("response", note)
        flow.open_page(page, server)
        assert page.evaluate("() => document.querySelector('#status').textContent") != ""
        assert not errors, errors
    finally:
        context.close()
    return received


@pytest.mark.parametrize("coding", ["gzip", "br"])
def test_the_page_gets_ready_on_compressed_files(
    chromium: Browser, page_server: LiveServer, coding: str
) -> None:
    fetched: list[str] = []
    received = ready_with(chromium, page_server, coding, fetched)
    assert set(received) >= OURS
    vendor = [path for path in received if path.startswith("/static/vendor/")]
    assert vendor, received
    for path in [*OURS, *vendor]:
        assert received[path] == coding, path
    # Only the build this browser runs is fetched (sodium-preload.js chooses).
    assert "/static/vendor/libsodium.mjs" in vendor
    assert "/static/vendor/libsodium.js" not in vendor
    # The WebAssembly binary is fetched once: libsodium-boot.mjs's fetch() is
    # handed the response sodium-preload.js preloaded (same integrity, same mode).
    assert fetched.count("/static/vendor/libsodium.wasm") == 1, fetched
    # The manifest chain, public and the same for everyone, comes compressed too
    # (no other API answer does: tests/server/test_public_chain_compressed.py).
    assert received["/api/v1/manifests"] == coding


def test_the_safer_page_gets_ready_on_the_compressed_asmjs_build(
    chromium_jitless: Browser, page_server: LiveServer
) -> None:
    # Chromium's own Accept-Encoding: the server prefers br (app/compression.py).
    received = ready_with(chromium_jitless, page_server, "gzip, deflate, br, zstd")
    assert received["/static/vendor/libsodium.js"] == "br"
    assert received["/static/vendor/libsodium-wrappers.js"] == "br"
    # Without WebAssembly the ES-module build would be bytes for nothing.
    assert "/static/vendor/libsodium.mjs" not in received


def test_the_page_gets_ready_on_plain_files_too(chromium: Browser, page_server: LiveServer) -> None:
    received = ready_with(chromium, page_server, "identity")
    assert set(received) >= OURS
    assert set(received.values()) == {""}
