"""The committed vectors are exactly what generate.py produces from its seeds."""

from __future__ import annotations

from tests.vectors import generate

from .support import VECTORS


def test_regenerating_vectors_reproduces_committed_files_byte_for_byte() -> None:
    built = generate.build_all()
    assert sorted(built) == sorted(generate.FILES)
    for name, data in built.items():
        assert (VECTORS / name).read_bytes() == data, f"{name} is stale: run generate.py"


def test_vector_files_stay_small_enough_to_commit() -> None:
    total = sum((VECTORS / name).stat().st_size for name in generate.FILES)
    assert total < 6 * 2**20


def test_every_failure_class_of_the_envelope_table_has_a_vector() -> None:
    from .support import load

    classes = {v["expect"] for v in load("envelopes.json")["vectors"]}
    assert classes == {
        "ok",
        "malformed",
        "no-match",
        "header-mac",
        "payload",
        "truncated",
        "trailing-data",
        "padding",
    }
    chain_classes = {v["expect"] for v in load("manifests.json")["vectors"]}
    assert chain_classes == {
        "ok",
        "malformed",
        "untrusted-root",
        "rollback",
        "threshold",
        "bad-signature",
        "expired",
    }
