"""padding.json: Padmé sizes, including every boundary."""

from __future__ import annotations

from typing import Any

import pytest

from crypto import padded_size

from .support import load


@pytest.mark.parametrize(
    "vector", [pytest.param(v, id=f"length-{v['length']}") for v in load("padding.json")["vectors"]]
)
def test_padding_vector(vector: dict[str, Any]) -> None:
    assert padded_size(vector["length"]) == vector["padded"]
