"""Abuse controls: proof of work on submissions, mailbox answers and limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from conftest import POW_SECRET
from server_helpers import create, pow_proof, seal

import crypto
from app.pow import ProofOfWork, leading_zero_bits, proof_ok, solve

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.usefixtures("ready")

BITS = 8  # cheap to solve in a test, still refused without a proof


@pytest.fixture
def guarded(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(pow_difficulty=BITS)


def _code(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    return code


def test_proof_is_required_when_difficulty_is_set(
    guarded: TestClient, genesis: dict[str, Any]
) -> None:
    form = seal(genesis, b"form")
    missing = create(guarded, {"form": form})
    assert missing.status_code == 403
    assert _code(missing) == "pow-required"
    assert missing.json()["error"]["detail"] == {"difficulty": BITS}
    issued = guarded.post("/api/v1/challenges").json()
    assert issued["difficulty"] == BITS
    wrong = next(str(n) for n in range(10_000) if not proof_ok(issued["challenge"], str(n), BITS))
    bad = create(
        guarded, {"form": form}, pow_proof={"challenge": issued["challenge"], "nonce": wrong}
    )
    assert bad.status_code == 403
    assert _code(bad) == "pow-invalid"


def test_a_challenge_buys_exactly_one_submission(
    guarded: TestClient, genesis: dict[str, Any]
) -> None:
    form = seal(genesis, b"form")
    proof = pow_proof(guarded)
    assert create(guarded, {"form": form}, pow_proof=proof).status_code == 201
    reused = create(guarded, {"form": form}, pow_proof=proof)
    assert reused.status_code == 403
    assert _code(reused) == "pow-reused"


def test_a_refused_submission_does_not_burn_its_challenge(
    make_client: Callable[..., TestClient], genesis: dict[str, Any]
) -> None:
    client = make_client(pow_difficulty=BITS, max_envelope_bytes=100)
    proof = pow_proof(client)
    too_big = create(client, {"form": b"x" * 101}, pow_proof=proof)
    assert too_big.status_code == 422
    assert create(client, {"form": b"x" * 100}, pow_proof=proof).status_code == 201


def test_forged_expired_and_easier_challenges_are_refused(
    guarded: TestClient, genesis: dict[str, Any]
) -> None:
    form = seal(genesis, b"form")
    # Minted with another key: the MAC does not verify.
    foreign = ProofOfWork(b"b" * 64, BITS, 600).issue().challenge
    refused = create(
        guarded, {"form": form}, pow_proof={"challenge": foreign, "nonce": solve(foreign, BITS)}
    )
    assert _code(refused) == "pow-invalid"
    # Minted with the server's key but long expired.
    old = ProofOfWork(POW_SECRET.encode(), BITS, 60).issue(now=1_000_000).challenge
    expired = create(
        guarded, {"form": form}, pow_proof={"challenge": old, "nonce": solve(old, BITS)}
    )
    assert _code(expired) == "pow-invalid"
    # Minted at a lower difficulty than the server now asks for.
    easy = ProofOfWork(POW_SECRET.encode(), 1, 600).issue().challenge
    cheap = create(guarded, {"form": form}, pow_proof={"challenge": easy, "nonce": solve(easy, 1)})
    assert _code(cheap) == "pow-invalid"
    # Tampered difficulty field.
    real = guarded.post("/api/v1/challenges").json()["challenge"]
    parts = real.split(".")
    parts[3] = "0"
    tampered = ".".join(parts)
    assert (
        _code(create(guarded, {"form": form}, pow_proof={"challenge": tampered, "nonce": "0"}))
        == "pow-invalid"
    )


def test_leading_zero_bits_counts_from_the_most_significant_bit() -> None:
    assert leading_zero_bits(b"\x00\x00\xff") == 16
    assert leading_zero_bits(b"\x00\x01") == 15
    assert leading_zero_bits(b"\x80") == 0


def test_mailbox_answers_the_same_shape_for_unknown_mailboxes(client: TestClient) -> None:
    response = client.post("/api/v1/mailbox", json={"token": crypto.b64e(b"\x01" * 32)})
    assert response.status_code == 200
    assert response.json() == {"replies": []}


def test_mailbox_refuses_malformed_tokens(client: TestClient) -> None:
    for token in ("not base64!", crypto.b64e(b"short")):
        response = client.post("/api/v1/mailbox", json={"token": token})
        assert response.status_code == 422
        assert _code(response) == "invalid-request"


def test_mailbox_is_rate_limited_without_regard_to_who_asks(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(rate_limit_scale=1)
    body = {"token": crypto.b64e(b"\x02" * 32)}
    statuses = [
        client.post(
            "/api/v1/mailbox", json=body, headers={"X-Forwarded-For": f"198.51.100.{n}"}
        ).status_code
        for n in range(20)
    ]
    assert statuses[:10] == [200] * 10
    assert statuses[-1] == 429
