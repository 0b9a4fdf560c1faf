"""What the page must never do: talk to another origin, leave traces, keep history.

The whole flow runs (codename, a photo, sending), so every module, the word
list and libsodium are loaded while requests are recorded.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.page import flow
from tests.page.images import jpeg_with_gps
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser

TRACES = """async () => ({
  cookie: document.cookie,
  local: localStorage.length,
  session: sessionStorage.length,
  databases: (await indexedDB.databases()).length,
  workers: (await navigator.serviceWorker.getRegistrations()).length,
  controlled: navigator.serviceWorker.controller !== null,
  history: history.length,
})"""


def test_a_whole_submission_talks_only_to_its_own_origin_and_leaves_no_trace(
    chromium: Browser, page_server: LiveServer, tmp_path: Path
) -> None:
    context = chromium.new_context()
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    flow.open_page(page, page_server)
    address = page.url
    flow.go_to(page, "story")
    page.fill("#q-story", "canary-" + secrets.token_hex(6))
    flow.go_to(page, "files")
    page.set_input_files("#files", str(jpeg_with_gps(tmp_path / "photo.jpg")))
    flow.next_step(page)
    flow.choose_codename(page)
    flow.send(page)

    foreign = [url for url in requests if not url.startswith(page_server.url + "/")]
    assert foreign == []
    loaded = {url[len(page_server.url) :] for url in requests}
    assert "/static/wordlists/ru.txt" in loaded  # the codename's word list came from us too
    assert any(path.startswith("/static/vendor/libsodium") for path in loaded)
    traces: dict[str, Any] = page.evaluate(TRACES)
    assert traces.pop("history") > 2  # a history entry per step (tests/page/test_steps_history.py)
    assert traces == {
        "cookie": "",
        "local": 0,
        "session": 0,
        "databases": 0,
        "workers": 0,
        "controlled": False,
    }
    # Every step's entry has the page's own address; once sent, the page is back
    # on its first entry, whose state is two numbers and nothing he typed.
    assert page.url == address
    assert page.evaluate("() => history.state") == {"step": 0, "depth": 0}
    assert context.cookies() == []
    context.close()


def test_quick_exit_leaves_for_a_neutral_site_and_cannot_be_gone_back_to(
    chromium: Browser, page_server: LiveServer
) -> None:
    context, page = flow.laptop_context(chromium)
    flow.open_page(page, page_server)
    flow.fill(page, "#q-contact-address", "@secret-handle")  # a late step: many entries behind
    entries = page.evaluate("() => history.length")
    page.click("#exit-now")
    page.wait_for_url("https://www.google.com/**")
    assert page.evaluate("() => history.length") == entries  # replaced, not added
    page.go_back()  # back goes to what came before our page, never to it
    assert not page.url.startswith(page_server.url)
    context.close()


def test_esc_three_times_is_a_quick_exit_said_on_the_page_even_from_a_text_box(
    chromium: Browser, page_server: LiveServer
) -> None:
    context, page = flow.laptop_context(chromium)
    flow.open_page(page, page_server)
    expect(page.locator(".exit-hint")).to_have_text(
        "Нажмите Esc три раза, чтобы быстро уйти с этого сайта."
    )
    flow.go_to(page, "story")
    page.click("#q-story")
    page.keyboard.type("Меня ищут")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    page.keyboard.type("!")  # anything else in between starts the count again
    page.keyboard.press("Escape")
    assert page.url.startswith(page_server.url)
    for _ in range(3):
        page.keyboard.press("Escape")
    page.wait_for_url("https://www.google.com/**")
    page.go_back()
    assert not page.url.startswith(page_server.url)
    context.close()


def test_esc_three_times_leaves_the_mailbox_page_too(
    chromium: Browser, page_server: LiveServer
) -> None:
    context, page = flow.laptop_context(chromium)
    page.goto(page_server.url + "/en/mailbox/")
    expect(page.locator("#mailbox")).to_have_attribute("data-state", "ready", timeout=60_000)
    expect(page.locator(".exit-hint")).to_have_text(
        "Press Esc three times to leave this site quickly."
    )
    page.click("#codename")
    for _ in range(3):
        page.keyboard.press("Escape")
    page.wait_for_url("https://www.google.com/**")
    context.close()


def test_on_a_phone_the_esc_hint_stays_in_the_safety_notes(
    chromium: Browser, page_server: LiveServer
) -> None:
    context, page = flow.phone_context(chromium)
    flow.open_page(page, page_server)
    expect(page.locator(".exit-hint")).to_be_hidden()  # no Esc key on a phone: no room spent
    page.locator("details.safety summary").click()
    expect(page.locator("details.safety")).to_contain_text("тройное нажатие Esc")
    context.close()


def test_the_tab_title_can_be_made_neutral(page: Page) -> None:
    assert page.title() == "Конфиденциальное обращение"
    page.locator("details.safety summary").click()
    page.check("#neutral-title")
    assert page.title() == "Заметки"
    page.uncheck("#neutral-title")
    assert page.title() == "Конфиденциальное обращение"


def test_search_engines_are_told_not_to_index_the_page(
    chromium: Browser, page_server: LiveServer
) -> None:
    page = chromium.new_page()
    response = page.goto(page_server.url + "/en/")
    assert response is not None
    robots = page.get_attribute('meta[name="robots"]', "content") or ""
    assert "noindex" in robots and "nofollow" in robots
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page.close()


def test_without_javascript_the_page_explains_why_and_offers_nothing_to_send(
    chromium: Browser, page_server: LiveServer
) -> None:
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(page_server.url + "/")
    expect(page.get_by_role("heading", name="Этой странице нужен JavaScript")).to_be_visible()
    expect(page.locator(".notice-error")).to_contain_text("В Tor Browser")
    expect(page.locator("#send")).to_be_hidden()
    # The questions can still be read, to prepare the answers.
    expect(page.locator("#q-story")).to_be_visible()
    context.close()


def test_a_form_that_differs_from_the_signed_one_is_refused(
    chromium: Browser, page_server: LiveServer
) -> None:
    """A server that drops an option (say, "none" from the documents) cannot get answers sent."""
    context = chromium.new_context()

    def tampered(route: Any) -> None:
        response = route.fetch()
        body = response.text()
        start = body.index(
            '<label class="option"><input type="checkbox" name="documents" value="none"'
        )
        end = body.index("</label>", start) + len("</label>")
        route.fulfill(response=response, body=body[:start] + body[end:])

    context.route(page_server.url + "/", tampered)
    page = context.new_page()
    page.goto(page_server.url + "/")
    expect(page.locator("#intake-form")).to_have_attribute("data-state", "error", timeout=60_000)
    expect(page.locator("#form-alert")).to_contain_text("отличаются от подписанных")
    context.close()
