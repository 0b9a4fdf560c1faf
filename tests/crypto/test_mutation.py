"""Mutation testing: any change to a valid envelope, manifest chain or bundle is
refused with the protocol's own exceptions, never another one, and never
releases plaintext or trusts a changed payload.

About 10,000 Hypothesis cases in all (see ``max_examples``); envelopes use
4096-byte chunks so each case is cheap.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import (
    IntakeCryptoError,
    InvalidEnvelope,
    InvalidSignature,
    Keyring,
    b64d,
    b64e,
    check_payload_framing,
    open_envelope,
    payload_digest,
    read_bundle,
    read_header,
    seal_bytes,
    verify_chain,
)
from crypto.errors import ENVELOPE_REASONS, SIGNATURE_REASONS
from tests.vectors.generate import (
    A2,
    A3,
    BASE_CHAIN,
    GENESIS_REF,
    NOW,
    ROOT,
    V1,
    V2,
    V3,
    DetRng,
    manifest,
)

from .support import HYPOTHESIS

assert V1.x25519_public is not None and V2.x25519_public is not None
CONTENT = DetRng("mutation/content")(9000)
ENVELOPE = seal_bytes(
    CONTENT,
    kind="submission",
    manifest=GENESIS_REF,
    recipients=[V1.x25519_public, V2.x25519_public],
    chunk=4096,
)
PREFIX_LEN = len(read_header(io.BytesIO(ENVELOPE)).prefix)
RING = Keyring([V1, V3])

CHAIN = [*BASE_CHAIN, manifest(3, verifiers=((V1, "retired"), (V3, "active")), signers=(A2, A3))]
PAYLOADS = [b64d(link["payload"]) for link in CHAIN]
CHAIN_TEXT = json.dumps({"chain": CHAIN}, separators=(",", ":")).encode()


def assert_envelope_refused(data: bytes) -> None:
    out = io.BytesIO()
    with pytest.raises(InvalidEnvelope) as info:
        open_envelope(io.BytesIO(data), out, RING)
    assert info.value.reason in ENVELOPE_REASONS
    assert out.getvalue() == b"", "plaintext released from a mutated envelope"
    # The server's keyless checks may pass or fail, but only with InvalidEnvelope.
    try:
        header = read_header(io.BytesIO(data))
        check_payload_framing(header, len(data) - len(header.prefix))
        payload_digest(io.BytesIO(data))
    except InvalidEnvelope:
        pass


# Positions: half the draws land in the small prefix, where parsing happens.
position = st.one_of(st.integers(0, PREFIX_LEN - 1), st.integers(0, len(ENVELOPE) - 1))


@settings(HYPOTHESIS, max_examples=3000)
@given(at=position, mask=st.integers(1, 255))
def test_flipped_envelope_bytes_are_refused(at: int, mask: int) -> None:
    data = bytearray(ENVELOPE)
    data[at] ^= mask
    assert_envelope_refused(bytes(data))


@settings(HYPOTHESIS, max_examples=1500)
@given(at=st.one_of(position, st.just(len(ENVELOPE))), extra=st.binary(min_size=1, max_size=64))
def test_inserted_envelope_bytes_are_refused(at: int, extra: bytes) -> None:
    assert_envelope_refused(ENVELOPE[:at] + extra + ENVELOPE[at:])


@settings(HYPOTHESIS, max_examples=1500)
@given(at=position, length=st.integers(1, 5000))
def test_deleted_envelope_bytes_are_refused(at: int, length: int) -> None:
    assert_envelope_refused(ENVELOPE[:at] + ENVELOPE[at + length :])


@settings(HYPOTHESIS, max_examples=1000)
@given(keep=st.integers(0, len(ENVELOPE) - 1))
def test_truncated_envelopes_are_refused(keep: int) -> None:
    assert_envelope_refused(ENVELOPE[:keep])


def mutate(
    buf: bytearray, data: st.DataObject, *, longest_insert: int, longest_delete: int
) -> None:
    """One drawn change at a drawn place: a flipped byte, inserted bytes, or a deletion."""
    kind = data.draw(st.sampled_from(["flip", "insert", "delete"]))
    at = data.draw(st.integers(0, len(buf) - 1))
    if kind == "flip":
        buf[at] ^= data.draw(st.integers(1, 255))
    elif kind == "insert":
        buf[at:at] = data.draw(st.binary(min_size=1, max_size=longest_insert))
    else:
        del buf[at : at + data.draw(st.integers(1, longest_delete))]


@settings(HYPOTHESIS, max_examples=1500)
@given(
    link=st.integers(0, len(CHAIN) - 1),
    data=st.data(),
)
def test_changed_manifest_payloads_are_refused(link: int, data: st.DataObject) -> None:
    payload = bytearray(PAYLOADS[link])
    mutate(payload, data, longest_insert=16, longest_delete=64)
    chain = [dict(c) for c in CHAIN]
    chain[link]["payload"] = b64e(bytes(payload))
    with pytest.raises(InvalidSignature) as info:
        verify_chain(chain, ROOT, NOW)
    assert info.value.reason in SIGNATURE_REASONS


@settings(HYPOTHESIS, max_examples=1500)
@given(data=st.data())
def test_mutated_chain_documents_never_yield_a_changed_trusted_payload(
    data: st.DataObject,
) -> None:
    text = bytearray(CHAIN_TEXT)
    for _ in range(data.draw(st.integers(1, 3))):
        mutate(text, data, longest_insert=8, longest_delete=32)
    try:
        doc: Any = json.loads(bytes(text))
    except ValueError:
        return  # not JSON: refused before it reaches the crypto layer
    chain = doc.get("chain") if isinstance(doc, dict) else doc
    try:
        trusted = verify_chain(chain, ROOT, NOW)
    except InvalidSignature as exc:
        assert exc.reason in SIGNATURE_REASONS
        return
    # Accepted only if every trusted payload is byte-identical to a signed original
    # (e.g. a mutation that only removed a surplus signature).
    assert [m.payload for m in trusted] == PAYLOADS[: len(trusted)]


BUNDLE = b""


def _bundle() -> bytes:
    global BUNDLE
    if not BUNDLE:
        from crypto import BundleWriter

        out = io.BytesIO()
        with BundleWriter(out) as writer:
            writer.add_chain(BASE_CHAIN)
            writer.add_submission(
                {
                    "id": "1" * 32,
                    "kind": "submission",
                    "received": "2026-06-01T10:00:00Z",
                    "envelopes": [
                        {
                            "id": "form",
                            "size": len(ENVELOPE),
                            "digest": b64e(payload_digest(io.BytesIO(ENVELOPE))),
                        }
                    ],
                },
                [("form", len(ENVELOPE), io.BytesIO(ENVELOPE))],
            )
        BUNDLE = out.getvalue()
    return BUNDLE


@settings(HYPOTHESIS, max_examples=600)
@given(data=st.data())
def test_mutated_bundles_fail_only_as_malformed(data: st.DataObject) -> None:
    bundle = bytearray(_bundle())
    at = data.draw(st.integers(0, len(bundle) - 1))
    kind = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
    if kind == "flip":
        bundle[at] ^= data.draw(st.integers(1, 255))
    elif kind == "insert":
        bundle[at:at] = data.draw(st.binary(min_size=1, max_size=600))
    elif kind == "delete":
        del bundle[at : at + data.draw(st.integers(1, 600))]
    else:
        del bundle[at:]
    try:
        for item in read_bundle(io.BytesIO(bytes(bundle))):
            close = getattr(item, "close", None)
            if close is not None:
                close()
    except IntakeCryptoError as exc:
        assert isinstance(exc, InvalidEnvelope) and exc.reason == "malformed"
