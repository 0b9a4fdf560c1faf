"""A small deployment made with the Python ``crypto`` API: admins, verifiers, a chain.

The browser is handed exactly what the server would serve (the DSSE chain and
the pinned trust root) and must reach the same verdicts as Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from crypto import (
    MANIFEST_TYPE,
    Identity,
    Keyring,
    Manifest,
    TrustRoot,
    VerifierEntry,
    build_manifest_payload,
    dsse_sign,
    generate_identity,
    verify_chain,
)

# Fixed "now" for chain checks in tests: both sides are given the same moment.
NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)


def format_now(moment: datetime = NOW) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Deployment:
    admins: list[Identity]
    verifiers: list[Identity]  # [active, active, retired]
    courier: Identity
    chain: list[dict[str, Any]]
    root: TrustRoot
    manifests: list[Manifest] = field(default_factory=list)

    @property
    def latest(self) -> Manifest:
        return self.manifests[-1]

    @property
    def genesis(self) -> Manifest:
        return self.manifests[0]

    def keyring(self) -> Keyring:
        return Keyring(self.verifiers)

    def page_args(self) -> dict[str, Any]:
        """What the page gets: the chain, the trust root and the moment to check at."""
        return {"chain": self.chain, "trustRoot": self.root.to_json(), "now": format_now()}


def _entry(identity: Identity, status: str) -> VerifierEntry:
    return VerifierEntry.from_public(identity.public(), status)


def make_deployment() -> Deployment:
    """Genesis (version 1, three admins, threshold 2), then version 2 which
    rotates one admin out and retires one verifier."""
    admins = [generate_identity("admin", f"admin {i}") for i in range(4)]
    verifiers = [generate_identity("verifier", f"verifier {i}") for i in range(3)]
    courier = generate_identity("courier", "courier")
    org = {"name": "Test NGO", "contact": "intake@example.org"}
    genesis_payload = build_manifest_payload(
        version=1,
        issued=NOW - timedelta(days=400),
        expires=NOW - timedelta(days=35),  # expired long ago: only the latest must be fresh
        org=org,
        threshold=2,
        admins=[a.public() for a in admins[:3]],
        verifiers=[_entry(verifiers[0], "active"), _entry(verifiers[2], "active")],
        couriers=[courier.public()],
    )
    second_payload = build_manifest_payload(
        version=2,
        issued=NOW - timedelta(days=30),
        expires=NOW + timedelta(days=335),
        org=org,
        threshold=2,
        admins=[a.public() for a in admins[1:]],
        verifiers=[
            _entry(verifiers[0], "active"),
            _entry(verifiers[1], "active"),
            _entry(verifiers[2], "retired"),
        ],
        couriers=[courier.public()],
    )
    chain = [
        dsse_sign(MANIFEST_TYPE, genesis_payload, admins[:2]),
        # Signed by two of the old set (admins 1, 2) and two of the new (1, 3).
        dsse_sign(MANIFEST_TYPE, second_payload, [admins[1], admins[2], admins[3]]),
    ]
    root = TrustRoot(threshold=2, admin_kids=frozenset(a.sign_kid for a in admins[:3]))
    deployment = Deployment(admins, verifiers, courier, chain, root)
    deployment.manifests = verify_chain(chain, root, NOW)
    return deployment
