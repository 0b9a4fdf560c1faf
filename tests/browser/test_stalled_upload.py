"""A line that stops answering mid-upload: both pages say so, retry, and finish.

Real Chromium talks to a real server through a loopback TCP proxy
(tests/support/stalling_proxy.py) that stops forwarding in the middle of an
attachment's second piece: the request is not refused or reset, it simply
never moves again, as on a dead mobile link. The intake page and the
mailbox's follow-up both send through upload.js's one flow, so both must

- say that nothing has moved for N seconds and that they are trying again,
- finish by themselves once the line flows again,
- after several stalls in a row, stop and say so, with "Try again", which
  continues from the last piece the server stored (never from offset 0),

and on a throttled line (400 kbit/s, 400 ms) the progress bar must move in
small steps, not in 1 MiB jumps, so slow and stuck look different.

The pages' stall timeout is shortened through their config element's
`data-upload-timing` (20 s by default); everything else is the real thing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.mailbox.browser import open_mailbox, submit_with_codename
from tests.page import flow
from tests.page.conftest import start_server
from tests.support.live_server import LiveServer
from tests.support.stalling_proxy import StallingProxy, stalling_proxy

pytestmark = pytest.mark.browser

CODENAME = "lemon mahogany nebula ocean parrot quarry raffle salad tantrum"
PART = 1 << 20  # the server's upload.chunk
STALL_SECONDS = 2
TIMEOUT = 60_000
# A file of two and a half pieces: the proxy stalls in the second one, after
# the first is stored.
FILE_BYTES = 2_500_000
STALL_AFTER = PART + 400_000

# What each page says (app/templates/upload_messages.html): the intake page
# in Russian, the mailbox in English.
TEXTS = {
    "intake": {
        "stalled": f"не двигается уже {STALL_SECONDS} с",
        "stuck": "Отправка остановилась",
        "kept": "Ничего не потеряно",
    },
    "mailbox": {
        "stalled": f"No progress for {STALL_SECONDS} s",
        "stuck": "Sending has stopped",
        "kept": "Nothing is lost",
    },
}


@pytest.fixture(scope="module")
def server(demo_org: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with start_server(demo_org, tmp_path_factory.mktemp("stalled-upload")) as live:
        yield live


@pytest.fixture
def proxy(server: LiveServer) -> Iterator[StallingProxy]:
    with stalling_proxy(server.url) as stalling:
        yield stalling


@pytest.fixture(scope="module")
def mailbox_ready(chromium: Browser, server: LiveServer) -> str:
    """A submission naming the codename's mailbox, so the mailbox page can send follow-ups."""
    return submit_with_codename(chromium, server.url, CODENAME, "stalled-upload mailbox")


def _pdf(folder: Path, size: int) -> Path:
    return flow.write_file(folder / "scan.pdf", size, head=b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")


def _set_timing(page: Page, config_id: str, **timing: int) -> None:
    page.evaluate(
        "([id, timing]) => { document.getElementById(id).dataset.uploadTiming = timing; }",
        [config_id, json.dumps(timing)],
    )


class Sender:
    """One page that sends: where its status, retry button and end state are."""

    def __init__(self, page: Page, kind: str) -> None:
        self.page = page
        self.kind = kind
        self.texts = TEXTS[kind]
        intake = kind == "intake"
        self.status = page.locator("#status" if intake else "#followup-status")
        self.retry = page.locator("#upload-retry" if intake else "#followup-retry")
        self.config_id = "intake-config" if intake else "mailbox-config"

    def set_timing(self, **timing: int) -> None:
        _set_timing(self.page, self.config_id, **timing)

    def expect_sent(self) -> None:
        if self.kind == "intake":
            expect(self.page.locator("#done")).to_be_visible(timeout=TIMEOUT)
        else:
            expect(self.page.locator("#followup-form")).to_have_attribute(
                "data-state", "sent", timeout=TIMEOUT
            )


def open_intake(
    page: Page, server: LiveServer, canary: str, attachment: Path
) -> Callable[[], None]:
    """The intake page, filled in with `attachment`; returns the press of "send"."""
    flow.open_page(page, server)
    flow.go_to(page, "story")
    page.fill("#q-story", canary)
    flow.go_to(page, "files")
    page.set_input_files("#files", str(attachment))
    page.locator("#file-list li").get_by_role("button", name="Всё равно отправить").click()
    flow.on_to_check_without_a_codename(page)
    page.check("#q-consent")
    return lambda: page.click("#send")


def open_followup(
    page: Page, server: LiveServer, canary: str, attachment: Path
) -> Callable[[], None]:
    """The mailbox page, a follow-up with `attachment` written; returns the press of "send"."""
    open_mailbox(page, server.url, CODENAME)
    page.fill("#message", canary)
    page.set_input_files("#files", str(attachment))
    page.locator("#followup-form #file-list li").get_by_role(
        "button", name="Send it anyway"
    ).click()
    return lambda: page.click("#send")


def start(
    kind: str,
    page: Page,
    server: LiveServer,
    canary: str,
    attachment: Path,
    *,
    via: str | None = None,
) -> tuple[Sender, Callable[[], None]]:
    """Open the `kind` page (through the proxy at `via`, if given), ready to send `attachment`."""
    at = dataclasses.replace(server, url=via) if via else server
    press = (open_intake if kind == "intake" else open_followup)(page, at, canary, attachment)
    return Sender(page, kind), press


def attachment_puts(proxy: StallingProxy) -> list[int]:
    """The offsets of every PUT of the attachment's envelope (not the form's) the server got."""
    offsets = []
    for line in proxy.requests:
        match = re.fullmatch(
            r"PUT /api/v1/submissions/\w+/envelopes/([0-9a-f]{32})\?offset=(\d+)", line
        )
        if match:
            offsets.append(int(match.group(2)))
    return offsets


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("kind", ["intake", "mailbox"])
def test_a_stalled_piece_is_reported_retried_and_finished_when_the_line_flows_again(
    kind: str,
    chromium: Browser,
    server: LiveServer,
    proxy: StallingProxy,
    mailbox_ready: str,
    demo_org: Path,
    tools_env: dict[str, str],
    tmp_path: Path,
) -> None:
    canary = "stall-" + secrets.token_hex(6)
    attachment = _pdf(tmp_path, FILE_BYTES)
    with closing(chromium.new_context()) as context:
        page = context.new_page()
        sender, press = start(kind, page, server, canary, attachment, via=proxy.url)
        # Never "stuck" here: this test is about retrying on its own.
        sender.set_timing(stallSeconds=STALL_SECONDS, attempts=1000)
        proxy.stall_after(STALL_AFTER)
        press()

        expect(sender.status).to_contain_text(sender.texts["stalled"], timeout=TIMEOUT)
        expect(sender.status).to_contain_text(sender.texts["kept"])
        assert proxy.stalled
        expect(sender.retry).to_be_hidden()
        proxy.resume()
        sender.expect_sent()

    offsets = attachment_puts(proxy)
    # Resumed from what the server held, never from the start again.
    assert offsets.count(0) == 1, offsets
    assert len(offsets) >= 3 and PART in offsets, offsets

    if kind == "intake":
        cases = flow.pull_and_decrypt(server, demo_org, tools_env, tmp_path / "cases")
        case = flow.find_case(cases, canary)
        received = case.folder / case.doc["attachments"][0]["file"]
        assert case.doc["attachments"][0]["flags"] == []  # its digest matched
        assert sha256(received) == sha256(attachment)


@pytest.mark.parametrize("kind", ["intake", "mailbox"])
def test_after_stalls_in_a_row_the_page_asks_and_try_again_resumes_from_the_last_stored_piece(
    kind: str,
    chromium: Browser,
    server: LiveServer,
    proxy: StallingProxy,
    mailbox_ready: str,
    tmp_path: Path,
) -> None:
    attachment = _pdf(tmp_path, FILE_BYTES)
    with closing(chromium.new_context()) as context:
        page = context.new_page()
        canary = "stuck-" + secrets.token_hex(6)
        sender, press = start(kind, page, server, canary, attachment, via=proxy.url)
        sender.set_timing(stallSeconds=STALL_SECONDS, attempts=2)
        proxy.stall_after(STALL_AFTER)
        press()

        expect(sender.status).to_contain_text(sender.texts["stalled"], timeout=TIMEOUT)
        expect(sender.status).to_contain_text(sender.texts["stuck"], timeout=TIMEOUT)
        expect(sender.status).to_contain_text(sender.texts["kept"])
        expect(sender.retry).to_be_visible()
        expect(sender.retry).to_be_enabled()
        # Stuck, the page waits for him: nothing more reaches the server.
        stored_before = attachment_puts(proxy)
        proxy.resume()
        page.wait_for_timeout(3 * STALL_SECONDS * 1000)
        assert attachment_puts(proxy) == stored_before
        sender.retry.click()
        expect(sender.retry).to_be_hidden()
        sender.expect_sent()

    offsets = attachment_puts(proxy)
    assert offsets.count(0) == 1, offsets
    assert all(offset >= PART for offset in offsets[1:]), offsets


@pytest.mark.parametrize("kind", ["intake", "mailbox"])
def test_progress_moves_in_small_steps_on_a_throttled_line(
    kind: str,
    chromium: Browser,
    server: LiveServer,
    mailbox_ready: str,
    tmp_path: Path,
) -> None:
    attachment = _pdf(tmp_path, 1_000_000)
    with closing(chromium.new_context()) as context:
        page = context.new_page()
        sender, press = start(kind, page, server, "slow-" + secrets.token_hex(6), attachment)
        # Every value the progress bar takes, as the page sets it.
        page.evaluate(
            """() => {
                const bar = document.getElementById("progress");
                window.progressSeen = new Set();
                new MutationObserver(() => window.progressSeen.add(bar.getAttribute("value")))
                    .observe(bar, { attributes: true, attributeFilter: ["value"] });
            }"""
        )
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": 400,
                "downloadThroughput": 400_000 / 8,
                "uploadThroughput": 400_000 / 8,
            },
        )
        press()
        sender.expect_sent()
        seen = page.evaluate("() => window.progressSeen.size")
    # 1 MB in 1 MiB pieces would show two or three values; every ~16 KB, dozens.
    print(f"{kind}: {seen} distinct progress values for a 1 MB attachment at 400 kbit/s")
    assert seen > 30, seen
