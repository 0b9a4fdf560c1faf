"""Generate the shared test vectors (tests/vectors/*.json) from fixed seeds.

Every "random" byte comes from a BLAKE2b counter-mode stream keyed by a
per-purpose label, so re-running this script rewrites identical files and
adding a vector does not shift the bytes of the others:

    .venv/bin/python tests/vectors/generate.py            # rewrite in place
    .venv/bin/python tests/vectors/generate.py --check    # exit 1 if stale

The Python tests (tests/crypto/test_vectors_*.py) and the browser tests both
run every vector; ``expect`` is the failure class of PROTOCOL.md.
Failing vectors that need a well-formed but wrong plaintext (bad padding) or
a wrong header with a valid MAC are crafted through the private writer
``crypto.envelope._seal_plaintext``; nothing public can produce them.
"""

from __future__ import annotations

import io
import json
import struct
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crypto import (
    Identity,
    IntakeCryptoError,
    InvalidEnvelope,
    Keyring,
    Manifest,
    ManifestRef,
    TrustRoot,
    VerifierEntry,
    _sodium,
    anchor_json,
    b64d,
    b64e,
    blake2b,
    build_manifest_payload,
    derive_mailbox,
    dsse_sign,
    format_time,
    key_set_bytes,
    normalise_codename,
    open_bytes,
    open_reply,
    padded_size,
    parse_anchor,
    parse_manifest,
    payload_digest,
    read_header,
    request_signing_bytes,
    rewrap,
    rewrap_prefix,
    rewrap_signing_bytes,
    seal_bytes,
    sign_reply,
    sign_request,
    sign_rewrap,
    verify_chain,
    verify_reply,
    verify_request,
    verify_rewrap,
)
from crypto.dsse import MANIFEST_TYPE
from crypto.envelope import (
    MAGIC,
    _content_plaintext,
    _gcm_nonce,
    _payload_key,
    _seal_plaintext,
)

HERE = Path(__file__).resolve().parent
FILES = (
    "keys.json",
    "envelopes.json",
    "manifests.json",
    "mailbox.json",
    "replies.json",
    "padding.json",
    "requests.json",
    "rewraps.json",
)


class DetRng:
    """Deterministic byte stream: ``H(64, u64be(i), key=H(32, label))`` for i = 0, 1, ..."""

    def __init__(self, label: str) -> None:
        self._key = blake2b(32, b"intake-test-vectors/" + label.encode("utf-8"))
        self._counter = 0
        self._buf = b""

    def __call__(self, n: int) -> bytes:
        while len(self._buf) < n:
            self._buf += blake2b(64, struct.pack(">Q", self._counter), key=self._key)
            self._counter += 1
        out, self._buf = self._buf[:n], self._buf[n:]
        return out


def _ident(kind: str, label: str) -> Identity:
    rng = DetRng("identity/" + label)
    x = rng(32) if kind == "verifier" else None
    return Identity(kind=kind, label=label, x25519_secret=x, ed25519_seed=rng(32))


IDS: dict[str, Identity] = {
    i.label: i
    for i in [
        _ident("admin", "admin-1"),
        _ident("admin", "admin-2"),
        _ident("admin", "admin-3"),
        _ident("admin", "admin-4"),
        _ident("admin", "admin-5"),
        _ident("verifier", "verifier-1"),
        _ident("verifier", "verifier-2"),
        _ident("verifier", "verifier-3"),
        _ident("verifier", "outsider"),
        _ident("courier", "courier-1"),
        _ident("admin", "outsider-admin"),
    ]
}
A1, A2, A3, A4, A5 = (IDS[f"admin-{n}"] for n in range(1, 6))
V1, V2, V3, OUT = IDS["verifier-1"], IDS["verifier-2"], IDS["verifier-3"], IDS["outsider"]
C1 = IDS["courier-1"]
OUT_ADMIN = IDS["outsider-admin"]

ROOT = TrustRoot(threshold=2, admin_kids=frozenset(a.sign_kid for a in (A1, A2, A3)))
T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 6, 1, tzinfo=UTC)
ORG = {"name": "Идите лесом (test)", "contact": "intake@example.org"}


def _ver(ident: Identity, status: str = "active") -> VerifierEntry:
    return VerifierEntry.from_public(ident.public(), status)


def manifest(
    version: int,
    *,
    admins: tuple[Identity, ...] = (A1, A2, A3),
    threshold: int = 2,
    verifiers: tuple[tuple[Identity, str], ...] = ((V1, "active"), (V2, "active")),
    signers: tuple[Identity, ...] = (A1, A2),
    issued: datetime | None = None,
    expires: datetime | None = None,
    extra: dict[str, Any] | None = None,
    edit: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """A signed DSSE manifest; ``edit`` changes the payload JSON before signing
    (to craft malformed payloads that build_manifest_payload would refuse)."""
    issued = issued or T0 + timedelta(days=30 * (version - 1))
    expires = expires or issued + timedelta(days=365)
    payload = build_manifest_payload(
        version=version,
        issued=issued,
        expires=expires,
        org=ORG,
        threshold=threshold,
        admins=[a.public() for a in admins],
        verifiers=[_ver(i, s) for i, s in verifiers],
        couriers=[C1.public()],
        extra=extra,
    )
    if edit is not None:
        data = json.loads(payload)
        edit(data)
        payload = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        payload = payload.encode("utf-8")  # type: ignore[assignment]
    return dsse_sign(MANIFEST_TYPE, payload, list(signers))


# The deployment most vectors live in: genesis, then verifier-3 added and verifier-2 retired.
GENESIS = manifest(1)
SECOND = manifest(2, verifiers=((V1, "active"), (V2, "retired"), (V3, "active")))
BASE_CHAIN = [GENESIS, SECOND]
GENESIS_PAYLOAD = b64d(GENESIS["payload"])
GENESIS_REF = parse_manifest(GENESIS).ref
SECOND_REF = parse_manifest(SECOND).ref


def _dump(doc: Any) -> bytes:
    return (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


# -- keys.json ------------------------------------------------------------------------


def keys_doc() -> dict[str, Any]:
    out = []
    for ident in IDS.values():
        pub = ident.public()
        out.append(
            {
                "label": ident.label,
                "kind": ident.kind,
                "x25519_secret": b64e(ident.x25519_secret) if ident.x25519_secret else None,
                "x25519": b64e(pub.x25519) if pub.x25519 else None,
                "ed25519_seed": b64e(ident.ed25519_seed),
                "ed25519": b64e(pub.ed25519),
                "kid": ident.kid,
                "sign_kid": ident.sign_kid,
            }
        )
    return {"identities": out, "trust_root": ROOT.to_json()}


# -- envelopes.json --------------------------------------------------------------------


def _content(name: str, n: int) -> bytes:
    return DetRng("content/" + name)(n)


def _padded_plain(
    content: bytes,
    *,
    declared: int | None = None,
    total: int | None = None,
    pad_byte_at: int | None = None,
) -> bytes:
    """``u64be(len) || content || zeros`` with optional deliberate faults."""
    total = padded_size(len(content)) if total is None else total
    plain = bytearray(struct.pack(">Q", len(content) if declared is None else declared))
    plain += content
    plain += bytes(total - len(plain))
    if pad_byte_at is not None:
        plain[pad_byte_at] = 1
    return bytes(plain)


def _craft(
    name: str,
    plain: bytes,
    *,
    chunk: int = 4096,
    v: int = 2,
    mutate: Callable[[dict[str, Any]], None] | None = None,
    recipients: tuple[Identity, ...] = (V1,),
    kind: str = "attachment",
) -> bytes:
    out = io.BytesIO()

    def pieces() -> Iterator[bytes]:
        yield plain

    _seal_plaintext(
        pieces(),
        len(plain),
        out,
        v=v,
        kind=kind,
        manifest=GENESIS_REF,
        recipients=[r.x25519_public for r in recipients],  # type: ignore[misc]
        chunk=chunk,
        rng=DetRng("envelope/" + name),
        mutate=mutate,
    )
    return out.getvalue()


def _seal(
    name: str,
    content: bytes,
    *,
    chunk: int = 65536,
    kind: str = "attachment",
    recipients: tuple[Identity, ...] = (V1,),
    ref: ManifestRef = GENESIS_REF,
    v: int = 2,
) -> bytes:
    """What ``seal_bytes`` writes, but of envelope version ``v`` (the vectors
    written before version 3 keep their bytes; ``seal_bytes`` now writes v3)."""
    out = io.BytesIO()
    _seal_plaintext(
        _content_plaintext(io.BytesIO(content), len(content)),
        padded_size(len(content)),
        out,
        v=v,
        kind=kind,
        manifest=ref,
        recipients=[r.x25519_public for r in recipients],  # type: ignore[misc]
        chunk=chunk,
        rng=DetRng("envelope/" + name),
    )
    return out.getvalue()


def _two_recipients_and_rewrapped(v: int) -> list[dict[str, Any]]:
    """An envelope of version `v` sealed to two verifiers, and the same
    envelope rewrapped to verifier-3: version and payload digest unchanged."""
    content = _content(f"ok-v{v}-two-recipients", 5000)
    two = _seal(f"ok-v{v}-two-recipients", content, recipients=(V1, V2), chunk=4096, v=v)
    rewrapped = io.BytesIO()
    rewrap(
        io.BytesIO(two),
        rewrapped,
        Keyring([V1]),
        [V3.x25519_public],  # type: ignore[list-item]
        DetRng(f"envelope/ok-v{v}-rewrapped"),
        manifest=SECOND_REF,
    )
    if read_header(io.BytesIO(rewrapped.getvalue())).v != v:
        raise AssertionError(f"a v{v} rewrap changed the version")
    if payload_digest(io.BytesIO(rewrapped.getvalue())) != payload_digest(io.BytesIO(two)):
        raise AssertionError(f"a v{v} rewrap changed the payload digest")
    return [
        _envelope_vector(f"ok-v{v}-two-recipients", two, ["verifier-2"], "ok", content),
        _envelope_vector(
            f"ok-v{v}-rewrapped-same-payload-digest",
            rewrapped.getvalue(),
            ["verifier-3"],
            "ok",
            content,
        ),
    ]


def _ok_envelopes(v: int) -> tuple[list[dict[str, Any]], bytes]:
    """The ``ok-v{v}-size-*`` vectors, each checked against the public writer
    (its default for v3, ``version=4`` for v4), and the last of them: 20000
    bytes that pad to five whole chunks of 4096."""
    vecs: list[dict[str, Any]] = []
    envelope = b""
    writer = {} if v == 3 else {"version": v}
    for n, chunk in ((0, 65536), (1, 65536), (65537, 65536), (20000, 4096)):
        name = f"ok-v{v}-size-{n}-chunk-{chunk}"
        content = _content(name, n)
        envelope = _seal(name, content, chunk=chunk, v=v)
        # The public writer produces exactly this version and these bytes.
        same = seal_bytes(
            content,
            kind="attachment",
            manifest=GENESIS_REF,
            recipients=[V1.x25519_public],  # type: ignore[list-item]
            chunk=chunk,
            rng=DetRng("envelope/" + name),
            **writer,
        )
        if same != envelope:
            raise AssertionError(f"{name}: seal_bytes({writer}) no longer writes these bytes")
        vecs.append(_envelope_vector(name, envelope, ["verifier-1"], "ok", content))
    return vecs, envelope


def _v3_envelope_vectors() -> list[dict[str, Any]]:
    """Envelope version 3 (the hash-list payload digest): what writers produce now."""
    vecs, aligned = _ok_envelopes(3)
    vecs += _two_recipients_and_rewrapped(3)
    off = _payload_offset(aligned)
    step = 4096 + 17
    vecs.append(
        _envelope_vector(
            "payload-v3-flipped-ciphertext-byte",
            _flip(aligned, off + 10),
            ["verifier-1"],
            "payload",
        )
    )
    vecs.append(
        _envelope_vector(
            "truncated-v3-last-chunk-cut-off",
            aligned[: off + 4 * step],
            ["verifier-1"],
            "truncated",
        )
    )
    vecs.append(
        _envelope_vector(
            "trailing-data-v3-final-chunk-repeated",
            aligned + aligned[off + 4 * step :],
            ["verifier-1"],
            "trailing-data",
        )
    )
    return vecs


def _gcm_chunks(name: str, envelope: bytes, plan: list[tuple[bytes, int, bool]]) -> bytes:
    """``envelope`` (sealed with ``DetRng("envelope/" + name)``, so its K is that
    stream's first 32 bytes) with its payload replaced by AES-GCM chunks
    ``(plaintext, index, final)`` in the given order: the v4 faults no honest
    writer makes."""
    header = read_header(io.BytesIO(envelope))
    key = _payload_key(DetRng("envelope/" + name)(32), 4)
    out = [header.prefix]
    for plain, index, final in plan:
        nonce = _gcm_nonce(header.stream_header, index, final)
        out.append(_sodium.aes256gcm_encrypt(plain, nonce, key))
    return b"".join(out)


def _with_version(envelope: bytes, old: int, new: int) -> bytes:
    """The header's ``"v"`` changed, the header MAC left as it was."""
    header = read_header(io.BytesIO(envelope))
    raw = header.raw.replace(b'{"v":%d,' % old, b'{"v":%d,' % new, 1)
    if raw == header.raw or len(raw) != len(header.raw):
        raise AssertionError("version not rewritten")
    return MAGIC + struct.pack(">I", len(raw)) + raw + envelope[len(header.prefix) - 32 :]


def _v4_envelope_vectors() -> list[dict[str, Any]]:
    """Envelope version 4 (PROTOCOL.md version 5): AES-256-GCM in the STREAM
    construction, what a browser without WebAssembly writes."""
    vecs, aligned = _ok_envelopes(4)
    aligned_name = "ok-v4-size-20000-chunk-4096"
    plain = _padded_plain(_content(aligned_name, 20000))
    pieces = [plain[i : i + 4096] for i in range(0, len(plain), 4096)]
    if len(pieces) != 5:
        raise AssertionError("the aligned v4 envelope has five chunks")
    honest = [(p, i, i == 4) for i, p in enumerate(pieces)]
    if _gcm_chunks(aligned_name, aligned, honest) != aligned:
        raise AssertionError("the v4 chunk crafter does not reproduce the writer")

    vecs += _two_recipients_and_rewrapped(4)

    off = _payload_offset(aligned)
    step = 4096 + 16
    chunks = [aligned[off + i * step : off + (i + 1) * step] for i in range(5)]
    faults: list[tuple[str, bytes, str]] = [
        ("payload-v4-flipped-ciphertext-byte", _flip(aligned, off + 10), "payload"),
        ("payload-v4-flipped-tag-byte", _flip(aligned, off + step - 1), "payload"),
        ("payload-v4-last-chunk-cut-short", aligned[:-10], "payload"),
        ("truncated-v4-last-chunk-cut-off", aligned[: off + 4 * step], "truncated"),
        ("truncated-v4-no-payload", aligned[:off], "truncated"),
        (
            "trailing-data-v4-final-chunk-repeated",
            aligned + aligned[off + 4 * step :],
            "trailing-data",
        ),
        ("trailing-data-v4-one-byte", aligned + b"\x00", "trailing-data"),
        (
            "payload-v4-chunks-1-and-2-swapped",
            aligned[:off] + chunks[0] + chunks[2] + chunks[1] + chunks[3] + chunks[4],
            "payload",
        ),
        (
            "truncated-v4-final-flag-missing",
            _gcm_chunks(aligned_name, aligned, [(p, i, False) for i, p in enumerate(pieces)]),
            "truncated",
        ),
        (
            "trailing-data-v4-final-flag-on-the-third-chunk",
            _gcm_chunks(aligned_name, aligned, [(p, i, i in (2, 4)) for i, p in enumerate(pieces)]),
            "trailing-data",
        ),
        (
            "padding-v4-final-flag-on-the-third-chunk-rest-dropped",
            _gcm_chunks(aligned_name, aligned, [(p, i, i == 2) for i, p in enumerate(pieces[:3])]),
            "padding",
        ),
        (
            "payload-v4-empty-final-chunk",
            _gcm_chunks(
                aligned_name,
                aligned,
                [(p, i, False) for i, p in enumerate(pieces)] + [(b"", 5, True)],
            ),
            "payload",
        ),
        (
            "payload-v4-chunk-counter-skips-one",
            _gcm_chunks(
                aligned_name, aligned, [(p, i + (i >= 2), i == 4) for i, p in enumerate(pieces)]
            ),
            "payload",
        ),
        (
            "header-mac-v4-header-says-v3",
            _with_version(aligned, 4, 3),
            "header-mac",
        ),
        (
            "header-mac-v3-header-says-v4",
            _with_version(
                _seal("header-mac-v3-header-says-v4", plain[:5000], chunk=4096, v=3), 3, 4
            ),
            "header-mac",
        ),
        (
            "payload-v4-header-over-a-secretstream-payload",
            _craft(
                "payload-v4-header-over-a-secretstream-payload",
                plain,
                v=3,
                mutate=lambda d: d.__setitem__("v", 4),
            ),
            "payload",
        ),
        (
            "payload-v3-header-over-an-aes-gcm-payload",
            _craft(
                "payload-v3-header-over-an-aes-gcm-payload",
                plain,
                v=4,
                mutate=lambda d: d.__setitem__("v", 3),
            ),
            "payload",
        ),
    ]
    for name, data, expect in faults:
        vecs.append(_envelope_vector(name, data, ["verifier-1"], expect))
    # The same chunks under the version-1 payload key (the label is part of v4).
    k = DetRng("envelope/" + aligned_name)(32)
    header = read_header(io.BytesIO(aligned))
    v1_key = blake2b(32, b"intake/v1/payload", key=k)
    wrong_key = header.prefix + b"".join(
        _sodium.aes256gcm_encrypt(p, _gcm_nonce(header.stream_header, i, i == 4), v1_key)
        for i, p in enumerate(pieces)
    )
    vecs.append(
        _envelope_vector(
            "payload-v4-under-the-v1-payload-key", wrong_key, ["verifier-1"], "payload"
        )
    )
    return vecs


def _flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    out = bytearray(data)
    out[index] ^= mask
    return bytes(out)


def _envelope_vector(
    name: str, envelope: bytes, keyring: list[str], expect: str, content: bytes | None = None
) -> dict[str, Any]:
    """One vector, checked against this implementation before it is written."""
    try:
        header = read_header(io.BytesIO(envelope))
        kind: str | None = header.kind
        kids = header.recipient_kids
    except InvalidEnvelope:
        kind, kids = None, []
    ring = Keyring(IDS[label] for label in keyring)
    vec: dict[str, Any] = {
        "name": name,
        "envelope": b64e(envelope),
        "keyring": keyring,
        "expect": expect,
        "kind": kind,
    }
    try:
        opened, plain = open_bytes(envelope, ring)
    except InvalidEnvelope as exc:
        if exc.reason != expect:
            raise AssertionError(f"{name}: got {exc.reason}, want {expect}") from exc
    else:
        if expect != "ok" or (content is not None and plain != content):
            raise AssertionError(f"{name}: opened, want {expect}")
        vec["content"] = b64e(plain)
        vec["payload_digest"] = b64e(opened.payload_digest)
    vec["recipients"] = kids
    return vec


def _payload_offset(envelope: bytes) -> int:
    return len(read_header(io.BytesIO(envelope)).prefix)


def envelopes_doc() -> dict[str, Any]:
    vecs: list[dict[str, Any]] = []
    for n in (0, 1, 4088, 65535, 65536, 65537, 1048576):
        name = f"ok-size-{n}"
        content = _content(name, n)
        vecs.append(_envelope_vector(name, _seal(name, content), ["verifier-1"], "ok", content))
    name = "ok-chunk-4096-size-20000"
    content = _content(name, 20000)
    small = _seal(name, content, chunk=4096)
    vecs.append(_envelope_vector(name, small, ["verifier-1"], "ok", content))

    submission = json.dumps(
        {
            "v": 2,
            "lang": "ru",
            "form": {"id": "deserter-intake", "version": 1},
            "answers": {"name": "Иван", "story": "Ушёл из части 1 марта."},
            "attachments": [],
            "sent": "2026-06-01T00:00:00Z",
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    vecs.append(
        _envelope_vector(
            "ok-submission-json",
            _seal("ok-submission-json", submission, kind="submission", recipients=(V1, V2)),
            ["verifier-1"],
            "ok",
            submission,
        )
    )
    content = _content("ok-v1-header", 100)
    vecs.append(
        _envelope_vector(
            "ok-v1-header",
            _craft("ok-v1-header", _padded_plain(content), v=1, kind="submission"),
            ["verifier-1"],
            "ok",
            content,
        )
    )
    content = _content("ok-two-recipients", 5000)
    two = _seal("ok-two-recipients", content, recipients=(V1, V2))
    vecs.append(_envelope_vector("ok-two-recipients", two, ["verifier-2"], "ok", content))
    vecs.append(
        _envelope_vector(
            "ok-keyring-tries-every-key", two, ["outsider", "verifier-2"], "ok", content
        )
    )
    rewrapped = io.BytesIO()
    rewrap(
        io.BytesIO(two),
        rewrapped,
        Keyring([V1]),
        [V3.x25519_public],  # type: ignore[list-item]
        DetRng("envelope/ok-rewrapped"),
        manifest=SECOND_REF,
    )
    vecs.append(
        _envelope_vector(
            "ok-rewrapped-same-payload-digest", rewrapped.getvalue(), ["verifier-3"], "ok", content
        )
    )
    # Kids are hints: a reader tries its keys against every entry, whatever kid it names.
    content = _content("ok-recipient-kid-renamed", 50)
    vecs.append(
        _envelope_vector(
            "ok-recipient-kid-renamed",
            _craft(
                "ok-recipient-kid-renamed",
                _padded_plain(content),
                mutate=lambda d: d["recipients"][0].__setitem__("kid", "0" * 32),
            ),
            ["verifier-1"],
            "ok",
            content,
        )
    )
    content = _content("ok-reply-kind", 300)
    vecs.append(
        _envelope_vector(
            "ok-reply-kind",
            _seal("ok-reply-kind", content, kind="reply"),
            ["verifier-1"],
            "ok",
            content,
        )
    )

    # header-mac: a header byte changed (a digest character, so the JSON stays valid), the MAC kept.
    base = _seal("header-mac-base", _content("header-mac-base", 1000))
    header = read_header(io.BytesIO(base))
    at = base.index(b'"digest":"') + len(b'"digest":"')
    swapped = bytearray(base)
    swapped[at] = ord("B") if base[at] != ord("B") else ord("C")
    vecs.append(
        _envelope_vector(
            "header-mac-flipped-header-byte", bytes(swapped), ["verifier-1"], "header-mac"
        )
    )
    vecs.append(
        _envelope_vector(
            "header-mac-flipped-mac",
            _flip(base, len(header.prefix) - 1),
            ["verifier-1"],
            "header-mac",
        )
    )

    off = _payload_offset(small)
    step = 4096 + 17
    vecs.append(
        _envelope_vector(
            "payload-flipped-ciphertext-byte",
            _flip(small, off + step + 100),
            ["verifier-1"],
            "payload",
        )
    )
    vecs.append(
        _envelope_vector(
            "payload-flipped-auth-tag-byte", _flip(small, off + step - 1), ["verifier-1"], "payload"
        )
    )
    chunks = (len(small) - off + step - 1) // step
    vecs.append(
        _envelope_vector(
            "payload-chunks-swapped",
            small[:off]
            + small[off + step : off + 2 * step]
            + small[off : off + step]
            + small[off + 2 * step :],
            ["verifier-1"],
            "payload",
        )
    )
    vecs.append(
        _envelope_vector(
            "truncated-last-chunk-cut-off",
            small[: off + (chunks - 1) * step],
            ["verifier-1"],
            "truncated",
        )
    )
    vecs.append(_envelope_vector("truncated-no-payload", small[:off], ["verifier-1"], "truncated"))
    vecs.append(
        _envelope_vector("payload-last-chunk-cut-short", small[:-10], ["verifier-1"], "payload")
    )
    vecs.append(
        _envelope_vector("trailing-data-one-byte", small + b"\x00", ["verifier-1"], "trailing-data")
    )
    vecs.append(
        _envelope_vector(
            "trailing-data-final-chunk-repeated",
            small + small[off + (chunks - 1) * step :],
            ["verifier-1"],
            "trailing-data",
        )
    )

    content = _content("padding", 100)
    vecs.append(
        _envelope_vector(
            "padding-non-zero-pad-byte",
            _craft("padding-non-zero-pad-byte", _padded_plain(content, pad_byte_at=4095)),
            ["verifier-1"],
            "padding",
        )
    )
    vecs.append(
        _envelope_vector(
            "padding-length-prefix-too-big",
            _craft("padding-length-prefix-too-big", _padded_plain(content, declared=4089)),
            ["verifier-1"],
            "padding",
        )
    )
    vecs.append(
        _envelope_vector(
            "padding-total-not-padme-of-length",
            _craft("padding-total-not-padme-of-length", _padded_plain(content, total=8192)),
            ["verifier-1"],
            "padding",
        )
    )
    vecs.append(
        _envelope_vector(
            "padding-plaintext-shorter-than-length-prefix",
            _craft("padding-plaintext-shorter-than-length-prefix", b"\x00\x00\x00"),
            ["verifier-1"],
            "padding",
        )
    )

    vecs.append(_envelope_vector("no-match-outsider-keyring", small, ["outsider"], "no-match"))
    vecs.append(_envelope_vector("no-match-admin-keyring", small, ["admin-1"], "no-match"))

    vecs.append(
        _envelope_vector(
            "malformed-bad-magic", b"INTAKEv2" + small[8:], ["verifier-1"], "malformed"
        )
    )
    vecs.append(
        _envelope_vector(
            "malformed-header-len-too-large",
            small[:8] + struct.pack(">I", 65537) + small[12:],
            ["verifier-1"],
            "malformed",
        )
    )
    vecs.append(
        _envelope_vector("malformed-header-cut-short", small[:40], ["verifier-1"], "malformed")
    )
    vecs.append(_envelope_vector("malformed-empty", b"", ["verifier-1"], "malformed"))

    def setter(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
        def edit(doc: dict[str, Any]) -> None:
            doc[key] = value

        return edit

    plain = _padded_plain(_content("malformed", 10))
    crafted: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
        ("malformed-chunk-below-bounds", setter("chunk", 2048)),
        ("malformed-chunk-above-bounds", setter("chunk", 1048577)),
        ("malformed-unknown-header-key", setter("note", "x")),
        ("malformed-version-5", setter("v", 5)),
        ("malformed-version-as-string", setter("v", "2")),
        ("malformed-unknown-kind", setter("kind", "letter")),
        ("malformed-no-recipients", setter("recipients", [])),
        ("malformed-stream-header-wrong-length", setter("stream", b64e(bytes(23)))),
        (
            "malformed-sealed-wrong-length",
            lambda d: d["recipients"][0].__setitem__("sealed", b64e(bytes(79))),
        ),
        (
            "malformed-recipient-kid-not-hex",
            lambda d: d["recipients"][0].__setitem__("kid", "K" * 32),
        ),
        ("malformed-missing-manifest", lambda d: d.pop("manifest")),
        ("malformed-chunk-not-integer", setter("chunk", 4096.5)),
    ]
    for name, edit in crafted:
        vecs.append(
            _envelope_vector(name, _craft(name, plain, mutate=edit), ["verifier-1"], "malformed")
        )
    too_many = _craft(
        "malformed-65-recipients",
        plain,
        mutate=lambda d: d.__setitem__("recipients", d["recipients"] * 65),
    )
    vecs.append(_envelope_vector("malformed-65-recipients", too_many, ["verifier-1"], "malformed"))
    vecs += _v3_envelope_vectors()
    vecs += _v4_envelope_vectors()
    return {"vectors": vecs}


# -- manifests.json --------------------------------------------------------------------


def _manifest_vector(
    name: str,
    chain: list[dict[str, Any]],
    expect: str,
    root: TrustRoot = ROOT,
    now: datetime = NOW,
    anchor: Any = None,
) -> dict[str, Any]:
    vec: dict[str, Any] = {
        "name": name,
        "trust_root": root.to_json(),
        "chain": chain,
        "now": format_time(now),
        "expect": expect,
    }
    if anchor is not None:
        vec["anchor"] = anchor  # (v3) as a page carries it; parsed before the chain
    try:
        ref = parse_anchor(anchor) if anchor is not None else None
        trusted = verify_chain(chain, root, now, anchor=ref)
    except IntakeCryptoError as exc:
        if exc.reason != expect:
            raise AssertionError(f"{name}: got {exc.reason}, want {expect}") from exc
        return vec
    if expect != "ok":
        raise AssertionError(f"{name}: verified, want {expect}")
    latest = trusted[-1]
    vec["latest_version"] = latest.version
    vec["active_verifiers"] = [v.kid for v in latest.active_verifiers()]
    vec["key_set_bytes"] = b64e(key_set_bytes(latest))
    vec["key_set_fingerprint"] = latest.key_set_fingerprint
    return vec


def _anchor(env: dict[str, Any]) -> dict[str, Any]:
    return anchor_json(parse_manifest(env))


def _bad_sig(env: dict[str, Any], index: int) -> dict[str, Any]:
    out = json.loads(json.dumps(env))
    sig = bytearray(b64d(out["signatures"][index]["sig"]))
    sig[10] ^= 0x40
    out["signatures"][index]["sig"] = b64e(bytes(sig))
    return out


def manifests_doc() -> dict[str, Any]:
    v: list[dict[str, Any]] = []
    v.append(_manifest_vector("ok-genesis-only", [GENESIS], "ok"))
    third = manifest(3, verifiers=((V1, "retired"), (V3, "active")), signers=(A2, A3))
    v.append(_manifest_vector("ok-three-links-verifier-add-retire", [GENESIS, SECOND, third], "ok"))
    rotated = manifest(2, admins=(A3, A4, A5), threshold=2, signers=(A1, A2, A4, A5))
    v.append(_manifest_vector("ok-admin-rotation-both-sets-sign", [GENESIS, rotated], "ok"))
    after_rotation = manifest(3, admins=(A3, A4, A5), signers=(A4, A5))
    v.append(
        _manifest_vector(
            "ok-after-rotation-new-set-signs-alone", [GENESIS, rotated, after_rotation], "ok"
        )
    )
    v.append(
        _manifest_vector(
            "threshold-old-set-signs-after-rotation",
            [GENESIS, rotated, manifest(3, admins=(A3, A4, A5), signers=(A1, A2))],
            "threshold",
        )
    )
    v.append(
        _manifest_vector(
            "threshold-rotation-new-set-did-not-sign",
            [GENESIS, manifest(2, admins=(A3, A4, A5), signers=(A1, A2))],
            "threshold",
        )
    )
    v.append(
        _manifest_vector(
            "threshold-rotation-new-set-one-short",
            [GENESIS, manifest(2, admins=(A1, A4, A5), threshold=3, signers=(A1, A2, A4))],
            "threshold",
        )
    )
    v.append(
        _manifest_vector(
            "threshold-one-of-three-signatures", [manifest(1, signers=(A1,))], "threshold"
        )
    )
    v.append(
        _manifest_vector(
            "threshold-successor-one-of-three", [GENESIS, manifest(2, signers=(A3,))], "threshold"
        )
    )
    dup = manifest(1, signers=(A1, A1))
    v.append(_manifest_vector("threshold-duplicate-signatures-same-key", [dup], "threshold"))
    v.append(
        _manifest_vector(
            "threshold-signed-by-non-admins", [manifest(1, signers=(A1, V1, C1))], "threshold"
        )
    )
    v.append(
        _manifest_vector(
            "rollback-same-version",
            [GENESIS, SECOND, manifest(2, verifiers=((V1, "active"),))],
            "rollback",
        )
    )
    v.append(
        _manifest_vector(
            "rollback-version-decreasing", [GENESIS, manifest(3), manifest(2)], "rollback"
        )
    )
    v.append(_manifest_vector("rollback-genesis-repeated", [GENESIS, GENESIS], "rollback"))
    late = datetime(2028, 1, 1, tzinfo=UTC)
    v.append(_manifest_vector("expired-latest", [GENESIS, SECOND], "expired", now=late))
    short = manifest(2, expires=T0 + timedelta(days=60))
    v.append(
        _manifest_vector(
            "expired-at-exactly-now", [GENESIS, short], "expired", now=T0 + timedelta(days=60)
        )
    )
    fresh = manifest(3, issued=datetime(2027, 6, 1, tzinfo=UTC))
    v.append(
        _manifest_vector(
            "ok-expired-intermediate-fresh-latest", [GENESIS, SECOND, fresh], "ok", now=late
        )
    )
    foreign = manifest(1, admins=(A4, A5, OUT_ADMIN), signers=(A4, A5))
    v.append(_manifest_vector("untrusted-root-different-admins", [foreign], "untrusted-root"))
    v.append(_manifest_vector("untrusted-root-genesis-version-2", [manifest(2)], "untrusted-root"))
    v.append(
        _manifest_vector(
            "untrusted-root-threshold-differs",
            [manifest(1, threshold=1, signers=(A1,))],
            "untrusted-root",
        )
    )
    v.append(
        _manifest_vector(
            "untrusted-root-subset-of-admins",
            [manifest(1, admins=(A1, A2), signers=(A1, A2))],
            "untrusted-root",
        )
    )
    v.append(
        _manifest_vector(
            "bad-signature-flipped-signature-bytes", [_bad_sig(GENESIS, 1)], "bad-signature"
        )
    )
    altered = json.loads(json.dumps(SECOND))
    payload = b64d(altered["payload"]).replace(b'"version":2', b'"version":9')
    altered["payload"] = b64e(payload)
    v.append(
        _manifest_vector(
            "bad-signature-payload-altered-after-signing", [GENESIS, altered], "bad-signature"
        )
    )
    v.append(
        _manifest_vector(
            "ok-threshold-met-despite-one-bad-signature",
            [_bad_sig(manifest(1, signers=(A1, A2, A3)), 2)],
            "ok",
        )
    )

    def wrong_kid(d: dict[str, Any]) -> None:
        d["verifiers"][0]["kid"] = d["verifiers"][1]["kid"]

    def wrong_admin_kid(d: dict[str, Any]) -> None:
        d["admins"]["keys"][0]["kid"] = blake2b(16, b"not this key").hex()

    v.append(
        _manifest_vector(
            "malformed-verifier-kid-not-matching-key",
            [GENESIS, manifest(2, edit=wrong_kid)],
            "malformed",
        )
    )
    v.append(
        _manifest_vector(
            "malformed-admin-kid-not-matching-key", [manifest(1, edit=wrong_admin_kid)], "malformed"
        )
    )
    v.append(
        _manifest_vector(
            "malformed-duplicate-admin",
            [
                GENESIS,
                manifest(2, edit=lambda d: d["admins"]["keys"].append(d["admins"]["keys"][0])),
            ],
            "malformed",
        )
    )
    v.append(
        _manifest_vector(
            "malformed-threshold-above-key-count",
            [GENESIS, manifest(2, edit=lambda d: d["admins"].__setitem__("threshold", 4))],
            "malformed",
        )
    )
    v.append(
        _manifest_vector(
            "malformed-threshold-zero",
            [GENESIS, manifest(2, edit=lambda d: d["admins"].__setitem__("threshold", 0))],
            "malformed",
        )
    )
    v.append(
        _manifest_vector(
            "malformed-wrong-type",
            [GENESIS, manifest(2, edit=lambda d: d.__setitem__("type", "intake/other"))],
            "malformed",
        )
    )
    v.append(
        _manifest_vector(
            "malformed-unknown-verifier-status",
            [
                GENESIS,
                manifest(2, edit=lambda d: d["verifiers"][0].__setitem__("status", "revoked")),
            ],
            "malformed",
        )
    )
    wrong_type = dict(SECOND)
    wrong_type["payloadType"] = "application/json"
    v.append(_manifest_vector("malformed-wrong-payload-type", [GENESIS, wrong_type], "malformed"))
    v.append(_manifest_vector("malformed-empty-chain", [], "malformed"))
    payload = b64d(SECOND["payload"])
    v.append(
        _manifest_vector(
            "malformed-payload-not-json",
            [GENESIS, dsse_sign(MANIFEST_TYPE, payload[:-1], [A1, A2])],
            "malformed",
        )
    )
    extra = manifest(
        2,
        extra={"form": {"id": "deserter-intake", "fields": ["name"]}},
        edit=lambda d: d["verifiers"][0].__setitem__("note", "tolerated"),
    )
    v.append(_manifest_vector("ok-unknown-fields-tolerated", [GENESIS, extra], "ok"))
    v.extend(_anchor_vectors(third, rotated, after_rotation, late))
    return {"vectors": v}


def _anchor_vectors(
    third: dict[str, Any],
    rotated: dict[str, Any],
    after_rotation: dict[str, Any],
    late: datetime,
) -> list[dict[str, Any]]:
    """(v3) The page anchor, and the key-set fingerprint across renewals and changes."""
    v: list[dict[str, Any]] = []
    v.append(_manifest_vector("ok-anchor-at-head", [GENESIS, SECOND], "ok", anchor=_anchor(SECOND)))
    v.append(
        _manifest_vector(
            "ok-anchor-below-head", [GENESIS, SECOND, third], "ok", anchor=_anchor(SECOND)
        )
    )
    v.append(
        _manifest_vector("ok-anchor-at-genesis", [GENESIS, SECOND], "ok", anchor=_anchor(GENESIS))
    )
    v.append(
        _manifest_vector(
            "ok-anchor-after-admin-rotation",
            [GENESIS, rotated, after_rotation],
            "ok",
            anchor=_anchor(rotated),
        )
    )
    # The attack: the chain as it was before SECOND (which retired verifier-2),
    # every link still validly signed.
    v.append(
        _manifest_vector(
            "rollback-chain-short-of-anchor", [GENESIS], "rollback", anchor=_anchor(SECOND)
        )
    )
    v.append(
        _manifest_vector(
            "rollback-chain-one-short-of-anchor",
            [GENESIS, SECOND],
            "rollback",
            anchor=_anchor(third),
        )
    )
    fork = manifest(2, verifiers=((V1, "active"), (V2, "active"), (OUT, "active")))
    v.append(
        _manifest_vector(
            "rollback-fork-at-anchor-version", [GENESIS, fork], "rollback", anchor=_anchor(SECOND)
        )
    )
    v.append(
        _manifest_vector(
            "rollback-fork-below-head-at-anchor-version",
            [GENESIS, fork, manifest(3)],
            "rollback",
            anchor=_anchor(SECOND),
        )
    )
    v.append(
        _manifest_vector(
            "rollback-checked-before-expiry",
            [GENESIS, SECOND],
            "rollback",
            now=late,
            anchor=_anchor(third),
        )
    )
    v.append(
        _manifest_vector(
            "expired-anchor-reached-but-latest-expired",
            [GENESIS, SECOND],
            "expired",
            now=late,
            anchor=_anchor(SECOND),
        )
    )
    v.append(
        _manifest_vector(
            "threshold-links-checked-before-anchor",
            [GENESIS, manifest(2, signers=(A3,))],
            "threshold",
            anchor=_anchor(SECOND),
        )
    )
    good = _anchor(SECOND)
    bad_anchors: list[tuple[str, Any]] = [
        ("malformed-anchor-not-an-object", [2, good["digest"]]),
        ("malformed-anchor-missing-digest", {"version": 2}),
        ("malformed-anchor-extra-key", {**good, "fingerprint": "x"}),
        ("malformed-anchor-version-zero", {**good, "version": 0}),
        ("malformed-anchor-version-string", {**good, "version": "2"}),
        ("malformed-anchor-version-boolean", {**good, "version": True}),
        ("malformed-anchor-digest-31-bytes", {**good, "digest": b64e(bytes(31))}),
        ("malformed-anchor-digest-not-base64", {**good, "digest": "not base64!"}),
    ]
    for name, anchor in bad_anchors:
        v.append(_manifest_vector(name, [GENESIS, SECOND], "malformed", anchor=anchor))
    # Key sets: a renewal keeps the fingerprint (only dates change); these
    # vectors carry key_set_bytes and key_set_fingerprint for both readers.
    renewal = manifest(
        3,
        verifiers=((V1, "active"), (V2, "retired"), (V3, "active")),
        issued=datetime(2026, 5, 1, tzinfo=UTC),
    )
    v.append(
        _manifest_vector(
            "ok-renewal-keeps-key-set", [GENESIS, SECOND, renewal], "ok", anchor=_anchor(renewal)
        )
    )
    order = manifest(3, verifiers=((V3, "active"), (V2, "retired"), (V1, "active")))
    v.append(_manifest_vector("ok-key-set-ignores-listing-order", [GENESIS, SECOND, order], "ok"))
    same = parse_manifest(SECOND).key_set_fingerprint
    if not v[-1]["key_set_fingerprint"] == v[-2]["key_set_fingerprint"] == same:
        raise AssertionError("a renewal or a reordering changed the key-set fingerprint")
    if parse_manifest(third).key_set_fingerprint == same:
        raise AssertionError("retiring a verifier left the key-set fingerprint unchanged")
    return v


# -- mailbox.json ----------------------------------------------------------------------

CODENAMES = [
    "correct horse battery staple orbit lantern velvet quarry mosaic",
    "ёлка жёлтый мёд берёза счёт актёр причём шёпот полёт",
    "Ёлка ЖЁЛТЫЙ Мёд берёза СЧЁТ актёр Причём шёпот ПОЛЁТ",
    "елка желтый мед береза счет актер причем шепот полет",
    "  лес\tрека\u00a0гора\u3000поле\u2003море\nнебо\r\nдом\u202fсад\u205fмост  ",
    "ｃｏｒｒｅｃｔ ＨＯＲＳＥ battery staple orbit lantern velvet quarry mosaic",
    "е\u0308лка Е\u0308ЛКА ﬁnal Ⅻ ㎏ word six seven eight nine",
    "zero\u200bwidth is\u001fnot space\u0085but this\u2028is\u2029and\u1680so\u000bare these",
    "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200aalpha\u000cbeta\u000d",
    "İstanbul ΣΟΦΙΑ straße",
]


def mailbox_doc() -> dict[str, Any]:
    vecs = []
    for codename in CODENAMES:
        keys = derive_mailbox(codename, GENESIS_PAYLOAD)
        vecs.append(
            {
                "codename": codename,
                "genesis_payload": b64e(GENESIS_PAYLOAD),
                "normalised": normalise_codename(codename),
                "reply_x25519": b64e(keys.reply_public),
                "token": b64e(keys.token),
                "mailbox_id": keys.mailbox_id,
            }
        )
    return {"vectors": vecs}


# -- replies.json -----------------------------------------------------------------------


def replies_doc() -> dict[str, Any]:
    keys = derive_mailbox(CODENAMES[0], GENESIS_PAYLOAD)
    latest = parse_manifest(SECOND)
    vecs = []

    def vector(
        name: str, envelope: bytes, kid: str, sig: bytes, expect: str, content: bytes | None = None
    ) -> None:
        try:
            verify_reply(envelope, kid, sig, latest)
            opened = open_reply(envelope, keys.reply_secret, keys.reply_public)
            got = "ok" if opened == content else "content-differs"
        except IntakeCryptoError as exc:
            got = exc.reason
        if got != expect:
            raise AssertionError(f"{name}: got {got}, want {expect}")
        vec: dict[str, Any] = {
            "name": name,
            "trust_root": ROOT.to_json(),
            "chain": BASE_CHAIN,
            "now": format_time(NOW),
            "reply_secret": b64e(keys.reply_secret),
            "reply_public": b64e(keys.reply_public),
            "envelope": b64e(envelope),
            "kid": kid,
            "sig": b64e(sig),
            "expect": expect,
        }
        if content is not None:
            vec["content"] = b64e(content)
        vecs.append(vec)

    def reply(name: str, status: str) -> tuple[bytes, bytes]:
        content = json.dumps(
            {"status": status, "message": "Получено, спасибо.", "sent": "2026-06-01T00:00:00Z"},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")
        env = seal_bytes(
            content,
            kind="reply",
            manifest=latest.ref,
            recipients=[keys.reply_public],
            chunk=4096,
            rng=DetRng("reply/" + name),
        )
        return env, content

    env, content = reply("ok-active-verifier", "received")
    vector("ok-active-verifier", env, *sign_reply(V1, env), "ok", content)
    env2, content2 = reply("ok-retired-verifier", "verified")
    vector("ok-retired-verifier", env2, *sign_reply(V2, env2), "ok", content2)
    vector("bad-signature-signer-not-in-manifest", env, *sign_reply(OUT, env), "bad-signature")
    vector("bad-signature-admin-is-not-a-verifier", env, *sign_reply(A1, env), "bad-signature")
    _kid, sig = sign_reply(V1, env)
    vector("bad-signature-kid-names-another-verifier", env, V3.sign_kid, sig, "bad-signature")
    vector(
        "bad-signature-envelope-altered-after-signing",
        _flip(env, len(env) - 5),
        _kid,
        sig,
        "bad-signature",
    )
    vector("bad-signature-signature-for-another-envelope", env2, _kid, sig, "bad-signature")
    return {"vectors": vecs}


# -- padding.json -----------------------------------------------------------------------


def padding_doc() -> dict[str, Any]:
    lengths = set(range(0, 17)) | set(range(4080, 4100))
    for k in range(12, 53):
        for d in (-9, -8, -1, 0, 1):
            n = 2**k + d - 8
            if 0 <= n < 2**53 - 8:
                lengths.add(n)
    rng = DetRng("padding")
    for _ in range(40):
        bits = rng(1)[0] % 40 + 1
        lengths.add(int.from_bytes(rng(8), "big") % (1 << bits))
    return {"vectors": [{"length": n, "padded": padded_size(n)} for n in sorted(lengths)]}


# -- requests.json ----------------------------------------------------------------------


def request_fields(
    name: str, method: str, target: str, body: bytes, now: int, auth: str
) -> dict[str, Any]:
    """The request a courier vector describes, first in its JSON object."""
    return {
        "name": name,
        "method": method,
        "target": target,
        "body": b64e(body),
        "now": now,
        "authorization": auth,
    }


def request_class(
    auth: str, method: str, target: str, body: bytes, manifest: Manifest, now: int
) -> str:
    """What `verify_request` makes of a signed courier request: "ok" or its failure class."""
    try:
        verify_request(auth, method, target, blake2b(32, body), manifest, now)
    except IntakeCryptoError as exc:
        return exc.reason
    return "ok"


def requests_doc() -> dict[str, Any]:
    ts = 1780272000  # 2026-06-01T00:00:00Z
    vecs = []

    latest = verify_chain(BASE_CHAIN, ROOT, NOW)[-1]

    def vector(
        name: str, method: str, target: str, body: bytes, now: int, auth: str, expect: str
    ) -> None:
        got = request_class(auth, method, target, body, latest, now)
        if got != expect:
            raise AssertionError(f"{name}: got {got}, want {expect}")
        vecs.append(
            {
                **request_fields(name, method, target, body, now, auth),
                "signing_bytes": b64e(
                    request_signing_bytes(method, target, int(auth_ts(auth)), blake2b(32, body))
                )
                if auth_ts(auth) is not None
                else None,
                "expect": expect,
            }
        )

    get_target = "/api/v1/courier/bundle?limit=50"
    body = json.dumps({"type": "intake/receipts", "receipts": []}).encode()
    ok_get = sign_request(C1, "GET", get_target, b"", ts)
    ok_post = sign_request(C1, "POST", "/api/v1/courier/receipts", body, ts)
    vector("ok-get-bundle", "GET", get_target, b"", ts, ok_get, "ok")
    vector("ok-post-receipts", "POST", "/api/v1/courier/receipts", body, ts + 12, ok_post, "ok")
    vector("ok-skew-exactly-300-behind", "GET", get_target, b"", ts + 300, ok_get, "ok")
    vector("ok-skew-exactly-300-ahead", "GET", get_target, b"", ts - 300, ok_get, "ok")
    vector(
        "bad-signature-skew-301-behind", "GET", get_target, b"", ts + 301, ok_get, "bad-signature"
    )
    vector(
        "bad-signature-skew-301-ahead", "GET", get_target, b"", ts - 301, ok_get, "bad-signature"
    )
    vector(
        "bad-signature-not-a-courier",
        "GET",
        get_target,
        b"",
        ts,
        sign_request(V1, "GET", get_target, b"", ts),
        "bad-signature",
    )
    vector(
        "bad-signature-target-changed",
        "GET",
        "/api/v1/courier/bundle?limit=5000",
        b"",
        ts,
        ok_get,
        "bad-signature",
    )
    vector("bad-signature-method-changed", "POST", get_target, b"", ts, ok_get, "bad-signature")
    vector(
        "bad-signature-body-changed",
        "POST",
        "/api/v1/courier/receipts",
        body + b" ",
        ts,
        ok_post,
        "bad-signature",
    )
    vector(
        "malformed-lowercase-scheme",
        "GET",
        get_target,
        b"",
        ts,
        ok_get.replace("Intake-Sig", "intake-sig"),
        "malformed",
    )
    vector(
        "malformed-extra-space",
        "GET",
        get_target,
        b"",
        ts,
        ok_get.replace(", ts=", ",  ts="),
        "malformed",
    )
    vector(
        "malformed-ts-leading-zero",
        "GET",
        get_target,
        b"",
        ts,
        ok_get.replace(f"ts={ts}", f"ts=0{ts}"),
        "malformed",
    )
    vector(
        "malformed-short-signature",
        "GET",
        get_target,
        b"",
        ts,
        ok_get.rsplit("sig=", 1)[0] + "sig=" + b64e(bytes(32)),
        "malformed",
    )
    vector(
        "malformed-fields-reordered",
        "GET",
        get_target,
        b"",
        ts,
        "Intake-Sig ts={}, kid={}, sig={}".format(ts, C1.sign_kid, ok_get.rsplit("sig=", 1)[1]),
        "malformed",
    )
    return {"trust_root": ROOT.to_json(), "chain": BASE_CHAIN, "vectors": vecs}


# -- rewraps.json -----------------------------------------------------------------------


def rewraps_doc() -> dict[str, Any]:
    """Rewrap signatures: a verifier of the latest manifest (active or retired)
    consents to a new prefix for one payload; nobody else can."""
    latest = parse_manifest(SECOND)
    envelope = seal_bytes(
        _content("rewrap", 300),
        kind="attachment",
        manifest=GENESIS_REF,
        recipients=[V1.x25519_public, V2.x25519_public],  # type: ignore[list-item]
        chunk=4096,
        rng=DetRng("rewrap/envelope"),
    )
    digest = payload_digest(io.BytesIO(envelope))
    prefix = rewrap_prefix(
        io.BytesIO(envelope),
        Keyring([V2]),
        [v.x25519 for v in latest.active_verifiers()],
        DetRng("rewrap/prefix"),
        manifest=SECOND_REF,
    )
    other = seal_bytes(
        _content("rewrap-other", 300),
        kind="attachment",
        manifest=SECOND_REF,
        recipients=[v.x25519 for v in latest.active_verifiers()],
        chunk=4096,
        rng=DetRng("rewrap/other"),
    )
    other_digest = payload_digest(io.BytesIO(other))
    vecs: list[dict[str, Any]] = []

    def vector(
        name: str, digest_: bytes, prefix_: bytes, kid: str, sig: bytes, expect: str
    ) -> None:
        try:
            verify_rewrap(digest_, prefix_, kid, sig, latest)
            got = "ok"
        except IntakeCryptoError as exc:
            got = exc.reason
        if got != expect:
            raise AssertionError(f"{name}: got {got}, want {expect}")
        try:
            signing: str | None = b64e(rewrap_signing_bytes(digest_, prefix_))
        except ValueError:
            signing = None
        vecs.append(
            {
                "name": name,
                "digest": b64e(digest_),
                "prefix": b64e(prefix_),
                "kid": kid,
                "sig": b64e(sig),
                "signing_bytes": signing,
                "expect": expect,
            }
        )

    vector("ok-active-verifier", digest, prefix, *sign_rewrap(V1, digest, prefix), "ok")
    vector("ok-retired-verifier", digest, prefix, *sign_rewrap(V2, digest, prefix), "ok")
    for name, signer in (
        ("bad-signature-courier-key", C1),
        ("bad-signature-admin-key", A1),
        ("bad-signature-signer-not-in-manifest", OUT),
    ):
        vector(name, digest, prefix, *sign_rewrap(signer, digest, prefix), "bad-signature")
    kid1, sig1 = sign_rewrap(V1, digest, prefix)
    vector(
        "bad-signature-prefix-changed-after-signing",
        digest,
        _flip(prefix, len(prefix) - 40),
        kid1,
        sig1,
        "bad-signature",
    )
    vector("bad-signature-another-payload", other_digest, prefix, kid1, sig1, "bad-signature")
    vector(
        "bad-signature-kid-names-another-verifier",
        digest,
        prefix,
        V3.sign_kid,
        sig1,
        "bad-signature",
    )
    vector("bad-signature-truncated-signature", digest, prefix, kid1, sig1[:63], "bad-signature")
    vector("malformed-short-digest", digest[:31], prefix, kid1, sig1, "malformed")
    vector("malformed-empty-prefix", digest, b"", kid1, sig1, "malformed")
    return {
        "trust_root": ROOT.to_json(),
        "chain": BASE_CHAIN,
        "now": format_time(NOW),
        "envelope": b64e(envelope),
        "vectors": vecs,
    }


def auth_ts(auth: str) -> str | None:
    """The ts field of a well-formed header (None when the header is malformed)."""
    from crypto import InvalidSignature, parse_authorization

    try:
        return str(parse_authorization(auth)[1])
    except InvalidSignature:
        return None


def build_all() -> dict[str, bytes]:
    """Every vector file's bytes, keyed by file name."""
    return {
        "keys.json": _dump(keys_doc()),
        "envelopes.json": _dump(envelopes_doc()),
        "manifests.json": _dump(manifests_doc()),
        "mailbox.json": _dump(mailbox_doc()),
        "replies.json": _dump(replies_doc()),
        "padding.json": _dump(padding_doc()),
        "requests.json": _dump(requests_doc()),
        "rewraps.json": _dump(rewraps_doc()),
    }


def write_or_check(files: dict[str, bytes], argv: list[str]) -> int:
    """Writes the vector files beside this module; with `--check`, only says
    which committed files differ and exits 1 if any does."""
    if "--check" in argv:
        stale = [n for n, data in files.items() if (HERE / n).read_bytes() != data]
        for name in stale:
            print(f"stale: tests/vectors/{name}", file=sys.stderr)
        return 1 if stale else 0
    for name, data in files.items():
        (HERE / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")
    return 0


def main(argv: list[str]) -> int:
    return write_or_check(build_all(), argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
