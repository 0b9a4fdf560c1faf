"""intake-admin: genesis, drafts, detached signatures, thresholds, the demo organisation."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

import crypto
from tests.support.manifests import redated_payload

from .support import (
    Attachment,
    Org,
    assert_clean_failure,
    entry,
    make_submission,
    run,
    write_bundle,
)

DEMO_PASSPHRASE = "demo-only-not-secret"


@pytest.fixture(scope="session")
def ceremony(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`init` of a 3-admin, threshold-2 organisation (three Argon2id key files)."""
    out = tmp_path_factory.mktemp("ceremony") / "org"
    result = run(
        "admin",
        [
            "init",
            "--org",
            "Помощь",
            "--contact",
            "help@example.invalid",
            "--admins",
            "3",
            "--threshold",
            "2",
            "--out",
            out,
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def test_init_writes_keys_and_a_genesis_that_verifies_against_the_printed_root(
    ceremony: Path,
) -> None:
    root = crypto.TrustRoot.parse((ceremony / "trust-root.json").read_text())
    chain = json.loads((ceremony / "chain.json").read_text())["chain"]
    [genesis] = crypto.verify_chain(chain, root)
    assert genesis.version == 1 and genesis.threshold == 2 and len(genesis.admins) == 3
    assert genesis.data["org"] == {"name": "Помощь", "contact": "help@example.invalid"}
    assert sorted(p.name for p in ceremony.glob("admin-*.key")) == [
        "admin-1.key",
        "admin-2.key",
        "admin-3.key",
    ]
    assert json.loads((ceremony / "manifest-1.json").read_text()) == chain[0]


def test_threshold_ceremony_in_separate_folders(ceremony: Path, tmp_path: Path) -> None:
    # Each admin works in their own folder with only their own key.
    desks = {}
    for n in (1, 2, 3):
        desk = tmp_path / f"admin-{n}"
        desk.mkdir()
        shutil.copy(ceremony / f"admin-{n}.key", desk / "my.key")
        shutil.copy(ceremony / "manifest-1.json", desk / "current.json")
        desks[n] = desk
    newcomer = crypto.generate_identity("verifier", "vera")
    public = desks[1] / "vera.pub.json"
    public.write_text(json.dumps(newcomer.public().to_json()))

    drafted = run(
        "admin",
        [
            "add-verifier",
            public,
            "--current",
            desks[1] / "current.json",
            "--out",
            desks[1] / "draft.json",
        ],
    )
    assert drafted.exit_code == 0, drafted.output
    assert "GAINS ACCESS to every new submission" in drafted.stderr
    for n in (2, 3):
        shutil.copy(desks[1] / "draft.json", desks[n] / "draft.json")
    shown = run("admin", ["show", desks[2] / "draft.json", "--current", desks[2] / "current.json"])
    assert shown.exit_code == 0 and "vera" in shown.stderr

    for n in (2, 3):
        signed = run(
            "admin",
            [
                "sign",
                desks[n] / "draft.json",
                "--key",
                desks[n] / "my.key",
                "--out",
                desks[n] / "sig.json",
            ],
        )
        assert signed.exit_code == 0, signed.output
        shutil.copy(desks[n] / "sig.json", desks[1] / f"sig-{n}.json")

    combined = run(
        "admin",
        [
            "combine",
            desks[1] / "draft.json",
            desks[1] / "sig-2.json",
            desks[1] / "sig-3.json",
            "--out",
            desks[1] / "manifest-2.json",
        ],
    )
    assert combined.exit_code == 0, combined.output
    verified = run(
        "admin",
        [
            "verify",
            desks[1] / "manifest-2.json",
            "--chain",
            ceremony / "chain.json",
            "--trust-root",
            ceremony / "trust-root.json",
        ],
    )
    assert verified.exit_code == 0, verified.output
    assert "OK: version 2 is a valid successor of version 1" in verified.stderr

    root = crypto.TrustRoot.parse((ceremony / "trust-root.json").read_text())
    genesis = json.loads((ceremony / "manifest-1.json").read_text())
    manifest_2 = json.loads((desks[1] / "manifest-2.json").read_text())
    latest = crypto.verify_chain([genesis, manifest_2], root)[-1]
    assert [v.kid for v in latest.active_verifiers()] == [newcomer.kid]

    # One signature of three is not enough.
    single = run(
        "admin",
        [
            "combine",
            desks[1] / "draft.json",
            desks[1] / "sig-2.json",
            "--out",
            desks[1] / "weak.json",
        ],
    )
    assert single.exit_code == 0 and "only 1 of the 2 signatures" in single.stderr
    refused = run(
        "admin",
        [
            "verify",
            desks[1] / "weak.json",
            "--chain",
            ceremony / "chain.json",
            "--trust-root",
            ceremony / "trust-root.json",
        ],
    )
    lines = assert_clean_failure(refused, "intake-admin")
    assert "NOT a valid successor" in lines[-2] and "threshold" in lines[-2]
    assert "NOT MET" in refused.stderr


def test_signature_of_another_draft_is_refused_by_combine(ceremony: Path, tmp_path: Path) -> None:
    drafts = []
    for n in (1, 2):
        draft = tmp_path / f"draft-{n}.json"
        result = run(
            "admin",
            [
                "renew",
                "--current",
                ceremony / "manifest-1.json",
                "--out",
                draft,
                "--expires-days",
                str(100 + n),
            ],
        )
        assert result.exit_code == 0, result.output
        drafts.append(draft)
    sig = tmp_path / "sig.json"
    assert (
        run("admin", ["sign", drafts[0], "--key", ceremony / "admin-1.key", "--out", sig]).exit_code
        == 0
    )

    result = run("admin", ["combine", drafts[1], sig, "--out", tmp_path / "signed.json"])

    lines = assert_clean_failure(result, "intake-admin")
    assert "signs a different draft" in lines[0]


def test_retire_and_revoke_drafts_say_who_loses_access(org: Org, tmp_path: Path) -> None:
    current = tmp_path / "current.json"
    current.write_text(json.dumps(org.chain[-1]))

    retired = run(
        "admin",
        [
            "retire",
            crypto.fingerprint(org.verifier.kid),
            "--current",
            current,
            "--out",
            tmp_path / "retire.json",
        ],
    )
    revoked = run(
        "admin",
        ["revoke", org.verifier.kid, "--current", current, "--out", tmp_path / "revoke.json"],
    )

    assert retired.exit_code == 0, retired.output
    assert "LOSES ACCESS to new submissions (retired" in retired.stderr
    draft = crypto.parse_manifest(json.loads((tmp_path / "retire.json").read_text()))
    assert draft.version == 2 and draft.verifiers[0].status == "retired"
    assert json.loads((tmp_path / "retire.json").read_text())["signatures"] == []
    assert revoked.exit_code == 0, revoked.output
    assert "REVOKED" in revoked.stderr


def test_unknown_verifier_kid_is_a_clear_error(org: Org, tmp_path: Path) -> None:
    current = tmp_path / "current.json"
    current.write_text(json.dumps(org.chain[-1]))

    result = run("admin", ["retire", "0" * 32, "--current", current, "--out", tmp_path / "d.json"])

    assert_clean_failure(result, "intake-admin")
    assert not (tmp_path / "d.json").exists()


def test_publish_reports_an_unreachable_server(org: Org, tmp_path: Path) -> None:
    signed = tmp_path / "m.json"
    signed.write_text(json.dumps(org.chain[-1]))

    result = run("admin", ["publish", signed, "--server", "http://127.0.0.1:9"])

    lines = assert_clean_failure(result, "intake-admin")
    assert "cannot reach http://127.0.0.1:9" in lines[0]


def test_demo_organisation_decrypts_with_the_commands_of_its_readme(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    made = run("admin", ["demo", "--out", demo], passphrase=None)
    assert made.exit_code == 0, made.output
    assert "DEMO ONLY" in made.stderr and DEMO_PASSPHRASE in made.stderr
    readme = (demo / "README.txt").read_text()
    assert f"intake-verifier decrypt {demo}/bundle.tar --keyring {demo}/keyring" in readme
    chain = json.loads((demo / "chain.json").read_text())["chain"]
    manifest = crypto.verify_chain(
        chain, crypto.TrustRoot.parse((demo / "trust-root.json").read_text())
    )[-1]
    sub = make_submission(manifest, attachments=[Attachment("a.pdf", b"%PDF-1.4")])
    write_bundle(demo / "bundle.tar", chain, [sub])

    result = run(
        "verifier",
        ["decrypt", demo / "bundle.tar", "--keyring", demo / "keyring", "--out", demo / "cases"],
        passphrase=DEMO_PASSPHRASE,
    )

    assert result.exit_code == 0, result.output
    assert (demo / "cases" / sub.sid / "attachments" / "a.pdf").is_file()
    # It never replaces a folder silently, and --force only replaces a demo folder.
    again = run("admin", ["demo", "--out", demo], passphrase=None)
    assert_clean_failure(again, "intake-admin")
    other = tmp_path / "precious"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    forced = run("admin", ["demo", "--out", other, "--force"], passphrase=None)
    assert_clean_failure(forced, "intake-admin")
    assert (other / "notes.txt").read_text() == "keep me"


def test_rotate_admins_and_add_courier_drafts_show_the_new_keys(org: Org, tmp_path: Path) -> None:
    current = tmp_path / "current.json"
    current.write_text(json.dumps(org.chain[-1]))
    pubs = []
    for n in (1, 2, 3):
        admin = crypto.generate_identity("admin", f"new-admin-{n}")
        path = tmp_path / f"new-{n}.pub.json"
        path.write_text(json.dumps(admin.public().to_json()))
        pubs.append(path)
    courier = crypto.generate_identity("courier", "laptop-courier")
    courier_pub = tmp_path / "courier.pub.json"
    courier_pub.write_text(json.dumps(courier.public().to_json()))

    rotated = run(
        "admin",
        [
            "rotate-admins",
            "--new-admins",
            *pubs,
            "--threshold",
            "2",
            "--current",
            current,
            "--out",
            tmp_path / "rotate.json",
        ],
    )
    added = run(
        "admin",
        ["add-courier", courier_pub, "--current", current, "--out", tmp_path / "courier.json"],
    )
    wrong_kind = run(
        "admin",
        ["add-courier", pubs[0], "--current", current, "--out", tmp_path / "wrong.json"],
    )

    assert rotated.exit_code == 0, rotated.output
    assert rotated.stderr.count("+ NEW ADMIN") == 3 and rotated.stderr.count("- admin removed") == 2
    assert "admin threshold 2 of 2 -> 2 of 3" in rotated.stderr
    draft = crypto.parse_manifest(json.loads((tmp_path / "rotate.json").read_text()))
    assert len(draft.admins) == 3 and draft.threshold == 2
    assert added.exit_code == 0 and "+ NEW COURIER" in added.stderr
    assert_clean_failure(wrong_kind, "intake-admin")


def _chain_of_three(org: Org, tmp_path: Path) -> tuple[Path, Path, list[dict[str, object]]]:
    """chain.json (versions 1 to 3: boris added, then anna revoked) and the trust root."""
    m2 = org.successor(verifiers=[entry(org.verifier), entry(org.verifier2)])
    m3 = org.successor(verifiers=[entry(org.verifier2)], base=crypto.parse_manifest(m2))
    chain = [org.chain[0], m2, m3]
    chain_path = tmp_path / "chain.json"
    chain_path.write_text(json.dumps({"chain": chain}))
    root_path = tmp_path / "trust-root.json"
    root_path.write_text(json.dumps(org.root.to_json()))
    return chain_path, root_path, chain


def test_verify_refuses_a_signed_fork_below_the_chains_head(org: Org, tmp_path: Path) -> None:
    chain_path, root_path, _ = _chain_of_three(org, tmp_path)
    # Fully signed by the admins, version 2, but not the version 2 of the
    # chain: it keeps anna, whom version 3 revoked.
    fork = org.successor(verifiers=[entry(org.verifier), entry(org.outsider)], base=org.manifest)
    fork_path = tmp_path / "fork.json"
    fork_path.write_text(json.dumps(fork))

    result = run("admin", ["verify", fork_path, "--chain", chain_path, "--trust-root", root_path])

    lines = assert_clean_failure(result, "intake-admin")
    assert "NOT version 2 of the chain" in "\n".join(lines)
    assert "OK" not in result.stderr


def test_verify_accepts_a_link_of_the_chain_and_a_successor_of_its_head(
    org: Org, tmp_path: Path
) -> None:
    chain_path, root_path, chain = _chain_of_three(org, tmp_path)
    link_path = tmp_path / "m2.json"
    link_path.write_text(json.dumps(chain[1]))
    m4 = org.successor(verifiers=[entry(org.verifier2)], base=crypto.parse_manifest(chain[2]))
    next_path = tmp_path / "m4.json"
    next_path.write_text(json.dumps(m4))
    args = ["--chain", chain_path, "--trust-root", root_path]

    link = run("admin", ["verify", link_path, *args])
    successor = run("admin", ["verify", next_path, *args])

    assert link.exit_code == 0, link.output
    assert "OK: version 2 is the chain's own version 2" in link.stderr
    assert successor.exit_code == 0, successor.output
    assert "OK: version 4 is a valid successor of version 3" in successor.stderr


def _days_left(path: Path) -> float:
    manifest = crypto.parse_manifest(json.loads(path.read_text()))
    left = manifest.expires - manifest.issued
    return left.total_seconds() / 86400


def test_every_manifest_the_tool_writes_is_valid_30_days_by_default(
    org: Org, ceremony: Path, tmp_path: Path
) -> None:
    current = tmp_path / "current.json"
    current.write_text(json.dumps(org.chain[-1]))
    renewed = run("admin", ["renew", "--current", current, "--out", tmp_path / "renew.json"])
    retired = run(
        "admin",
        ["retire", org.verifier.kid, "--current", current, "--out", tmp_path / "retire.json"],
    )
    revoked = run(
        "admin",
        ["revoke", org.verifier.kid, "--current", current, "--out", tmp_path / "revoke.json"],
    )

    for result in (renewed, retired, revoked):
        assert result.exit_code == 0, result.output
    for name in ("renew.json", "retire.json", "revoke.json"):
        assert _days_left(tmp_path / name) == 30
    assert _days_left(ceremony / "manifest-1.json") == 30
    # Renewing keeps the key set applicants compare; revoking changes it.
    assert "key-set fingerprint unchanged" in renewed.stderr
    before = org.manifest.key_set_fingerprint
    after = crypto.parse_manifest(json.loads((tmp_path / "revoke.json").read_text()))
    assert f"key-set fingerprint {before} -> {after.key_set_fingerprint}" in revoked.stderr


def test_a_revocation_cannot_be_made_valid_for_longer_than_30_days(
    org: Org, tmp_path: Path
) -> None:
    current = tmp_path / "current.json"
    current.write_text(json.dumps(org.chain[-1]))
    out = tmp_path / "revoke.json"

    result = run(
        "admin",
        ["revoke", org.verifier.kid, "--current", current, "--out", out, "--expires-days", "365"],
    )

    lines = assert_clean_failure(result, "intake-admin")
    assert "at most 30 days" in lines[0]
    assert not out.exists()


def test_show_and_init_print_the_key_set_fingerprint(ceremony: Path) -> None:
    genesis = crypto.parse_manifest(json.loads((ceremony / "manifest-1.json").read_text()))

    shown = run("admin", ["show", ceremony / "chain.json"])

    assert shown.exit_code == 0, shown.output
    assert genesis.key_set_fingerprint in shown.stderr


def test_demo_renew_extends_a_chain_about_to_expire_with_the_demo_admins(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    assert run("admin", ["demo", "--out", demo], passphrase=None).exit_code == 0
    assert "key-set fingerprint" in (demo / "README.txt").read_text()
    fresh = run("admin", ["demo", "--out", demo, "--renew"], passphrase=None)
    assert fresh.exit_code == 0 and "no renewal needed" in fresh.stderr
    # Age the demo: the same genesis keys, but a genesis issued 40 days ago
    # that expires in 3 days (what a month-old demo folder holds).
    admins = [
        crypto.read_key_file(demo / "admins" / f"admin-{n}.key", DEMO_PASSPHRASE) for n in (1, 2)
    ]
    old = crypto.parse_manifest(json.loads((demo / "manifest-1.json").read_text()))
    now = crypto.parse_time(crypto.format_time(old.issued))
    payload = redated_payload(
        old, version=1, issued=now - dt.timedelta(days=40), expires=now + dt.timedelta(days=3)
    )
    aged = crypto.dsse_sign(crypto.MANIFEST_TYPE, payload, admins)
    (demo / "manifest-1.json").write_text(json.dumps(aged))
    (demo / "chain.json").write_text(json.dumps({"chain": [aged]}))

    renewed = run("admin", ["demo", "--out", demo, "--renew"], passphrase=None)

    assert renewed.exit_code == 0, renewed.output
    chain = json.loads((demo / "chain.json").read_text())["chain"]
    root = crypto.TrustRoot.parse((demo / "trust-root.json").read_text())
    latest = crypto.verify_chain(chain, root)[-1]
    assert latest.version == 2 and json.loads((demo / "manifest-2.json").read_text()) == chain[1]
    assert latest.expires - latest.issued == dt.timedelta(days=30)
    assert latest.key_set_fingerprint == old.key_set_fingerprint
