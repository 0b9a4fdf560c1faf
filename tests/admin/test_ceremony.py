"""A whole key ceremony: three admins (threshold 2) on separate machines, a real
server, real Chromium, the real verifier and courier tools.

Every change is an unsigned draft, signed by each admin in their own home and
published; the server, the applicant's page and `intake-verifier` all follow
the chain. After the admin set rotates and a verifier is retired, a new
submission is sealed only to the new active set, an old one still opens with
the retired key, and after a rewrap it opens with the new key instead.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

import crypto
from tests.support.live_server import LiveServer

from .conftest import Organisation
from .people import People, Person
from .support import (
    ceremony_step,
    draft_and_sign,
    latest,
    marker,
    page_state,
    publish,
    server_chain,
    submit,
    verify_chain,
    write_chain,
)

pytestmark = pytest.mark.browser


def follow(chromium: Any, server: LiveServer, verifiers: list[Person], tag: str) -> None:
    """The page and every verifier's tool accept the chain now served, and agree on it."""
    newest = latest(server.url)
    state, shown = page_state(chromium, server.url)
    # The page shows the key-set fingerprint (v3), which a rolled-back chain cannot show.
    assert (state, shown) == ("ready", newest.key_set_fingerprint)
    for verifier in verifiers:
        checked = verify_chain(verifier, server.url, tag)
        assert f"newest version {newest.version}, fingerprint {newest.fingerprint}" in (
            checked.stderr
        )


def pull(courier: Person, server: LiveServer, name: str) -> Path:
    bundle = courier.home / name
    courier.run(
        "intake-courier", "pull", "--server", server.url, "--key", courier.key, "--out", bundle
    )
    return bundle


def sealed_to(bundle: Path) -> dict[str, set[str]]:
    """Submission id -> recipient kids of its form envelope, as the server stored it."""
    out: dict[str, set[str]] = {}
    with tarfile.open(bundle) as tar:
        for member in tar.getmembers():
            if member.name.endswith("/form.env"):
                data = tar.extractfile(member)
                assert data is not None
                header = crypto.read_header(io.BytesIO(data.read()))
                out[member.name.split("/")[1]] = set(header.recipient_kids)
    return out


def decrypt(verifier: Person, bundle: Path, out: str, *, ok: bool = True) -> dict[str, str]:
    """Case id -> answers text, for each submission `verifier`'s keyring opened."""
    mine = verifier.receive(bundle)
    result = verifier.run(
        "intake-verifier",
        "decrypt",
        mine,
        "--keyring",
        verifier.keyring,
        "--out",
        verifier.home / out,
        ok=ok,
    )
    assert result.returncode == (0 if ok else 1), result.stderr
    cases = verifier.home / out
    return {
        p.parent.name: p.read_text(encoding="utf-8") for p in sorted(cases.glob("*/answers.txt"))
    }


def test_ceremony_with_three_admins_is_followed_by_server_browser_and_verifier(
    people: People, organisation: Organisation, server: LiveServer, chromium: Any
) -> None:
    a1, a2, a3 = (people.admin(f"admin-a{n}") for n in (1, 2, 3))
    b1, b2, b3 = (people.admin(f"admin-b{n}") for n in (1, 2, 3))
    anna, boris = people.verifiers["anna"], people.verifiers["boris"]
    courier = people.courier
    url = server.url
    follow(chromium, server, [anna, boris], "v1")

    # v2: a verifier joins (a1 drafts, a2 and a3 sign).
    signed = ceremony_step(url, a1, [a2, a3], "v2", "add-verifier", a1.receive(anna.public))
    publish(a1, url, signed)
    follow(chromium, server, [anna], "v2")
    assert [v.label for v in latest(url).active_verifiers()] == ["anna"]

    # v3: a courier key, so ciphertext can leave the server.
    signed = ceremony_step(url, a2, [a1, a3], "v3", "add-courier", a2.receive(courier.public))
    publish(a2, url, signed)
    follow(chromium, server, [anna], "v3")

    old_marker = marker()
    assert submit(url, latest(url), old_marker).status_code == 200

    # v4: the admin set rotates to b1..b3; two old and two new admins sign.
    new_pubs = [a3.receive(p.public) for p in (b1, b2, b3)]
    signed = ceremony_step(
        url,
        a3,
        [a1, a3, b1, b2],
        "v4",
        "rotate-admins",
        "--new-admins",
        *new_pubs,
        "--threshold",
        "2",
    )
    publish(a3, url, signed)
    follow(chromium, server, [anna], "v4")
    assert {a.label for a in latest(url).admins} == {"admin-b1", "admin-b2", "admin-b3"}

    # The old admins alone can no longer change anything.
    refused_draft = draft_and_sign(url, a1, [a1, a2], "v5-old-admins", "renew")
    refused = publish(a1, url, refused_draft, ok=False)
    assert refused.returncode == 1 and "threshold" in refused.stderr

    # v5: a second verifier; v6: the first one retires.
    signed = ceremony_step(url, b1, [b1, b2], "v5", "add-verifier", b1.receive(boris.public))
    publish(b1, url, signed)
    follow(chromium, server, [anna, boris], "v5")
    signed = ceremony_step(url, b2, [b2, b3], "v6", "retire", anna.kid)
    publish(b2, url, signed)
    follow(chromium, server, [anna, boris], "v6")
    current = latest(url)
    assert [v.label for v in current.active_verifiers()] == ["boris"]

    # A new submission is sealed to the new active set only; the server
    # refuses one sealed to the retired key or under the replaced manifest.
    new_marker = marker()
    assert submit(url, current, new_marker).status_code == 200
    anna_x = next(v.x25519 for v in current.verifiers if v.kid == anna.kid)
    boris_x = next(v.x25519 for v in current.verifiers if v.kid == boris.kid)
    wrong = submit(url, current, marker(), recipients=[anna_x, boris_x])
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "recipients-mismatch"
    stale = crypto.parse_manifest(server_chain(url)[2])
    superseded = submit(url, stale, marker())
    assert superseded.json()["error"]["code"] == "manifest-superseded"

    bundle = pull(courier, server, "bundle-1.tar")
    recipients = sealed_to(bundle)
    assert sorted(sorted(kids) for kids in recipients.values()) == sorted([[anna.kid], [boris.kid]])
    # The old submission still opens with the retired key; the new one does not.
    opened = decrypt(anna, bundle, "cases-anna-1", ok=False)
    assert [old_marker in text for text in opened.values()] == [True]
    opened = decrypt(boris, bundle, "cases-boris-1", ok=False)
    assert [new_marker in text for text in opened.values()] == [True]

    # Revocation report: the retired key still opens one held submission.
    report = courier.run(
        "intake-admin",
        "revocation-report",
        "--server",
        url,
        "--trust-root",
        courier.receive(organisation.trust_root),
        "--key",
        courier.key,
    )
    summary = json.loads(report.stdout)["kids"]
    old_sid = next(sid for sid, kids in recipients.items() if kids == {anna.kid})
    assert summary == {anna.kid: {"status": "retired", "label": "anna", "submissions": [old_sid]}}

    # anna rewraps what she can open to the new active set; the courier pushes it.
    chain = write_chain(anna.home / "rewrap-chain.json", server_chain(url))
    rewraps = anna.home / "rewraps.json"
    anna.run(
        "intake-verifier",
        "rewrap",
        anna.receive(bundle),
        "--keyring",
        anna.keyring,
        "--to-manifest",
        chain,
        "--out",
        rewraps,
    )
    courier.run(
        "intake-courier",
        "push",
        courier.receive(rewraps),
        "--server",
        url,
        "--key",
        courier.key,
    )
    bundle = pull(courier, server, "bundle-2.tar")
    assert list(sealed_to(bundle).values()) == [{boris.kid}, {boris.kid}]
    texts = list(decrypt(boris, bundle, "cases-boris-2").values())
    assert len(texts) == 2
    assert any(old_marker in t for t in texts) and any(new_marker in t for t in texts)
    assert decrypt(anna, bundle, "cases-anna-2", ok=False) == {}

    report = courier.run(
        "intake-admin",
        "revocation-report",
        "--server",
        url,
        "--trust-root",
        organisation.trust_root,
        "--key",
        courier.key,
        "--kid",
        anna.kid,
    )
    assert json.loads(report.stdout)["kids"][anna.kid]["submissions"] == []

    # v7: the retired key is revoked entirely.
    signed = ceremony_step(url, b3, [b1, b3], "v7", "revoke", anna.kid)
    publish(b3, url, signed)
    follow(chromium, server, [boris], "v7")
    assert [v.label for v in latest(url).verifiers] == ["boris"]

    # Anyone holding the trust root can check the audit log of all of it.
    root = a1.receive(organisation.trust_root)
    audited = a1.run("intake-admin", "audit", "--server", url, "--trust-root", root)
    assert "OK: audit log of 7 manifest(s) matches the chain" in audited.stderr
    assert "admin-b1" in audited.stderr and "admin-a3" in audited.stderr
