"""Receipts, replies and rewraps: the files the verifier sends back across the air gap."""

from __future__ import annotations

import io
import json
from pathlib import Path

from click.testing import Result

import crypto

from .support import (
    CODENAME,
    Attachment,
    Org,
    assert_clean_failure,
    entry,
    make_submission,
    reply_to_case,
    rewrapped_for_boris,
    run,
    write_bundle,
)


def decrypted_case(org: Org, keyring: Path, tmp_path: Path, **kwargs: object) -> tuple[Path, Path]:
    sub = make_submission(org.manifest, **kwargs)  # type: ignore[arg-type]
    bundle = write_bundle(tmp_path / "bundle.tar", org.chain, [sub])
    out = tmp_path / "cases"
    result = run("verifier", ["decrypt", bundle, "--keyring", keyring, "--out", out])
    assert result.exit_code == 0, result.output
    return out, out / sub.sid


def needs_info_reply(
    org: Org, keyring: Path, tmp_path: Path, message: str
) -> tuple[crypto.MailboxKeys, Path, Path, Result]:
    """A decrypted case whose applicant kept a mailbox, and a `needs-info` reply
    to it written to replies.json: (mailbox, case folder, replies file, result)."""
    mailbox = crypto.derive_mailbox(CODENAME, org.genesis_payload)
    _cases, case = decrypted_case(org, keyring, tmp_path, mailbox=mailbox)
    replies = tmp_path / "replies.json"
    return mailbox, case, replies, reply_to_case(case, keyring, replies, message, "needs-info")


def test_receipts_cover_every_decrypted_envelope(org: Org, keyring: Path, tmp_path: Path) -> None:
    cases, case = decrypted_case(
        org, keyring, tmp_path, attachments=[Attachment("a.pdf", b"%PDF-1.4 a")]
    )
    receipts = tmp_path / "receipts.json"

    result = run(
        "verifier", ["receipts", "--keyring", keyring, "--cases", cases, "--out", receipts]
    )

    assert result.exit_code == 0, result.output
    doc = json.loads(receipts.read_text())
    assert doc["type"] == "intake/receipts"
    expected = {
        e["payload_digest"] for e in json.loads((case / "case.json").read_text())["envelopes"]
    }
    assert {r["digest"] for r in doc["receipts"]} == expected and len(expected) == 2
    for receipt in doc["receipts"]:
        signer = crypto.verify_receipt(
            crypto.b64d(receipt["digest"]),
            receipt["kid"],
            crypto.b64d(receipt["sig"]),
            org.manifest,
        )
        assert signer.kid == org.verifier.kid


def test_reply_verifies_and_opens_with_the_applicants_mailbox_keys(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    message = "Мы получили вашу заявку. <b>Спасибо</b>"

    mailbox, case, replies, result = needs_info_reply(org, keyring, tmp_path, message)

    assert result.exit_code == 0, result.output
    doc = json.loads(replies.read_text())
    assert doc["type"] == "intake/replies" and len(doc["replies"]) == 1
    reply = doc["replies"][0]
    assert reply["mailbox"] == mailbox.mailbox_id
    envelope = crypto.b64d(reply["envelope"])
    signer = crypto.verify_reply(envelope, reply["kid"], crypto.b64d(reply["sig"]), org.manifest)
    assert signer.kid == org.verifier.kid
    content = json.loads(crypto.open_reply(envelope, mailbox.reply_secret, mailbox.reply_public))
    assert content["status"] == "needs-info" and content["message"] == message
    crypto.parse_time(content["sent"])

    # A second reply goes into the same file only when asked to.
    refused = assert_clean_failure(reply_to_case(case, keyring, replies, "ok"))
    assert f"{replies} already exists" in refused[0] and "--append" in refused[1]
    assert reply_to_case(case, keyring, replies, "ok", "received", "--append").exit_code == 0
    assert len(json.loads(replies.read_text())["replies"]) == 2


def test_sent_replies_are_recorded_in_the_case_and_its_report(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    message = "Пришлите, пожалуйста, <фото> паспорта."

    _mailbox, case, replies, result = needs_info_reply(org, keyring, tmp_path, message)

    assert result.exit_code == 0, result.output
    doc = json.loads((case / "case.json").read_text())
    [sent] = doc["replies"]
    assert sent["status"] == "needs-info" and sent["message"] == message
    assert sent["signer"] == "anna" and sent["out"] == str(replies)
    crypto.parse_time(sent["sent"])
    report = (case / "answers.html").read_text(encoding="utf-8")
    assert "Пришлите, пожалуйста, &lt;фото&gt; паспорта." in report
    assert message in (case / "answers.txt").read_text(encoding="utf-8")
    assert f"intake-courier push {replies}" in result.stderr


def test_reply_is_refused_when_the_applicant_declined_a_mailbox(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    _cases, case = decrypted_case(org, keyring, tmp_path)

    result = reply_to_case(case, keyring, tmp_path / "r.json", "hi")

    lines = assert_clean_failure(result)
    assert "no reply mailbox" in lines[0]
    assert not (tmp_path / "r.json").exists()


def test_rewrap_reseals_to_the_new_verifiers_without_touching_payloads(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    att = Attachment("scan.pdf", b"%PDF-1.4 " + b"z" * 70_000)

    sub, _successor, out, result = rewrapped_for_boris(org, keyring, tmp_path, att)

    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["type"] == "intake/rewraps"
    by_digest = {crypto.b64d(r["digest"]): crypto.b64d(r["prefix"]) for r in doc["rewraps"]}
    assert set(by_digest) == set(sub.digests.values())
    new_ring = crypto.Keyring([org.verifier2])
    for eid, data in sub.envelopes:
        old = crypto.read_header(io.BytesIO(data))
        prefix = by_digest[sub.digests[eid]]
        rewrapped = prefix + data[len(old.prefix) :]
        opened, plain = crypto.open_bytes(rewrapped, new_ring)
        assert opened.payload_digest == sub.digests[eid]
        assert opened.header.manifest.version == 2
        if eid == att.id:
            assert plain == att.data
    assert json.loads((keyring / "last-manifest.json").read_text())["version"] == 2


def test_verify_chain_shows_the_chain_and_refuses_a_forged_link(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    successor = org.successor(verifiers=[entry(org.verifier), entry(org.verifier2)])
    good = org.chain_file(tmp_path / "chain.json", successor)
    forged = dict(successor, signatures=successor["signatures"][:1])
    bad = org.chain_file(tmp_path / "forged.json", forged)

    shown = run("verifier", ["verify-chain", good, "--keyring", keyring])
    refused = run("verifier", ["verify-chain", bad, "--keyring", keyring])

    assert shown.exit_code == 0, shown.output
    assert "newest version 2" in shown.stderr and "boris" in shown.stderr
    lines = assert_clean_failure(refused)
    assert "too few distinct valid admin signatures" in lines[0]


def test_reply_carries_the_applicants_language_unless_the_verifier_names_another(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    mailbox = crypto.derive_mailbox(CODENAME, org.genesis_payload)
    _cases, case = decrypted_case(org, keyring, tmp_path, mailbox=mailbox)

    def reply_lang(*extra: object) -> object:
        out = tmp_path / f"replies-{len(extra)}.json"
        result = reply_to_case(case, keyring, out, "ok", "received", *extra)
        assert result.exit_code == 0, result.output
        envelope = crypto.b64d(json.loads(out.read_text())["replies"][0]["envelope"])
        content = crypto.open_reply(envelope, mailbox.reply_secret, mailbox.reply_public)
        return json.loads(content).get("lang")

    assert reply_lang() == "ru"  # the applicant wrote in Russian
    assert reply_lang("--lang", "en") == "en"
    assert_clean_failure(
        reply_to_case(case, keyring, tmp_path / "bad.json", "x", "received", "--lang", "<script>")
    )
