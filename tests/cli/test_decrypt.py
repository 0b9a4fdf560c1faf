"""intake-verifier decrypt: bundles become readable, hostile-safe case folders."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result

import crypto

from .support import (
    CODENAME,
    PASSPHRASE,
    Attachment,
    Org,
    assert_clean_failure,
    case_dirs,
    entry,
    make_submission,
    run,
    write_bundle,
)

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(range(256)) * 20


def decrypt(bundle: Path, keyring: Path, out: Path, passphrase: str = PASSPHRASE) -> Result:
    return run(
        "verifier", ["decrypt", bundle, "--keyring", keyring, "--out", out], passphrase=passphrase
    )


def test_bundle_decrypts_into_readable_cases(org: Org, keyring: Path, tmp_path: Path) -> None:
    mailbox = crypto.derive_mailbox(CODENAME, org.genesis_payload)
    scan = Attachment("паспорт.jpg", JPEG, "image/jpeg")
    letter = Attachment("letter.pdf", b"%PDF-1.7\n" + b"x" * 5000, "application/pdf")
    sub = make_submission(
        org.manifest,
        answers={"name": "Иван Петров", "unit": "в/ч 12345", "reasons": ["one", "two\nlines"]},
        attachments=[scan, letter],
        mailbox=mailbox,
    )
    bundle = write_bundle(tmp_path / "bundle.tar", org.chain, [sub])
    out = tmp_path / "cases"

    result = decrypt(bundle, keyring, out)

    assert result.exit_code == 0, result.output
    case = out / sub.sid
    assert case_dirs(out) == [case]
    assert sorted(p.name for p in case.iterdir()) == [
        "answers.html",
        "answers.txt",
        "attachments",
        "case.json",
    ]
    text = (case / "answers.txt").read_text()
    assert "Иван Петров" in text and "в/ч 12345" in text and "    lines" in text
    assert (case / "attachments" / "паспорт.jpg").read_bytes() == scan.data
    assert (case / "attachments" / "letter.pdf").read_bytes() == letter.data
    for path in [*case.iterdir(), *(case / "attachments").iterdir()]:
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    doc = json.loads((case / "case.json").read_text())
    assert doc["id"] == sub.sid and doc["kind"] == "submission" and doc["status"] == "ok"
    assert doc["reply"] == {
        "x25519": crypto.b64e(mailbox.reply_public),
        "mailbox": mailbox.mailbox_id,
    }
    assert {e["id"]: e["payload_digest"] for e in doc["envelopes"]} == {
        eid: crypto.b64e(d) for eid, d in sub.digests.items()
    }
    assert doc["opened_by"] == org.verifier.kid
    assert all(a["flags"] == [] for a in doc["attachments"])
    # The verified chain is remembered for rollback protection.
    remembered = json.loads((keyring / "last-manifest.json").read_text())
    assert remembered["version"] == 1
    assert "1 submission(s) opened" in result.stderr
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_hostile_names_and_answers_are_neutralised(org: Org, keyring: Path, tmp_path: Path) -> None:
    hostile = [
        Attachment("../../.bashrc", b"echo pwned\n"),
        Attachment("CON", b"device"),
        Attachment("a\x07b", b"bell"),
        Attachment("evil\u202egnp.exe", b"MZ\x90\x00" + b"\x00" * 100),
        Attachment("photo.jpg", b"<svg onload=alert(1)>"),
        Attachment("photo.JPG", JPEG),
    ]
    answers = {
        "name": '<script>alert("x")</script>',
        "<b>field</b>": '"><img src=x onerror=alert(1)>',
        "terminal": "\x1b]0;owned\x07\x1b[2Jclear \u202eright-to-left",
    }
    sub = make_submission(org.manifest, answers=answers, attachments=hostile)
    bundle = write_bundle(tmp_path / "bundle.tar", org.chain, [sub])
    out = tmp_path / "work" / "cases"

    result = decrypt(bundle, keyring, out)

    assert result.exit_code == 0, result.output
    case = out / sub.sid
    names = sorted(p.name for p in (case / "attachments").iterdir())
    assert names == sorted(["bashrc", "_CON", "ab", "evilgnp.exe", "photo.jpg", "photo (2).JPG"])
    assert not (tmp_path / ".bashrc").exists() and not (tmp_path / "work" / ".bashrc").exists()
    html = (case / "answers.html").read_text()
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';' in html
    assert "\u202e" not in html and "&lt;U+202E&gt;" in html
    text = (case / "answers.txt").read_text()
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "<U+001B>" in text and "<U+202E>" in text
    doc = json.loads((case / "case.json").read_text())
    flags = {a["file"]: a["flags"] for a in doc["attachments"]}
    assert "dangerous type .exe" in flags["attachments/evilgnp.exe"]
    assert "content is a windows executable" in flags["attachments/evilgnp.exe"]
    assert any("looks like markup" in f for f in flags["attachments/photo.jpg"])
    assert flags["attachments/photo (2).JPG"] == []
    # The original (hostile) names are kept, JSON-escaped, for the record.
    assert "evil\\u202egnp.exe" in (case / "case.json").read_text()
    assert "flagged" in result.stderr


def test_tampered_envelope_fails_and_leaves_no_partial_case(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    good = make_submission(org.manifest, attachments=[Attachment("a.txt", b"fine")])
    bad_att = Attachment("b.txt", b"will be altered" * 1000)
    bad = make_submission(org.manifest, attachments=[bad_att])
    bad.tamper(bad_att.id)
    bundle = write_bundle(tmp_path / "bundle.tar", org.chain, [bad, good])
    out = tmp_path / "cases"

    result = decrypt(bundle, keyring, out)

    assert_clean_failure(result)
    assert "1 of 2 submission(s) failed" in result.stderr
    assert "payload authentication failed" in result.stderr
    assert case_dirs(out) == [out / good.sid]
    assert not any(p.name.startswith(".staging") for p in out.iterdir())


def test_tampered_header_is_refused(org: Org, keyring: Path, tmp_path: Path) -> None:
    sub = make_submission(org.manifest)
    sub.tamper("form", offset=40)  # inside the header JSON
    bundle = write_bundle(tmp_path / "bundle.tar", org.chain, [sub])
    out = tmp_path / "cases"

    result = decrypt(bundle, keyring, out)

    assert_clean_failure(result)
    assert case_dirs(out) == []


def test_truncated_bundle_is_a_clear_error(org: Org, keyring: Path, tmp_path: Path) -> None:
    first = make_submission(org.manifest)
    second = make_submission(org.manifest, attachments=[Attachment("big.bin", b"\x01" * 200_000)])
    bundle = write_bundle(tmp_path / "bundle.tar", org.chain, [first, second])
    data = bundle.read_bytes()
    bundle.write_bytes(data[: len(data) - 120_000])
    out = tmp_path / "cases"

    result = decrypt(bundle, keyring, out)

    lines = assert_clean_failure(result)
    assert any("the bundle is damaged" in line for line in lines)
    assert case_dirs(out) == [out / first.sid]


def test_not_a_bundle_writes_nothing(keyring: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.tar"
    bundle.write_bytes(b"this is not a tar file" * 100)
    out = tmp_path / "cases"

    result = decrypt(bundle, keyring, out)

    assert_clean_failure(result)
    assert case_dirs(out) == []


def test_wrong_key_is_no_match_error(org: Org, tmp_path: Path) -> None:
    keyring = tmp_path / "keyring"
    shutil.copytree(org.outsider_keyring_dir, keyring)
    sub = make_submission(org.manifest)
    bundle = write_bundle(tmp_path / "bundle.tar", org.chain, [sub])
    out = tmp_path / "cases"

    result = decrypt(bundle, keyring, out)

    assert_clean_failure(result)
    assert "no key in the keyring opens it" in result.stderr
    assert crypto.fingerprint(org.verifier.kid)[:9] in result.stderr
    assert case_dirs(out) == []


def test_wrong_passphrase_is_one_line_error_with_hint(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    bundle = write_bundle(tmp_path / "bundle.tar", org.chain, [make_submission(org.manifest)])

    result = decrypt(bundle, keyring, tmp_path / "cases", passphrase="wrong " + PASSPHRASE)

    lines = assert_clean_failure(result)
    assert lines[0].startswith("intake-verifier: error: key file ")
    assert "does not open with the passphrase from INTAKE_PASSPHRASE" in lines[0]
    assert not (tmp_path / "cases").exists()


def test_attachment_digest_mismatch_is_refused(org: Org, keyring: Path, tmp_path: Path) -> None:
    att = Attachment("scan.jpg", JPEG)
    other = make_submission(org.manifest, attachments=[Attachment("x.jpg", JPEG)])
    swapped = next(d for e, d in other.digests.items() if e != "form")
    sub = make_submission(org.manifest, attachments=[att], digest_overrides={att.id: swapped})
    bundle = write_bundle(tmp_path / "bundle.tar", org.chain, [sub])
    out = tmp_path / "cases"

    result = decrypt(bundle, keyring, out)

    assert_clean_failure(result)
    assert "does not match the digest in the form" in result.stderr
    assert case_dirs(out) == []


def test_missing_attachment_is_refused(org: Org, keyring: Path, tmp_path: Path) -> None:
    att = Attachment("scan.jpg", JPEG)
    sub = make_submission(org.manifest, attachments=[att])
    sub.drop(att.id)
    bundle = write_bundle(tmp_path / "bundle.tar", org.chain, [sub])
    out = tmp_path / "cases"

    result = decrypt(bundle, keyring, out)

    assert_clean_failure(result)
    assert f"attachment {att.id} named in the form is missing" in result.stderr
    assert case_dirs(out) == []


def test_followup_is_threaded_into_the_case_that_named_its_reply_key(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    mine = crypto.derive_mailbox(CODENAME, org.genesis_payload)
    theirs = crypto.derive_mailbox(
        "совсем другое кодовое имя из девяти слов тут", org.genesis_payload
    )
    first = make_submission(org.manifest, mailbox=mine)
    second = make_submission(org.manifest, mailbox=theirs)
    out = tmp_path / "cases"
    assert (
        decrypt(
            write_bundle(tmp_path / "b1.tar", org.chain, [first, second]), keyring, out
        ).exit_code
        == 0
    )

    # A later bundle: one follow-up to an earlier case, one to a case in the same bundle
    # that comes after it.
    followup = make_submission(
        org.manifest, kind="followup", mailbox=mine, answers={"message": "new address"}
    )
    third_box = crypto.derive_mailbox(
        "третий заявитель пишет снова и снова сегодня", org.genesis_payload
    )
    later_followup = make_submission(org.manifest, kind="followup", mailbox=third_box)
    third = make_submission(org.manifest, mailbox=third_box)
    bundle = write_bundle(tmp_path / "b2.tar", org.chain, [followup, later_followup, third])

    result = decrypt(bundle, keyring, out)

    assert result.exit_code == 0, result.output
    threaded = out / first.sid / "followups" / followup.sid
    assert (threaded / "answers.txt").read_text().count("new address") == 1
    doc = json.loads((threaded / "case.json").read_text())
    assert doc["kind"] == "followup" and doc["thread"] == first.sid
    assert json.loads((out / first.sid / "case.json").read_text())["followups"] == [followup.sid]
    assert (out / third.sid / "followups" / later_followup.sid / "case.json").is_file()
    assert not (out / followup.sid).exists()
    assert not (out / second.sid / "followups").exists()


def test_recipients_differing_from_manifest_warn_loudly(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    v2 = org.successor(verifiers=[entry(org.verifier), entry(org.verifier2)])
    chain = [*org.chain, v2]
    manifest = crypto.parse_manifest(v2)
    sub = make_submission(manifest, recipients=[org.verifier.x25519_public or b""])
    bundle = write_bundle(tmp_path / "bundle.tar", chain, [sub])
    out = tmp_path / "cases"

    result = decrypt(bundle, keyring, out)

    assert result.exit_code == 0, result.output
    assert "WARNING" in result.stderr
    assert "not sealed to active verifier(s) of manifest 2" in result.stderr
    doc = json.loads((out / sub.sid / "case.json").read_text())
    assert doc["status"] == "warnings"
    assert any("not sealed to active verifier" in w for w in doc["warnings"])


def test_older_chain_than_remembered_is_refused_as_rollback(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    v2 = org.successor(verifiers=[entry(org.verifier)])
    newer = write_bundle(tmp_path / "new.tar", [*org.chain, v2], [])
    assert decrypt(newer, keyring, tmp_path / "cases").exit_code == 0
    older = write_bundle(tmp_path / "old.tar", org.chain, [make_submission(org.manifest)])

    result = decrypt(older, keyring, tmp_path / "cases")

    assert_clean_failure(result)
    assert "rollback" in result.stderr
    assert case_dirs(tmp_path / "cases") == []


def test_decrypting_twice_leaves_the_first_case_unchanged(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    sub = make_submission(org.manifest)
    bundle = write_bundle(tmp_path / "bundle.tar", org.chain, [sub])
    out = tmp_path / "cases"
    assert decrypt(bundle, keyring, out).exit_code == 0
    before = (out / sub.sid / "case.json").read_bytes()

    result = decrypt(bundle, keyring, out)

    assert result.exit_code == 0, result.output
    assert "exists" in result.stderr
    assert (out / sub.sid / "case.json").read_bytes() == before
    # Nothing was opened this time, and the tool says so.
    assert "submission(s) opened" not in result.stderr
    assert f"nothing new: all 1 submission(s) of the bundle were already in {out}" in (
        result.stderr
    )


def test_only_newly_opened_submissions_are_counted_as_opened(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    old = [make_submission(org.manifest) for _ in range(3)]
    new = make_submission(org.manifest)
    out = tmp_path / "cases"
    assert decrypt(write_bundle(tmp_path / "b1.tar", org.chain, old), keyring, out).exit_code == 0

    result = decrypt(write_bundle(tmp_path / "b2.tar", org.chain, [*old, new]), keyring, out)

    assert result.exit_code == 0, result.output
    assert f"1 submission(s) opened into {out}" in result.stderr
    assert f"3 submission(s) already in {out} from an earlier run; left unchanged" in (
        result.stderr
    )
    assert f"next: intake-verifier cases {out}" in result.stderr


def test_summary_table_fits_80_columns_with_one_line_per_case(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    mine = crypto.derive_mailbox(CODENAME, org.genesis_payload)
    first = make_submission(
        org.manifest, mailbox=mine, attachments=[Attachment("a.pdf", b"%PDF-1.4")]
    )
    followup = make_submission(org.manifest, kind="followup", mailbox=mine)
    bundle = write_bundle(tmp_path / "bundle.tar", org.chain, [first, followup])

    result = decrypt(bundle, keyring, tmp_path / "cases")

    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("Summary")))
    table = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith(" "):
            break
        table.append(line)
    assert all(len(line.rstrip()) <= 80 for line in table), table
    rows = [line.split() for line in table if line.strip().startswith(first.sid[:8])]
    assert rows == [[first.sid[:8], "submission", "ok", "1"]]
    threaded = next(line for line in table if line.strip().startswith(followup.sid[:8]))
    assert f"threaded into case {first.sid[:8]}" in threaded


def test_decrypt_needs_no_network(org: Org, keyring: Path, tmp_path: Path) -> None:
    """The installed tool, run with no network at all (only a down loopback)."""
    if os.geteuid() != 0:
        pytest.skip("unshare -n needs root")
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-n", "true"], check=False).returncode != 0:
        pytest.skip("unshare -n is not available here")
    tool = Path(sys.executable).parent / "intake-verifier"
    sub = make_submission(org.manifest, attachments=[Attachment("a.pdf", b"%PDF-1.4 hello")])
    bundle = write_bundle(tmp_path / "bundle.tar", org.chain, [sub])
    out = tmp_path / "cases"

    result = subprocess.run(
        [
            unshare,
            "-n",
            str(tool),
            "decrypt",
            str(bundle),
            "--keyring",
            str(keyring),
            "--out",
            str(out),
        ],
        env={**os.environ, "INTAKE_PASSPHRASE": PASSPHRASE},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert (out / sub.sid / "attachments" / "a.pdf").read_bytes() == b"%PDF-1.4 hello"
