"""Driving the applicant's page the way a person does: step by step, by label and button.

Shared by the page tests (and usable by tests/e2e): fill answers, move
through the steps, make and confirm a codename, send, and wait.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.support.live_server import LiveServer, run_cli

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
CURRENT_STEP = "#intake-form section.step:not([hidden])"


PHONE: ViewportSize = {"width": 360, "height": 740}


def phone_context(browser: Browser, *, throttle: bool = False) -> tuple[BrowserContext, Page]:
    """A cheap phone: 360 px wide, touch, no mouse; with `throttle`, its CPU 4x slower (CDP)."""
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    if throttle:
        context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": 4})
    return context, page


def answer_the_neutral_site(context: BrowserContext) -> None:
    """The quick exit leaves for a neutral site; it is answered here so the test
    needs no network. The page itself never requests it: the applicant's own
    navigation does."""
    context.route(
        "https://www.google.com/**",
        lambda route: route.fulfill(body="weather", content_type="text/html"),
    )


def laptop_context(browser: Browser) -> tuple[BrowserContext, Page]:
    """A laptop (keyboard and mouse) whose quick exit lands on the neutral site, answered here."""
    context = browser.new_context()
    answer_the_neutral_site(context)
    return context, context.new_page()


def open_page(page: Page, server: LiveServer, lang: str = "ru") -> None:
    page.goto(server.url + ("/" if lang == "ru" else f"/{lang}/"))
    expect(page.locator("#intake-form")).to_have_attribute("data-state", "ready", timeout=60_000)


def current_step(page: Page) -> str:
    return str(page.locator(CURRENT_STEP).get_attribute("id"))


def next_step(page: Page) -> None:
    before = current_step(page)
    page.locator(f"{CURRENT_STEP} button[data-go=next]").click()
    expect(page.locator(CURRENT_STEP)).not_to_have_id(before)


def go_to(page: Page, step_id: str) -> None:
    """Press "next" (or "back") until the step `step-<id>` shows."""
    order = [str(s.get_attribute("id")) for s in page.locator("[data-step]").all()]
    target = order.index(f"step-{step_id}")
    for _ in range(len(order)):
        here = order.index(current_step(page))
        if here == target:
            return
        if here < target:
            next_step(page)
        else:
            before = current_step(page)
            page.locator(f"{CURRENT_STEP} button[data-go=back]").click()
            expect(page.locator(CURRENT_STEP)).not_to_have_id(before)
    raise AssertionError(f"never reached step {step_id}")


def step_of(page: Page, selector: str) -> str:
    """The id (without `step-`) of the step holding `selector`."""
    step = page.locator(selector).locator("xpath=ancestor::section[@data-step]")
    return str(step.get_attribute("id")).removeprefix("step-")


def show_field(page: Page, selector: str) -> None:
    """Go to the step holding `selector`: the page's order of steps is its own
    (the contact question comes late), so tests name the question, not its place."""
    go_to(page, step_of(page, selector))


def fill(page: Page, selector: str, value: str) -> None:
    show_field(page, selector)
    page.fill(selector, value)


def check(page: Page, selector: str) -> None:
    show_field(page, selector)
    page.check(selector)


def screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot, saved as a test artifact in var/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def choose_codename(page: Page) -> str:
    """On the replies step: take a codename, read it, confirm two words. Returns it."""
    page.check("#reply-yes")
    words = page.locator("#codename-words li")
    expect(words).to_have_count(9, timeout=60_000)
    codename = " ".join(words.all_text_contents())
    page.click("#codename-written")
    for box in ("#confirm-a", "#confirm-b"):
        position = int(str(page.get_attribute(box, "data-word")))
        page.fill(box, codename.split(" ")[position - 1])
    page.click("#codename-check")
    expect(page.locator("#codename-done")).to_be_visible()
    expect(words).to_have_count(0)  # shown once: gone from the page after confirming
    return codename


def decline_codename(page: Page) -> None:
    page.check("#reply-no")


def on_to_check_without_a_codename(page: Page) -> None:
    """Decline a codename on the replies step, then go on to the check-your-answers step."""
    go_to(page, "reply")
    decline_codename(page)
    go_to(page, "send")


def send(page: Page, timeout: float = 120_000) -> str:
    """Tick the consent, send, wait for the sent screen; returns the reference shown."""
    go_to(page, "send")
    page.check("#q-consent")
    page.click("#send")
    expect(page.locator("#done")).to_be_visible(timeout=timeout)
    text = page.text_content("#done-text") or ""
    match = re.search(r"[0-9a-f]{8}", text)
    assert match, text
    return match.group()


def wait_for_progress(page: Page, percent: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.get_attribute("#progress", "value")
        if value is not None and float(value) >= percent:
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"upload never reached {percent}%")


def state(page: Page) -> str:
    return str(page.get_attribute("#intake-form", "data-state"))


@dataclass
class Case:
    folder: Path
    doc: dict[str, Any]
    answers: str


def pull_and_decrypt(
    server: LiveServer, demo_org: Path, tools_env: dict[str, str], work: Path
) -> Path:
    """Courier pull, then `intake-verifier decrypt`, as the organisation does offline.

    The verifier remembers the newest manifest it has seen beside its keyring;
    each call works on its own copy of the keyring, so servers with different
    chains (tests that publish a new manifest) do not disturb one another.
    """
    work.mkdir(parents=True, exist_ok=True)
    keyring_copy = work / "keyring"
    shutil.copytree(demo_org / "keyring", keyring_copy)
    bundle = work / "bundle.tar"
    key = str(demo_org / "courier" / "courier.key")
    run_cli(
        ["intake-courier", "pull", "--server", server.url, "--key", key, "--out", str(bundle)],
        tools_env,
    )
    cases = work / "cases"
    keyring = str(keyring_copy)
    run_cli(
        ["intake-verifier", "decrypt", str(bundle), "--keyring", keyring, "--out", str(cases)],
        tools_env,
    )
    return cases


def find_case(cases: Path, canary: str) -> Case:
    """The one decrypted case whose answers hold `canary`."""
    found = []
    for answers in cases.glob("*/answers.txt"):
        text = answers.read_text(encoding="utf-8")
        if canary in text:
            doc = json.loads((answers.parent / "case.json").read_text())
            found.append(Case(answers.parent, doc, text))
    assert len(found) == 1, f"{len(found)} cases hold {canary!r}"
    return found[0]


def write_file(path: Path, size: int, head: bytes = b"") -> Path:
    """A file of `size` bytes (`head`, then random), written in pieces, never held whole."""
    with path.open("wb") as out:
        out.write(head)
        left = size - len(head)
        while left:
            piece = min(left, 4 << 20)
            out.write(os.urandom(piece))
            left -= piece
    return path
