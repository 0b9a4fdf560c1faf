"""The mailbox page refuses a manifest chain rolled back behind its anchor (PROTOCOL.md v3).

After admins revoke a verifier key, a reply forged with that key must never
show as the organisation's. Served the chain from before the revocation, the
page used to trust the revoked key and show the forgery as "Verified"; now it
refuses the chain and opens nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

import crypto
from tests.mailbox.browser import open_mailbox
from tests.mailbox.support import reply_content, signed_reply, store_reply
from tests.support.databases import postgres_unavailable_reason
from tests.support.live_server import LiveServer, demo_server
from tests.support.rollback import Revocation, revoke_demo_verifier, serve_chain, strip_anchor

pytestmark = pytest.mark.browser

CODENAME = "falcon garnet hammock ideology jeep kettle lantern mahogany nebula"
TIMEOUT = 60_000
REFUSED = "The organisation's keys could not be verified."


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def revoked_server(
    request: pytest.FixtureRequest, demo_org: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, Revocation]]:
    """A real server whose chain revokes the demo verifier, holding a reply
    forged with that revoked key for CODENAME's mailbox."""
    if request.param == "postgresql" and (reason := postgres_unavailable_reason()):
        pytest.skip(reason)
    work = tmp_path_factory.mktemp(f"rollback-{request.param}")
    with demo_server(str(request.param), demo_org, work) as live:
        revocation = revoke_demo_verifier(demo_org, live, work)
        genesis = crypto.parse_manifest(revocation.genesis)
        keys = crypto.derive_mailbox(CODENAME, genesis.payload)
        forged = reply_content("verified", "Your case is accepted; send your passport scan.")
        store_reply(
            live.database_url,
            keys.mailbox_id,
            *signed_reply(revocation.revoked, genesis, keys, forged),
        )
        yield live, revocation


def test_mailbox_refuses_a_chain_rolled_back_to_before_a_revocation(
    chromium: Browser, revoked_server: tuple[LiveServer, Revocation]
) -> None:
    server, revocation = revoked_server
    with closing(chromium.new_context()) as context:
        serve_chain(context, [revocation.genesis])  # the revoked key is still listed in it
        page = context.new_page()
        page.goto(server.url + "/en/mailbox/")
        expect(page.locator("#mailbox")).to_have_attribute("data-state", "error", timeout=TIMEOUT)
        expect(page.locator("#status")).to_contain_text(REFUSED)
        expect(page.locator("#open")).to_be_disabled()
        assert page.locator("#replies .reply").count() == 0


def test_mailbox_with_the_whole_chain_rejects_the_reply_of_the_revoked_key(
    chromium: Browser, revoked_server: tuple[LiveServer, Revocation]
) -> None:
    server, revocation = revoked_server
    with closing(chromium.new_context()) as context:
        page = context.new_page()
        open_mailbox(page, server.url, CODENAME)
        expect(page.locator("#rejected")).to_be_visible()
        assert page.locator("#replies .reply").count() == 0
        shown = page.text_content("#manifest-fingerprint")
        assert shown == revocation.latest.key_set_fingerprint


def test_mailbox_page_without_its_anchor_refuses(
    chromium: Browser, revoked_server: tuple[LiveServer, Revocation]
) -> None:
    server, _ = revoked_server
    with closing(chromium.new_context()) as context:
        strip_anchor(context, "/en/mailbox/")
        page = context.new_page()
        page.goto(server.url + "/en/mailbox/")
        expect(page.locator("#mailbox")).to_have_attribute("data-state", "error", timeout=TIMEOUT)
        expect(page.locator("#open")).to_be_disabled()
