"""Padmé: the formula of the PURBs paper, its overhead bound and the 4096-byte floor."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from crypto import padded_size, padme

from .support import HYPOTHESIS


def reference_padme(length: int) -> int:
    e = math.floor(math.log2(length))
    s = math.floor(math.log2(e)) + 1
    mask = 2 ** (e - s) - 1
    return (length + mask) & ~mask


def test_padme_matches_the_papers_formula_for_small_lengths() -> None:
    for length in range(2, 70000):
        assert padme(length) == reference_padme(length)


@HYPOTHESIS
@given(st.integers(min_value=0, max_value=2**40))
def test_padded_size_is_a_padme_fixed_point_with_bounded_overhead(length: int) -> None:
    p = padded_size(length)
    assert p >= max(8 + length, 4096)
    assert padme(p) == p
    assert p <= max(8 + length, 4096) * 1.12  # Padmé's worst case is under 12%


def test_short_content_all_pads_to_4096() -> None:
    assert {padded_size(n) for n in range(4089)} == {4096}
    assert padded_size(4089) > 4096
