"""Fixtures shared by every test folder: one Playwright driver, the demo
organisation, real Chromium (with and without WebAssembly), a real server on
SQLite or PostgreSQL, and the offline tools' environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from crypto import _sodium
from tests.support.browser import CHROMIUM, launch_chromium
from tests.support.databases import postgres_unavailable_reason
from tests.support.demo import DEMO_PASSPHRASE
from tests.support.live_server import LiveServer, demo_server, run_cli


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Any]:
    """One Playwright driver for the whole run: the sync API allows only one per process."""
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: run `make chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def demo_org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo organisation exactly as `make run` makes it (real key files, real signatures)."""
    folder = tmp_path_factory.mktemp("org") / "demo"
    run_cli(["intake-admin", "demo", "--out", str(folder)], dict(os.environ))
    return folder


@pytest.fixture(params=["sqlite", "postgresql"])
def database_kind(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        reason = postgres_unavailable_reason()
        if reason:
            pytest.skip(reason)
    return str(request.param)


@pytest.fixture
def server(demo_org: Path, database_kind: str, tmp_path: Path) -> Iterator[LiveServer]:
    with demo_server(database_kind, demo_org, tmp_path) as live:
        yield live


@pytest.fixture(scope="session")
def chromium(playwright_instance: Any) -> Iterator[Browser]:
    browser = launch_chromium(playwright_instance)
    yield browser
    browser.close()


@pytest.fixture
def tools_env(demo_org: Path) -> dict[str, str]:
    """Environment for the offline tools: the demo passphrase, no server settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    env["INTAKE_PASSPHRASE"] = DEMO_PASSPHRASE
    return env


@pytest.fixture(scope="session")
def chromium_jitless(playwright_instance: Any) -> Iterator[Browser]:
    """Tor Browser's "Safer" level: no JIT, so no WebAssembly."""
    browser = launch_chromium(playwright_instance, jitless=True)
    yield browser
    browser.close()


@pytest.fixture
def no_aes_instructions() -> Iterator[None]:
    """libsodium's AES-256-GCM as on a CPU without AES instructions:
    unavailable (this machine has them; a real such laptop cannot be had)."""
    saved = _sodium._aes_available
    _sodium._aes_available = False
    try:
        yield
    finally:
        _sodium._aes_available = saved
