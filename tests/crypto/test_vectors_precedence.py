"""precedence.json: inputs with two faults at once. The class of the check
PROTOCOL.md orders first is the one reported (*Failure classes*,
precedence), for envelopes and for manifest chains; the browser runs the same
vectors (tests/browser/test_vectors_protocol_rules.py)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from crypto import (
    IntakeCryptoError,
    TrustRoot,
    b64d,
    open_bytes,
    parse_anchor,
    parse_time,
    read_header,
    verify_chain,
)

from .support import keyring, load

DOC = load("precedence.json")


def _envelope_class(vector: dict[str, Any], data: bytes | None = None) -> str:
    try:
        open_bytes(b64d(vector["envelope"]) if data is None else data, keyring(vector["keyring"]))
    except IntakeCryptoError as exc:
        return exc.reason
    return "ok"


def _chain_class(vector: dict[str, Any]) -> str:
    try:
        anchor = parse_anchor(vector["anchor"]) if "anchor" in vector else None
        verify_chain(
            vector["chain"],
            TrustRoot.from_json(vector["trust_root"]),
            parse_time(vector["now"]),
            anchor=anchor,
        )
    except IntakeCryptoError as exc:
        return exc.reason
    return "ok"


@pytest.mark.parametrize("vector", DOC["envelopes"], ids=lambda v: v["name"])
def test_envelope_precedence_vector(vector: dict[str, Any]) -> None:
    assert _envelope_class(vector) == vector["expect"]


@pytest.mark.parametrize("vector", DOC["chains"], ids=lambda v: v["name"])
def test_chain_precedence_vector(vector: dict[str, Any]) -> None:
    assert _chain_class(vector) == vector["expect"]


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


def test_each_fault_alone_gives_its_own_class() -> None:
    # The faults combined above are real faults: the base opens, and each one
    # alone is reported as itself, so a vector cannot pass by accident.
    base = next(v for v in DOC["envelopes"] if v["name"] == "ok-precedence-base")
    good = b64d(base["envelope"])
    offset = len(read_header(io.BytesIO(good)).prefix)
    assert _envelope_class(base) == "ok"
    assert _envelope_class(base, _flip(good, offset - 1)) == "header-mac"
    assert _envelope_class(base, _flip(good, offset + 10)) == "payload"
    assert _envelope_class(dict(base, keyring=["outsider"])) == "no-match"
    padding = next(v for v in DOC["envelopes"] if v["name"] == "padding-alone")
    assert _envelope_class(padding) == "padding"
