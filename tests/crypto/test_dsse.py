"""DSSE: PAE bytes, signing, and counting each valid key once."""

from __future__ import annotations

import pytest

from crypto import (
    InvalidSignature,
    b64d,
    b64e,
    dsse_add_signature,
    dsse_check_signers,
    dsse_sign,
    dsse_valid_signers,
    generate_identity,
    pae,
)

A, B, C = (generate_identity("admin", n) for n in "ABC")
KEYS = {i.sign_kid: i.ed25519_public for i in (A, B, C)}


def test_pae_matches_the_dsse_specification_example() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("т", "ё".encode()) == "DSSEv1 2 т 2 ё".encode()


def test_signatures_verify_over_the_received_payload_bytes() -> None:
    env = dsse_sign("t", b'{"b":1, "a":2}', [A, B])
    assert dsse_valid_signers(env, KEYS) == {A.sign_kid, B.sign_kid}
    env["payload"] = b64e(b'{"a":2,"b":1}')  # same JSON value, other bytes
    assert dsse_valid_signers(env, KEYS) == set()


def test_a_key_counts_once_however_often_it_signed() -> None:
    env = dsse_sign("t", b"p", [A, A, A])
    assert dsse_valid_signers(env, KEYS) == {A.sign_kid}


def test_signatures_by_unknown_keys_are_ignored_and_bad_ones_reported() -> None:
    env = dsse_sign("t", b"p", [A, B, generate_identity("admin", "X")])
    sig = bytearray(b64d(env["signatures"][1]["sig"]))
    sig[0] ^= 1
    env["signatures"][1]["sig"] = b64e(bytes(sig))
    assert dsse_check_signers(env, KEYS) == ({A.sign_kid}, {B.sign_kid})


def test_a_signature_counts_only_for_the_key_its_keyid_names() -> None:
    env = dsse_sign("t", b"p", [A])
    env["signatures"][0]["keyid"] = B.sign_kid
    assert dsse_valid_signers(env, KEYS) == set()


def test_add_signature_replaces_the_signers_earlier_one() -> None:
    env = dsse_add_signature(dsse_add_signature(dsse_sign("t", b"p", [A]), B), B)
    assert [s["keyid"] for s in env["signatures"]] == [A.sign_kid, B.sign_kid]
    assert dsse_valid_signers(env, KEYS) == {A.sign_kid, B.sign_kid}


@pytest.mark.parametrize(
    "env",
    [
        [],
        {"payloadType": "t", "payload": "cA==", "signatures": {}},
        {"payloadType": "t", "payload": "cA", "signatures": []},
        {"payloadType": 1, "payload": "cA==", "signatures": []},
        {"payloadType": "t", "payload": "cA==", "signatures": [{"keyid": "k"}]},
        {"payloadType": "t", "payload": "cA==", "signatures": [], "extra": 1},
        {"payloadType": "t", "payload": "cA==", "signatures": [{"keyid": 1, "sig": "cA=="}]},
    ],
    ids=[
        "not-object",
        "sigs-not-list",
        "payload-b64",
        "type-not-str",
        "sig-missing",
        "extra-field",
        "keyid-not-str",
    ],
)
def test_malformed_envelopes_raise_malformed(env: object) -> None:
    with pytest.raises(InvalidSignature) as info:
        dsse_valid_signers(env, KEYS)  # type: ignore[arg-type]
    assert info.value.reason == "malformed"
