"""Envelope version 4: the AES-256-GCM payload a browser without WebAssembly writes.

The construction (PROTOCOL.md, *Changes in version 5*) is checked here from
its definition, with libsodium's AES-256-GCM called directly; the failure
classes of hostile v4 payloads are in the shared vectors (envelopes.json).
"""

from __future__ import annotations

import io
import os
import struct

import pytest

from crypto import (
    InvalidEnvelope,
    Keyring,
    ManifestRef,
    UnsupportedCpu,
    _sodium,
    blake2b,
    check_payload_framing,
    open_bytes,
    open_envelope,
    open_to_path,
    payload_digest,
    payload_length_for,
    read_header,
    rewrap,
    seal,
    seal_bytes,
)
from crypto.cli.errors import describe_crypto_error

from .support import identities

REF = ManifestRef(1, bytes(range(32)))
V1 = identities()["verifier-1"]
V2 = identities()["verifier-2"]
RING = Keyring([V1])
PK1 = V1.x25519_public
assert isinstance(PK1, bytes)


def _v4(content: bytes, chunk: int = 4096, rng: object = None) -> bytes:
    return seal_bytes(
        content,
        kind="attachment",
        manifest=REF,
        recipients=[PK1],
        chunk=chunk,
        rng=rng,  # type: ignore[arg-type]
        version=4,
    )


def test_v4_chunks_are_aes_gcm_under_the_v4_key_with_counter_and_final_flag_nonces() -> None:
    drawn = iter([bytes([7]) * 32, bytes(range(24)), bytes([9]) * 32])
    envelope = _v4(os.urandom(9000), rng=lambda n: next(drawn)[:n])
    header = read_header(io.BytesIO(envelope))
    assert header.v == 4 and header.stream_header == bytes(range(24))
    key = blake2b(32, b"intake/v4/payload", key=bytes([7]) * 32)
    payload = envelope[len(header.prefix) :]
    plain = b""
    step = 4096 + 16
    pieces = [payload[i : i + step] for i in range(0, len(payload), step)]
    assert [len(p) for p in pieces] == [step, step, 1024 + 16]  # padme(9008) = 9216
    for i, piece in enumerate(pieces):
        final = b"\x01" if i == len(pieces) - 1 else b"\x00"
        nonce = bytes(range(7)) + struct.pack(">I", i) + final
        opened = _sodium.aes256gcm_decrypt(piece, nonce, key)
        assert opened is not None, f"chunk {i}"
        plain += opened
    assert len(plain) == 9216 and struct.unpack(">Q", plain[:8]) == (9000,)


def test_v4_opens_streams_and_keeps_its_digest_through_a_rewrap(tmp_path: object) -> None:
    content = os.urandom(70_001)
    envelope = _v4(content, chunk=65536)
    opened, plain = open_bytes(envelope, RING)
    assert plain == content and opened.header.v == 4
    # The keyless digest (the server's) agrees, and the server's framing check passes.
    assert payload_digest(io.BytesIO(envelope)) == opened.payload_digest
    header = read_header(io.BytesIO(envelope))
    check_payload_framing(header, len(envelope) - len(header.prefix))
    assert len(envelope) - len(header.prefix) == payload_length_for(70_001, 65536, v=4)
    # A v3 framing of the same length is not what a v4 writer produces.
    assert payload_length_for(70_001, 65536, v=4) != payload_length_for(70_001, 65536, v=3)
    out = io.BytesIO()
    assert seal(
        io.BytesIO(content),
        len(content),
        out,
        kind="reply",
        manifest=REF,
        recipients=[PK1],
        version=4,
    ).envelope_size == len(out.getvalue())
    moved = io.BytesIO()
    rewrap(io.BytesIO(envelope), moved, RING, [V2.x25519_public])  # type: ignore[list-item]
    again, plain2 = open_bytes(moved.getvalue(), Keyring([V2]))
    assert again.header.v == 4 and plain2 == content
    assert again.payload_digest == opened.payload_digest
    target = os.path.join(str(tmp_path), "out.bin")
    open_to_path(io.BytesIO(envelope), target, RING)
    with open(target, "rb") as fh:
        assert fh.read() == content


def test_v4_digest_has_its_own_label() -> None:
    envelope = _v4(b"x" * 100)
    header = read_header(io.BytesIO(envelope))
    payload = envelope[len(header.prefix) :]
    import hashlib

    expected = blake2b(
        32, b"intake/v4/payload-digest" + header.stream_header + hashlib.sha256(payload).digest()
    )
    assert payload_digest(io.BytesIO(envelope)) == expected


def test_only_versions_3_and_4_are_written() -> None:
    with pytest.raises(ValueError):
        seal_bytes(b"x", kind="attachment", manifest=REF, recipients=[PK1], version=5)
    with pytest.raises(ValueError):
        seal_bytes(b"x", kind="attachment", manifest=REF, recipients=[PK1], version=2)


def test_without_aes_instructions_v4_fails_typed_after_the_header_and_releases_nothing(
    no_aes_instructions: None,
) -> None:
    _sodium._aes_available = None  # probe afresh: this machine has them
    envelope = _v4(os.urandom(5000))
    v3 = seal_bytes(b"old", kind="attachment", manifest=REF, recipients=[PK1])
    _sodium._aes_available = False
    out = io.BytesIO()
    with pytest.raises(UnsupportedCpu) as info:
        open_envelope(io.BytesIO(envelope), out, RING)
    assert out.getvalue() == b""
    assert not isinstance(info.value, InvalidEnvelope)  # not the envelope's fault
    message, hint = describe_crypto_error(info.value)
    assert "AES" in message and "another laptop" in message and hint is not None
    # Key and header checks still come first: a wrong keyring is no-match.
    with pytest.raises(InvalidEnvelope) as nomatch:
        open_envelope(io.BytesIO(envelope), io.BytesIO(), Keyring([V2]))
    assert nomatch.value.reason == "no-match"
    # What needs no AES still works: the digest (the server), older versions.
    assert len(payload_digest(io.BytesIO(envelope))) == 32
    assert open_bytes(v3, RING)[1] == b"old"
    with pytest.raises(UnsupportedCpu):
        _v4(b"new")
