"""Key generation and passphrases: key files that open, errors that say why."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import crypto

from .support import PASSPHRASE, assert_clean_failure, run


def test_keygen_round_trip_with_typed_passphrase(tmp_path: Path) -> None:
    key = tmp_path / "anna.key"
    pub = tmp_path / "anna.pub.json"
    png = tmp_path / "anna.png"

    result = run(
        "verifier",
        ["keygen", "--out", key, "--label", "anna", "--public-out", pub, "--qr-png", png],
        passphrase=None,
        input=f"{PASSPHRASE}\n{PASSPHRASE}\n",
    )

    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    printed = json.loads(result.stdout)
    assert printed == json.loads(pub.read_text())
    assert printed["kind"] == "verifier" and printed["label"] == "anna"
    identity = crypto.read_key_file(key, PASSPHRASE)
    assert crypto.PublicKey.from_json(printed).kid == identity.kid
    assert f"key id: {crypto.fingerprint(identity.kid)}" in result.stderr
    assert "█" in result.stderr or "▀" in result.stderr  # the terminal QR code
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert PASSPHRASE not in result.output


def test_keygen_refuses_a_weak_passphrase(tmp_path: Path) -> None:
    key = tmp_path / "weak.key"

    result = run("verifier", ["keygen", "--out", key, "--label", "x"], passphrase="password1")

    lines = assert_clean_failure(result)
    assert "too weak" in lines[0]
    assert not key.exists()


def test_keygen_refuses_to_overwrite_a_key(tmp_path: Path) -> None:
    key = tmp_path / "anna.key"
    key.write_text("precious")

    result = run("verifier", ["keygen", "--out", key, "--label", "anna"])

    assert_clean_failure(result)
    assert key.read_text() == "precious"


def test_keygen_refuses_an_invisible_label(tmp_path: Path) -> None:
    result = run("verifier", ["keygen", "--out", tmp_path / "k.key", "--label", "anna\u202e"])

    assert_clean_failure(result)
    assert not (tmp_path / "k.key").exists()


def test_missing_trust_root_is_explained_before_any_passphrase(tmp_path: Path) -> None:
    keyring = tmp_path / "keyring"
    keyring.mkdir()

    result = run(
        "verifier",
        ["decrypt", tmp_path / "b.tar", "--keyring", keyring, "--out", tmp_path / "out"],
        passphrase=None,
    )

    lines = assert_clean_failure(result)
    assert "no trust-root.json" in lines[0]


def test_command_line_mistakes_use_the_same_error_and_hint_form(tmp_path: Path) -> None:
    result = run("verifier", ["decrypt", tmp_path / "b.tar", "--out", tmp_path / "out"])

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "intake-verifier: error: Missing option '--keyring'.",
        "intake-verifier: hint: see 'intake-verifier decrypt --help'",
    ]
