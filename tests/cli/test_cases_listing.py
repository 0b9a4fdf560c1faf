"""intake-verifier cases: picking a case without reading 32-hex ids."""

from __future__ import annotations

import json
from pathlib import Path

import crypto

from .support import (
    CODENAME,
    URGENT_ANSWERS,
    Org,
    assert_clean_failure,
    decrypt_into,
    make_submission,
    reply_to_case,
    run,
    write_bundle,
)


def test_cases_lists_short_ids_urgency_and_reply_state_within_80_columns(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    mailbox = crypto.derive_mailbox(CODENAME, org.genesis_payload)
    calm = make_submission(
        org.manifest, answers={"dangers": ["none"]}, received="2026-11-20T08:00:00Z"
    )
    urgent = make_submission(
        org.manifest, answers=URGENT_ANSWERS, mailbox=mailbox, received="2026-11-22T06:00:00Z"
    )
    cases = tmp_path / "cases"
    bundle = write_bundle(tmp_path / "b.tar", org.chain, [calm, urgent])
    assert decrypt_into(bundle, keyring, cases, "en").exit_code == 0

    before = run("verifier", ["cases", cases])
    assert reply_to_case(cases / urgent.sid[:8], keyring, tmp_path / "r.json", "ok").exit_code == 0
    after = run("verifier", ["cases", cases])

    assert before.exit_code == 0, before.output
    lines = before.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[0].split() == ["case", "received", "(UTC)", "lang", "urgency", "status", "replied"]
    # Urgent first, whatever the order of arrival.
    assert lines[1].split() == [
        urgent.sid[:8],
        "2026-11-22",
        "06:00",
        "ru",
        "URGENT",
        "ok",
        "NOT",
        "YET",
    ]
    assert lines[2].split() == [
        calm.sid[:8],
        "2026-11-20",
        "08:00",
        "ru",
        "-",
        "ok",
        "no",
        "mailbox",
    ]
    assert "2 case(s), 1 urgent" in before.stderr
    assert after.stdout.splitlines()[1].split()[-1] == "received"  # MM-DD received


def test_a_unique_prefix_names_a_case_wherever_case_is_taken(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    mailbox = crypto.derive_mailbox(CODENAME, org.genesis_payload)
    sub = make_submission(org.manifest, mailbox=mailbox)
    cases = tmp_path / "cases"
    assert (
        decrypt_into(write_bundle(tmp_path / "b.tar", org.chain, [sub]), keyring, cases).exit_code
        == 0
    )
    replies = tmp_path / "replies.json"

    sent = reply_to_case(cases / sub.sid[:4].upper(), keyring, replies, "Мы получили вашу заявку.")
    rebuilt = run("verifier", ["report", cases / sub.sid[:6]])

    assert sent.exit_code == 0, sent.output
    assert rebuilt.exit_code == 0, rebuilt.output
    assert json.loads(replies.read_text())["replies"][0]["mailbox"] == mailbox.mailbox_id
    doc = json.loads((cases / sub.sid / "case.json").read_text())
    assert [r["message"] for r in doc["replies"]] == ["Мы получили вашу заявку."]


def test_an_ambiguous_or_unknown_prefix_is_refused_naming_the_candidates(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    mailbox = crypto.derive_mailbox(CODENAME, org.genesis_payload)
    first = make_submission(org.manifest, mailbox=mailbox)
    second = make_submission(org.manifest, mailbox=mailbox)
    first.sid = "abcd1" + first.sid[5:]
    second.sid = "abcd2" + second.sid[5:]
    cases = tmp_path / "cases"
    bundle = write_bundle(tmp_path / "b.tar", org.chain, [first, second])
    assert decrypt_into(bundle, keyring, cases).exit_code == 0

    def reply_to(case: str) -> list[str]:
        return assert_clean_failure(reply_to_case(cases / case, keyring, tmp_path / "r.json", "x"))

    ambiguous = reply_to("abcd")
    assert "abcd is the start of 2 case ids" in ambiguous[0]
    assert first.sid[:8] in ambiguous[0] and second.sid[:8] in ambiguous[0]
    assert "give more characters of the id" in ambiguous[1]
    unknown = reply_to("ffff")
    assert "no case in" in unknown[0] and "starting with ffff" in unknown[0]
    assert "intake-verifier cases" in unknown[1]
    too_short = reply_to("ab")
    assert "is not a case folder" in too_short[0]
    assert not (tmp_path / "r.json").exists()
    # One more character is enough.
    listing = run("verifier", ["cases", cases])
    assert {line.split()[0] for line in listing.stdout.splitlines()[1:]} == {
        first.sid[:8],
        second.sid[:8],
    }


def test_cases_refuses_a_folder_without_cases(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()

    lines = assert_clean_failure(run("verifier", ["cases", tmp_path / "empty"]))

    assert "no decrypted cases" in lines[0]
