"""Every step, in Russian and in English, at 360 px: axe-core finds nothing serious,
and a screenshot of each is kept (var/screenshots/) for people to look at.

axe-core is injected as a script tag, which the page's CSP forbids (rightly):
only these contexts bypass the CSP, and only to run the checker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.page import flow
from tests.page.images import jpeg_with_gps
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "app" / "static" / "vendor" / "axe.min.js"
SERIOUS = {"serious", "critical"}


def serious_violations(page: Page) -> list[dict[str, Any]]:
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result: list[dict[str, Any]] = page.evaluate(
        """async () => {
          const r = await axe.run(document, {resultTypes: ["violations"]});
          return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                         nodes: v.nodes.map(n => n.target.join(" "))}));
        }"""
    )
    return [v for v in result if v["impact"] in SERIOUS]


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_every_step_at_360px_has_no_serious_accessibility_violation(
    lang: str, chromium: Browser, page_server: LiveServer, tmp_path: Path
) -> None:
    if not AXE.is_file():
        pytest.fail("app/static/vendor/axe.min.js is missing: run `make vendor`")
    context = chromium.new_context(viewport={"width": 360, "height": 780}, bypass_csp=True)
    page = context.new_page()
    flow.open_page(page, page_server, lang)
    found: dict[str, list[dict[str, Any]]] = {}

    def check(name: str) -> None:
        flow.screenshot(page, f"{lang}-{len(found) + 1:02d}-{name}")
        found[name] = serious_violations(page)

    # Every step of the form as rendered, answered a little on the way.
    page.check("#q-country-georgia")
    index = 0
    while flow.current_step(page) != "step-files":
        index += 1
        if flow.current_step(page) == "step-reach":
            page.check("#q-contact-method-telegram")
        check(flow.current_step(page).removeprefix("step-"))
        flow.next_step(page)
    page.set_input_files("#files", str(jpeg_with_gps(tmp_path / "photo.jpg")))
    expect(page.locator("#file-list li")).to_have_count(1)
    check("files")
    flow.next_step(page)
    check("reply")
    page.check("#reply-yes")
    expect(page.locator("#codename-words li")).to_have_count(9, timeout=60_000)
    check("codename")
    page.click("#codename-written")
    page.fill("#confirm-a", "nonsense")
    page.click("#codename-check")
    expect(page.locator("#confirm-error")).to_be_visible()
    check("codename-wrong")
    page.click("#codename-again")
    words = page.locator("#codename-words li").all_text_contents()
    page.click("#codename-written")
    for box in ("#confirm-a", "#confirm-b"):
        page.fill(box, words[int(str(page.get_attribute(box, "data-word"))) - 1])
    page.click("#codename-check")
    check("codename-confirmed")
    flow.next_step(page)
    expect(page.locator("#summary")).to_contain_text("Грузия" if lang == "ru" else "Georgia")
    page.click("#send")  # without the consent: refused, with the reason announced
    expect(page.locator("#q-consent-error")).to_be_visible()
    expect(page.locator("#form-alert a")).to_have_count(1)  # the error summary links to it
    check("send-refused")
    page.check("#q-consent")
    page.click("#send")
    expect(page.locator("#done")).to_be_visible(timeout=60_000)
    check("sent")
    context.close()

    assert index >= 5
    assert {name: v for name, v in found.items() if v} == {}


def focused(page: Page) -> str:
    return str(page.evaluate("() => document.activeElement?.id ?? ''"))


def test_the_form_works_with_the_keyboard_alone(chromium: Browser, page_server: LiveServer) -> None:
    page = chromium.new_page()
    flow.open_page(page, page_server, "en")
    page.keyboard.press("Tab")
    assert focused(page) == "exit-now"  # the way out comes first
    for _ in range(12):
        page.keyboard.press("Tab")
        if focused(page).startswith("q-country-"):
            break
    page.keyboard.press("ArrowDown")  # arrows move through a radio group and choose
    assert page.is_checked("#q-country-armenia")
    while focused(page) != "q-city":
        page.keyboard.press("Tab")
    page.keyboard.type("Yerevan")
    page.keyboard.press("Enter")  # Enter means "next", never "send"
    expect(page.locator(flow.CURRENT_STEP)).to_have_id("step-documents")
    assert focused(page) == "h-documents"  # the new step's heading, read out first
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    assert page.is_checked("#q-documents-internal-passport")
    page.close()
