"""pow.json: the proof of work of PROTOCOL.md (*Proof of work*), against the
server's real ``app.pow``.

Each vector is run through the real ``ProofOfWork.check`` (the MAC, expiry,
work and price checks, in the server's order) and through the rule as the
protocol writes it (HMAC-SHA256 over ``mac_input``, SHA-256 over
``challenge ":" nonce``), so the document and the code cannot drift apart.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from typing import Any

import pytest

from app.pow import ProofOfWork, leading_zero_bits, proof_ok
from tests.vectors.generate_rules import POW_KEY, _pow_for, load_meter, pow_outcome

from .support import load, params

DOC = load("pow.json")
# The challenge grammar of PROTOCOL.md, written out independently of app.pow.
CHALLENGE = re.compile(r"v1\.([0-9a-f]{32})\.([0-9]{1,12})\.([0-9]{1,2})\.([0-9a-f]{64})")


def _server(vector: dict[str, Any]) -> ProofOfWork:
    server = _pow_for(
        vector["endpoint"],
        vector["base_difficulty"],
        vector["max_difficulty"],
        vector["target_per_minute"],
    )
    load_meter(server, vector["load_events"])
    assert server.difficulty == vector["price"]
    return server


def _key(endpoint: str) -> bytes:
    if endpoint == "submissions":
        return POW_KEY
    return bytes.fromhex(DOC["mailbox_key"])


@pytest.mark.parametrize("vector", params("pow.json"))
def test_pow_vector_gives_the_expected_answer(vector: dict[str, Any]) -> None:
    server = _server(vector)
    got = pow_outcome(server, vector["challenge"], vector["nonce"], vector["now"])
    assert got == vector["expect"]


@pytest.mark.parametrize("vector", params("pow.json"))
def test_pow_vector_hash_is_the_documented_one(vector: dict[str, Any]) -> None:
    if vector["sha256"] is None:
        assert vector["challenge"] is None or vector["nonce"] is None
        return
    digest = hashlib.sha256(f"{vector['challenge']}:{vector['nonce']}".encode()).digest()
    assert digest.hex() == vector["sha256"]
    assert leading_zero_bits(digest) == vector["leading_zero_bits"]


@pytest.mark.parametrize(
    "vector",
    [p for p in params("pow.json") if p.values[0]["expect"] == "ok" and p.values[0]["challenge"]],
)
def test_accepted_challenge_is_exactly_the_documented_mac(vector: dict[str, Any]) -> None:
    match = CHALLENGE.fullmatch(vector["challenge"])
    assert match is not None
    cid, expires, bits, mac = match.groups()
    assert vector["mac_input"] == f"intake/pow/v1|{cid}.{int(expires)}.{int(bits)}"
    expected = hmac.new(_key(vector["endpoint"]), vector["mac_input"].encode(), hashlib.sha256)
    assert mac == expected.hexdigest()
    assert leading_zero_bits(bytes.fromhex(vector["sha256"])) >= int(bits)


@pytest.mark.parametrize(
    "vector",
    [p for p in params("pow.json") if p.values[0]["expect"] == "ok" and p.values[0]["challenge"]],
)
def test_accepted_proof_is_refused_once_any_part_changes(vector: dict[str, Any]) -> None:
    server = _server(vector)
    challenge, nonce, now = vector["challenge"], vector["nonce"], vector["now"]
    expires = int(challenge.split(".")[2])
    mac_flipped = challenge[:-1] + ("0" if challenge[-1] != "0" else "1")
    assert pow_outcome(server, mac_flipped, nonce, now) == "pow-invalid"
    assert pow_outcome(server, challenge, nonce, expires + 1) == "pow-invalid"
    bits = int(challenge.split(".")[3])
    if bits > 0:
        wrong = next(str(n) for n in range(10_000) if not proof_ok(challenge, str(n), bits))
        assert pow_outcome(server, challenge, wrong, now) == "pow-invalid"


def test_mailbox_key_is_the_documented_derivation() -> None:
    assert (
        DOC["mailbox_key"] == hmac.new(POW_KEY, b"intake/pow/mailbox", hashlib.sha256).hexdigest()
    )
    # And the real mailbox server object uses it: a challenge MACed under it verifies.
    mailbox = _pow_for("mailbox", 1, 1, 0.0)
    issued = mailbox.issue(now=1_000)
    cid, expires, bits = issued.challenge.split(".")[1:4]
    message = f"intake/pow/v1|{cid}.{expires}.{bits}".encode()
    mac = hmac.new(bytes.fromhex(DOC["mailbox_key"]), message, hashlib.sha256).hexdigest()
    assert issued.challenge.endswith("." + mac)


def test_issued_challenge_follows_the_documented_grammar_and_lifetime() -> None:
    server = _pow_for("submissions", 3, 3, 0.0)
    issued = server.issue(now=DOC["vectors"][0]["now"])
    match = CHALLENGE.fullmatch(issued.challenge)
    assert match is not None
    cid, expires, bits, mac = match.groups()
    assert int(expires) == DOC["vectors"][0]["now"] + DOC["ttl_seconds"]
    assert int(bits) == issued.difficulty == 3
    message = f"intake/pow/v1|{cid}.{expires}.{bits}".encode()
    assert mac == hmac.new(POW_KEY, message, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("vector", DOC["solutions"], ids=lambda v: f"difficulty-{v['difficulty']}")
def test_solution_vector_is_the_smallest_decimal_nonce(vector: dict[str, Any]) -> None:
    challenge, difficulty, nonce = vector["challenge"], vector["difficulty"], vector["nonce"]
    assert proof_ok(challenge, nonce, difficulty)
    assert not any(proof_ok(challenge, str(n), difficulty) for n in range(int(nonce)))
    digest = hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()
    assert digest.hex() == vector["sha256"]


@pytest.mark.parametrize("vector", DOC["leading_zero_bits"], ids=lambda v: v["digest"][:8])
def test_leading_zero_bits_vector(vector: dict[str, Any]) -> None:
    assert leading_zero_bits(bytes.fromhex(vector["digest"])) == vector["bits"]


@pytest.mark.parametrize(
    "vector", DOC["prices"], ids=lambda v: f"{v['base_difficulty']}-{v['load_events']}"
)
def test_price_vector_follows_the_documented_formula(vector: dict[str, Any]) -> None:
    server = _pow_for(
        "submissions",
        vector["base_difficulty"],
        vector["max_difficulty"],
        vector["target_per_minute"],
    )
    load_meter(server, vector["load_events"])
    assert server.difficulty == vector["price"]
    # The formula as PROTOCOL.md writes it.
    base, top, target = (
        vector["base_difficulty"],
        vector["max_difficulty"],
        vector["target_per_minute"],
    )
    rate = vector["rate_per_minute"]
    if base <= 0 or target <= 0 or top <= base or rate <= target:
        documented = base
    else:
        documented = min(top, base + math.ceil(math.log2(rate / target)))
    assert documented == vector["price"]
