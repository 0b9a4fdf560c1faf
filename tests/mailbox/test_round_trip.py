"""The mailbox the whole way round, in real Chromium against a real server:

submit with a codename → courier pull → verifier decrypt, receipts, reply →
courier push → a fresh browser opens the mailbox with the codename, reads the
signed reply, sends a follow-up with an attachment → pull + decrypt threads it
into the same case folder. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from playwright.sync_api import Browser, FilePayload, expect

from tests.mailbox.browser import (
    SEND_TIMEOUT,
    Tools,
    case_json,
    leaves_no_trace,
    open_mailbox,
    submit_through_intake_page,
)
from tests.page import flow
from tests.page.images import has_gps, jpeg_scan, jpeg_with_gps
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser


def test_applicant_reads_the_signed_reply_and_his_followup_joins_his_case(
    chromium: Browser, server: LiveServer, tools: Tools, tmp_path: Path
) -> None:
    canary = "canary-" + secrets.token_hex(8)
    codename = submit_through_intake_page(chromium, server, f"Я ушёл из части. {canary}")

    tools.pull_and_decrypt()
    [case] = tools.case_folders()
    assert canary in (case / "answers.txt").read_text(encoding="utf-8")
    # Receipts let the server delete the submission: the follow-up must still
    # find its case on the laptop, decrypted on an earlier day.
    tools.receipt_everything()
    question = "Пришлите, пожалуйста, фото военного билета.\n\nСпасибо."
    tools.reply(case, "needs-info", question)

    context = chromium.new_context(viewport={"width": 360, "height": 800})
    page = context.new_page()
    # Typed as people type: other capitals, extra spaces, a line break.
    typed = "  " + codename.upper().replace(" ", "  ", 3).replace(" ", "\n", 1) + " "
    arrived = open_mailbox(page, server.url, typed, lang="en")

    replies = page.locator("#replies .reply")
    expect(replies).to_have_count(1)
    reply = replies.first
    expect(reply).to_have_attribute("data-status", "needs-info")
    expect(reply.locator(".reply-status")).to_have_text("More information needed")
    paragraphs = reply.locator(".reply-message p")
    expect(paragraphs).to_have_text(["Пришлите, пожалуйста, фото военного билета.", "Спасибо."])
    expect(page.locator("#current-status")).to_have_text("Current status: More information needed")
    expect(page.locator("#rejected")).to_be_hidden()
    expect(page.locator("#no-replies")).to_be_hidden()
    assert page.locator("#codename").input_value() == ""  # not left in the page
    flow.screenshot(page, "mailbox-reply-360")

    answer = f"Вот мой военный билет. {canary}-followup"
    photo = jpeg_with_gps(tmp_path / "билет.jpg").read_bytes()
    page.fill("#message", answer)
    expect(page.locator("#clean-metadata")).to_be_checked()
    picked: FilePayload = {"name": "билет.jpg", "mimeType": "image/jpeg", "buffer": photo}
    page.set_input_files("#files", files=[picked])
    page.click("#send")
    form = page.locator("#followup-form")
    expect(form).to_have_attribute("data-state", "sent", timeout=SEND_TIMEOUT)
    expect(page.locator("#followup-status")).to_contain_text("Your reference")
    leaves_no_trace(page, arrived)
    context.close()

    tools.pull_and_decrypt()
    assert tools.case_folders() == [case]  # no new case: the follow-up is threaded
    [followup] = sorted((case / "followups").iterdir())
    assert case_json(case)["followups"] == [followup.name]
    doc = case_json(followup)
    assert doc["kind"] == "followup"
    assert doc["thread"] == case.name
    # Sealed to exactly the active verifiers, every digest matching: no warning.
    assert doc["status"] == "ok", doc["warnings"]
    assert [a["flags"] for a in doc["attachments"]] == [[]]
    assert answer in (followup / "answers.txt").read_text(encoding="utf-8")
    [attachment] = (followup / "attachments").iterdir()
    received = attachment.read_bytes()
    assert has_gps(photo)
    assert not has_gps(received)  # where he was stays on his phone
    assert jpeg_scan(received) == jpeg_scan(photo)  # the picture itself untouched
