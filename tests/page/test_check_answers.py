"""Before sending he sees his answers in words, and can change any of them and come back.

Mistakes are listed at the top of the step (GOV.UK's error summary), each a
link to its question, and the list follows his corrections until it is gone.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.page import flow
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser


def row(page: Page, label: str) -> Locator:
    """The check-your-answers row of the question labelled `label`."""
    return page.locator("#summary .check-row").filter(has=page.locator("dt", has_text=label))


def test_the_check_step_lists_answers_in_words_and_change_comes_back(
    chromium: Browser, page_server: LiveServer
) -> None:
    context, page = flow.phone_context(chromium)
    flow.open_page(page, page_server)
    page.check("#q-country-georgia")
    page.select_option("#q-arrived-month", "03")
    page.select_option("#q-arrived-year", "2023")
    flow.next_step(page)
    page.check("#q-documents-internal-passport")
    page.check("#q-documents-military-id")
    flow.fill(page, "#q-story", "Ушёл из части весной.")
    flow.on_to_check_without_a_codename(page)

    summary = page.locator("#summary")
    expect(row(page, "Страна").locator("dd").first).to_have_text("Грузия")
    expect(row(page, "Когда вы приехали").locator("dd").first).to_have_text("Март 2023")
    expect(row(page, "Какие документы").locator("dd").first).to_have_text(
        "Внутренний паспорт РФ; Военный билет"
    )
    expect(row(page, "Ответы на этом сайте").locator("dd").first).to_have_text("Нет")
    text = summary.inner_text()
    for code in ("georgia", "internal-passport", "military-id", "2023-03"):
        assert code not in text  # his words, not the form's codes
    assert "Воинская часть" not in text  # unanswered questions are not listed

    # "Change": to the question, focused; "next" now leads straight back here.
    row(page, "Расскажите своими словами").get_by_role("link", name="Изменить").click()
    expect(page.locator(flow.CURRENT_STEP)).to_have_id("step-story")
    expect(page.locator("#q-story")).to_be_focused()
    page.fill("#q-story", "Ушёл из части весной 2023 года.")
    next_button = page.locator(f"{flow.CURRENT_STEP} button[data-go=next]")
    expect(next_button).to_have_text("Вернуться к проверке ответов")
    next_button.click()
    expect(page.locator(flow.CURRENT_STEP)).to_have_id("step-send")
    expect(row(page, "Расскажите своими словами").locator("dd").first).to_have_text(
        "Ушёл из части весной 2023 года."
    )
    # Back to ordinary steps: "next" is "next" again.
    flow.go_to(page, "story")
    expect(page.locator(f"{flow.CURRENT_STEP} button[data-go=next]")).to_have_text("Далее")
    context.close()


def test_the_error_summary_links_to_each_problem_and_goes_when_put_right_in_safer_mode(
    chromium_jitless: Browser, page_server: LiveServer
) -> None:
    context, page = flow.phone_context(chromium_jitless)
    flow.open_page(page, page_server)
    assert page.evaluate("() => typeof WebAssembly") == "undefined"
    page.select_option("#q-arrived-month", "03")  # a month without its year
    page.locator(f"{flow.CURRENT_STEP} button[data-go=next]").click()

    alert = page.locator("#form-alert")
    expect(alert).to_be_visible()
    expect(alert).to_have_attribute("role", "alert")
    expect(alert).to_be_focused()
    links = alert.locator("a")
    expect(links).to_have_count(1)
    expect(links.first).to_have_text("Когда вы приехали в эту страну?: Выберите и год.")
    links.first.click()
    expect(page.locator("#q-arrived-month")).to_be_focused()
    assert "#" not in page.url  # the link moved the focus, not the address

    page.select_option("#q-arrived-year", "2023")  # put right: the summary goes
    expect(alert).to_be_hidden()
    expect(page.locator("#q-arrived-error")).to_be_hidden()
    flow.next_step(page)
    assert flow.current_step(page) == "step-documents"

    # On the check step: the missing consent, linked, and gone once ticked.
    flow.fill(page, "#q-story", "Я не хочу воевать.")
    flow.on_to_check_without_a_codename(page)
    page.click("#send")
    expect(alert).to_be_focused()
    expect(alert.locator("a")).to_have_count(1)
    alert.locator("a").click()
    expect(page.locator("#q-consent")).to_be_focused()
    page.check("#q-consent")
    expect(alert).to_be_hidden()
    context.close()
