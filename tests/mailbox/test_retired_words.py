"""Codenames handed out before a word was retired from the lists still open
their mailbox: the page's check accepts retired words (never drawn again),
and the keys come from the words' text, so they are the same keys.
Real Chromium against a real server, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Request, expect

from tests.mailbox.browser import READY_TIMEOUT, SEND_TIMEOUT, open_mailbox
from tests.mailbox.support import Stored
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser

WORDLISTS = Path(__file__).resolve().parents[2] / "app" / "static" / "wordlists"
# Six retired words and three current ones, as an older page could draw them.
OLD_RUSSIAN = "сифилис вонь геморрой трусость колония дробовик груша камень линия"
OLD_ENGLISH = "virus surgery verdict musket hatred canal ember grove harbor"


def _lists(lang: str) -> tuple[set[str], set[str]]:
    current = set((WORDLISTS / f"{lang}.txt").read_text(encoding="utf-8").split())
    retired = set((WORDLISTS / f"{lang}-retired.txt").read_text(encoding="utf-8").split())
    return current, retired


def test_the_old_codenames_hold_retired_words() -> None:
    for codename, lang in ((OLD_RUSSIAN, "ru"), (OLD_ENGLISH, "en")):
        current, retired = _lists(lang)
        words = set(codename.split())
        assert len(words & retired) >= 5
        assert words <= current | retired


@pytest.mark.parametrize(("codename", "lang"), [(OLD_RUSSIAN, "ru"), (OLD_ENGLISH, "en")])
def test_a_codename_with_retired_words_opens_its_mailbox(
    chromium: Browser,
    server: LiveServer,
    server_replies: Stored,
    codename: str,
    lang: str,
) -> None:
    # A reply for the mailbox of the codename as the phone made it.
    server_replies.waiting(codename, "received", "Мы получили ваше сообщение.")
    with closing(chromium.new_page()) as page:
        open_mailbox(page, server.url, codename, lang=lang)
        expect(page.locator("#codename-error")).to_be_hidden()
        expect(page.locator("#replies .reply")).to_have_count(1)
        expect(page.locator(".reply-message p")).to_have_text(["Мы получили ваше сообщение."])


def test_a_mistyped_retired_word_is_named_and_the_retired_word_suggested(
    chromium: Browser, server: LiveServer
) -> None:
    with closing(chromium.new_page()) as page:
        page.goto(server.url + "/mailbox/")
        expect(page.locator("#mailbox")).to_have_attribute(
            "data-state", "ready", timeout=READY_TIMEOUT
        )
        asked: list[str] = []

        def note(request: Request) -> None:
            if "/api/v1/mailbox" in request.url:
                asked.append(request.url)

        page.on("request", note)
        page.fill("#codename", OLD_RUSSIAN.replace("трусость", "трусоть"))
        page.click("#open")
        error = page.locator("#codename-error")
        expect(error).to_be_visible(timeout=SEND_TIMEOUT)
        text = error.inner_text()
        assert "Слово 4" in text and "«трусость»" in text
        assert asked == []
