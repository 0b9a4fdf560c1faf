"""intake-courier push says why the server accepted fewer entries than it was sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import crypto

from .applicant import org_server
from .support import CODENAME, Org, decrypt_into, make_submission, reply_to_case, run, write_bundle


def test_a_reply_pushed_twice_is_accepted_once_and_the_tool_says_why(
    org: Org,
    courier_key: tuple[Path, crypto.Identity],
    courier_org: tuple[list[dict[str, Any]], Path],
    tmp_path: Path,
) -> None:
    chain, keyring = courier_org
    [genesis] = chain
    manifest = crypto.parse_manifest(genesis)
    mailbox = crypto.derive_mailbox(CODENAME, manifest.payload)
    sub = make_submission(manifest, mailbox=mailbox)
    cases = tmp_path / "cases"
    bundle = write_bundle(tmp_path / "b.tar", [genesis], [sub])
    assert decrypt_into(bundle, keyring, cases).exit_code == 0
    replies = tmp_path / "replies.json"
    assert reply_to_case(cases / sub.sid[:8], keyring, replies, "Получили.").exit_code == 0

    with org_server(org, tmp_path) as server:
        push = ["push", replies, "--server", server.url, "--key", courier_key[0]]
        first = run("courier", push)
        again = run("courier", push)

    assert first.exit_code == 0, first.output
    assert "accepted: 1" in first.stderr and "not accepted" not in first.stderr
    assert again.exit_code == 0, again.output
    assert "accepted: 0" in again.stderr
    assert "(1 not accepted: the server already had them from an earlier push" in again.stderr
