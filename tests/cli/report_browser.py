"""Opening a case report (answers.html) in headless Chromium, as a volunteer would.

Shared by the test that proves hostile answers stay inert and by
`python -m tests.cli.case_report_screenshot`, which re-makes the picture in
docs/screenshots/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.browser import launch_chromium


@dataclass
class Rendered:
    """What the page did and held once loaded."""

    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # resolved hrefs
    elements: dict[str, int] = field(default_factory=dict)
    text: str = ""
    urgent: str = ""


def render_report(report: Path, screenshot: Path | None = None, browser: Any = None) -> Rendered:
    """Load `report` from disk in Chromium; note console lines, requests, dialogs
    and links; save a full-page screenshot if asked. Tests pass the session's
    `browser` (a second sync Playwright cannot start inside the first); the
    screenshot script launches its own."""
    if browser is not None:
        return _render(browser, report, screenshot)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        own = launch_chromium(p)
        try:
            return _render(own, report, screenshot)
        finally:
            own.close()


def _render(browser: Any, report: Path, screenshot: Path | None) -> Rendered:
    seen = Rendered()
    url = report.resolve().as_uri()
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    try:
        page.on("console", lambda m: seen.console.append(f"{m.type}: {m.text}"))
        page.on("request", lambda r: seen.requests.append(r.url))
        page.on("dialog", lambda d: _dismiss(d, seen))
        page.goto(url)
        page.wait_for_load_state("load")
        # Evaluated through the DevTools protocol, which the page's CSP does not govern.
        seen.links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        for tag in ("script", "img", "iframe", "object", "embed", "form", "style", "a"):
            seen.elements[tag] = page.locator(tag).count()
        seen.text = page.inner_text("body")
        urgent = page.locator(".urgent")
        seen.urgent = urgent.inner_text() if urgent.count() else ""
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
    finally:
        page.close()
    return seen


def _dismiss(dialog: Any, seen: Rendered) -> None:
    seen.dialogs.append(dialog.message)
    dialog.dismiss()
