"""The mailbox page checks a codename against the word lists before using it.

A mistyped codename opens a different, empty mailbox, and a follow-up sent
from there is an orphan nobody reads. So the page counts the words, checks
each against the word list the codename came from, and names the wrong one
with its position, all in the browser: nothing is sent for such a codename.
A copy with the page's list numbering ("1. word 2. word …") is the same
codename and opens the same mailbox. Real Chromium against a real server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from tests.mailbox.browser import READY_TIMEOUT, SEND_TIMEOUT, open_mailbox
from tests.mailbox.support import Stored
from tests.support.live_server import LiveServer, demo_server

pytestmark = pytest.mark.browser

WORDLISTS = Path(__file__).resolve().parents[2] / "app" / "static" / "wordlists"
ENGLISH = "canal ember grove harbor basin cedar echo falcon garnet"
RUSSIAN = "бедность груша камень линия опора предел секунда тендер четверть"


def _in_list(codename: str, lang: str, *, retired: bool = False) -> bool:
    words = set((WORDLISTS / f"{lang}.txt").read_text(encoding="utf-8").split("\n"))
    if retired:
        words |= set((WORDLISTS / f"{lang}-retired.txt").read_text(encoding="utf-8").split("\n"))
    return all(word in words for word in codename.split())


@pytest.fixture(scope="module")
def sqlite_server(demo_org: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the refusals: they never reach the database."""
    with demo_server("sqlite", demo_org, tmp_path_factory.mktemp("codename-check")) as live:
        yield live


def _mailbox_requests(page: Page) -> list[str]:
    """Every request to the mailbox API this page makes from now on."""
    seen: list[str] = []

    def note(request: Request) -> None:
        if "/api/v1/mailbox" in request.url:
            seen.append(request.url)

    page.on("request", note)
    return seen


def _type_codename(page: Page, url: str, lang: str, typed: str) -> list[str]:
    page.goto(url + ("/mailbox/" if lang == "ru" else f"/{lang}/mailbox/"))
    expect(page.locator("#mailbox")).to_have_attribute("data-state", "ready", timeout=READY_TIMEOUT)
    seen = _mailbox_requests(page)
    page.fill("#codename", typed)
    page.click("#open")
    return seen


def _refused(page: Page, seen: list[str]) -> str:
    """The error shown for the codename; checks nothing was asked of the server."""
    error = page.locator("#codename-error")
    expect(error).to_be_visible(timeout=SEND_TIMEOUT)
    expect(page.locator("#codename")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#open")).to_be_enabled()
    assert seen == []
    assert page.locator("#mailbox").get_attribute("data-state") == "ready"
    assert page.locator("#inbox").is_hidden()
    return error.inner_text()


def test_the_lists_hold_the_codenames_used_here() -> None:
    assert _in_list(ENGLISH, "en")
    # Handed out before "бедность" was retired from the list: it still opens
    # its mailbox (the numbered-copy test below).
    assert not _in_list(RUSSIAN, "ru")
    assert _in_list(RUSSIAN, "ru", retired=True)


def test_a_mistyped_english_word_is_named_with_its_position_and_nothing_is_sent(
    chromium: Browser, sqlite_server: LiveServer
) -> None:
    with closing(chromium.new_page()) as page:
        typed = ENGLISH.replace("harbor", "harbr")
        seen = _type_codename(page, sqlite_server.url, "en", typed)
        text = _refused(page, seen)
        assert "Word 4" in text
        assert "“harbr”" in text
        assert "Did you mean “harbor”?" in text
        # What he typed stays, so he can correct the one word.
        assert page.locator("#codename").input_value() == typed


def test_a_wrong_russian_word_is_named_in_russian_and_nothing_is_sent(
    chromium: Browser, sqlite_server: LiveServer
) -> None:
    with closing(chromium.new_page()) as page:
        # A Latin "a" in a Russian word looks right on the screen and is not.
        typed = RUSSIAN.replace("линия", "линиa").replace("тендер", "zzzzqq")
        seen = _type_codename(page, sqlite_server.url, "ru", typed)
        text = _refused(page, seen)
        assert "Слово 4" in text
        assert "«линиa»" in text
        assert "Может быть, «линия»?" in text
        assert "Слово 8" in text
        assert "«zzzzqq»" in text


def test_eight_words_are_counted_and_nothing_is_sent(
    chromium: Browser, sqlite_server: LiveServer
) -> None:
    with closing(chromium.new_page()) as page:
        seen = _type_codename(page, sqlite_server.url, "en", ENGLISH.rsplit(" ", 1)[0])
        text = _refused(page, seen)
        assert "Words typed: 8. A codename has 9 words." in text


def test_numbering_out_of_order_is_named_not_guessed(
    chromium: Browser, sqlite_server: LiveServer
) -> None:
    with closing(chromium.new_page()) as page:
        words = ENGLISH.split()
        words[2], words[3] = words[3], words[2]
        numbers = [1, 2, 4, 3, 5, 6, 7, 8, 9]
        typed = " ".join(f"{n}. {w}" for n, w in zip(numbers, words, strict=True))
        seen = _type_codename(page, sqlite_server.url, "en", typed)
        text = _refused(page, seen)
        assert "Word 3 is numbered 4." in text


def test_a_numbered_copy_and_the_plain_codename_open_the_same_mailbox(
    chromium: Browser,
    server: LiveServer,
    server_replies: Stored,
) -> None:
    server_replies.waiting(RUSSIAN, "needs-info", "Пришлите фото паспорта.")
    with closing(chromium.new_page()) as page:
        # Copied from the page's numbered list, or written down with numbers.
        numbered = "\n".join(
            f"{n}{'.' if n % 2 else ')'} {word}" for n, word in enumerate(RUSSIAN.split(), 1)
        )
        open_mailbox(page, server.url, numbered, lang="ru")
        expect(page.locator("#replies .reply")).to_have_count(1)
        expect(page.locator("#codename-error")).to_be_hidden()
        page.click("#close")
        open_mailbox(page, server.url, RUSSIAN.upper(), lang="en")
        expect(page.locator("#replies .reply")).to_have_count(1)
        expect(page.locator(".reply-message p")).to_have_text(["Пришлите фото паспорта."])
