"""The envelope: every encrypted object of the protocol (PROTOCOL.md).

Layout: ``magic || u32be header_len || header JSON || header_mac || payload``.
Everything streams chunk by chunk in constant memory, and nothing is released
before the whole envelope verified: ``open_envelope`` decrypts into a spooled
temporary and copies to the caller only after TAG_FINAL, the absence of
trailing data and the zero padding have all been checked.

Versions: writers produce ``"v": 3``; readers open 1 to 4. The byte
layout is the same in all four; the payload digest differs (v1: the whole
envelope, v2: BLAKE2b over the payload, v3 and v4: BLAKE2b over the SHA-256 of
each chunk, so a browser without WebAssembly hashes with native WebCrypto),
and v4 changes the payload cipher: AES-256-GCM in the STREAM construction,
which a browser without WebAssembly runs natively (WebCrypto) where
secretstream runs as interpreted asm.js. Only browsers without WebAssembly
write v4; ``seal(..., version=4)`` exists for tests and vectors. Opening v4
needs a CPU with AES instructions (``UnsupportedCpu`` otherwise).

Reader order (so Python and the browser report the same class):
  1. prefix structure and v2 bounds ............ ``malformed``
  2. some keyring key opens some ``sealed`` ..... ``no-match``
  3. ``header_mac`` under an opened key ......... ``header-mac``
  4. chunks: each read as ``chunk + 17`` bytes (v4: ``chunk + 16``);
     a chunk that does not authenticate, has a tag other than MESSAGE/FINAL,
     or is an empty FINAL chunk ................. ``payload``
     (v4 has no tag byte: a chunk authenticates as non-final or as final,
     its nonce's last byte, or not at all)
     the stream ends before a FINAL chunk ....... ``truncated``
     any byte after the FINAL chunk ............. ``trailing-data``
  5. length prefix and padding .................. ``padding``
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import os
import struct
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, BinaryIO

from crypto import _sodium
from crypto.encoding import b64d, b64e, blake2b, is_int, is_kid, kid, load_json
from crypto.errors import InvalidEnvelope, NoMatchingKey, UnsupportedCpu
from crypto.keys import Identity, Keyring
from crypto.padding import LENGTH_PREFIX, padded_size, padme

MAGIC = b"INTAKEv1"
MAC_BYTES = 32
MAX_HEADER_LEN = 65536
MIN_CHUNK, MAX_CHUNK = 4096, 1048576
MAX_RECIPIENTS = 64
SEALED_BYTES = 32 + _sodium.SEAL_OVERHEAD  # 80
KINDS = ("submission", "attachment", "followup", "reply")
HEADER_KEYS = frozenset({"v", "kind", "manifest", "recipients", "stream", "chunk"})
MAX_MANIFEST_VERSION = 2**53 - 1  # the largest integer JavaScript holds exactly
PAYLOAD_DIGEST_LABEL = b"intake/v2/payload-digest"
PAYLOAD_DIGEST_LABEL_V3 = b"intake/v3/payload-digest"
PAYLOAD_DIGEST_LABEL_V4 = b"intake/v4/payload-digest"
ENVELOPE_VERSION = 3  # what writers produce (browsers without WebAssembly: 4)
READ_VERSIONS = (1, 2, 3, 4)
WRITE_VERSIONS = (3, 4)
_HEADER_MAC_LABEL = b"intake/v1/header-mac"
_PAYLOAD_KEY_LABEL = b"intake/v1/payload"
_PAYLOAD_KEY_LABEL_V4 = b"intake/v4/payload"  # AES-256-GCM: a key no other cipher uses
GCM_ABYTES = _sodium.AES256GCM_ABYTES  # 16: v4's per-chunk overhead
GCM_NONCE_PREFIX = 7  # bytes of the stream header in each v4 nonce
MAX_GCM_CHUNKS = 2**32  # the u32be chunk counter of a v4 nonce
_SPOOL_MAX = 4 * 2**20  # plaintext below this stays in memory while verifying
_COPY = 1 << 16

Rng = Callable[[int], bytes]


@dataclass(frozen=True)
class ManifestRef:
    """Which manifest an envelope was sealed under: its version and ``H(32, payload)``."""

    version: int
    digest: bytes

    def __post_init__(self) -> None:
        if not is_int(self.version) or not 1 <= self.version <= MAX_MANIFEST_VERSION:
            raise ValueError("manifest version must be an integer >= 1")
        if not isinstance(self.digest, bytes) or len(self.digest) != 32:
            raise ValueError("manifest digest must be 32 bytes")


@dataclass(frozen=True)
class EnvelopeHeader:
    """A structurally valid envelope prefix (its MAC not yet checked)."""

    v: int
    kind: str
    manifest: ManifestRef
    recipients: list[tuple[str, bytes]]
    stream_header: bytes
    chunk: int
    raw: bytes
    prefix: bytes

    @property
    def recipient_kids(self) -> list[str]:
        return [k for k, _ in self.recipients]

    @property
    def mac(self) -> bytes:
        return self.prefix[-MAC_BYTES:]


@dataclass(frozen=True)
class SealResult:
    payload_digest: bytes
    envelope_size: int


@dataclass(frozen=True)
class Opened:
    header: EnvelopeHeader
    size: int
    payload_digest: bytes
    opened_by: Identity


# -- reading helpers ------------------------------------------------------------


def _read_exact(src: IO[bytes], n: int) -> bytes:
    """Read ``n`` bytes, fewer only at end of stream (pipes return short reads)."""
    if n <= 0:
        return b""
    first = src.read(n)
    if first is None:
        first = b""
    if len(first) == n or not first:
        return bytes(first)
    parts = [bytes(first)]
    got = len(first)
    while got < n:
        more = src.read(n - got)
        if not more:
            break
        parts.append(bytes(more))
        got += len(more)
    return b"".join(parts)


def _malformed() -> InvalidEnvelope:
    return InvalidEnvelope("malformed")


def _parse_header_json(
    raw: bytes,
) -> tuple[int, str, ManifestRef, list[tuple[str, bytes]], bytes, int]:
    """Check the header JSON is exactly the v2 shape, within bounds (``ValueError`` otherwise)."""
    doc = load_json(raw)
    if not isinstance(doc, dict) or set(doc) != HEADER_KEYS:
        raise ValueError("header keys")
    v = doc["v"]
    if not is_int(v) or v not in READ_VERSIONS:
        raise ValueError("header version")
    kind = doc["kind"]
    if kind not in KINDS:
        raise ValueError("kind")
    man = doc["manifest"]
    if not isinstance(man, dict) or set(man) != {"version", "digest"}:
        raise ValueError("manifest ref")
    ref = ManifestRef(man["version"], b64d(man["digest"]))
    chunk = doc["chunk"]
    if not is_int(chunk) or not MIN_CHUNK <= chunk <= MAX_CHUNK:
        raise ValueError("chunk out of bounds")
    stream = b64d(doc["stream"])
    if len(stream) != _sodium.STREAM_HEADER_BYTES:
        raise ValueError("stream header length")
    recs = doc["recipients"]
    if not isinstance(recs, list) or not 1 <= len(recs) <= MAX_RECIPIENTS:
        raise ValueError("recipient count")
    recipients: list[tuple[str, bytes]] = []
    for rec in recs:
        if not isinstance(rec, dict) or set(rec) != {"kid", "sealed"}:
            raise ValueError("recipient fields")
        if not is_kid(rec["kid"]):
            raise ValueError("recipient kid")
        sealed = b64d(rec["sealed"])
        if len(sealed) != SEALED_BYTES:
            raise ValueError("sealed length")
        recipients.append((rec["kid"], sealed))
    return v, kind, ref, recipients, stream, chunk


def parse_prefix(prefix: bytes) -> EnvelopeHeader:
    """Parse a complete prefix held in memory (a rewraps file carries them)."""
    src = io.BytesIO(prefix)
    header = read_header(src)
    if src.read(1):
        raise _malformed()
    return header


def read_header(src: IO[bytes]) -> EnvelopeHeader:
    """Read exactly the prefix from ``src`` and check its structure and v2 bounds.

    Needs no key: this is the server's validation. The bounds are checked
    before anything is allocated for the header, so a hostile length costs
    nothing.
    """
    fixed = _read_exact(src, PREFIX_START)
    header_len = prefix_length(fixed) - PREFIX_OVERHEAD
    if header_len > MAX_HEADER_LEN:
        raise _malformed()
    raw = _read_exact(src, header_len)
    mac = _read_exact(src, MAC_BYTES)
    if len(raw) != header_len or len(mac) != MAC_BYTES:
        raise _malformed()
    try:
        v, kind, ref, recipients, stream, chunk = _parse_header_json(raw)
    except (ValueError, TypeError) as exc:
        raise _malformed() from exc
    return EnvelopeHeader(
        v=v,
        kind=kind,
        manifest=ref,
        recipients=recipients,
        stream_header=stream,
        chunk=chunk,
        raw=raw,
        prefix=fixed + raw + mac,
    )


def chunk_overhead(v: int) -> int:
    """Bytes each payload chunk adds: 17 (secretstream, v1-v3) or 16 (AES-GCM, v4)."""
    return GCM_ABYTES if v >= 4 else _sodium.STREAM_ABYTES


def check_payload_framing(header: EnvelopeHeader, payload_length: int) -> None:
    """Refuse a payload length no honest writer could produce (server-side check).

    The payload must be whole chunks of ``chunk + 17`` bytes (v4: ``chunk +
    16``) plus one non-empty last chunk, carrying a Padmé-padded plaintext of
    at least 4096 bytes.
    """
    if not is_int(payload_length) or payload_length <= 0:
        raise _malformed()
    abytes = chunk_overhead(header.v)
    step = header.chunk + abytes
    count = -(-payload_length // step)
    last = payload_length - (count - 1) * step
    if last <= abytes:
        raise _malformed()
    plain = payload_length - count * abytes
    if plain < 4096 or padme(plain) != plain:
        raise _malformed()


def payload_length_for(content_length: int, chunk: int = 65536, v: int = ENVELOPE_VERSION) -> int:
    """Bytes after ``header_mac`` for ``content_length`` bytes of content."""
    plain = padded_size(content_length)
    return plain + -(-plain // chunk) * chunk_overhead(v)


class _PayloadDigest:
    """The payload digest, fed the payload one framed chunk (``chunk + 17``
    bytes, v4 ``chunk + 16``, the last shorter) at a time.

    v1 and v2 (v1 readers only ever compare it with v2 writers' values):
    ``H(32, "intake/v2/payload-digest" || stream_header || payload)``.
    v3: ``H(32, "intake/v3/payload-digest" || stream_header || SHA-256(c_1)
    || ... || SHA-256(c_n))`` over the ciphertext chunks ``c_i``: the same
    binding (a collision needs one in SHA-256 or BLAKE2b), but the bulk of the
    hashing is SHA-256, which every browser has natively (WebCrypto) even
    where no JIT or WebAssembly runs (PROTOCOL.md, the envelope, v3).
    v4: the v3 formula under its own label, ``"intake/v4/payload-digest"``,
    over AES-GCM chunks of ``chunk + 16`` bytes.
    """

    def __init__(self, v: int, stream_header: bytes) -> None:
        self._hash_list = v >= 3
        self._state = _sodium.Blake2b(32)
        if v >= 4:
            label = PAYLOAD_DIGEST_LABEL_V4
        elif self._hash_list:
            label = PAYLOAD_DIGEST_LABEL_V3
        else:
            label = PAYLOAD_DIGEST_LABEL
        self._state.update(label + stream_header)

    def update_chunk(self, block: bytes) -> None:
        if self._hash_list:
            self._state.update(hashlib.sha256(block).digest())
        else:
            self._state.update(block)

    def digest(self) -> bytes:
        return self._state.digest()


# -- keys ---------------------------------------------------------------------------


def _header_mac_key(k: bytes) -> bytes:
    return blake2b(32, _HEADER_MAC_LABEL, key=k)


def _payload_key(k: bytes, v: int) -> bytes:
    return blake2b(32, _PAYLOAD_KEY_LABEL_V4 if v >= 4 else _PAYLOAD_KEY_LABEL, key=k)


# -- the v4 payload cipher: AES-256-GCM in the STREAM construction ----------------


def _gcm_nonce(stream_header: bytes, index: int, final: bool) -> bytes:
    """``stream[0:7] || u32be(index) || final``: unique per chunk of one key,
    and a chunk moved, dropped or marked final elsewhere no longer authenticates."""
    if not 0 <= index < MAX_GCM_CHUNKS:
        raise ValueError("too many chunks for one v4 envelope")
    return (
        stream_header[:GCM_NONCE_PREFIX]
        + struct.pack(">I", index)
        + (b"\x01" if final else b"\x00")
    )


class _GcmPush:
    """The encrypting side of v4's payload cipher (the same interface as
    ``_sodium.StreamPush``: ``header`` and ``push``)."""

    def __init__(self, key: bytes, header: bytes | None) -> None:
        if not _sodium.aes256gcm_available():
            raise UnsupportedCpu()
        self.header = header if header is not None else _sodium.random_bytes(24)
        self._key = key
        self._index = 0

    def push(self, message: bytes, final: bool) -> bytes:
        nonce = _gcm_nonce(self.header, self._index, final)
        self._index += 1
        return _sodium.aes256gcm_encrypt(message, nonce, self._key)


class _GcmPull:
    """The decrypting side: each chunk authenticates under the non-final nonce
    (TAG_MESSAGE), the final one (TAG_FINAL), or neither (``None``), so v4
    reports ``payload``, ``truncated`` and ``trailing-data`` as v3 does."""

    def __init__(self, key: bytes, header: bytes) -> None:
        if not _sodium.aes256gcm_available():
            raise UnsupportedCpu()
        self._key = key
        self._header = header
        self._index = 0

    def pull(self, ciphertext: bytes) -> tuple[bytes, int] | None:
        # An empty chunk is never written (a final one would be refused anyway).
        if len(ciphertext) <= GCM_ABYTES or self._index >= MAX_GCM_CHUNKS:
            return None
        for final, tag in ((False, _sodium.TAG_MESSAGE), (True, _sodium.TAG_FINAL)):
            nonce = _gcm_nonce(self._header, self._index, final)
            plain = _sodium.aes256gcm_decrypt(ciphertext, nonce, self._key)
            if plain is not None:
                self._index += 1
                return plain, tag
        return None


def _pusher(v: int, k: bytes, header: bytes | None) -> _sodium.StreamPush | _GcmPush:
    if v >= 4:
        return _GcmPush(_payload_key(k, v), header)
    return _sodium.StreamPush(_payload_key(k, v), header)


def _puller(v: int, k: bytes, header: bytes) -> _sodium.StreamPull | _GcmPull:
    if v >= 4:
        return _GcmPull(_payload_key(k, v), header)
    return _sodium.StreamPull(_payload_key(k, v), header)


def _header_mac(k: bytes, covered: bytes) -> bytes:
    return blake2b(32, covered, key=_header_mac_key(k))


@dataclass(frozen=True)
class _Opener:
    """One X25519 key pair that may open ``sealed`` entries."""

    kid: str
    public: bytes
    secret: bytes
    identity: Identity | None


def _openers(keyring: Keyring) -> list[_Opener]:
    out: list[_Opener] = []
    for ident in keyring.verifiers():
        pub = ident.x25519_public
        if pub is not None and ident.x25519_secret is not None:
            out.append(_Opener(kid(pub), pub, ident.x25519_secret, ident))
    return out


def _recover_key(header: EnvelopeHeader, openers: Sequence[_Opener]) -> tuple[bytes, _Opener]:
    """Find ``K``: try kid matches first, then every other pairing.

    Kids are only hints (the server could rename them), so every key is tried
    against every entry. A ``K`` counts only if it also verifies the header
    MAC, so a hostile extra entry sealing a different key cannot shadow ours.
    """
    pairs = [(o, s) for o in openers for k, s in header.recipients if k == o.kid]
    pairs += [(o, s) for o in openers for k, s in header.recipients if k != o.kid]
    opened_any = False
    covered = header.prefix[:-MAC_BYTES]
    for opener, sealed in pairs:
        k = _sodium.box_seal_open(sealed, opener.public, opener.secret)
        if k is None or len(k) != 32:
            continue
        opened_any = True
        if hmac.compare_digest(_header_mac(k, covered), header.mac):
            return k, opener
    if opened_any:
        raise InvalidEnvelope("header-mac")
    raise NoMatchingKey(header.recipient_kids)


# -- writing ------------------------------------------------------------------------


def _build_prefix(
    k: bytes,
    *,
    v: int,
    kind: str,
    manifest: ManifestRef,
    recipients: Sequence[bytes],
    stream_header: bytes,
    chunk: int,
    rng: Rng | None,
    mutate: Callable[[dict[str, Any]], None] | None = None,
) -> bytes:
    recs = []
    for pk in recipients:
        seed = rng(32) if rng is not None else None
        recs.append({"kid": kid(pk), "sealed": b64e(_sodium.box_seal(k, pk, seed))})
    doc: dict[str, Any] = {
        "v": v,
        "kind": kind,
        "manifest": {"version": manifest.version, "digest": b64e(manifest.digest)},
        "recipients": recs,
        "stream": b64e(stream_header),
        "chunk": chunk,
    }
    if mutate is not None:
        mutate(doc)  # test-vector crafting only
    raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    covered = MAGIC + struct.pack(">I", len(raw)) + raw
    return covered + _header_mac(k, covered)


def _check_seal_args(
    kind: str, manifest: ManifestRef, recipients: Sequence[bytes], chunk: int
) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    if not isinstance(manifest, ManifestRef):
        raise TypeError("manifest must be a ManifestRef")
    if not is_int(chunk) or not MIN_CHUNK <= chunk <= MAX_CHUNK:
        raise ValueError(f"chunk must be {MIN_CHUNK}..{MAX_CHUNK}")
    if isinstance(recipients, bytes | str) or not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise ValueError(f"need 1..{MAX_RECIPIENTS} recipient public keys")
    for pk in recipients:
        if not isinstance(pk, bytes) or len(pk) != 32:
            raise ValueError("a recipient is a 32-byte X25519 public key")


def _content_plaintext(src: IO[bytes], size: int) -> Iterator[bytes]:
    """The padded plaintext ``u64be(size) || content || zeros`` as a stream of pieces."""
    yield struct.pack(">Q", size)
    left = size
    while left:
        piece = src.read(min(left, _COPY))
        if not piece:
            raise ValueError("src ended before size bytes were read")
        left -= len(piece)
        yield bytes(piece)
    pad = padded_size(size) - LENGTH_PREFIX - size
    while pad:
        n = min(pad, _COPY)
        pad -= n
        yield bytes(n)


def _seal_plaintext(
    pieces: Iterator[bytes],
    total: int,
    dst: IO[bytes],
    *,
    v: int,
    kind: str,
    manifest: ManifestRef,
    recipients: Sequence[bytes],
    chunk: int,
    rng: Rng | None,
    mutate: Callable[[dict[str, Any]], None] | None = None,
) -> SealResult:
    """Encrypt ``total`` bytes of already padded plaintext (the generator crafts
    bad padding through this; ``seal`` is the only public writer)."""
    k = rng(32) if rng is not None else _sodium.random_bytes(32)
    stream_header = rng(_sodium.STREAM_HEADER_BYTES) if rng is not None else None
    pusher = _pusher(v, k, stream_header)
    prefix = _build_prefix(
        k,
        v=v,
        kind=kind,
        manifest=manifest,
        recipients=recipients,
        stream_header=pusher.header,
        chunk=chunk,
        rng=rng,
        mutate=mutate,
    )
    dst.write(prefix)
    digest = _PayloadDigest(v, pusher.header)
    written = len(prefix)
    done = 0
    buf = bytearray()
    for piece in pieces:
        buf += piece
        while len(buf) >= chunk and done + chunk < total:
            block = pusher.push(bytes(buf[:chunk]), final=False)
            del buf[:chunk]
            done += chunk
            dst.write(block)
            digest.update_chunk(block)
            written += len(block)
    if done + len(buf) != total or (not buf and total):
        raise ValueError("plaintext length does not match total")
    block = pusher.push(bytes(buf), final=True)
    dst.write(block)
    digest.update_chunk(block)
    written += len(block)
    return SealResult(payload_digest=digest.digest(), envelope_size=written)


def seal(
    src: BinaryIO,
    size: int,
    dst: BinaryIO,
    *,
    kind: str,
    manifest: ManifestRef,
    recipients: Sequence[bytes],
    chunk: int = 65536,
    rng: Rng | None = None,
    version: int = ENVELOPE_VERSION,
) -> SealResult:
    """Encrypt ``size`` bytes from ``src`` to ``recipients`` (X25519 public keys).

    ``rng`` replaces the OS CSPRNG to make output reproducible (test vectors
    only). Draw order: K (32), the stream header (24), then one 32-byte
    ephemeral seed per recipient in order. ``version`` 4 (AES-256-GCM, what
    browsers without WebAssembly write) is for tests and vectors; it needs a
    CPU with AES instructions (``UnsupportedCpu``).
    """
    _check_seal_args(kind, manifest, recipients, chunk)
    if version not in WRITE_VERSIONS:
        raise ValueError(f"version must be one of {WRITE_VERSIONS}")
    if not is_int(size) or size < 0:
        raise ValueError("size must be a non-negative int")
    return _seal_plaintext(
        _content_plaintext(src, size),
        padded_size(size),
        dst,
        v=version,
        kind=kind,
        manifest=manifest,
        recipients=recipients,
        chunk=chunk,
        rng=rng,
    )


def seal_bytes(
    content: bytes,
    *,
    kind: str,
    manifest: ManifestRef,
    recipients: Sequence[bytes],
    chunk: int = 65536,
    rng: Rng | None = None,
    version: int = ENVELOPE_VERSION,
) -> bytes:
    """``seal`` for content held in memory."""
    out = io.BytesIO()
    seal(
        io.BytesIO(content),
        len(content),
        out,
        kind=kind,
        manifest=manifest,
        recipients=recipients,
        chunk=chunk,
        rng=rng,
        version=version,
    )
    return out.getvalue()


# -- opening ----------------------------------------------------------------------


class _PlaintextSink:
    """Splits decrypted payload into length prefix, content and padding as it streams."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._prefix = b""
        self.length: int | None = None
        self._left = 0
        self.total = 0
        self.padding_ok = True

    def feed(self, block: bytes) -> None:
        self.total += len(block)
        pos = 0
        if self.length is None:
            take = min(LENGTH_PREFIX - len(self._prefix), len(block))
            self._prefix += block[:take]
            pos = take
            if len(self._prefix) == LENGTH_PREFIX:
                (self.length,) = struct.unpack(">Q", self._prefix)
                self._left = self.length
        if self.length is None:
            return
        take = min(self._left, len(block) - pos)
        if take:
            self._out.write(block[pos : pos + take])
            self._left -= take
            pos += take
        rest = block[pos:]
        if rest and rest.count(0) != len(rest):
            self.padding_ok = False

    def check(self) -> int:
        """The content length, once the whole plaintext has been seen."""
        if self.length is None or self._left or not self.padding_ok:
            raise InvalidEnvelope("padding")
        # The total must be exactly what an honest writer pads this length to.
        if self.total != padded_size(self.length):
            raise InvalidEnvelope("padding")
        return self.length


def _decrypt_into(
    src: IO[bytes], out: IO[bytes], openers: Sequence[_Opener]
) -> tuple[EnvelopeHeader, int, bytes, _Opener]:
    """Verify and decrypt the whole envelope into ``out`` (which the caller
    discards on failure). Returns (header, content size, payload digest, opener)."""
    header = read_header(src)
    k, opener = _recover_key(header, openers)
    puller = _puller(header.v, k, header.stream_header)  # v4 without AES: UnsupportedCpu
    digest = _PayloadDigest(header.v, header.stream_header)
    sink = _PlaintextSink(out)
    step = header.chunk + chunk_overhead(header.v)
    while True:
        block = _read_exact(src, step)
        if not block:
            raise InvalidEnvelope("truncated")
        digest.update_chunk(block)
        result = puller.pull(block)
        if result is None:
            raise InvalidEnvelope("payload")
        plain, tag = result
        if tag == _sodium.TAG_FINAL:
            if not plain:
                raise InvalidEnvelope("payload")  # the last chunk is never empty
            sink.feed(plain)
            break
        if tag != _sodium.TAG_MESSAGE:
            raise InvalidEnvelope("payload")
        sink.feed(plain)
    if _read_exact(src, 1):
        raise InvalidEnvelope("trailing-data")
    size = sink.check()
    return header, size, digest.digest(), opener


def _copy(src: IO[bytes], dst: IO[bytes]) -> None:
    while True:
        piece = src.read(_COPY)
        if not piece:
            return
        dst.write(piece)


def open_envelope(src: BinaryIO, dst: BinaryIO, keyring: Keyring) -> Opened:
    """Open an envelope, writing the content to ``dst`` only once it fully verified."""
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_MAX) as spool:
        header, size, pdigest, opener = _decrypt_into(src, spool, _openers(keyring))
        spool.seek(0)
        _copy(spool, dst)
    if opener.identity is None:  # pragma: no cover - keyring openers always carry one
        raise TypeError("opener without identity")
    return Opened(header=header, size=size, payload_digest=pdigest, opened_by=opener.identity)


def open_bytes(data: bytes, keyring: Keyring) -> tuple[Opened, bytes]:
    """``open_envelope`` for an envelope held in memory."""
    out = io.BytesIO()
    opened = open_envelope(io.BytesIO(data), out, keyring)
    return opened, out.getvalue()


def open_to_path(
    src: str | os.PathLike[str] | BinaryIO,
    out_path: str | os.PathLike[str],
    keyring: Keyring,
) -> Opened:
    """Open ``src`` (a path, or a binary file read from where it stands) into
    ``out_path``: decrypt straight into a 0600 temporary beside it, fsync, then
    rename over ``out_path``; on any failure nothing is left.

    No spool and no second copy: the hidden temporary is what holds the
    plaintext until the whole envelope verified.
    """
    out_dir = os.path.dirname(os.path.abspath(out_path))
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".intake-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, _source(src) as source:
            header, size, pdigest, opener = _decrypt_into(source, out, _openers(keyring))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, out_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable where possible
        dfd = os.open(out_dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    if opener.identity is None:  # pragma: no cover
        raise TypeError("opener without identity")
    return Opened(header=header, size=size, payload_digest=pdigest, opened_by=opener.identity)


@contextlib.contextmanager
def _source(src: str | os.PathLike[str] | BinaryIO) -> Iterator[IO[bytes]]:
    """A path is opened (and closed) here; a file the caller gave stays theirs."""
    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as fh:
            yield fh
    else:
        yield src


def _open_with_x25519(data: bytes, public: bytes, secret: bytes) -> tuple[EnvelopeHeader, bytes]:
    """Open with a bare X25519 pair (the applicant's reply key, not a keyring)."""
    out = io.BytesIO()
    header, _size, _pd, _op = _decrypt_into(
        io.BytesIO(data), out, [_Opener(kid(public), public, secret, None)]
    )
    return header, out.getvalue()


def payload_digest(src: BinaryIO) -> bytes:
    """The payload digest of the envelope's version (``_PayloadDigest``), streamed.

    Needs no key and checks structure only, like ``read_header``. The payload
    is taken in the chunks a reader frames (``chunk + 17`` bytes, v4 ``chunk +
    16``, the last shorter), whatever its length. No AES instructions needed.
    """
    header = read_header(src)
    digest = _PayloadDigest(header.v, header.stream_header)
    step = header.chunk + chunk_overhead(header.v)
    while True:
        block = _read_exact(src, step)
        if not block:
            return digest.digest()
        digest.update_chunk(block)


# -- rewrapping ------------------------------------------------------------------------


def rewrap_prefix(
    src: BinaryIO,
    keyring: Keyring,
    recipients: Sequence[bytes],
    rng: Rng | None = None,
    *,
    manifest: ManifestRef | None = None,
) -> bytes:
    """A new prefix sealing the same ``K`` to ``recipients``; the payload is untouched.

    Reads only the prefix from ``src``. ``manifest`` (optional) names the
    manifest the new recipients come from, so readers do not warn that the
    recipients differ from the old manifest's verifiers. ``v`` is kept: a
    version-1 envelope's content keeps its version-1 meaning.
    """
    header = read_header(src)
    ref = manifest if manifest is not None else header.manifest
    _check_seal_args(header.kind, ref, recipients, header.chunk)
    k, _opener = _recover_key(header, _openers(keyring))
    return _build_prefix(
        k,
        v=header.v,
        kind=header.kind,
        manifest=ref,
        recipients=recipients,
        stream_header=header.stream_header,
        chunk=header.chunk,
        rng=rng,
    )


def rewrap(
    src: BinaryIO,
    dst: BinaryIO,
    keyring: Keyring,
    recipients: Sequence[bytes],
    rng: Rng | None = None,
    *,
    manifest: ManifestRef | None = None,
) -> bytes:
    """Write the whole rewrapped envelope to ``dst``; returns the new prefix."""
    prefix = rewrap_prefix(src, keyring, recipients, rng, manifest=manifest)
    dst.write(prefix)
    _copy(src, dst)
    return prefix


def recipient_discrepancies(
    header: EnvelopeHeader, active_kids: Sequence[str]
) -> tuple[list[str], list[str]]:
    """(kids in the header but not active in the manifest, active kids missing).

    Either list non-empty is a sign of a tampered page or server: tools warn loudly.
    """
    named = header.recipient_kids
    unknown = [k for k in named if k not in active_kids]
    missing = [k for k in active_kids if k not in named]
    return unknown, missing


# -- the fixed start, for readers holding only part of an envelope -------------------

PREFIX_START = len(MAGIC) + 4  # magic || u32be header_len
PREFIX_OVERHEAD = PREFIX_START + MAC_BYTES  # a prefix's bytes besides its header JSON


def prefix_length(start: bytes) -> int:
    """The whole prefix's length, from the envelope's first ``PREFIX_START`` bytes.

    For readers that hold only the start of an envelope (an upload still
    arriving, a stored blob read by range). ``InvalidEnvelope("malformed")``
    unless ``start`` begins with the magic. The header length is not bounded
    here: the caller bounds it, and ``read_header`` does when it reads the prefix.
    """
    if len(start) < PREFIX_START or not hmac.compare_digest(bytes(start[: len(MAGIC)]), MAGIC):
        raise _malformed()
    (header_len,) = struct.unpack(">I", start[len(MAGIC) : PREFIX_START])
    return PREFIX_OVERHEAD + int(header_len)
