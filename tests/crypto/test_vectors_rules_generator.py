"""The committed rule vectors (pow, authorization, site documents) are exactly
what generate_rules.py produces, and it refuses a vector the code disagrees with."""

from __future__ import annotations

import pytest

from tests.vectors import generate_rules

from .support import VECTORS


def test_regenerating_rule_vectors_reproduces_committed_files_byte_for_byte() -> None:
    built = generate_rules.build_all()
    assert sorted(built) == sorted(generate_rules.FILES)
    for name, data in built.items():
        assert (VECTORS / name).read_bytes() == data, f"{name} is stale: run generate_rules.py"


def test_every_pow_answer_and_request_class_has_a_vector() -> None:
    from .support import load

    assert {v["expect"] for v in load("pow.json")["vectors"]} == {
        "ok",
        "pow-required",
        "pow-invalid",
        "pow-stale",
    }
    assert {v["expect"] for v in load("authorization.json")["vectors"]} == {
        "ok",
        "malformed",
        "bad-signature",
    }
    assert {v["expect"] for v in load("site_documents.json")["vectors"]} == {
        "ok",
        "malformed",
        "bad-signature",
        "threshold",
    }


def test_a_pow_vector_the_server_disagrees_with_is_refused_while_generating() -> None:
    server = generate_rules._pow_for("submissions", 4, 4, 0.0)
    issued = server.issue(now=generate_rules.POW_NOW)
    assert generate_rules.pow_outcome(server, issued.challenge, "x y", generate_rules.POW_NOW) == (
        "pow-invalid"
    )
    with pytest.raises(AssertionError):
        generate_rules._site_vector(
            "wrong", generate_rules.dsse_sign(generate_rules.SITE_TYPE, b"{}", []), "ok", None
        )
