"""Identities, public key files, key files at rest and keyrings."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from crypto import (
    Identity,
    InvalidKeyFile,
    Keyring,
    PublicKey,
    WrongPassphrase,
    b64e,
    check_passphrase_strength,
    generate_identity,
    kid,
    read_key_file,
    write_key_file,
)

from .conftest import KeyFile

MIB = 2**20


def _rewrite(src: Path, dst: Path, change: Any) -> Path:
    doc = json.loads(src.read_text())
    change(doc)
    dst.write_text(json.dumps(doc))
    return dst


def test_key_file_opens_under_its_passphrase(verifier_key_file: KeyFile) -> None:
    got = read_key_file(verifier_key_file.path, verifier_key_file.passphrase)
    assert got == verifier_key_file.identity


def test_key_file_is_written_with_mode_0600_at_the_spec_floor(verifier_key_file: KeyFile) -> None:
    assert stat.S_IMODE(verifier_key_file.path.stat().st_mode) == 0o600
    doc = json.loads(verifier_key_file.path.read_text())
    assert doc["kdf"] == {
        "alg": "argon2id13",
        "ops": 3,
        "mem": 256 * MIB,
        "salt": doc["kdf"]["salt"],
    }
    # The secrets never appear in the file in the clear.
    ident = verifier_key_file.identity
    assert ident.x25519_secret is not None
    assert b64e(ident.x25519_secret) not in verifier_key_file.path.read_text()


def test_wrong_passphrase_is_reported_as_such(verifier_key_file: KeyFile) -> None:
    with pytest.raises(WrongPassphrase) as info:
        read_key_file(verifier_key_file.path, verifier_key_file.passphrase + " ")
    assert info.value.reason == "wrong-passphrase"


def test_write_refuses_to_overwrite_an_existing_file(verifier_key_file: KeyFile) -> None:
    before = verifier_key_file.path.read_bytes()
    with pytest.raises(FileExistsError):
        write_key_file(verifier_key_file.path, generate_identity("admin", "x"), "pw")
    assert verifier_key_file.path.read_bytes() == before


def test_write_refuses_a_cost_below_the_floor_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_key_file(tmp_path / "k", generate_identity("admin", "a"), "pw", ops=2)
    with pytest.raises(ValueError):
        write_key_file(tmp_path / "k", generate_identity("admin", "a"), "pw", mem=64 * MIB)
    assert not (tmp_path / "k").exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ops", 2),
        ("ops", 11),
        ("mem", 256 * MIB - 1024),
        ("mem", 4 * 2**30 + 1024),
        ("ops", 3.0),
        ("ops", True),
    ],
    ids=[
        "ops-below-floor",
        "ops-above-ceiling",
        "mem-below-floor",
        "mem-above-ceiling",
        "ops-float",
        "ops-bool",
    ],
)
def test_reader_refuses_kdf_cost_outside_bounds_before_any_work(
    verifier_key_file: KeyFile, tmp_path: Path, field: str, value: object
) -> None:
    path = _rewrite(
        verifier_key_file.path, tmp_path / "k", lambda d: d["kdf"].__setitem__(field, value)
    )
    started = time.monotonic()
    with pytest.raises(InvalidKeyFile) as info:
        read_key_file(path, verifier_key_file.passphrase)
    # Refused before Argon2id ran: a hostile 4 GiB cost must not even be attempted.
    assert time.monotonic() - started < 0.3
    assert info.value.reason == "malformed"


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.__setitem__("v", 2),
        lambda d: d["kdf"].__setitem__("alg", "argon2i13"),
        lambda d: d["kdf"].__setitem__("salt", b64e(bytes(15))),
        lambda d: d.__setitem__("nonce", b64e(bytes(23))),
        lambda d: d.__setitem__("extra", 1),
        lambda d: d.pop("box"),
        lambda d: d.__setitem__("box", "not base64!"),
    ],
    ids=["version", "alg", "salt-length", "nonce-length", "extra-field", "no-box", "box-not-b64"],
)
def test_reader_refuses_malformed_key_files(
    verifier_key_file: KeyFile, tmp_path: Path, change: Any
) -> None:
    path = _rewrite(verifier_key_file.path, tmp_path / "k", change)
    with pytest.raises(InvalidKeyFile):
        read_key_file(path, verifier_key_file.passphrase)


def test_reader_refuses_non_json_and_oversized_files(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"\xff\xfe not json")
    (tmp_path / "b").write_bytes(b" " * (65 * 1024))
    for name in ("a", "b"):
        with pytest.raises(InvalidKeyFile):
            read_key_file(tmp_path / name, "pw")


def test_identity_repr_never_shows_secrets() -> None:
    ident = generate_identity("verifier", "V")
    assert ident.x25519_secret is not None
    text = repr(ident)
    for secret in (ident.x25519_secret, ident.ed25519_seed):
        assert secret.hex() not in text and b64e(secret) not in text and repr(secret) not in text


def test_verifier_kid_names_x25519_and_sign_kid_names_ed25519() -> None:
    v = generate_identity("verifier", "V")
    assert v.x25519_public is not None
    assert v.kid == kid(v.x25519_public) != v.sign_kid == kid(v.ed25519_public)
    a = generate_identity("courier", "C")
    assert a.x25519_public is None and a.kid == a.sign_kid


def test_identity_refuses_inconsistent_keys() -> None:
    with pytest.raises(ValueError):
        Identity("verifier", "V", None, bytes(32))
    with pytest.raises(ValueError):
        Identity("admin", "A", bytes(32), bytes(32))
    with pytest.raises(ValueError):
        Identity("root", "R", None, bytes(32))
    with pytest.raises(ValueError):
        Identity("admin", "A", None, bytes(31))


def test_public_key_file_round_trips_and_is_strict() -> None:
    for kind in ("verifier", "admin", "courier"):
        pub = generate_identity(kind, "Имя").public()
        doc = pub.to_json()
        assert ("x25519" in doc) == (kind == "verifier")
        assert PublicKey.from_json(doc) == pub
    doc = generate_identity("admin", "A").public().to_json()
    for bad in (
        {**doc, "x25519": doc["ed25519"]},
        {**doc, "v": 2},
        {**doc, "kind": "root"},
        {k: v for k, v in doc.items() if k != "label"},
    ):
        with pytest.raises(InvalidKeyFile):
            PublicKey.from_json(bad)


def test_keyring_finds_identities_by_either_kid() -> None:
    v, a = generate_identity("verifier", "V"), generate_identity("admin", "A")
    ring = Keyring([v, a])
    assert ring.find_x25519(v.kid) == v
    assert ring.find_x25519(a.kid) is None  # an admin opens nothing
    assert ring.find_sign(a.sign_kid) == a and ring.find_sign(v.sign_kid) == v
    assert ring.verifiers() == [v]
    assert list(ring) == [v, a] and len(ring) == 2


@pytest.mark.parametrize(
    ("passphrase", "ok"),
    [
        ("орбита фонарь бархат карьер мозаика", True),
        ("correct horse battery staple orbit", True),
        ("Tr0ub4dor&3-Xyzzy", True),
        ("aaa aaa aaa aaa aaa", False),
        ("password", False),
        ("alllowercaseletters", False),
        ("Short1!", False),
    ],
)
def test_passphrase_strength(passphrase: str, ok: bool) -> None:
    assert (check_passphrase_strength(passphrase) == []) == ok
