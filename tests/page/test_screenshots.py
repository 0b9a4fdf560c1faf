"""Phone screenshots of the intake form for docs/screenshots/ (Russian, 360x740).

Not a check: it runs only when asked, and rewrites the pictures from the page
as it is now:

    INTAKE_SCREENSHOTS=1 .venv/bin/pytest -q tests/page/test_screenshots.py

writes docs/screenshots/intake-1-first-step.png, intake-2-error-summary.png,
intake-3-check-answers.png and intake-4-sent.png.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.page import flow
from tests.support.live_server import LiveServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        os.environ.get("INTAKE_SCREENSHOTS") != "1",
        reason="makes the docs' screenshots: set INTAKE_SCREENSHOTS=1 to rewrite them",
    ),
]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def shoot(page: Page, name: str) -> None:
    """What a 360x740 phone shows, from the top of the page."""
    DOCS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(DOCS / f"intake-{name}.png"))


def test_write_the_intake_screenshots(chromium: Browser, page_server: LiveServer) -> None:
    context, page = flow.phone_context(chromium)
    flow.open_page(page, page_server)
    shoot(page, "1-first-step")

    page.check("#q-country-armenia")
    page.fill("#q-city", "Ереван")
    page.select_option("#q-arrived-month", "03")  # no year: refused, with the summary
    page.locator(f"{flow.CURRENT_STEP} button[data-go=next]").click()
    expect(page.locator("#form-alert")).to_be_focused()
    shoot(page, "2-error-summary")

    page.select_option("#q-arrived-year", "2023")
    flow.next_step(page)
    page.check("#q-documents-foreign-passport")
    page.check("#q-documents-military-id")
    flow.go_to(page, "danger")
    page.check("#q-dangers-expiring-stay")
    flow.fill(page, "#q-story", "Мобилизовали в сентябре 2022 года, в марте я уехал.")
    flow.go_to(page, "reply")
    flow.choose_codename(page)
    flow.go_to(page, "send")
    shoot(page, "3-check-answers")

    page.check("#q-consent")
    page.click("#send")
    expect(page.locator("#done")).to_be_visible(timeout=120_000)
    shoot(page, "4-sent")
    context.close()
