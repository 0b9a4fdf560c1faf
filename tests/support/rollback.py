"""A revocation published to a live server, and a hostile copy of its chain.

The rollback tests revoke the demo organisation's verifier (as admins do when
its key is lost), publish that manifest to a real server, and then serve the
browser the chain as it was *before* the revocation: what a compromised
server, a stale mirror or a proxy can do without touching the signed pages.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Route

import crypto
from crypto.cli.manifests import build_draft
from tests.support.demo import DEMO_PASSPHRASE
from tests.support.live_server import LiveServer, run_cli


@dataclass(frozen=True)
class Revocation:
    genesis: dict[str, Any]
    revoking: dict[str, Any]
    revoked: crypto.Identity
    successor: crypto.Identity

    @property
    def latest(self) -> crypto.Manifest:
        return crypto.parse_manifest(self.revoking)


def revoke_demo_verifier(demo_org: Path, server: LiveServer, work: Path) -> Revocation:
    """Publish manifest 2 to `server`: the demo verifier revoked, a new one active.

    Like `intake-admin revoke` followed by `add-verifier`, in one draft, signed
    by both demo admins; the signed form is carried forward unchanged, so the
    pages render the same questions before and after.
    """
    genesis = json.loads((demo_org / "manifest-1.json").read_text())
    current = crypto.parse_manifest(genesis)
    revoked = crypto.read_key_file(demo_org / "keyring" / "verifier.key", DEMO_PASSPHRASE)
    successor = crypto.generate_identity("verifier", "after-revocation")
    admins = [
        crypto.read_key_file(demo_org / "admins" / f"admin-{n}.key", DEMO_PASSPHRASE)
        for n in (1, 2)
    ]
    draft = build_draft(
        current,
        verifiers=[crypto.VerifierEntry.from_public(successor.public())],
        expires=dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=30),
    )
    signed = crypto.dsse_sign(crypto.MANIFEST_TYPE, crypto.b64d(draft["payload"]), admins)
    path = work / "manifest-2.json"
    path.write_text(json.dumps(signed))
    run_cli(["intake", "manifests", "import", str(path)], server.env)
    return Revocation(genesis, signed, revoked, successor)


def serve_chain(context: BrowserContext, chain: list[dict[str, Any]]) -> None:
    """Every `GET /api/v1/manifests` of this browser context answers `chain`
    (the pages themselves still come, unaltered, from the live server)."""

    def answer(route: Route) -> None:
        route.fulfill(
            status=200,
            content_type="application/json",
            body=json.dumps({"chain": chain}),
        )

    context.route("**/api/v1/manifests", answer)


def strip_anchor(context: BrowserContext, path: str) -> None:
    """Serve the page at `path` without its manifest anchor attribute."""

    def answer(route: Route) -> None:
        response = route.fetch()
        html = response.text()
        start = html.find("data-manifest-anchor=")
        if start >= 0:
            quote = html[start + len("data-manifest-anchor=")]
            end = html.index(quote, start + len("data-manifest-anchor=") + 1) + 1
            html = html[:start] + html[end:]
        route.fulfill(response=response, body=html)

    context.route(f"**{path}", answer)
