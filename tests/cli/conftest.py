"""Fixtures for the offline tools: a real organisation, real key files, real bundles.

Argon2id key files cost about a second each, so every key file is made once
per session; tests copy the keyring folder (cheap) because the tools write
`last-manifest.json` into it.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

import crypto

from .support import PASSPHRASE, Org, entry


@pytest.fixture(scope="session")
def org(tmp_path_factory: pytest.TempPathFactory) -> Org:
    base = tmp_path_factory.mktemp("org")
    admins = [crypto.generate_identity("admin", f"admin-{n}") for n in (1, 2)]
    v1 = crypto.generate_identity("verifier", "anna")
    v2 = crypto.generate_identity("verifier", "boris")
    outsider = crypto.generate_identity("verifier", "outsider")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    payload = crypto.build_manifest_payload(
        version=1,
        issued=now,
        expires=now + dt.timedelta(days=30),
        org={"name": "Test org", "contact": "test@example.invalid"},
        threshold=2,
        admins=[a.public() for a in admins],
        verifiers=[entry(v1)],
        couriers=[],
    )
    genesis = crypto.dsse_sign(crypto.MANIFEST_TYPE, payload, admins)
    root = crypto.TrustRoot(2, frozenset(a.sign_kid for a in admins))
    keyring_dir = base / "keyring"
    keyring_dir.mkdir()
    crypto.write_key_file(keyring_dir / "anna.key", v1, PASSPHRASE)
    (keyring_dir / "trust-root.json").write_text(json.dumps(root.to_json()))
    outsider_dir = base / "outsider"
    outsider_dir.mkdir()
    crypto.write_key_file(outsider_dir / "outsider.key", outsider, PASSPHRASE)
    (outsider_dir / "trust-root.json").write_text(json.dumps(root.to_json()))
    return Org(admins, v1, v2, outsider, [genesis], root, keyring_dir, outsider_dir, base)


@pytest.fixture
def keyring(org: Org, tmp_path: Path) -> Path:
    """A private copy of the verifier's keyring folder for one test."""
    target = tmp_path / "keyring"
    shutil.copytree(org.keyring_dir, target)
    return target


@pytest.fixture(scope="session")
def courier_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, crypto.Identity]:
    base = tmp_path_factory.mktemp("courier")
    identity = crypto.generate_identity("courier", "courier-1")
    crypto.write_key_file(base / "courier.key", identity, PASSPHRASE)
    return base / "courier.key", identity
