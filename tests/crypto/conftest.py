"""Fixtures for the crypto tests. Key files use the spec's real Argon2id floor
(ops 3, 256 MiB, ~1 s), so they are made once per session, never per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from crypto import Identity, generate_identity, write_key_file


@dataclass(frozen=True)
class KeyFile:
    path: Path
    passphrase: str
    identity: Identity


@pytest.fixture(scope="session")
def verifier_key_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyFile]:
    """A verifier key file at the minimum cost the spec allows a reader to accept."""
    identity = generate_identity("verifier", "Verifier One")
    path = tmp_path_factory.mktemp("keys") / "verifier.key"
    passphrase = "орбита фонарь бархат карьер мозаика"
    write_key_file(path, identity, passphrase)
    yield KeyFile(path, passphrase, identity)
