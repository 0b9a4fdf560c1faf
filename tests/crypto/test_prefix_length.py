"""Readers that hold only an envelope's first bytes (an upload still arriving,
a stored blob read by range) learn the prefix's length from the protocol
core, not from a parser of their own."""

from __future__ import annotations

import io

import pytest

from crypto import InvalidEnvelope, ManifestRef, generate_identity, read_header, seal_bytes
from crypto.envelope import PREFIX_OVERHEAD, PREFIX_START, prefix_length


def _envelope(content: bytes) -> bytes:
    verifier = generate_identity("verifier", "v")
    assert verifier.x25519_public is not None
    return seal_bytes(
        content,
        kind="submission",
        manifest=ManifestRef(1, bytes(32)),
        recipients=[verifier.x25519_public],
    )


def test_the_first_twelve_bytes_give_the_length_read_header_reads() -> None:
    envelope = _envelope(b"x" * 100)
    header = read_header(io.BytesIO(envelope))
    assert prefix_length(envelope[:PREFIX_START]) == len(header.prefix)
    assert len(header.prefix) == PREFIX_OVERHEAD + len(header.raw)


@pytest.mark.parametrize(
    "start",
    [b"", b"INTAKEv1\x00\x00", b"INTAKEv2\x00\x00\x00\x10", b"\x00" * PREFIX_START],
    ids=["empty", "cut-short", "other-magic", "zeros"],
)
def test_a_start_that_is_not_an_envelope_is_malformed(start: bytes) -> None:
    with pytest.raises(InvalidEnvelope) as refused:
        prefix_length(start)
    assert refused.value.reason == "malformed"
