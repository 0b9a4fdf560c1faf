"""Whatever goes wrong, what he typed stays: offline, a server refusal, a mistake.

Nothing is stored anywhere, so the page itself must never lose the answers:
only a successful send clears them.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.page import flow
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser

STORY = "Меня забрали с улицы в сентябре. " * 3


def filled_in(context: BrowserContext, server: LiveServer, story: str) -> Page:
    """The form opened in `context` and answered up to the ticked consent, not yet sent."""
    page = context.new_page()
    flow.open_page(page, server)
    flow.check(page, "#q-contact-method-email")
    page.fill("#q-contact-address", "me@example.org")
    flow.go_to(page, "story")
    page.fill("#q-story", story)
    flow.on_to_check_without_a_codename(page)
    page.check("#q-consent")
    return page


def assert_kept(page: Page, story: str) -> None:
    assert page.input_value("#q-story") == story
    assert page.input_value("#q-contact-address") == "me@example.org"
    assert page.is_checked("#q-contact-method-email")
    assert page.is_checked("#q-consent")


def test_offline_at_send_waits_with_the_answers_kept_then_sends(
    chromium: Browser, page_server: LiveServer
) -> None:
    context = chromium.new_context()
    page = filled_in(context, page_server, STORY)
    context.set_offline(True)
    page.click("#send")
    expect(page.locator("#intake-form")).to_have_attribute("data-state", "offline", timeout=30_000)
    expect(page.locator("#status")).to_contain_text("Связь потеряна")
    assert_kept(page, STORY)
    context.set_offline(False)
    expect(page.locator("#done")).to_be_visible(timeout=60_000)
    context.close()


def test_a_server_refusal_keeps_every_answer_and_a_shorter_retry_goes_through(
    chromium: Browser, strict_server: LiveServer
) -> None:
    long_story = "Я не хочу воевать. " * 400  # ~14 KB of UTF-8: over the server's limit
    context = chromium.new_context()
    page = filled_in(context, strict_server, long_story)
    page.click("#send")
    expect(page.locator("#intake-form")).to_have_attribute("data-state", "error", timeout=60_000)
    expect(page.locator("#form-alert")).to_contain_text("Сервер отклонил сообщение")
    assert_kept(page, long_story)
    expect(page.locator("#send")).to_be_enabled()
    expect(page.locator("#q-consent")).to_be_enabled()

    # He shortens it and sends again, without reloading anything.
    flow.go_to(page, "story")
    page.fill("#q-story", STORY)
    flow.go_to(page, "send")
    page.click("#send")
    expect(page.locator("#done")).to_be_visible(timeout=60_000)
    context.close()


def test_a_mistake_is_pointed_out_on_its_step_and_nothing_is_lost(page: Page) -> None:
    page.fill("#q-city", "Ереван")
    page.select_option("#q-arrived-month", "03")  # a month without its year
    page.locator(f"{flow.CURRENT_STEP} button[data-go=next]").click()
    assert flow.current_step(page) == "step-where"  # held back
    expect(page.locator("#q-arrived-error")).to_have_text("Выберите и год.")
    expect(page.locator("#form-alert")).to_be_visible()
    expect(page.locator("#form-alert")).to_be_focused()
    assert page.input_value("#q-city") == "Ереван"
    page.select_option("#q-arrived-year", "2023")
    flow.next_step(page)
    assert page.input_value("#q-city") == "Ереван"


def test_a_form_with_nothing_but_the_consent_is_not_sent(page: Page) -> None:
    flow.on_to_check_without_a_codename(page)
    page.check("#q-consent")
    page.click("#send")
    expect(page.locator("#form-alert")).to_contain_text("Ответьте хотя бы на один вопрос")
    assert flow.state(page) == "ready"
    expect(page.locator("#done")).to_be_hidden()
