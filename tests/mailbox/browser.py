"""Driving the applicant's pages and the offline tools for the mailbox tests."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.page import flow
from tests.support.live_server import LiveServer, run_cli

READY_TIMEOUT = 30_000
SEND_TIMEOUT = 90_000

# Seals a submission that names a mailbox, in the browser, with the page's
# own modules (verified chain, codename-derived reply key): what the intake
# page sends when the applicant keeps a codename.
_SUBMIT_JS = """
async ({ codename, story }) => {
  const intake = await import("/static/js/intake-crypto.js");
  const { api } = await import("/static/js/upload.js");
  const { sendSubmission } = await import("/static/js/upload.js");
  const config = document.getElementById("mailbox-config").dataset;
  const { chain } = await api("GET", "/api/v1/manifests");
  const anchor = intake.parseAnchor(config.manifestAnchor);
  const verified = intake.verifyChain(chain, JSON.parse(config.trustRoot), new Date(), anchor);
  const manifest = verified[verified.length - 1];
  const keys = intake.deriveMailbox(codename, verified[0].payload);
  const content = new TextEncoder().encode(JSON.stringify({
    v: 2, lang: "ru", form: { id: "basic-intake", version: 1 },
    answers: { story }, attachments: [],
    reply: { x25519: intake.b64encode(keys.replyPublic), mailbox: keys.mailboxId },
    sent: new Date().toISOString().replace(/\\.\\d{3}Z$/, "Z"),
  }));
  const opts = { kind: "submission", manifest };
  const sent = await sendSubmission({
    kind: "submission",
    form: {
      size: intake.envelopeSize(content.length, opts),
      build: async () => (await intake.sealBytes(content, opts)).envelope,
    },
    attachments: [],
  });
  return sent.id;
}
"""


def submit_with_codename(chromium: Browser, url: str, codename: str, story: str) -> str:
    """Submits `story` with a mailbox for `codename` from a browser; returns the submission id."""
    with closing(chromium.new_context()) as context:
        page = context.new_page()
        page.goto(url + "/en/mailbox/")
        expect(page.locator("#mailbox")).to_have_attribute(
            "data-state", "ready", timeout=READY_TIMEOUT
        )
        sid: str = page.evaluate(_SUBMIT_JS, {"codename": codename, "story": story})
        return sid


def submit_through_intake_page(chromium: Browser, server: LiveServer, story: str) -> str:
    """Submits `story` through the real intake page, keeping a codename; returns it."""
    with closing(chromium.new_context()) as context:
        page = context.new_page()
        flow.open_page(page, server, "ru")
        flow.go_to(page, "story")
        page.fill("#q-story", story)
        flow.go_to(page, "reply")
        codename = flow.choose_codename(page)
        flow.send(page)
        return codename


def open_mailbox(page: Page, url: str, codename: str, lang: str = "en") -> int:
    """Opens the mailbox page and the mailbox; returns the history length on arrival."""
    page.goto(url + ("/mailbox/" if lang == "ru" else f"/{lang}/mailbox/"))
    arrived: int = page.evaluate("history.length")
    root = page.locator("#mailbox")
    expect(root).to_have_attribute("data-state", "ready", timeout=READY_TIMEOUT)
    page.fill("#codename", codename)
    page.click("#open")
    expect(root).to_have_attribute("data-state", "open", timeout=SEND_TIMEOUT)
    return arrived


def leaves_no_trace(page: Page, history: int) -> None:
    """Nothing in cookies, web storage, IndexedDB or service workers, and no
    history entry beyond the `history` the page arrived with (Playwright's
    new page starts with one for about:blank)."""
    assert page.context.cookies() == []
    traces = page.evaluate(
        """async () => ({
            local: localStorage.length,
            session: sessionStorage.length,
            idb: (await indexedDB.databases()).length,
            history: history.length,
            workers: (await navigator.serviceWorker?.getRegistrations?.() ?? []).length,
        })"""
    )
    expected = {"local": 0, "session": 0, "idb": 0, "history": history, "workers": 0}
    assert traces == expected, traces


class Tools:
    """The courier and verifier tools against one server and the demo organisation."""

    def __init__(self, server: LiveServer, demo_org: Path, env: dict[str, str], work: Path):
        self.server = server
        self.org = demo_org
        self.env = env
        self.work = work
        self.cases = work / "cases"
        self._n = 0

    def _file(self, stem: str, suffix: str) -> Path:
        self._n += 1
        return self.work / f"{stem}-{self._n}{suffix}"

    def _courier(self, *args: str) -> None:
        run_cli(
            [
                "intake-courier",
                *args,
                "--server",
                self.server.url,
                "--key",
                str(self.org / "courier" / "courier.key"),
            ],
            self.env,
        )

    def pull_and_decrypt(self) -> Path:
        bundle = self._file("bundle", ".tar")
        self._courier("pull", "--out", str(bundle))
        keyring = str(self.org / "keyring")
        run_cli(
            [
                "intake-verifier",
                "decrypt",
                str(bundle),
                "--keyring",
                keyring,
                "--out",
                str(self.cases),
            ],
            self.env,
        )
        return bundle

    def receipt_everything(self) -> None:
        receipts = self._file("receipts", ".json")
        keyring = str(self.org / "keyring")
        run_cli(
            [
                "intake-verifier",
                "receipts",
                "--keyring",
                keyring,
                "--cases",
                str(self.cases),
                "--out",
                str(receipts),
            ],
            self.env,
        )
        self._courier("push", str(receipts))

    def reply(self, case: Path, status: str, message: str) -> None:
        replies = self._file("replies", ".json")
        keyring = str(self.org / "keyring")
        run_cli(
            [
                "intake-verifier",
                "reply",
                str(case),
                "--keyring",
                keyring,
                "--status",
                status,
                "--message",
                message,
                "--out",
                str(replies),
            ],
            self.env,
        )
        self._courier("push", str(replies))

    def case_folders(self) -> list[Path]:
        return sorted(p for p in self.cases.iterdir() if p.is_dir() and not p.name.startswith("."))


def case_json(folder: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((folder / "case.json").read_text())
    return doc
