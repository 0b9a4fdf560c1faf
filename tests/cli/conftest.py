"""Fixtures for the offline tools: a real organisation, real key files, real bundles.

Argon2id key files cost about a second each, so every key file is made once
per session; tests copy the keyring folder (cheap) because the tools write
`last-manifest.json` into it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

import crypto

from .desk import Desk
from .support import PASSPHRASE, Org, courier_keyring, new_org


@pytest.fixture(scope="session")
def org(tmp_path_factory: pytest.TempPathFactory) -> Org:
    return new_org(tmp_path_factory.mktemp("org"), outsider_keyring=True)


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


@pytest.fixture
def courier_org(
    org: Org, courier_key: tuple[Path, crypto.Identity], tmp_path: Path
) -> tuple[list[dict[str, Any]], Path]:
    """A genesis naming the session's verifier and courier; the keyring pins it."""
    return courier_keyring(org, courier_key[1], tmp_path)


@pytest.fixture
def desk(org: Org, keyring: Path, tmp_path: Path) -> Desk:
    return Desk(org, keyring, tmp_path)
