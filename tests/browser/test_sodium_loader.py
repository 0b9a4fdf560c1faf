"""The loader runs libsodium from our origin, pinned by SRI, under the CSP, in both builds."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest

from tests.browser.conftest import Harness, StaticServer

pytestmark = pytest.mark.browser


def test_wasm_mode_uses_webassembly_and_jitless_mode_has_none(harness: Harness) -> None:
    if harness.mode == "wasm":
        assert harness.info["webAssembly"] == "object"
        assert harness.info["build"] == "wasm"
    else:
        # Tor Browser "Safer": the emulation only proves something if WebAssembly is really gone.
        assert harness.info["webAssembly"] == "undefined"
        assert harness.info["build"] == "asmjs"
    assert harness.info["wasmFailure"] is None
    assert harness.info["sodiumVersion"].startswith("1.0.")


def test_libsodium_runs_under_the_page_csp_without_eval(harness: Harness) -> None:
    # The harness is served with script-src 'self' 'wasm-unsafe-eval' and no
    # 'unsafe-eval': any eval or inline script would be reported here.
    assert harness.violations() == []
    # And it actually computes: BLAKE2b of "abc" (RFC 7693 test vector, 64 bytes).
    digest = harness.page.evaluate(
        "() => { const IC = window.harness.IC;"
        " return IC.hex(IC.blake2b(64, new TextEncoder().encode('abc'))); }"
    )
    assert digest.startswith("ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1")


Loader = Callable[[str], AbstractContextManager[Harness]]


@pytest.fixture
def load(browser: Any, browser_mode: str, static_server: StaticServer) -> Loader:
    """Opens a harness page of the static server (`path`) in a context of its own,
    closed when the block ends."""

    @contextmanager
    def loaded(path: str) -> Iterator[Harness]:
        context = browser.new_context()
        try:
            yield open_harness_allowing_errors(
                context.new_page(), static_server.url + path, browser_mode
            )
        finally:
            context.close()

    return loaded


def open_harness_allowing_errors(page: Any, url: str, mode: str) -> Harness:
    """Like open_harness, but a page error (an expected load failure) is not fatal."""
    page.goto(url)
    page.wait_for_function("() => window.harness !== undefined", timeout=30_000)
    return Harness(page, mode, page.evaluate("() => window.harness.ready"))


def test_a_tampered_module_is_refused_and_the_pinned_classic_build_used(load: Loader) -> None:
    with load("/harness/index.html?tamper=libsodium.mjs") as h:
        assert h.info["error"] is None
        if h.mode == "wasm":
            # The .mjs failed its integrity check, so it never ran...
            assert "integrity" in h.info["wasmFailure"]
        # ...and what runs instead is the classic build, itself pinned: its
        # asm.js backup (the vendored classic build carries no WebAssembly).
        assert h.info["build"] == "asmjs"


@pytest.mark.parametrize("tampered", [False, True], ids=["as-built", "one-bit-changed"])
def test_a_tampered_webassembly_binary_is_refused_and_the_classic_build_used(
    browser: Any, browser_mode: str, static_server: StaticServer, tampered: bool
) -> None:
    # libsodium-boot.mjs fetches libsodium.wasm under the SRI value written
    # into it: a server that swaps the binary (one bit changed) is refused,
    # and the page falls back to the classic build, itself pinned. The same
    # route handing over the binary as built shows it is the bit that counts.
    if browser_mode != "wasm":
        pytest.skip("without WebAssembly the binary is never fetched")
    context = browser.new_context()
    served: list[str] = []

    def serve(route: Any) -> None:
        body = bytearray(route.fetch().body())
        if tampered:
            body[-1] ^= 1
        served.append(route.request.url)
        route.fulfill(status=200, body=bytes(body), content_type="application/wasm")

    try:
        page = context.new_page()
        page.route("**/static/vendor/libsodium.wasm", serve)
        h = open_harness_allowing_errors(
            page, static_server.url + "/harness/index.html", browser_mode
        )
        assert len(served) == 1
        assert h.info["error"] is None
        if tampered:
            # fetch() refuses a body whose digest is not the pinned one.
            assert h.info["wasmFailure"] == "Failed to fetch"
            assert h.page.evaluate("() => typeof window.libsodium") == "object"
        else:
            assert h.info["wasmFailure"] is None
            assert h.page.evaluate("() => typeof window.libsodium") == "undefined"
        # The classic build carries only asm.js (scripts/trim_libsodium.py).
        assert h.info["build"] == ("asmjs" if tampered else "wasm")
    finally:
        context.close()


def test_nothing_loads_when_every_build_fails_its_integrity_check(load: Loader) -> None:
    with load("/harness/index.html?tamper=libsodium.mjs,libsodium.js") as h:
        assert h.info["build"] is None
        assert "libsodium.js failed to load or failed its integrity check" in h.info["error"]
        assert h.page.evaluate("() => typeof window.sodium") == "undefined"


def test_a_csp_without_wasm_unsafe_eval_falls_back_to_asmjs(load: Loader) -> None:
    with load("/harness-nowasm/index.html") as h:
        assert h.info["error"] is None
        assert h.info["build"] == "asmjs"
        sealed = h.page.evaluate("() => window.harness.IC.paddedSize(5000)")
        assert sealed == 5120


def test_the_loader_refuses_a_file_it_has_no_integrity_value_for(
    browser: Any, browser_mode: str, static_server: StaticServer
) -> None:
    page = browser.new_context().new_page()
    try:
        page.goto(f"{static_server.url}/harness/index.html")
        page.wait_for_function("() => window.harness !== undefined")
        page.evaluate("() => window.harness.ready")
        error = page.evaluate(
            """async () => {
                const loader = await import('/static/js/sodium-loader.js?fresh');
                try { await loader.loadSodium({}); return null; } catch (e) { return e.message; }
            }"""
        )
        assert error is not None and "no integrity value" in error
    finally:
        page.context.close()
