"""Files in a follow-up whose hidden data the page cannot remove (HEIC, video,
PDF, a broken image): never sent silently, as on the intake page.

He is told, per file, before anything is sent, and decides for each one:
"send it anyway" (it then arrives byte for byte as he chose it) or "remove
it" (it never leaves his phone). The follow-up waits until every such file is
decided. Real Chromium, a real server on SQLite and on PostgreSQL, the real
courier and verifier tools.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from crypto.cli.admin_online import DEFAULT_PAGES, crawl
from tests.mailbox.browser import (
    SEND_TIMEOUT,
    Tools,
    case_json,
    open_mailbox,
    submit_with_codename,
)
from tests.page import flow
from tests.page.images import heic_with_gps, jpeg_with_gps, mp4_with_place, pdf_with_author
from tests.page.test_accessibility import serious_violations
from tests.support.databases import postgres_unavailable_reason
from tests.support.live_server import LiveServer, demo_server

pytestmark = pytest.mark.browser

# Each test has its own mailbox on the module's server.
SENDING_CODENAME = "lemon mahogany nebula ocean parrot quarry raffle salad tantrum"
ENGLISH_CODENAME = "apple backside cage dash engine faculty garden hamper idiom"

# The intake page's own catalog entries (app/pages/intake.py), word for word.
WARNING_RU = "Этот файл может содержать место и время, когда он был сделан, и данные об устройстве."
NOT_REMOVED_RU = "Мы не смогли их удалить."
DECIDE_RU = "Некоторые файлы могут содержать место и время, когда они были сделаны"
SEND_ANYWAY_RU = "Всё равно отправить"
REMOVE_RU = "Не отправлять этот файл"
AS_IS_RU = "будет отправлен как есть"
WARNING_EN = (
    "This file may contain the place and time it was made and the device. We could not remove it."
)
DECIDE_EN = "Some files may contain the place and time they were made"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, demo_org: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One real server per database for this module (its tests use separate mailboxes)."""
    if request.param == "postgresql" and (reason := postgres_unavailable_reason()):
        pytest.skip(reason)
    work = tmp_path_factory.mktemp(f"followup-files-{request.param}")
    with demo_server(str(request.param), demo_org, work) as live:
        yield live


def file_row(page: Page, name: str) -> Any:
    return page.locator("#followup-form #file-list li").filter(has_text=name)


def test_a_followup_file_the_page_cannot_clean_waits_for_his_decision(
    chromium: Browser, server: LiveServer, tools: Tools, tmp_path: Path
) -> None:
    canary = "canary-" + secrets.token_hex(8)
    submit_with_codename(chromium, server.url, SENDING_CODENAME, f"Я ушёл из части. {canary}")
    heic = heic_with_gps(tmp_path / "IMG_0002.HEIC")
    video = mp4_with_place(tmp_path / "видео.mp4")
    pdf = pdf_with_author(tmp_path / "повестка.pdf")
    assert b"TestPhone" in heic.read_bytes() and b"+43.2583" in video.read_bytes()
    assert b"Ivan Petrov" in pdf.read_bytes()

    context = chromium.new_context(viewport={"width": 360, "height": 800})
    page = context.new_page()
    open_mailbox(page, server.url, SENDING_CODENAME, lang="ru")
    answer = f"Вот повестка. {canary}-followup"
    page.fill("#message", answer)
    page.set_input_files("#files", [str(heic), str(video), str(pdf)])
    for name in (heic.name, video.name, pdf.name):
        row = file_row(page, name)
        expect(row).to_contain_text(WARNING_RU)
        expect(row).to_contain_text(NOT_REMOVED_RU)
        expect(row.get_by_role("button", name=SEND_ANYWAY_RU)).to_be_visible()
        expect(row.get_by_role("button", name=REMOVE_RU)).to_be_visible()

    flow.screenshot(page, "mailbox-followup-warning-360")

    # Nothing is sent while a file is undecided: he is told why, at the first one.
    form = page.locator("#followup-form")
    page.click("#send")
    expect(page.locator("#followup-status")).to_contain_text(DECIDE_RU)
    expect(file_row(page, heic.name).get_by_role("button", name=SEND_ANYWAY_RU)).to_be_focused()

    file_row(page, video.name).get_by_role("button", name=REMOVE_RU).click()
    expect(page.locator("#followup-form #file-list li")).to_have_count(2)
    file_row(page, heic.name).get_by_role("button", name=SEND_ANYWAY_RU).click()
    page.click("#send")
    # The PDF still waits: he is taken to it, and nothing is sent.
    expect(file_row(page, pdf.name).get_by_role("button", name=SEND_ANYWAY_RU)).to_be_focused()
    expect(page.locator("#followup-status")).to_contain_text(DECIDE_RU)
    expect(form).to_have_attribute("data-state", "idle")
    file_row(page, pdf.name).get_by_role("button", name=SEND_ANYWAY_RU).click()
    for name in (heic.name, pdf.name):
        expect(file_row(page, name)).not_to_contain_text(WARNING_RU)
        expect(file_row(page, name)).to_contain_text(AS_IS_RU)

    page.click("#send")
    expect(form).to_have_attribute("data-state", "sent", timeout=SEND_TIMEOUT)
    # Sent: the list is emptied with the message (nothing of his is left on the page).
    expect(page.locator("#followup-form #file-list li")).to_have_count(0)
    context.close()

    tools.pull_and_decrypt()
    [case] = [c for c in tools.case_folders() if canary in (c / "answers.txt").read_text("utf-8")]
    [followup] = sorted((case / "followups").iterdir())
    doc = case_json(followup)
    assert doc["status"] == "ok", doc["warnings"]
    assert answer in (followup / "answers.txt").read_text(encoding="utf-8")
    by_name = {a["name"]: a for a in doc["attachments"]}
    assert set(by_name) == {heic.name, pdf.name}  # the video he took out never left
    for original in (heic, pdf):
        received = (followup / by_name[original.name]["file"]).read_bytes()
        assert received == original.read_bytes()  # exactly what he chose to send


def test_a_broken_photo_in_a_followup_is_held_and_the_warning_speaks_english(
    chromium: Browser, server: LiveServer, tmp_path: Path
) -> None:
    broken = tmp_path / "cut.jpg"
    broken.write_bytes(jpeg_with_gps(tmp_path / "p.jpg").read_bytes()[:300])
    # bypass_csp: only so that axe itself can be added to the page.
    context = chromium.new_context(viewport={"width": 360, "height": 780}, bypass_csp=True)
    page = context.new_page()
    open_mailbox(page, server.url, ENGLISH_CODENAME, lang="en")
    page.set_input_files("#files", str(broken))
    row = file_row(page, broken.name)
    expect(row).to_contain_text(WARNING_EN)
    assert serious_violations(page) == []
    page.click("#send")
    expect(page.locator("#followup-status")).to_contain_text(DECIDE_EN)
    row.get_by_role("button", name="Send it anyway").click()
    expect(row).to_contain_text("will be sent as it is")
    # Closing the mailbox forgets the files with everything else.
    page.click("#close")
    page.fill("#codename", ENGLISH_CODENAME)
    page.click("#open")
    expect(page.locator("#mailbox")).to_have_attribute("data-state", "open", timeout=SEND_TIMEOUT)
    expect(page.locator("#followup-form #file-list li")).to_have_count(0)
    context.close()


def test_the_shared_file_list_module_is_in_what_the_signed_site_document_covers(
    server: LiveServer,
) -> None:
    """A module both pages import is found by the crawl `site-digest` signs
    (and `check-site` compares), from each page that loads it."""
    found = crawl(server.url, DEFAULT_PAGES, [])
    assert "/static/js/files.js" in found.files
    named_by = {source for ref, source in found.references if ref == "/static/js/files.js"}
    assert {"/static/js/intake-page.js", "/static/js/mailbox-page.js"} <= named_by
    # ...and each page pins it by its integrity value, as every other module.
    assert {"/", "/en/", "/mailbox/", "/en/mailbox/"} <= named_by
