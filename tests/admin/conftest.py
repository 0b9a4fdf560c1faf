"""Fixtures for the admin ceremony tests: people with their own homes and keys.

Each admin, verifier and courier is a separate home directory holding only
that person's key file; every tool runs as a subprocess with `HOME` set to
it and that person's own passphrase, as on separate machines. Argon2id key
files cost about a second each, so the people are made once per session.
The Chromium browser is the shared fixture of tests/conftest.py.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import crypto
from tests.support.live_server import LiveServer, live_server

from .people import People, Person

ADMINS = ("admin-a1", "admin-a2", "admin-a3", "admin-b1", "admin-b2", "admin-b3")
VERIFIERS = ("anna", "boris")
COURIER = "courier-c1"


def _keygen(person: Person) -> None:
    person.home.mkdir(parents=True)
    tool = {"admin": "intake-admin", "verifier": "intake-verifier", "courier": "intake-courier"}
    if person.kind == "verifier":
        person.keyring.mkdir()
    args: list[object] = [
        tool[person.kind],
        "keygen",
        "--out",
        person.key,
        "--label",
        person.name,
        "--public-out",
        person.public,
    ]
    person.run(*args)


@pytest.fixture(scope="session")
def people(tmp_path_factory: pytest.TempPathFactory) -> People:
    """Six admins (two sets of three), two verifiers and a courier, each with
    their own key made by the tools in their own home."""
    base = tmp_path_factory.mktemp("people")
    admins = {name: Person(name, "admin", base / name) for name in ADMINS}
    verifiers = {name: Person(name, "verifier", base / name) for name in VERIFIERS}
    courier = Person(COURIER, "courier", base / COURIER)
    everyone = [*admins.values(), *verifiers.values(), courier]
    # Two at a time: each key file is an Argon2id run of 256 MiB.
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(_keygen, everyone))
    return People(admins, verifiers, courier)


@dataclass(frozen=True)
class Organisation:
    """Genesis made at a ceremony of admins a1..a3 (threshold 2)."""

    folder: Path
    genesis: Path
    trust_root: Path
    chain: list[dict[str, Any]]

    @property
    def root(self) -> crypto.TrustRoot:
        return crypto.TrustRoot.parse(self.trust_root.read_text())


def genesis_ceremony(people: People, folder: Path) -> Organisation:
    """`init --admin-pub` by a1 from the three public keys; a1 and a2 sign on
    their own machines; a1 combines and checks it against the trust root."""
    a1, a2, a3 = (people.admin(n) for n in ("admin-a1", "admin-a2", "admin-a3"))
    pubs = [a1.receive(p.public) if p is not a1 else p.public for p in (a1, a2, a3)]
    out = a1.home / f"genesis-{folder.parent.name}"  # one per organisation
    a1.run(
        "intake-admin",
        "init",
        "--org",
        "Помощь отказникам",
        "--contact",
        "help@example.invalid",
        *[arg for pub in pubs for arg in ("--admin-pub", pub)],
        "--threshold",
        "2",
        "--out",
        out,
    )
    draft = out / "manifest-1.draft.json"
    sigs = []
    for signer in (a1, a2):
        mine = signer.receive(draft, f"{out.name}-draft.json")
        sig = signer.home / f"{out.name}-{signer.name}.sig.json"
        signer.run("intake-admin", "sign", mine, "--key", signer.key, "--out", sig)
        sigs.append(a1.receive(sig) if signer is not a1 else sig)
    genesis = out / "manifest-1.json"
    a1.run("intake-admin", "combine", draft, *sigs, "--out", genesis)
    a1.run("intake-admin", "verify", genesis, "--trust-root", out / "trust-root.json")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(genesis, folder / "manifest-1.json")
    shutil.copyfile(out / "trust-root.json", folder / "trust-root.json")
    for verifier in people.verifiers.values():
        # Joining a new organisation: its trust root, and no memory of another's chain.
        shutil.copyfile(out / "trust-root.json", verifier.keyring / "trust-root.json")
        (verifier.keyring / "last-manifest.json").unlink(missing_ok=True)
    return Organisation(
        folder,
        folder / "manifest-1.json",
        folder / "trust-root.json",
        [json.loads(genesis.read_text())],
    )


@pytest.fixture(scope="module")
def organisation(people: People, tmp_path_factory: pytest.TempPathFactory) -> Organisation:
    return genesis_ceremony(people, tmp_path_factory.mktemp("org") / "org")


@contextmanager
def serve(organisation: Organisation, work: Path, **extra_env: str) -> Iterator[LiveServer]:
    """A real server holding the genesis. No grace period after a rotation, so
    the old manifest is refused for new uploads at once. Every server of a
    test has the same settings, so they render the same page bytes."""
    with live_server(
        database_url=f"sqlite:///{work / 'intake.db'}",
        blob_dir=work / "blobs",
        log_path=work / "server.log",
        trust_root=organisation.trust_root.read_text(),
        genesis=organisation.genesis,
        INTAKE_POW_DIFFICULTY="4",
        INTAKE_MANIFEST_GRACE_HOURS="0",
        INTAKE_RATE_LIMIT_SCALE="0",
        **extra_env,
    ) as live:
        yield live


@pytest.fixture(scope="module")
def server(
    organisation: Organisation, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with serve(organisation, tmp_path_factory.mktemp("server")) as live:
        yield live
