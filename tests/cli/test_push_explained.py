"""intake-courier push says why the server accepted fewer entries than it was sent."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import crypto

from .applicant import org_server
from .support import CODENAME, Org, decrypt_into, entry, make_submission, run, write_bundle


def test_a_reply_pushed_twice_is_accepted_once_and_the_tool_says_why(
    org: Org, courier_key: tuple[Path, crypto.Identity], tmp_path: Path
) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    payload = crypto.build_manifest_payload(
        version=1,
        issued=now,
        expires=now + dt.timedelta(days=30),
        org={"name": "Push test", "contact": "p@example.invalid"},
        threshold=2,
        admins=[a.public() for a in org.admins],
        verifiers=[entry(org.verifier)],
        couriers=[courier_key[1].public()],
    )
    genesis = crypto.dsse_sign(crypto.MANIFEST_TYPE, payload, org.admins)
    (tmp_path / "genesis.json").write_text(json.dumps(genesis))
    keyring = tmp_path / "keyring"
    keyring.mkdir()
    (keyring / "anna.key").write_bytes((org.keyring_dir / "anna.key").read_bytes())
    (keyring / "anna.key").chmod(0o600)
    (keyring / "trust-root.json").write_text(json.dumps(org.root.to_json()))
    manifest = crypto.parse_manifest(genesis)
    mailbox = crypto.derive_mailbox(CODENAME, manifest.payload)
    sub = make_submission(manifest, mailbox=mailbox)
    cases = tmp_path / "cases"
    bundle = write_bundle(tmp_path / "b.tar", [genesis], [sub])
    assert decrypt_into(bundle, keyring, cases).exit_code == 0
    replies = tmp_path / "replies.json"
    args = ["reply", cases / sub.sid[:8], "--keyring", keyring, "--status", "received"]
    assert run("verifier", [*args, "--message", "Получили.", "--out", replies]).exit_code == 0

    with org_server(org, tmp_path) as server:
        push = ["push", replies, "--server", server.url, "--key", courier_key[0]]
        first = run("courier", push)
        again = run("courier", push)

    assert first.exit_code == 0, first.output
    assert "accepted: 1" in first.stderr and "not accepted" not in first.stderr
    assert again.exit_code == 0, again.output
    assert "accepted: 0" in again.stderr
    assert "(1 not accepted: the server already had them from an earlier push" in again.stderr
