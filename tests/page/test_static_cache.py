"""No script, stylesheet or word list of ours stays on the phone after a visit.

A border guard who searches the phone (or its backup) can read the browser's
disk cache: a cached `/static/js/intake-page.js` from this site says he came
here, whatever the history says. Every static answer is `no-store`, so the
browser keeps it only in memory for the page that loaded it.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.page import flow
from tests.support.browser import BASE_ARGS, CHROMIUM
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parents[2] / "app" / "static"
ASSETS = (
    "/static/js/intake-page.js",
    "/static/js/exif.js",
    "/static/css/intake.css",
    "/static/wordlists/ru.txt",
    "/static/vendor/libsodium.mjs",
)


def test_every_static_asset_is_served_no_store(page_server: LiveServer) -> None:
    for path in ASSETS:
        url = page_server.url + path  # http://127.0.0.1: the live test server
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 -- loopback
            assert response.status == 200, path
            assert response.headers["Cache-Control"] == "no-store", path


def files_under(folder: Path) -> Iterator[Path]:
    return (path for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def test_no_script_of_ours_is_left_in_chromiums_profile_after_a_visit(
    playwright_instance: Any, page_server: LiveServer, tmp_path: Path
) -> None:
    profile = tmp_path / "profile"
    context = playwright_instance.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), args=BASE_ARGS, headless=True
    )
    try:
        page = context.new_page()
        flow.open_page(page, page_server)  # every module loaded and libsodium running
        flow.go_to(page, "reply")
        page.check("#reply-yes")  # the codename fetches the word list too
        expect(page.locator("#codename-words li")).to_have_count(9, timeout=60_000)
        loaded = page.evaluate(
            "() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname)"
        )
    finally:
        context.close()  # flushes the caches to disk
    assert {"/static/js/intake-page.js", "/static/js/intake-crypto.js"} <= set(loaded)

    port = page_server.url.rsplit(":", 1)[1].encode()
    url_marker = b"127.0.0.1:" + port + b"/static/"
    # A line from a script's body too: a cache may keep the bytes under another key.
    body_marker = (STATIC / "js" / "intake-crypto.js").read_bytes()[:120]
    found = [
        str(path.relative_to(profile))
        for path in files_under(profile)
        if url_marker in (data := path.read_bytes()) or body_marker in data
    ]
    # V8's code cache ("Code Cache/js") still keeps a ~200-byte entry per
    # script, naming its URL, even for no-store answers: nothing a server can
    # send prevents it (SECURITY.md states it as a residual risk). Everything
    # else, the HTTP disk cache first, must hold none of our files.
    code_cache = [path for path in found if path.split("/")[1:2] == ["Code Cache"]]
    assert [path for path in found if path not in code_cache] == [], (
        f"our static files are stored in Chromium's profile: {found}"
    )
