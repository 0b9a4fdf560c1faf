"""Shared helpers for the crypto tests: vector loading, deterministic identities,
and the Hypothesis settings every property test here uses."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from crypto import Identity, Keyring, Manifest, TrustRoot, b64d, parse_time, verify_chain

VECTORS = Path(__file__).resolve().parents[1] / "vectors"

# No example database (runs leave nothing behind and do not depend on earlier
# runs), no deadline (CI machines are slow), but *not* derandomised: every run
# explores new inputs.
HYPOTHESIS = settings(
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@cache
def load(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


# The failure classes of PROTOCOL.md's tables: opening an envelope, walking a chain.
ENVELOPE_CLASSES = frozenset(
    {
        "ok",
        "malformed",
        "no-match",
        "header-mac",
        "payload",
        "truncated",
        "trailing-data",
        "padding",
    }
)
CHAIN_CLASSES = frozenset(
    {"ok", "malformed", "untrusted-root", "rollback", "threshold", "bad-signature", "expired"}
)


def assert_reproduced(built: dict[str, bytes], files: Iterable[str], generator: str) -> None:
    """The committed vector files are exactly what `generator` builds, byte for byte."""
    assert sorted(built) == sorted(files)
    for name, data in built.items():
        assert (VECTORS / name).read_bytes() == data, f"{name} is stale: run {generator}"


def expected_classes(name: str) -> set[str]:
    """Every `expect` class among the vectors of `name`."""
    return {v["expect"] for v in load(name)["vectors"]}


def verified_chain(doc: dict[str, Any], now: str = "2026-06-01T00:00:00Z") -> list[Manifest]:
    """A vector file's chain, verified against the file's trust root at `now`."""
    return verify_chain(doc["chain"], TrustRoot.from_json(doc["trust_root"]), parse_time(now))


def params(name: str, id_key: str = "name") -> list[Any]:
    """One pytest param per vector of ``name``, its id the vector's name."""
    return [pytest.param(v, id=str(v[id_key])) for v in load(name)["vectors"]]


@cache
def identities() -> dict[str, Identity]:
    """The identities of keys.json, rebuilt from their secrets."""
    out = {}
    for entry in load("keys.json")["identities"]:
        x = entry["x25519_secret"]
        out[entry["label"]] = Identity(
            kind=entry["kind"],
            label=entry["label"],
            x25519_secret=b64d(x) if x is not None else None,
            ed25519_seed=b64d(entry["ed25519_seed"]),
        )
    return out


def keyring(labels: list[str]) -> Keyring:
    ids = identities()
    return Keyring(ids[label] for label in labels)
