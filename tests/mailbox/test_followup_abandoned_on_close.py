"""Closing the mailbox gives up a follow-up that is stuck: the form is free
again at once, and the abandoned follow-up never reaches the server. Real
Chromium against a real server; the "network failure" is every challenge
request aborted by the browser itself.
"""

from __future__ import annotations

from contextlib import closing

import pytest
from playwright.sync_api import Browser, Request, Route, expect

from tests.mailbox.browser import SEND_TIMEOUT, open_mailbox
from tests.mailbox.support import OTHER_CODENAME
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser


def test_closing_the_mailbox_while_a_follow_up_is_stuck_frees_the_form_and_sends_nothing(
    chromium: Browser, server: LiveServer
) -> None:
    with closing(chromium.new_page()) as page:
        declared: list[str] = []

        def note(request: Request) -> None:
            if request.method == "POST" and request.url.endswith("/api/v1/submissions"):
                declared.append(request.url)

        page.on("request", note)
        open_mailbox(page, server.url, OTHER_CODENAME)

        def cut(route: Route) -> None:
            route.abort("internetdisconnected")

        page.route("**/api/v1/challenges", cut)
        page.fill("#message", "Никому не отправлять.")
        page.click("#send")
        form = page.locator("#followup-form")
        # Three failures in a row while "online": the send waits for "Try again".
        expect(form).to_have_attribute("data-state", "stuck", timeout=SEND_TIMEOUT)
        expect(page.locator("#message")).to_be_disabled()  # inside the locked fieldset

        page.click("#close")
        page.unroute("**/api/v1/challenges", cut)
        expect(page.locator("#followup-retry-box")).to_be_hidden()

        page.fill("#codename", OTHER_CODENAME)
        page.click("#open")
        expect(page.locator("#mailbox")).to_have_attribute(
            "data-state", "open", timeout=SEND_TIMEOUT
        )
        # Free at once, and empty: nothing of the abandoned follow-up is kept.
        expect(page.locator("#message")).to_be_enabled()
        expect(page.locator("#send")).to_be_enabled()
        expect(page.locator("#message")).to_have_value("")
        page.fill("#message", "Новый номер телефона.")
        page.click("#send")
        expect(form).to_have_attribute("data-state", "sent", timeout=SEND_TIMEOUT)
        expect(page.locator("#sent-list li")).to_have_count(1)
        # Only the new follow-up was ever declared to the server.
        assert len(declared) == 1
