"""authorization.json: the courier's ``Authorization: Intake-Sig`` header
(PROTOCOL.md, *Couriers*): its one spelling, the bytes it signs, and which
class wins when several things are wrong."""

from __future__ import annotations

import re
from typing import Any

import pytest

from crypto import (
    InvalidSignature,
    Manifest,
    b64d,
    b64e,
    blake2b,
    parse_authorization,
    request_signing_bytes,
    verify_request,
)

from .support import load, params, verified_chain

DOC = load("authorization.json")
# The ABNF of PROTOCOL.md, written out independently of crypto.signatures.
GRAMMAR = re.compile(
    r"Intake-Sig kid=(?P<kid>[0-9a-f]{32}), ts=(?P<ts>0|[1-9][0-9]{0,15}), "
    r"sig=(?P<sig>[A-Za-z0-9+/]{86}==)"
)


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return verified_chain(DOC)[-1]


def _verify(vector: dict[str, Any], manifest: Any, authorization: str | None = None) -> str:
    try:
        verify_request(
            vector["authorization"] if authorization is None else authorization,
            vector["method"],
            vector["target"],
            blake2b(32, b64d(vector["body"])),
            manifest,
            vector["now"],
        )
    except InvalidSignature as exc:
        return exc.reason
    return "ok"


@pytest.mark.parametrize("vector", params("authorization.json"))
def test_authorization_vector_gives_the_expected_class(
    vector: dict[str, Any], manifest: Any
) -> None:
    assert _verify(vector, manifest) == vector["expect"]


@pytest.mark.parametrize("vector", params("authorization.json"))
def test_authorization_parses_exactly_as_the_documented_grammar(vector: dict[str, Any]) -> None:
    match = GRAMMAR.fullmatch(vector["authorization"])
    try:
        kid, ts, sig = parse_authorization(vector["authorization"])
        parsed: dict[str, Any] | None = {"kid": kid, "ts": ts, "sig": b64e(sig)}
    except InvalidSignature as exc:
        assert exc.reason == "malformed"
        parsed = None
    assert parsed == vector["parsed"]
    # The grammar admits exactly what parses, but for a non-canonical base64
    # spelling, which the grammar cannot see and the decoder refuses.
    if parsed is not None:
        assert match is not None and match["sig"] == parsed["sig"]
    elif match is not None:
        with pytest.raises(ValueError):
            b64d(match["sig"])


@pytest.mark.parametrize(
    "vector", [p for p in params("authorization.json") if p.values[0]["signing_bytes"]]
)
def test_signed_bytes_are_the_documented_layout(vector: dict[str, Any]) -> None:
    ts = vector["parsed"]["ts"]
    body_hex = blake2b(32, b64d(vector["body"])).hex()
    layout = f"intake/v1/request\n{vector['method']}\n{vector['target']}\n{ts}\n{body_hex}"
    assert b64d(vector["signing_bytes"]) == layout.encode("ascii")
    signed = request_signing_bytes(
        vector["method"], vector["target"], ts, blake2b(32, b64d(vector["body"]))
    )
    assert b64e(signed) == vector["signing_bytes"]


@pytest.mark.parametrize(
    "vector", [p for p in params("authorization.json") if p.values[0]["expect"] == "ok"]
)
def test_accepted_header_is_refused_once_any_byte_of_its_signature_changes(
    vector: dict[str, Any], manifest: Any
) -> None:
    head, sig = vector["authorization"].rsplit("sig=", 1)
    raw = b64d(sig)
    for index in (0, 31, 63):
        flipped = bytearray(raw)
        flipped[index] ^= 0x01
        assert _verify(vector, manifest, f"{head}sig={b64e(bytes(flipped))}") == "bad-signature"
