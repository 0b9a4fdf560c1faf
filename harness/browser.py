"""Launching Debian's Chromium through Playwright, as ../shared/TESTING.md says works here.

Never `playwright install`: it downloads a browser, which this network refuses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")

BASE_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
]

# Tor Browser's "Safer" level: no JIT, hence no WebAssembly.
JITLESS_ARGS = ["--js-flags=--jitless"]


def launch_chromium(playwright: Any, *, jitless: bool = False) -> Any:
    """A headless Chromium; with `jitless`, `typeof WebAssembly` is "undefined" in its pages."""
    args = BASE_ARGS + (JITLESS_ARGS if jitless else [])
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=args, headless=True)
