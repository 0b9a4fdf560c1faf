"""What the page refuses to show, and what it refuses to reveal.

A compromised server can put anything into a mailbox: here replies are written
straight into its database, past the courier API's own checks. The page shows
only replies signed by a verifier of the verified manifest, and a wrong
codename looks exactly like a codename without replies.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, FilePayload, Page, Response, expect

import crypto
from tests.mailbox.browser import leaves_no_trace, open_mailbox, submit_with_codename
from tests.mailbox.support import (
    CODENAME,
    OTHER_CODENAME,
    Stored,
    keys_for,
    reply_content,
    signed_reply,
    store_reply,
)
from tests.support.databases import postgres_unavailable_reason
from tests.support.live_server import LiveServer, demo_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, demo_org: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One real server per database for this module: its tests use separate
    mailboxes, so they need no fresh server each (a start costs seconds)."""
    if request.param == "postgresql" and (reason := postgres_unavailable_reason()):
        pytest.skip(reason)
    work = tmp_path_factory.mktemp(f"untrusted-{request.param}")
    with demo_server(str(request.param), demo_org, work) as live:
        yield live


# Each test has its own mailbox on the module's server.
WAITING_CODENAME = "kettle lantern mahogany nebula octagon panda quiver ribbon salad"
LEAVING_CODENAME = "tiger umbrella velvet walnut yoga zebra anchor backside candle"
ORDER_CODENAME = "cedar dolphin ember falcon glacier harbor ideology jasmine kettle"
JITLESS_CODENAME = "дорога ветер зима книга лампа комета облако песок река"


def flip_last_byte(envelope: bytes) -> bytes:
    return envelope[:-1] + bytes([envelope[-1] ^ 0x01])


def test_only_replies_signed_by_a_verifier_of_the_manifest_are_shown(
    chromium: Browser,
    server: LiveServer,
    manifest: crypto.Manifest,
    demo_verifier: crypto.Identity,
) -> None:
    keys, other = keys_for(manifest), keys_for(manifest, OTHER_CODENAME)
    impostor = crypto.generate_identity("verifier", "impostor")

    def put(envelope: bytes, kid: str, sig: bytes) -> None:
        store_reply(server.database_url, keys.mailbox_id, envelope, kid, sig)

    genuine = reply_content("verified", "Ваша история подтверждена.", lang="ru")
    put(*signed_reply(demo_verifier, manifest, keys, genuine))
    # A key the manifest does not list.
    put(*signed_reply(impostor, manifest, keys, reply_content("declined", "IMPOSTOR")))
    # The impostor claiming to be the verifier.
    envelope, _kid, sig = signed_reply(
        impostor, manifest, keys, reply_content("declined", "FORGED KID")
    )
    put(envelope, demo_verifier.sign_kid, sig)
    # A real reply, altered after signing.
    envelope, kid, sig = signed_reply(
        demo_verifier, manifest, keys, reply_content("declined", "ALTERED")
    )
    put(flip_last_byte(envelope), kid, sig)
    # A real, signed reply sealed to somebody else's reply key.
    put(*signed_reply(demo_verifier, manifest, other, reply_content("declined", "MISADDRESSED")))

    with closing(chromium.new_page()) as page:
        arrived = open_mailbox(page, server.url, CODENAME, lang="en")
        replies = page.locator("#replies .reply")
        expect(replies).to_have_count(1)
        expect(replies.first).to_have_attribute("data-status", "verified")
        message = replies.first.locator(".reply-message")
        expect(message).to_have_text("Ваша история подтверждена.")
        # The verifier wrote Russian: the text says so, on an English page.
        expect(message).to_have_attribute("lang", "ru")
        expect(page.locator("#rejected")).to_be_visible()
        text = page.locator("body").inner_text()
        for refused in ("IMPOSTOR", "FORGED KID", "ALTERED", "MISADDRESSED", "Declined"):
            assert refused not in text
        leaves_no_trace(page, arrived)


def test_the_newest_reply_the_verifier_wrote_comes_first_whatever_the_server_order(
    chromium: Browser,
    server: LiveServer,
    manifest: crypto.Manifest,
    demo_verifier: crypto.Identity,
) -> None:
    keys = crypto.derive_mailbox(ORDER_CODENAME, manifest.payload)
    # The server hands them over oldest-stored first; the later one was written first.
    for content in (
        reply_content("verified", "Всё подтверждено.", sent="2026-11-21T12:00:00Z"),
        reply_content("received", "Получили.", sent="2026-11-10T08:00:00Z"),
    ):
        store_reply(
            server.database_url,
            keys.mailbox_id,
            *signed_reply(demo_verifier, manifest, keys, content),
        )
    with closing(chromium.new_page()) as page:
        open_mailbox(page, server.url, ORDER_CODENAME, lang="en")
        replies = page.locator("#replies .reply")
        expect(replies).to_have_count(2)
        expect(replies.nth(0)).to_have_attribute("data-status", "verified")
        expect(replies.nth(1)).to_have_attribute("data-status", "received")
        expect(page.locator("#current-status")).to_have_text("Current status: Verified")
        # No language named: the message takes the page's.
        assert replies.nth(1).locator(".reply-message").get_attribute("lang") is None
        expect(replies.nth(0).locator("time")).to_have_attribute("datetime", "2026-11-21T12:00:00Z")


def _mailbox_view(page: Page) -> dict[str, Any]:
    """Everything the applicant can see of the opened mailbox."""
    view: dict[str, Any] = page.evaluate(
        """() => ({
            state: document.getElementById("mailbox").dataset.state,
            inbox: document.getElementById("inbox").innerText,
            replies: document.querySelectorAll("#replies > *").length,
            rejected: document.getElementById("rejected").hidden,
            status: document.getElementById("status").innerText,
        })"""
    )
    return view


def test_a_wrong_codename_looks_exactly_like_a_codename_without_replies(
    chromium: Browser, server: LiveServer
) -> None:
    submit_with_codename(chromium, server.url, WAITING_CODENAME, "Ещё нет ответа.")
    # One word wrong, yet a word of the list: the page's own check of the
    # codename (test_codename_check.py) cannot catch this one.
    mistyped = WAITING_CODENAME.replace("lantern", "lemon")
    views: list[dict[str, Any]] = []
    answers: list[list[bytes]] = []
    for codename in (WAITING_CODENAME, mistyped):
        context = chromium.new_context()
        page = context.new_page()
        bodies: list[bytes] = []

        def keep(response: Response, bodies: list[bytes] = bodies) -> None:
            if response.url.endswith("/api/v1/mailbox") and response.request.method == "POST":
                bodies.append(response.body())

        page.on("response", keep)
        open_mailbox(page, server.url, codename, lang="ru")
        views.append(_mailbox_view(page))
        answers.append(bodies)
        context.close()
    assert views[0] == views[1]
    assert views[0]["state"] == "open"
    assert views[0]["replies"] == 0
    assert answers[0] == answers[1] == [b'{"replies":[]}']


def test_closing_or_leaving_the_mailbox_keeps_nothing_to_go_back_to(
    chromium: Browser,
    server: LiveServer,
    server_replies: Stored,
) -> None:
    server_replies.waiting(LEAVING_CODENAME, "received", "Мы получили ваше сообщение.")
    context = chromium.new_context()
    # The quick exit leaves for a real site; here it answers locally.
    context.route("https://www.google.com/**", lambda route: route.fulfill(body="neutral"))
    page = context.new_page()
    try:
        arrived = open_mailbox(page, server.url, LEAVING_CODENAME, lang="ru")
        expect(page.locator("#replies .reply")).to_have_count(1)
        page.click("#close")
        expect(page.locator("#mailbox")).to_have_attribute("data-state", "ready")
        expect(page.locator("#inbox")).to_be_hidden()
        assert page.locator("#replies > *").count() == 0
        assert page.locator("#codename").input_value() == ""

        page.fill("#codename", LEAVING_CODENAME)
        page.click("#open")
        expect(page.locator("#replies .reply")).to_have_count(1, timeout=60_000)
        page.click("#exit-now")
        page.wait_for_url("https://www.google.com/**")
        # Replaced, not added: "back" cannot return to the open mailbox.
        assert page.evaluate("history.length") == arrived
        page.go_back()
        assert "/mailbox/" not in page.url
    finally:
        context.close()


def test_the_mailbox_works_without_webassembly(
    chromium_jitless: Browser,
    server: LiveServer,
    server_replies: Stored,
) -> None:
    server_replies.waiting(JITLESS_CODENAME, "needs-info", "Пришлите копию паспорта.")
    with closing(chromium_jitless.new_page()) as page:
        assert page.evaluate("() => typeof WebAssembly") == "undefined"
        open_mailbox(page, server.url, JITLESS_CODENAME, lang="ru")
        expect(page.locator("#replies .reply")).to_have_attribute("data-status", "needs-info")
        page.fill("#message", "Копия паспорта во вложении.")
        scan: FilePayload = {
            "name": "passport.pdf",
            "mimeType": "application/pdf",
            "buffer": b"%PDF-1.4\n" + bytes(50_000),
        }
        page.set_input_files("#files", files=[scan])
        # A PDF's hidden data cannot be removed: he sends it knowingly.
        page.get_by_role("button", name="Всё равно отправить").click()
        page.click("#send")
        expect(page.locator("#followup-form")).to_have_attribute(
            "data-state", "sent", timeout=120_000
        )
