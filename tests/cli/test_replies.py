"""Receipts, replies and rewraps: the files the verifier sends back across the air gap."""

from __future__ import annotations

import io
import json
from pathlib import Path

import crypto

from .support import (
    CODENAME,
    Attachment,
    Org,
    assert_clean_failure,
    entry,
    make_submission,
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
    mailbox = crypto.derive_mailbox(CODENAME, org.genesis_payload)
    _cases, case = decrypted_case(org, keyring, tmp_path, mailbox=mailbox)
    replies = tmp_path / "replies.json"
    message = "Мы получили вашу заявку. <b>Спасибо</b>"

    result = run(
        "verifier",
        [
            "reply",
            case,
            "--keyring",
            keyring,
            "--status",
            "needs-info",
            "--message",
            message,
            "--out",
            replies,
        ],
    )

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
    again = [
        "reply",
        case,
        "--keyring",
        keyring,
        "--status",
        "received",
        "--message",
        "ok",
        "--out",
        replies,
    ]
    refused = assert_clean_failure(run("verifier", again))
    assert f"{replies} already exists" in refused[0] and "--append" in refused[1]
    assert run("verifier", [*again, "--append"]).exit_code == 0
    assert len(json.loads(replies.read_text())["replies"]) == 2


def test_sent_replies_are_recorded_in_the_case_and_its_report(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    mailbox = crypto.derive_mailbox(CODENAME, org.genesis_payload)
    _cases, case = decrypted_case(org, keyring, tmp_path, mailbox=mailbox)
    replies = tmp_path / "replies.json"
    message = "Пришлите, пожалуйста, <фото> паспорта."

    result = run(
        "verifier",
        [
            "reply",
            case,
            "--keyring",
            keyring,
            "--status",
            "needs-info",
            "--message",
            message,
            "--out",
            replies,
        ],
    )

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

    result = run(
        "verifier",
        [
            "reply",
            case,
            "--keyring",
            keyring,
            "--status",
            "received",
            "--message",
            "hi",
            "--out",
            tmp_path / "r.json",
        ],
    )

    lines = assert_clean_failure(result)
    assert "no reply mailbox" in lines[0]
    assert not (tmp_path / "r.json").exists()


def test_rewrap_reseals_to_the_new_verifiers_without_touching_payloads(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    att = Attachment("scan.pdf", b"%PDF-1.4 " + b"z" * 70_000)
    sub = make_submission(org.manifest, attachments=[att])
    bundle = write_bundle(tmp_path / "bundle.tar", org.chain, [sub])
    successor = org.successor(verifiers=[entry(org.verifier, "retired"), entry(org.verifier2)])
    chain_file = tmp_path / "chain.json"
    chain_file.write_text(json.dumps({"chain": [*org.chain, successor]}))
    out = tmp_path / "rewraps.json"

    result = run(
        "verifier",
        ["rewrap", bundle, "--keyring", keyring, "--to-manifest", chain_file, "--out", out],
    )

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
    good = tmp_path / "chain.json"
    good.write_text(json.dumps({"chain": [*org.chain, successor]}))
    forged = dict(successor, signatures=successor["signatures"][:1])
    bad = tmp_path / "forged.json"
    bad.write_text(json.dumps({"chain": [*org.chain, forged]}))

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
        args = ["reply", case, "--keyring", keyring, "--status", "received"]
        result = run("verifier", [*args, "--message", "ok", "--out", out, *extra])
        assert result.exit_code == 0, result.output
        envelope = crypto.b64d(json.loads(out.read_text())["replies"][0]["envelope"])
        content = crypto.open_reply(envelope, mailbox.reply_secret, mailbox.reply_public)
        return json.loads(content).get("lang")

    assert reply_lang() == "ru"  # the applicant wrote in Russian
    assert reply_lang("--lang", "en") == "en"
    assert_clean_failure(
        run(
            "verifier",
            [
                "reply",
                case,
                "--keyring",
                keyring,
                "--status",
                "received",
                "--message",
                "x",
                "--out",
                tmp_path / "bad.json",
                "--lang",
                "<script>",
            ],
        )
    )
