"""Abuse controls: proof of work on submissions, mailbox answers and limits."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from conftest import POW_SECRET
from server_helpers import create, pow_proof, seal

import crypto
from app.pow import ProofOfWork, leading_zero_bits, proof_ok, solve
from tests.support.pow import solved

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
    # The bucket (120, refilled 10/s) is shared by every address: asking from
    # a new address each time still ends in 429. Sending until it does, not a
    # fixed 130, keeps a slow machine's refill from letting the last through.
    statuses: list[int] = []
    while 429 not in statuses and len(statuses) < 5000:
        n = len(statuses)
        address = f"198.51.{n // 250}.{n % 250}"
        answer = client.post("/api/v1/mailbox", json=body, headers={"X-Forwarded-For": address})
        statuses.append(answer.status_code)
    assert statuses[:120] == [200] * 120
    assert statuses[-1] == 429
    assert set(statuses[:-1]) == {200}


def _mailbox_proof(client: TestClient) -> dict[str, str]:
    return solved(client.post("/api/v1/mailbox/challenges").json())


def test_requests_without_a_valid_unspent_proof_never_drain_a_bucket(
    make_client: Callable[..., TestClient], genesis: dict[str, Any]
) -> None:
    client = make_client(rate_limit_scale=1, pow_difficulty=BITS, mailbox_pow_difficulty=BITS)
    form = seal(genesis, b"form")
    token = crypto.b64e(b"\x03" * 32)
    spent = _mailbox_proof(client)
    assert client.post("/api/v1/mailbox", json={"token": token, "pow": spent}).status_code == 200
    paid = pow_proof(client)
    assert create(client, {"form": form}, pow_proof=paid).status_code == 201
    # Far more junk than either bucket holds (mailbox 120, submissions 60):
    # none, wrong and replayed proofs.
    wrong = {"challenge": paid["challenge"], "nonce": "not-it"}
    junk_mailbox = [None, wrong, spent]
    junk_create = [None, wrong, paid]
    for n in range(150):
        proof = junk_mailbox[n % 3]
        body = {"token": token, **({"pow": proof} if proof else {})}
        assert client.post("/api/v1/mailbox", json=body).status_code == 403
        assert create(client, {"form": form}, pow_proof=junk_create[n % 3]).status_code == 403
    # Honest requests still go through.
    answer = client.post("/api/v1/mailbox", json={"token": token, "pow": _mailbox_proof(client)})
    assert answer.status_code == 200
    assert create(client, {"form": form}, pow_proof=pow_proof(client)).status_code == 201
    # And challenges have no bucket at all.
    assert {client.post("/api/v1/challenges").status_code for _ in range(300)} == {200}


def test_a_rate_limited_submission_keeps_its_proof_for_a_retry(
    make_client: Callable[..., TestClient], genesis: dict[str, Any]
) -> None:
    # submissions.create at 5% of its rate: 3 at once, then one per 4 seconds.
    client = make_client(rate_limit_scale=0.05, pow_difficulty=BITS)
    form = seal(genesis, b"form")
    statuses = [
        create(client, {"form": form}, pow_proof=pow_proof(client)).status_code for _ in range(4)
    ]
    assert statuses == [201, 201, 201, 429]
    proof = pow_proof(client)
    for _ in range(600):  # until the bucket refills (bounded: about 4 s expected)
        retried = create(client, {"form": form}, pow_proof=proof)
        if retried.status_code != 429:
            break
        time.sleep(0.1)
    assert retried.status_code == 201, retried.text


ADAPTIVE = {
    "pow_difficulty": 4,
    "pow_max_difficulty": 7,
    "mailbox_pow_difficulty": 4,
    "mailbox_pow_max_difficulty": 6,
    "pow_target_per_minute": 1,
    "mailbox_pow_target_per_minute": 1,
    "pow_load_half_life_seconds": 2,
}


def test_price_rises_with_redeemed_proofs_stays_capped_and_falls_back(
    make_client: Callable[..., TestClient], genesis: dict[str, Any]
) -> None:
    client = make_client(**ADAPTIVE)
    form = seal(genesis, b"form")

    def price(path: str = "/api/v1/challenges") -> int:
        difficulty: int = client.post(path).json()["difficulty"]
        return difficulty

    # Challenges cost nothing, so asking for them never raises the price.
    assert {price() for _ in range(200)} == {4}
    early = client.post("/api/v1/challenges").json()
    seen = []
    for _ in range(30):
        assert create(client, {"form": form}, pow_proof=pow_proof(client)).status_code == 201
        seen.append(price())
    assert max(seen) == 7  # risen to the maximum, never past it
    assert min(seen) >= 4
    # A proof priced before the load rose by more than the grace is stale:
    # 429, so the page solves a fresh challenge at the new price.
    stale = create(
        client,
        {"form": form},
        pow_proof={"challenge": early["challenge"], "nonce": solve(early["challenge"], 4)},
    )
    assert stale.status_code == 429
    assert _code(stale) == "pow-stale"
    assert stale.headers["retry-after"].isdigit()
    assert create(client, {"form": form}, pow_proof=pow_proof(client)).status_code == 201
    # The mailbox price follows mailbox checks alone, under its own maximum.
    assert price("/api/v1/mailbox/challenges") == 4
    token = crypto.b64e(b"\x04" * 32)
    mailbox_seen = []
    for _ in range(30):
        body = {"token": token, "pow": _mailbox_proof(client)}
        assert client.post("/api/v1/mailbox", json=body).status_code == 200
        mailbox_seen.append(price("/api/v1/mailbox/challenges"))
    assert max(mailbox_seen) == 6
    # Once the load goes, the price falls back (half-life 2 s here).
    for _ in range(900):  # bounded: about 20 s expected
        if price() == 4 and price("/api/v1/mailbox/challenges") == 4:
            break
        time.sleep(0.1)
    assert price() == 4
    assert price("/api/v1/mailbox/challenges") == 4
