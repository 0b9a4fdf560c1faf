"""Shared helpers for the crypto tests: vector loading, deterministic identities,
and the Hypothesis settings every property test here uses."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from crypto import Identity, Keyring, b64d

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
