"""The site gets busy while a phone is solving its proof of work.

The server raises the price with the rate of redeemed proofs and answers a
proof more than two bits below the new price `429 pow-stale`. The pages must
then solve a fresh challenge at the new price and go on, not show an error:
the intake page's declaration, the mailbox check and the follow-up's
declaration. Real Chromium, a real server; the only thing the test steers is
*when* the busy moment comes: it holds the page's request until other
clients have paid for enough proofs to raise the price.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.mailbox.browser import SEND_TIMEOUT, open_mailbox, submit_with_codename
from tests.mailbox.support import solved
from tests.page import flow
from tests.support.live_server import LiveServer, demo_server

pytestmark = pytest.mark.browser

CODENAME = "harbor ideology jasmine kettle lantern mahogany nebula octagon panda"
# Cheap base prices, and a target of one proof a minute, so a dozen paid
# requests raise the price by four bits: the page's proof, bought at the base
# price, is then stale.
BUSY = {
    "INTAKE_POW_DIFFICULTY": "6",
    "INTAKE_POW_MAX_DIFFICULTY": "12",
    "INTAKE_POW_TARGET_PER_MINUTE": "1",
    "INTAKE_MAILBOX_POW_DIFFICULTY": "6",
    "INTAKE_MAILBOX_POW_MAX_DIFFICULTY": "12",
    "INTAKE_MAILBOX_POW_TARGET_PER_MINUTE": "1",
}
PAID_BY_OTHERS = 12


@pytest.fixture
def busy_server(demo_org: Path, database_kind: str, tmp_path: Path) -> Iterator[LiveServer]:
    with demo_server(database_kind, demo_org, tmp_path, **BUSY) as live:
        yield live


def others_submit(url: str, count: int = PAID_BY_OTHERS) -> None:
    """Other people's declarations, each with a proof at the current price."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(count):
            challenge = client.post("/api/v1/challenges", json={}).json()
            body = {
                "kind": "submission",
                "envelopes": [{"id": "form", "size": 4096}],
                "pow": solved(challenge),
            }
            assert client.post("/api/v1/submissions", json=body).status_code == 201


def others_check_mailboxes(url: str, count: int = PAID_BY_OTHERS) -> None:
    """Other people's mailbox checks, each with a proof at the current price."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(count):
            challenge = client.post("/api/v1/mailbox/challenges", json={}).json()
            token = base64.b64encode(secrets.token_bytes(32)).decode()
            body = {"token": token, "pow": solved(challenge)}
            assert client.post("/api/v1/mailbox", json=body).status_code == 200


class BusyMoment:
    """Holds the page's first POST to `path` until `rush` has raised the price,
    and records what the server answered to each POST there."""

    def __init__(self, page: Page, url: str, path: str, rush: Callable[[str], None]) -> None:
        self.answers: list[tuple[int, str]] = []
        self._rushed = False

        def hold(route: Route) -> None:
            if route.request.method == "POST" and not self._rushed:
                self._rushed = True
                rush(url)
            route.continue_()

        def record(response: Any) -> None:
            if response.url == url + path and response.request.method == "POST":
                code = (
                    response.json().get("error", {}).get("code", "")
                    if response.status >= 400
                    else ""
                )
                self.answers.append((response.status, code))

        page.route(url + path, hold)
        page.on("response", record)


def test_the_intake_page_and_the_mailbox_pay_the_new_price_when_it_rises_mid_proof(
    chromium: Browser, busy_server: LiveServer
) -> None:
    url = busy_server.url
    with closing(chromium.new_context()) as context:
        page = context.new_page()
        declared = BusyMoment(page, url, "/api/v1/submissions", others_submit)
        flow.open_page(page, busy_server, "en")
        flow.go_to(page, "story")
        page.fill("#q-story", "I left my unit in October.")
        flow.go_to(page, "reply")
        flow.decline_codename(page)
        flow.send(page)
        assert declared.answers == [(429, "pow-stale"), (201, "")]

        checked = BusyMoment(page, url, "/api/v1/mailbox", others_check_mailboxes)
        open_mailbox(page, url, CODENAME)
        expect(page.locator("#no-replies")).to_be_visible()
        assert checked.answers == [(429, "pow-stale"), (200, "")]


def test_a_followup_pays_the_new_price_when_it_rises_mid_proof(
    chromium: Browser, busy_server: LiveServer
) -> None:
    url = busy_server.url
    submit_with_codename(chromium, url, CODENAME, "I left my unit in October.")
    with closing(chromium.new_context()) as context:
        page = context.new_page()
        open_mailbox(page, url, CODENAME)
        declared = BusyMoment(page, url, "/api/v1/submissions", others_submit)
        page.fill("#message", "Here is what happened next.")
        page.click("#send")
        form = page.locator("#followup-form")
        expect(form).to_have_attribute("data-state", "sent", timeout=SEND_TIMEOUT)
        assert declared.answers == [(429, "pow-stale"), (201, "")]
