"""The phone's back gesture moves between steps, and never throws the answers away unasked.

Each step is one history entry of the page's own address (no fragment, no
query, a state of two numbers), so back and forward move between steps. Leaving
the page (back on the first step, reload, closing the tab) while answers are
unsent makes the browser ask first; after a successful send, and for the quick
exit, nothing asks.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Dialog, Page, expect

from tests.page import flow
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser


def record_dialogs(page: Page, *, accept: bool) -> list[str]:
    """Every dialog the page raises, by type; each accepted (leave) or dismissed (stay)."""
    seen: list[str] = []

    def answer(dialog: Dialog) -> None:
        seen.append(dialog.type)
        if accept:
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", answer)
    return seen


def phone_on_the_form(
    chromium: Browser, page_server: LiveServer, *, accept: bool = False
) -> tuple[BrowserContext, Page, list[str]]:
    """A phone with the form open; its dialogs are recorded and accepted or dismissed."""
    context, page = flow.phone_context(chromium)
    dialogs = record_dialogs(page, accept=accept)
    flow.open_page(page, page_server)
    return context, page, dialogs


def send_a_story(page: Page) -> str:
    """The least an applicant can send: a story, no codename. Returns the reference."""
    flow.fill(page, "#q-story", "Я не хочу воевать.")
    flow.go_to(page, "reply")
    flow.decline_codename(page)
    return flow.send(page)


def test_back_and_forward_on_a_slow_phone_move_between_steps_and_keep_the_answers(
    chromium: Browser, page_server: LiveServer
) -> None:
    context, page = flow.phone_context(chromium, throttle=True)
    flow.open_page(page, page_server)
    address = page.url
    arrived = page.evaluate("() => history.length")
    page.fill("#q-city", "Ереван")
    flow.next_step(page)
    page.check("#q-documents-military-id")
    flow.next_step(page)
    assert flow.current_step(page) == "step-service"

    page.go_back()  # the back gesture
    expect(page.locator(flow.CURRENT_STEP)).to_have_id("step-documents")
    assert page.is_checked("#q-documents-military-id")
    page.go_back()
    expect(page.locator(flow.CURRENT_STEP)).to_have_id("step-where")
    assert page.input_value("#q-city") == "Ереван"
    page.go_forward()
    expect(page.locator(flow.CURRENT_STEP)).to_have_id("step-documents")

    # The in-page "back" is the same move as the gesture.
    page.locator(f"{flow.CURRENT_STEP} button[data-go=back]").click()
    expect(page.locator(flow.CURRENT_STEP)).to_have_id("step-where")

    # Each entry is this page's own address with a step number: nothing typed.
    assert page.url == address
    state: dict[str, Any] = page.evaluate("() => history.state")
    assert set(state) == {"step", "depth"} and state["step"] == 0
    assert page.evaluate("() => history.length") == arrived + 2
    context.close()


def test_leaving_with_unsent_answers_is_asked_first_and_staying_keeps_them(
    chromium: Browser, page_server: LiveServer
) -> None:
    context, page, dialogs = phone_on_the_form(chromium, page_server)
    page.fill("#q-city", "Ереван")
    page.evaluate("() => history.back()")  # the back gesture on the first step leaves the page
    expect(page.locator("#q-city")).to_have_value("Ереван")
    assert dialogs == ["beforeunload"]
    assert page.url.startswith(page_server.url)
    context.close()


def test_an_untouched_page_is_left_without_a_question(
    chromium: Browser, page_server: LiveServer
) -> None:
    context, page, dialogs = phone_on_the_form(chromium, page_server)
    page.go_back()
    assert page.url == "about:blank"
    assert dialogs == []
    context.close()


def test_a_reload_starts_again_at_the_first_step_as_nothing_was_kept(
    chromium: Browser, page_server: LiveServer
) -> None:
    context, page, dialogs = phone_on_the_form(chromium, page_server, accept=True)
    page.fill("#q-city", "Ереван")
    flow.go_to(page, "service")
    page.reload()
    expect(page.locator("#intake-form")).to_have_attribute("data-state", "ready", timeout=60_000)
    assert dialogs == ["beforeunload"]
    assert flow.current_step(page) == "step-where"
    assert page.input_value("#q-city") == ""  # the answers went with the old page
    context.close()


def test_after_sending_nothing_asks_and_back_leaves_at_once(
    chromium: Browser, page_server: LiveServer
) -> None:
    context, page, dialogs = phone_on_the_form(chromium, page_server)
    send_a_story(page)
    page.go_back()  # not through the steps of a form that is gone
    assert page.url == "about:blank"
    assert dialogs == []
    context.close()


def test_the_quick_exit_asks_nothing_and_back_never_returns_to_the_site(
    chromium: Browser, page_server: LiveServer
) -> None:
    context, page, dialogs = phone_on_the_form(chromium, page_server)
    flow.answer_the_neutral_site(context)
    page.fill("#q-city", "Ереван")
    flow.go_to(page, "refusal")  # four steps in: four entries of this site behind
    page.click("#exit-now")
    page.wait_for_url("https://www.google.com/**")
    assert dialogs == []
    page.go_back()
    assert page.url == "about:blank"  # what came before the site, not one of its steps
    context.close()


def test_the_sent_screen_explains_the_number_and_one_button_leaves_the_site(
    chromium: Browser, page_server: LiveServer
) -> None:
    context, page, dialogs = phone_on_the_form(chromium, page_server)
    flow.answer_the_neutral_site(context)
    reference = send_a_story(page)
    done = page.locator("#done")
    expect(page.locator("#done-text")).to_have_text(f"Номер сообщения: {reference}")
    expect(done).to_contain_text("Это не пароль и не кодовая фраза")
    expect(done).to_contain_text("Хранить его не обязательно")
    expect(done.get_by_role("button")).to_have_count(1)
    # Nothing else to press or open now: no keys to check, no other language.
    expect(page.locator("details.fingerprint")).to_be_hidden()
    expect(page.locator(".langs")).to_be_hidden()
    page.get_by_role("button", name="Готово").click()
    page.wait_for_url("https://www.google.com/**")
    page.go_back()
    assert page.url == "about:blank"
    assert dialogs == []
    context.close()
