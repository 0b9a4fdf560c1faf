"""The intake page refuses a manifest chain rolled back behind its anchor (PROTOCOL.md v3).

A server that serves the chain as it was before a revocation would have the
page seal the applicant's story to the revoked key. The page carries the
anchor of the newest manifest it was rendered for, and refuses any chain that
does not reach it; a page without an anchor refuses too (fail closed).
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.support.live_server import LiveServer
from tests.support.rollback import Revocation, revoke_demo_verifier, serve_chain, strip_anchor

pytestmark = pytest.mark.browser

TIMEOUT = 60_000
REFUSED = "The organisation's keys could not be verified."


@pytest.fixture
def revoked(demo_org: Path, server: LiveServer, tmp_path: Path) -> Revocation:
    return revoke_demo_verifier(demo_org, server, tmp_path)


def test_intake_page_refuses_a_chain_rolled_back_to_before_a_revocation(
    chromium: Browser, server: LiveServer, revoked: Revocation
) -> None:
    with closing(chromium.new_context()) as context:
        serve_chain(context, [revoked.genesis])  # the revoked key is still active in it
        page = context.new_page()
        page.goto(server.url + "/en/")
        form = page.locator("#intake-form")
        expect(form).to_have_attribute("data-state", "error", timeout=TIMEOUT)
        expect(page.locator("#form-alert")).to_contain_text(REFUSED)
        assert page.text_content("#manifest-fingerprint") == "…"


def test_intake_page_shows_the_key_set_of_the_newest_chain(
    chromium: Browser, server: LiveServer, revoked: Revocation
) -> None:
    with closing(chromium.new_context()) as context:
        page = context.new_page()
        page.goto(server.url + "/")
        expect(page.locator("#intake-form")).to_have_attribute(
            "data-state", "ready", timeout=TIMEOUT
        )
        shown = page.text_content("#manifest-fingerprint")
        assert shown == revoked.latest.key_set_fingerprint


def test_intake_page_without_its_anchor_refuses_to_encrypt(
    chromium: Browser, server: LiveServer
) -> None:
    with closing(chromium.new_context()) as context:
        strip_anchor(context, "/en/")
        page = context.new_page()
        page.goto(server.url + "/en/")
        expect(page.locator("#intake-form")).to_have_attribute(
            "data-state", "error", timeout=TIMEOUT
        )
        expect(page.locator("#form-alert")).to_contain_text(REFUSED)
