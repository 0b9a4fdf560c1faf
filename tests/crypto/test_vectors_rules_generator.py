"""The committed rule vectors (pow, authorization, site documents) are exactly
what generate_rules.py produces, and it refuses a vector the code disagrees with."""

from __future__ import annotations

import pytest

from tests.vectors import generate_rules

from .support import assert_reproduced, expected_classes


def test_regenerating_rule_vectors_reproduces_committed_files_byte_for_byte() -> None:
    assert_reproduced(generate_rules.build_all(), generate_rules.FILES, "generate_rules.py")


def test_every_pow_answer_and_request_class_has_a_vector() -> None:
    assert expected_classes("pow.json") == {
        "ok",
        "pow-required",
        "pow-invalid",
        "pow-stale",
    }
    assert expected_classes("authorization.json") == {
        "ok",
        "malformed",
        "bad-signature",
    }
    assert expected_classes("site_documents.json") == {
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
