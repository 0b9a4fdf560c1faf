"""Sealing, opening, streaming, rewrapping and the keyless checks the server runs."""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from crypto import (
    InvalidEnvelope,
    Keyring,
    ManifestRef,
    NoMatchingKey,
    check_payload_framing,
    generate_identity,
    open_bytes,
    open_envelope,
    open_to_path,
    parse_prefix,
    payload_digest,
    payload_length_for,
    read_header,
    recipient_discrepancies,
    rewrap,
    rewrap_prefix,
    seal,
    seal_bytes,
)
from crypto.envelope import MAGIC

from .support import identities

REF = ManifestRef(1, bytes(range(32)))
V1 = identities()["verifier-1"]
V2 = identities()["verifier-2"]
V3 = identities()["verifier-3"]
RING = Keyring([V1])


def pk(ident: object) -> bytes:
    public = ident.x25519_public  # type: ignore[attr-defined]
    assert isinstance(public, bytes)
    return public


def sealed(content: bytes, chunk: int = 4096, to: tuple[object, ...] = (V1,)) -> bytes:
    return seal_bytes(
        content, kind="attachment", manifest=REF, recipients=[pk(i) for i in to], chunk=chunk
    )


def counter_rng(label: bytes) -> Callable[[int], bytes]:
    from crypto import blake2b

    state = {"i": 0}

    def rng(n: int) -> bytes:
        state["i"] += 1
        return blake2b(64, label + state["i"].to_bytes(8, "big"))[:n]

    return rng


class TrickleReader(io.RawIOBase):
    """A pipe-like source that returns at most 1000 bytes per read."""

    def __init__(self, data: bytes) -> None:
        self._src = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        return self._src.read(min(n if n >= 0 else 1000, 1000))


@pytest.mark.parametrize("size", [0, 1, 4087, 4088, 4089, 10000, 200000])
@pytest.mark.parametrize("chunk", [4096, 65536])
def test_seal_then_open_returns_the_content(size: int, chunk: int) -> None:
    content = os.urandom(size)
    envelope = sealed(content, chunk)
    opened, got = open_bytes(envelope, RING)
    assert got == content and opened.size == size and opened.opened_by == V1
    assert opened.header.v == 3 and opened.header.chunk == chunk
    payload = len(envelope) - len(opened.header.prefix)
    assert payload == payload_length_for(size, chunk)
    check_payload_framing(opened.header, payload)


def test_envelope_size_hides_the_exact_content_length() -> None:
    sizes = {
        len(sealed(os.urandom(n))) - len(read_header(io.BytesIO(sealed(b""))).prefix)
        for n in range(0, 4089, 97)
    }
    assert len(sizes) == 1


def test_seal_with_the_same_rng_is_byte_identical_and_without_is_not() -> None:
    def make(rng: Callable[[int], bytes] | None) -> bytes:
        return seal_bytes(
            b"x" * 5000, kind="reply", manifest=REF, recipients=[pk(V1), pk(V2)], rng=rng
        )

    assert make(counter_rng(b"a")) == make(counter_rng(b"a"))
    assert make(counter_rng(b"a")) != make(counter_rng(b"b"))
    assert make(None) != make(None)


def test_open_streams_from_a_source_that_returns_short_reads() -> None:
    content = os.urandom(30000)
    out = io.BytesIO()
    opened = open_envelope(TrickleReader(sealed(content)), out, RING)  # type: ignore[arg-type]
    assert out.getvalue() == content and opened.size == 30000


def test_seal_streams_from_a_source_that_returns_short_reads() -> None:
    content = os.urandom(30000)
    out = io.BytesIO()
    seal(
        TrickleReader(content),
        30000,
        out,
        kind="attachment",
        manifest=REF,  # type: ignore[arg-type]
        recipients=[pk(V1)],
        chunk=4096,
    )
    assert open_bytes(out.getvalue(), RING)[1] == content


def test_seal_refuses_a_source_shorter_than_size() -> None:
    with pytest.raises(ValueError):
        seal(
            io.BytesIO(b"abc"),
            4,
            io.BytesIO(),
            kind="attachment",
            manifest=REF,
            recipients=[pk(V1)],
        )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "letter"},
        {"chunk": 4095},
        {"chunk": 2**20 + 1},
        {"recipients": []},
        {"recipients": [b"short"]},
        {"recipients": [bytes(32)] * 65},
    ],
    ids=["kind", "chunk-small", "chunk-large", "no-recipients", "short-key", "65-recipients"],
)
def test_seal_refuses_arguments_no_reader_would_accept(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"kind": "attachment", "manifest": REF, "recipients": [pk(V1)]}
    args.update(kwargs)
    with pytest.raises(ValueError):
        seal_bytes(b"x", **args)  # type: ignore[arg-type]


def test_a_keyring_of_several_keys_finds_the_one_that_opens() -> None:
    envelope = sealed(b"hi", to=(V2,))
    opened, got = open_bytes(envelope, Keyring([V1, V3, V2]))
    assert got == b"hi" and opened.opened_by == V2


def test_no_matching_key_names_the_recipients() -> None:
    with pytest.raises(NoMatchingKey) as info:
        open_bytes(sealed(b"hi", to=(V2, V3)), RING)
    assert info.value.recipients == [V2.kid, V3.kid]
    assert info.value.reason == "no-match"


def test_failed_open_releases_nothing_to_dst() -> None:
    envelope = bytearray(sealed(os.urandom(20000)))
    envelope[-1] ^= 1  # last chunk forged: everything before it authenticated fine
    out = io.BytesIO()
    with pytest.raises(InvalidEnvelope) as info:
        open_envelope(io.BytesIO(bytes(envelope)), out, RING)
    assert info.value.reason == "payload"
    assert out.getvalue() == b""


def test_open_to_path_writes_the_content_atomically(tmp_path: Path) -> None:
    content = os.urandom(50000)
    (tmp_path / "in.env").write_bytes(sealed(content))
    opened = open_to_path(tmp_path / "in.env", tmp_path / "out.bin", RING)
    assert (tmp_path / "out.bin").read_bytes() == content and opened.size == 50000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.env", "out.bin"]


@pytest.mark.parametrize("cut", [1, 4113, 10])
def test_open_to_path_leaves_nothing_behind_on_failure(tmp_path: Path, cut: int) -> None:
    (tmp_path / "in.env").write_bytes(sealed(os.urandom(50000))[:-cut])
    with pytest.raises(InvalidEnvelope):
        open_to_path(tmp_path / "in.env", tmp_path / "out.bin", RING)
    assert [p.name for p in tmp_path.iterdir()] == ["in.env"]


def test_open_to_path_keeps_an_existing_target_when_opening_fails(tmp_path: Path) -> None:
    (tmp_path / "out.bin").write_bytes(b"earlier result")
    (tmp_path / "in.env").write_bytes(sealed(b"x", to=(V2,)))
    with pytest.raises(NoMatchingKey):
        open_to_path(tmp_path / "in.env", tmp_path / "out.bin", RING)
    assert (tmp_path / "out.bin").read_bytes() == b"earlier result"


def test_rewrap_keeps_the_payload_and_its_digest_and_drops_the_old_key() -> None:
    content = os.urandom(9000)
    old = sealed(content, to=(V1, V2))
    new_ref = ManifestRef(2, bytes(32))
    out = io.BytesIO()
    prefix = rewrap(io.BytesIO(old), out, RING, [pk(V3)], manifest=new_ref)
    new = out.getvalue()
    old_header = read_header(io.BytesIO(old))
    assert new == prefix + old[len(old_header.prefix) :], "payload bytes never change"
    assert payload_digest(io.BytesIO(new)) == payload_digest(io.BytesIO(old))
    opened, got = open_bytes(new, Keyring([V3]))
    assert got == content and opened.header.manifest == new_ref
    assert opened.payload_digest == payload_digest(io.BytesIO(old))
    for former in (V1, V2):
        with pytest.raises(NoMatchingKey):
            open_bytes(new, Keyring([former]))


def test_rewrap_prefix_reads_only_the_prefix_and_names_the_same_stream() -> None:
    old = sealed(os.urandom(9000))
    src = io.BytesIO(old)
    prefix = rewrap_prefix(src, RING, [pk(V2)])
    old_header = read_header(io.BytesIO(old))
    assert src.tell() == len(old_header.prefix)
    new_header = parse_prefix(prefix)
    assert new_header.stream_header == old_header.stream_header
    assert new_header.recipient_kids == [V2.kid] and new_header.v == 3


def test_rewrap_needs_a_key_that_opens_the_envelope() -> None:
    with pytest.raises(NoMatchingKey):
        rewrap_prefix(io.BytesIO(sealed(b"x", to=(V2,))), RING, [pk(V3)])


def test_payload_digest_needs_no_key_and_matches_what_open_reports() -> None:
    envelope = sealed(os.urandom(12345))
    assert payload_digest(io.BytesIO(envelope)) == open_bytes(envelope, RING)[0].payload_digest


def _payload_chunks(envelope: bytes) -> tuple[bytes, list[bytes]]:
    header = read_header(io.BytesIO(envelope))
    payload = envelope[len(header.prefix) :]
    step = header.chunk + 17
    return header.stream_header, [payload[i : i + step] for i in range(0, len(payload), step)]


def test_version_3_payload_digest_is_blake2b_over_the_sha256_of_each_chunk() -> None:
    import hashlib

    envelope = sealed(os.urandom(20000), chunk=4096)
    stream_header, chunks = _payload_chunks(envelope)
    assert len(chunks) == 5
    hash_list = b"".join(hashlib.sha256(c).digest() for c in chunks)
    want = hashlib.blake2b(
        b"intake/v3/payload-digest" + stream_header + hash_list, digest_size=32
    ).digest()
    assert payload_digest(io.BytesIO(envelope)) == want
    assert open_bytes(envelope, RING)[0].payload_digest == want


def _seal_v2(content: bytes, chunk: int = 4096) -> bytes:
    from crypto.envelope import _content_plaintext, _seal_plaintext
    from crypto.padding import padded_size

    out = io.BytesIO()
    _seal_plaintext(
        _content_plaintext(io.BytesIO(content), len(content)),
        padded_size(len(content)),
        out,
        v=2,
        kind="attachment",
        manifest=REF,
        recipients=[pk(V1)],
        chunk=chunk,
        rng=None,
    )
    return out.getvalue()


def test_version_2_envelopes_still_open_with_their_own_payload_digest() -> None:
    import hashlib

    content = os.urandom(9000)
    old = _seal_v2(content)
    opened, got = open_bytes(old, RING)
    assert got == content and opened.header.v == 2
    header = read_header(io.BytesIO(old))
    want = hashlib.blake2b(
        b"intake/v2/payload-digest" + header.stream_header + old[len(header.prefix) :],
        digest_size=32,
    ).digest()
    assert opened.payload_digest == payload_digest(io.BytesIO(old)) == want


def test_a_changed_chunk_changes_the_version_3_digest_even_with_the_tag_unchecked() -> None:
    # The server checks no tag: the digest alone must tell two payloads apart.
    envelope = sealed(os.urandom(20000), chunk=4096)
    header = read_header(io.BytesIO(envelope))
    for at in (len(header.prefix), len(envelope) - 1):
        changed = bytearray(envelope)
        changed[at] ^= 0x80
        assert payload_digest(io.BytesIO(bytes(changed))) != payload_digest(io.BytesIO(envelope))


def test_read_header_is_keyless_structure_only_and_reads_exactly_the_prefix() -> None:
    envelope = sealed(b"abc")
    src = io.BytesIO(envelope)
    header = read_header(src)
    assert src.tell() == len(header.prefix) and envelope.startswith(header.prefix)
    assert header.prefix.startswith(MAGIC) and header.kind == "attachment"
    assert header.manifest == REF and header.recipient_kids == [V1.kid]
    assert len(header.stream_header) == 24


def test_read_header_refuses_a_huge_header_len_without_reading_it() -> None:
    src = io.BytesIO(MAGIC + struct.pack(">I", 2**32 - 1) + b"x" * 10)
    with pytest.raises(InvalidEnvelope) as info:
        read_header(src)
    assert info.value.reason == "malformed" and src.tell() == 12


def test_parse_prefix_refuses_trailing_bytes() -> None:
    header = read_header(io.BytesIO(sealed(b"abc")))
    assert parse_prefix(header.prefix) == header
    with pytest.raises(InvalidEnvelope):
        parse_prefix(header.prefix + b"\x00")


@pytest.mark.parametrize("delta", [-18, -17, -1, 1, 17, 18])
def test_check_payload_framing_refuses_lengths_no_writer_produces(delta: int) -> None:
    envelope = sealed(os.urandom(20000))
    header = read_header(io.BytesIO(envelope))
    length = len(envelope) - len(header.prefix)
    check_payload_framing(header, length)
    with pytest.raises(InvalidEnvelope):
        check_payload_framing(header, length + delta)


def test_check_payload_framing_accepts_every_honest_length() -> None:
    header = read_header(io.BytesIO(sealed(b"")))
    for n in [*range(0, 70000, 331), 2**20, 2**24 + 5]:
        check_payload_framing(header, payload_length_for(n, header.chunk))


def test_recipient_discrepancies_flag_unknown_and_missing_verifiers() -> None:
    header = read_header(io.BytesIO(sealed(b"x", to=(V1, V3))))
    assert recipient_discrepancies(header, [V1.kid, V3.kid]) == ([], [])
    assert recipient_discrepancies(header, [V1.kid, V2.kid]) == ([V3.kid], [V2.kid])


def test_a_fresh_identity_opens_what_is_sealed_to_it() -> None:
    ident = generate_identity("verifier", "fresh")
    assert open_bytes(sealed(b"x", to=(ident,)), Keyring([ident]))[1] == b"x"


def test_a_key_opens_its_entry_even_when_the_header_names_another_kid() -> None:
    from crypto.envelope import _seal_plaintext
    from crypto.padding import padded_size

    def rename(doc: dict[str, object]) -> None:
        doc["recipients"][0]["kid"] = "0" * 32  # type: ignore[index]

    out = io.BytesIO()
    plain = struct.pack(">Q", 2) + b"hi" + bytes(padded_size(2) - 10)
    _seal_plaintext(
        iter([plain]),
        len(plain),
        out,
        v=2,
        kind="reply",
        manifest=REF,
        recipients=[pk(V1)],
        chunk=4096,
        rng=None,
        mutate=rename,
    )
    opened, got = open_bytes(out.getvalue(), RING)
    assert got == b"hi" and opened.header.recipient_kids == ["0" * 32]
