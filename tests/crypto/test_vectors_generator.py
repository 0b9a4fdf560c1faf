"""The committed vectors are exactly what generate.py produces from its seeds."""

from __future__ import annotations

from tests.vectors import generate

from .support import (
    CHAIN_CLASSES,
    ENVELOPE_CLASSES,
    VECTORS,
    assert_reproduced,
    expected_classes,
)


def test_regenerating_vectors_reproduces_committed_files_byte_for_byte() -> None:
    assert_reproduced(generate.build_all(), generate.FILES, "generate.py")


def test_vector_files_stay_small_enough_to_commit() -> None:
    total = sum((VECTORS / name).stat().st_size for name in generate.FILES)
    assert total < 6 * 2**20


def test_every_failure_class_of_the_envelope_table_has_a_vector() -> None:
    assert expected_classes("envelopes.json") == ENVELOPE_CLASSES
    assert expected_classes("manifests.json") == CHAIN_CLASSES
