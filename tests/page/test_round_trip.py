"""A complete submission in Russian, with attachments and a cut connection, opened offline.

The browser encrypts the answers and three files (one large), the network is
cut in the middle of the upload and restored, and the organisation's offline
tools must open everything: every attachment's digest matching (the
verifier checks them), the bytes identical to what was picked (or, for the
photo, identical but for the hidden data the applicant chose to remove).

The same runs with WebAssembly disabled (Tor Browser "Safer"). Sealing
without a JIT runs at ~0.25 MB/s, so that run's large file is 3 MB, not 50 MB.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

import crypto
from tests.page import flow
from tests.page.conftest import start_server
from tests.page.images import has_gps, jpeg_scan, jpeg_with_gps
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser

MB = 1_000_000


@pytest.fixture(scope="module")
def server(demo_org: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of its own: the courier pulls (and the verifier opens) only these cases."""
    with start_server(demo_org, tmp_path_factory.mktemp("round-trip")) as live:
        yield live


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        for piece in iter(lambda: src.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()


@pytest.mark.parametrize(
    ("mode", "large"),
    [("wasm", 50 * MB), ("jitless", 3 * MB)],
)
def test_russian_submission_with_three_files_survives_a_cut_connection_and_opens_offline(
    mode: str,
    large: int,
    chromium: Browser,
    chromium_jitless: Browser,
    server: LiveServer,
    demo_org: Path,
    tools_env: dict[str, str],
    tmp_path: Path,
) -> None:
    browser = chromium_jitless if mode == "jitless" else chromium
    big = flow.write_file(tmp_path / "скан-дела.pdf", large, head=b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    pdf = flow.write_file(tmp_path / "повестка.pdf", 300_000, head=b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    photo = jpeg_with_gps(tmp_path / "photo.jpg")
    canary = "canary-" + secrets.token_hex(8)

    context = browser.new_context(viewport={"width": 360, "height": 800})
    page = context.new_page()
    flow.open_page(page, server, "ru")
    if mode == "jitless":
        assert page.evaluate("() => typeof WebAssembly") == "undefined"
    page.check("#q-country-kazakhstan")
    page.fill("#q-city", "Алматы")
    page.select_option("#q-arrived-month", "10")
    page.select_option("#q-arrived-year", "2022")
    flow.next_step(page)
    page.check("#q-documents-internal-passport")
    page.check("#q-documents-military-id")
    flow.go_to(page, "story")
    page.fill("#q-story", f"Я ушёл из части в октябре. {canary}")
    flow.check(page, "#q-contact-method-signal")  # asked after his story, not first
    page.fill("#q-contact-address", "@" + canary[-6:])
    flow.go_to(page, "files")
    page.set_input_files("#files", [str(photo), str(pdf), str(big)])
    expect(page.locator("#file-list li")).to_have_count(3)
    expect(page.locator("#clean-metadata")).to_be_checked()
    for name in (pdf.name, big.name):  # a PDF keeps its hidden data: he is asked, and sends it
        row = page.locator("#file-list li").filter(has_text=name)
        row.get_by_role("button", name="Всё равно отправить").click()
    flow.next_step(page)
    codename = flow.choose_codename(page)
    flow.go_to(page, "send")
    page.check("#q-consent")
    page.click("#send")

    # Cut the connection in the middle of the upload, then restore it.
    flow.wait_for_progress(page, 10, timeout=180)
    context.set_offline(True)
    expect(page.locator("#intake-form")).to_have_attribute("data-state", "offline", timeout=60_000)
    page.wait_for_timeout(1500)
    context.set_offline(False)
    expect(page.locator("#done")).to_be_visible(timeout=300_000)
    assert context.cookies() == []
    context.close()

    cases = flow.pull_and_decrypt(server, demo_org, tools_env, tmp_path / "offline")

    case = flow.find_case(cases, canary)
    assert case.doc["status"] == "ok", case.doc["warnings"]
    assert case.doc["lang"] == "ru"
    assert case.doc["form"] == {"id": "deserter-intake", "version": "1"}
    assert "Алматы" in case.answers and "Я ушёл из части в октябре." in case.answers
    assert "internal-passport" in case.answers and "2022-10" in case.answers

    by_name = {a["name"]: a for a in case.doc["attachments"]}
    assert set(by_name) == {"photo.jpg", "повестка.pdf", "скан-дела.pdf"}
    for attachment in by_name.values():
        assert attachment["flags"] == [], attachment  # digest matched, nothing odd
    for original in (big, pdf):
        received = case.folder / by_name[original.name]["file"]
        assert received.stat().st_size == original.stat().st_size
        assert sha256(received) == sha256(original)
    received_photo = (case.folder / by_name["photo.jpg"]["file"]).read_bytes()
    assert has_gps(photo.read_bytes())
    assert not has_gps(received_photo)  # he chose to strip: no EXIF, no GPS
    assert b"taken at home" not in received_photo  # nor the comment
    assert jpeg_scan(received_photo) == jpeg_scan(photo.read_bytes())  # the picture untouched

    # The reply key and mailbox inside the ciphertext come from his codename.
    genesis = crypto.parse_manifest(json.loads((demo_org / "manifest-1.json").read_text()))
    keys = crypto.derive_mailbox(codename, genesis.payload)
    assert case.doc["reply"]["mailbox"] == keys.mailbox_id
    assert case.doc["reply"]["x25519"] == crypto.b64e(keys.reply_public)
