"""The mailbox page deletes replies from the server, and shows the follow-ups
sent since it was opened (in memory only). Real Chromium against a real
server, on SQLite and on PostgreSQL; what was deleted is checked in the
database itself.
"""

from __future__ import annotations

from contextlib import closing

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

import crypto
from app.models import Reply
from tests.mailbox.browser import SEND_TIMEOUT, leaves_no_trace, open_mailbox
from tests.mailbox.support import (
    CODENAME,
    OTHER_CODENAME,
    add_reply,
    keys_for,
    reply_content,
)
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser


def mailboxes(database_url: str) -> list[str]:
    """The mailbox id of every reply row, straight from the database."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            return sorted(session.scalars(select(Reply.mailbox)))
    finally:
        engine.dispose()


def add(
    server: LiveServer,
    verifier: crypto.Identity,
    manifest: crypto.Manifest,
    keys: crypto.MailboxKeys,
    message: str,
    sent: str,
) -> None:
    content = reply_content("needs-info", message, sent=sent)
    add_reply(server.database_url, verifier, manifest, keys, content)


def press_twice(page: Page, selector: str) -> None:
    """Deleting asks once more: the first press only changes the button."""
    button = page.locator(selector)
    button.click()
    expect(button).to_contain_text("Press again")
    button.click()


def test_deleted_replies_leave_the_page_and_the_database(
    chromium: Browser,
    server: LiveServer,
    demo_verifier: crypto.Identity,
    manifest: crypto.Manifest,
) -> None:
    mine, other = keys_for(manifest), keys_for(manifest, OTHER_CODENAME)
    add(server, demo_verifier, manifest, mine, "Первый ответ.", "2026-11-20T09:30:00Z")
    add(server, demo_verifier, manifest, mine, "Второй ответ.", "2026-11-21T09:30:00Z")
    add(server, demo_verifier, manifest, other, "Чужой ответ.", "2026-11-21T09:30:00Z")
    with closing(chromium.new_page()) as page:
        history = open_mailbox(page, server.url, CODENAME)
        replies = page.locator("#replies .reply")
        expect(replies).to_have_count(2)
        expect(page.locator("#delete-all")).to_be_visible()

        # Newest first: delete the older one, "Первый ответ."
        press_twice(page, "#replies .reply >> nth=1 >> .delete-reply")
        expect(page.locator("#delete-status")).to_have_text(
            "The reply was deleted from the server.", timeout=SEND_TIMEOUT
        )
        expect(replies).to_have_count(1)
        expect(page.locator(".reply-message p")).to_have_text(["Второй ответ."])
        assert mailboxes(server.database_url) == sorted([mine.mailbox_id, other.mailbox_id])

        press_twice(page, "#delete-all")
        expect(page.locator("#delete-status")).to_have_text(
            "Every reply was deleted from the server.", timeout=SEND_TIMEOUT
        )
        expect(replies).to_have_count(0)
        expect(page.locator("#no-replies")).to_be_visible()
        expect(page.locator("#delete-all")).to_be_hidden()
        # Another applicant's reply is untouched.
        assert mailboxes(server.database_url) == [other.mailbox_id]

        # Checked again from the server: nothing comes back.
        page.click("#refresh")
        expect(page.locator("#mailbox")).to_have_attribute(
            "data-state", "open", timeout=SEND_TIMEOUT
        )
        expect(replies).to_have_count(0)
        leaves_no_trace(page, history)


def test_a_sent_follow_up_is_listed_until_the_mailbox_is_closed(
    chromium: Browser, server: LiveServer
) -> None:
    with closing(chromium.new_page()) as page:
        history = open_mailbox(page, server.url, OTHER_CODENAME, lang="ru")
        expect(page.locator("#sent-box")).to_be_hidden()
        page.fill("#message", "Я сменил номер телефона.")
        page.click("#send")
        form = page.locator("#followup-form")
        expect(form).to_have_attribute("data-state", "sent", timeout=SEND_TIMEOUT)
        sent = page.locator("#sent-list li")
        expect(sent).to_have_count(1)
        expect(page.locator("#sent-box")).to_be_visible()
        expect(sent.locator(".reply-message p")).to_have_text(["Я сменил номер телефона."])
        reference = page.locator("#followup-status").inner_text().rsplit(" ", 1)[-1]
        expect(sent.locator(".sent-heading")).to_contain_text(f"Ваш номер: {reference}")

        page.click("#close")
        expect(page.locator("#sent-box")).to_be_hidden()
        expect(sent).to_have_count(0)
        assert "Я сменил номер" not in page.content()
        # Opened again, the list starts empty: nothing was kept, nothing is
        # asked of the server.
        page.fill("#codename", OTHER_CODENAME)
        page.click("#open")
        expect(page.locator("#mailbox")).to_have_attribute(
            "data-state", "open", timeout=SEND_TIMEOUT
        )
        expect(page.locator("#sent-box")).to_be_hidden()
        leaves_no_trace(page, history)
