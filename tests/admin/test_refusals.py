"""Manifests that must be refused by the server, the applicant's page and the
verifier tool alike: signed by too few admins, rolled back, expired, or
rotating to an admin set that did not consent.

Each is made the way an admin (or an attacker holding some admin keys) would
make it, with the real tools where they allow it; the server refuses it on
`publish`, the page ends in state `error` when a hostile server or network
serves it, and `intake-verifier verify-chain` refuses it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import crypto
from tests.support.live_server import LiveServer
from tests.support.manifests import redated_payload

from .conftest import Organisation
from .people import People
from .support import (
    ceremony_step,
    draft_and_sign,
    merge_signatures,
    page_state,
    publish,
    server_chain,
    sign_draft,
    write_chain,
)

pytestmark = pytest.mark.browser


# How intake-verifier words each failure class.
VERIFIER_SAYS = {
    "threshold": "too few distinct valid admin signatures",
    "rollback": "manifest versions do not increase",
    "expired": "the newest manifest of the chain expired on",
}


@pytest.fixture(scope="module")
def chain_at_v2(people: People, organisation: Organisation, server: LiveServer) -> None:
    """The server holds genesis and a version 2 adding a verifier."""
    a1, a2 = people.admin("admin-a1"), people.admin("admin-a2")
    signed = ceremony_step(
        server.url,
        a1,
        [a1, a2],
        "r-v2",
        "add-verifier",
        a1.receive(people.verifiers["anna"].public),
    )
    publish(a1, server.url, signed)
    assert len(server_chain(server.url)) == 2


def signed_by_one_of_three(people: People, url: str) -> tuple[Path, str]:
    a1 = people.admin("admin-a1")
    return draft_and_sign(url, a1, [a1], "r-one-of-three", "renew"), "threshold"


def rolled_back(people: People, url: str) -> tuple[Path, str]:
    """The genesis again: validly signed, but an older version than the one held."""
    a1 = people.admin("admin-a1")
    path = a1.home / "r-rolled-back.json"
    path.write_text(json.dumps(server_chain(url)[0]))
    return path, "rollback"


def expired(people: People, url: str) -> tuple[Path, str]:
    """A successor whose expiry has passed, signed by two admins (the tools
    refuse to draft one, so it is built by hand and signed with `sign`)."""
    a1, a2 = people.admin("admin-a1"), people.admin("admin-a2")
    current = crypto.parse_manifest(server_chain(url)[-1])
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    payload = redated_payload(
        current,
        version=current.version + 1,
        issued=now - dt.timedelta(days=2),
        expires=now - dt.timedelta(hours=1),
    )
    draft = a1.home / "r-expired.draft.json"
    draft.write_text(json.dumps(crypto.dsse_sign(crypto.MANIFEST_TYPE, payload, [])))
    sigs = sign_draft(draft, [a1, a2], a1, "r-expired")
    return merge_signatures(draft, sigs, a1.home / "r-expired.json"), "expired"


def new_admins_did_not_sign(people: People, url: str) -> tuple[Path, str]:
    """A rotation to b1..b3 signed by two current admins only."""
    a1, a2 = people.admin("admin-a1"), people.admin("admin-a2")
    pubs = [a1.receive(people.admin(f"admin-b{n}").public) for n in (1, 2, 3)]
    signed = draft_and_sign(
        url,
        a1,
        [a1, a2],
        "r-unconsented",
        "rotate-admins",
        "--new-admins",
        *pubs,
        "--threshold",
        "2",
    )
    return signed, "threshold"


@pytest.mark.parametrize(
    "make",
    [signed_by_one_of_three, rolled_back, expired, new_admins_did_not_sign],
    ids=["signed-by-1-of-3", "rolled-back", "expired", "new-admin-set-did-not-sign"],
)
def test_bad_manifest_is_refused_by_server_browser_and_verifier(
    make: Callable[[People, str], tuple[Path, str]],
    people: People,
    server: LiveServer,
    chain_at_v2: None,
    chromium: Any,
) -> None:
    url = server.url
    bad, reason = make(people, url)
    held = server_chain(url)

    published = publish(people.admin("admin-a1"), url, bad, ok=False)
    assert published.returncode == 1
    assert f"The manifest does not verify ({reason})" in published.stderr
    assert server_chain(url) == held

    hostile = [*held, json.loads(bad.read_text())]
    state, _ = page_state(chromium, url, chain=hostile)
    assert state == "error"

    boris = people.verifiers["boris"]
    chain_file = write_chain(boris.home / f"hostile-{reason}.json", hostile)
    checked = boris.run(
        "intake-verifier", "verify-chain", chain_file, "--keyring", boris.keyring, ok=False
    )
    assert checked.returncode == 1
    assert VERIFIER_SAYS[reason] in checked.stderr

    # The same route serving the chain without the bad link is fine for both.
    assert page_state(chromium, url, chain=held)[0] == "ready"
    boris.run(
        "intake-verifier",
        "verify-chain",
        write_chain(boris.home / "held.json", held),
        "--keyring",
        boris.keyring,
    )
