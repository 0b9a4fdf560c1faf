"""Reply, receipt and courier-request signatures."""

from __future__ import annotations

import pytest

from crypto import (
    InvalidSignature,
    blake2b,
    parse_authorization,
    parse_manifest,
    request_signing_bytes,
    sign_receipt,
    sign_reply,
    sign_request,
    verify_receipt,
    verify_reply,
    verify_request,
)
from tests.vectors.generate import A1, C1, SECOND, V1, V2, V3, manifest

LATEST = parse_manifest(SECOND)  # verifier-1, verifier-3 active; verifier-2 retired
DIGEST = blake2b(32, b"payload")


def test_receipts_verify_for_active_and_retired_verifiers() -> None:
    for signer in (V1, V2, V3):
        kid, sig = sign_receipt(signer, DIGEST)
        assert verify_receipt(DIGEST, kid, sig, LATEST).sign_kid == signer.sign_kid


def test_receipts_from_removed_or_non_verifier_keys_are_refused() -> None:
    without_v2 = parse_manifest(manifest(3, verifiers=((V1, "active"),)))
    for signer, m in ((V2, without_v2), (A1, LATEST), (C1, LATEST)):
        kid, sig = sign_receipt(signer, DIGEST)
        with pytest.raises(InvalidSignature) as info:
            verify_receipt(DIGEST, kid, sig, m)
        assert info.value.reason == "bad-signature"


def test_a_receipt_signature_is_not_a_reply_signature() -> None:
    envelope = b"e" * 100
    kid, sig = sign_receipt(V1, blake2b(32, envelope))
    with pytest.raises(InvalidSignature):
        verify_reply(envelope, kid, sig, LATEST)
    kid, sig = sign_reply(V1, envelope)
    assert verify_reply(envelope, kid, sig, LATEST).kid == V1.kid
    with pytest.raises(InvalidSignature):
        verify_receipt(blake2b(32, envelope), kid, sig, LATEST)


def test_request_signing_bytes_are_exactly_the_spec_layout() -> None:
    got = request_signing_bytes("GET", "/api/v1/courier/bundle?limit=50", 1700000000, DIGEST)
    assert got == (
        b"intake/v1/request\nGET\n/api/v1/courier/bundle?limit=50\n1700000000\n"
        + DIGEST.hex().encode()
    )


@pytest.mark.parametrize(
    ("method", "target"),
    [("get", "/x"), ("GET\n", "/x"), ("GET", "x"), ("GET", "/x y"), ("GET", "/x\nGET")],
)
def test_request_signing_bytes_refuse_ambiguous_fields(method: str, target: str) -> None:
    with pytest.raises(ValueError):
        request_signing_bytes(method, target, 1, DIGEST)


def test_signed_request_round_trips_and_binds_every_field() -> None:
    value = sign_request(C1, "POST", "/api/v1/courier/replies", b"body", 1000)
    kid, ts, sig = parse_authorization(value)
    assert kid == C1.sign_kid and ts == 1000 and len(sig) == 64
    good = ("POST", "/api/v1/courier/replies", blake2b(32, b"body"))
    assert verify_request(value, *good, LATEST, now=1000) == (kid, sig)
    for method, target, body in (
        ("PUT", good[1], good[2]),
        (good[0], "/x", good[2]),
        (good[0], good[1], blake2b(32, b"other")),
    ):
        with pytest.raises(InvalidSignature):
            verify_request(value, method, target, body, LATEST, now=1000)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Intake-Sig kid=abc, ts=1, sig=x",
        "Bearer x",
        None,
        "Intake-Sig kid=" + "a" * 32 + ", ts=1, sig=" + "A" * 85 + "B==",
    ],  # non-canonical
)
def test_parse_authorization_is_strict(value: object) -> None:
    with pytest.raises(InvalidSignature) as info:
        parse_authorization(value)  # type: ignore[arg-type]
    assert info.value.reason == "malformed"
