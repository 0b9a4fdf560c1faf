"""Replies, receipts, rewraps and courier requests: Ed25519 signatures with fixed labels.

Each signature covers a distinct ASCII label, so a signature made for one
purpose (a receipt) can never be replayed as another (a reply or a request).
"""

from __future__ import annotations

import re

from crypto import _sodium
from crypto.encoding import HEX32, b64d, b64e, blake2b
from crypto.errors import InvalidSignature
from crypto.keys import Identity
from crypto.manifest import Manifest, VerifierEntry

REPLY_LABEL = b"intake/v1/reply"
RECEIPT_LABEL = b"intake/v2/receipt"
REWRAP_LABEL = b"intake/v2/rewrap"
REQUEST_LABEL = b"intake/v1/request\n"
MAX_SKEW = 300
_AUTH_RE = re.compile(
    rf"Intake-Sig kid=({HEX32}), ts=(0|[1-9][0-9]{{0,15}}), sig=([A-Za-z0-9+/=]{{88}})"
)
_METHOD_RE = re.compile(r"[A-Z]{1,16}")
_TARGET_RE = re.compile(r"/[\x21-\x7e]*")


def _valid(message: bytes, sig: object, public: bytes) -> bool:
    return isinstance(sig, bytes) and _sodium.verify_detached(sig, message, public)


def _require_signer(identity: Identity) -> None:
    if not isinstance(identity, Identity):
        raise TypeError("identity must be an Identity")


def sign_reply(identity: Identity, envelope: bytes) -> tuple[str, bytes]:
    """(kid, sig) with ``sig = Ed25519("intake/v1/reply" || H(32, envelope))``."""
    _require_signer(identity)
    return identity.sign_kid, identity.sign(REPLY_LABEL + blake2b(32, envelope))


def verify_reply(envelope: bytes, kid: str, sig: bytes, manifest: Manifest) -> VerifierEntry:
    """The (active or retired) verifier of ``manifest`` that signed this reply."""
    entry = manifest.verifier_by_sign_kid(kid)
    if entry is None or not _valid(REPLY_LABEL + blake2b(32, envelope), sig, entry.ed25519):
        raise InvalidSignature("bad-signature")
    return entry


def sign_receipt(identity: Identity, payload_digest: bytes) -> tuple[str, bytes]:
    """(kid, sig) with ``sig = Ed25519("intake/v2/receipt" || payload_digest)``."""
    _require_signer(identity)
    if not isinstance(payload_digest, bytes) or len(payload_digest) != 32:
        raise ValueError("payload digest is 32 bytes")
    return identity.sign_kid, identity.sign(RECEIPT_LABEL + payload_digest)


def verify_receipt(
    payload_digest: bytes, kid: str, sig: bytes, manifest: Manifest
) -> VerifierEntry:
    """The (active or retired) verifier of ``manifest`` that signed this receipt."""
    if not isinstance(payload_digest, bytes) or len(payload_digest) != 32:
        raise InvalidSignature("malformed")
    entry = manifest.verifier_by_sign_kid(kid)
    if entry is None or not _valid(RECEIPT_LABEL + payload_digest, sig, entry.ed25519):
        raise InvalidSignature("bad-signature")
    return entry


def rewrap_signing_bytes(payload_digest: bytes, prefix: bytes) -> bytes:
    """``"intake/v2/rewrap" || payload_digest || H(32, prefix)``: what a rewrap signature covers."""
    if not isinstance(payload_digest, bytes) or len(payload_digest) != 32:
        raise ValueError("payload digest is 32 bytes")
    if not isinstance(prefix, bytes) or not prefix:
        raise ValueError("prefix must be non-empty bytes")
    return REWRAP_LABEL + payload_digest + blake2b(32, prefix)


def sign_rewrap(identity: Identity, payload_digest: bytes, prefix: bytes) -> tuple[str, bytes]:
    """(kid, sig): a verifier's consent that ``prefix`` replace the prefix of the
    envelope whose payload digest is ``payload_digest``.

    A courier key alone cannot rewrap: whoever steals one could otherwise swap
    every held prefix for garbage and make the ciphertext unopenable.
    """
    _require_signer(identity)
    return identity.sign_kid, identity.sign(rewrap_signing_bytes(payload_digest, prefix))


def verify_rewrap(
    payload_digest: bytes, prefix: bytes, kid: str, sig: bytes, manifest: Manifest
) -> VerifierEntry:
    """The (active or retired) verifier of ``manifest`` that signed this rewrap.

    ``malformed`` for a digest that is not 32 bytes or an empty prefix;
    ``bad-signature`` for anything else that does not verify.
    """
    try:
        message = rewrap_signing_bytes(payload_digest, prefix)
    except ValueError as exc:
        raise InvalidSignature("malformed") from exc
    entry = manifest.verifier_by_sign_kid(kid) if isinstance(kid, str) else None
    if entry is None or not _valid(message, sig, entry.ed25519):
        raise InvalidSignature("bad-signature")
    return entry


def request_signing_bytes(method: str, target: str, ts: int, body_digest: bytes) -> bytes:
    """``"intake/v1/request\\n" METHOD "\\n" target "\\n" ts "\\n" hex(H(32, body))``.

    Method and target may not contain newlines or spaces (``ValueError``), so the
    signed bytes cannot be split differently from how they were built.
    """
    if not isinstance(method, str) or not _METHOD_RE.fullmatch(method):
        raise ValueError("method must be upper-case letters")
    if not isinstance(target, str) or not _TARGET_RE.fullmatch(target):
        raise ValueError("target must be an origin-form request target")
    if isinstance(ts, bool) or not isinstance(ts, int) or ts < 0:
        raise ValueError("ts must be a non-negative int")
    if not isinstance(body_digest, bytes) or len(body_digest) != 32:
        raise ValueError("body digest is 32 bytes")
    return REQUEST_LABEL + f"{method}\n{target}\n{ts}\n{body_digest.hex()}".encode("ascii")


def sign_request(identity: Identity, method: str, target: str, body: bytes, ts: int) -> str:
    """The ``Authorization`` header value for a courier request."""
    _require_signer(identity)
    message = request_signing_bytes(method, target, ts, blake2b(32, body))
    return f"Intake-Sig kid={identity.sign_kid}, ts={ts}, sig={b64e(identity.sign(message))}"


def parse_authorization(value: str) -> tuple[str, int, bytes]:
    """(kid, ts, sig) from an ``Intake-Sig`` header; anything else is ``malformed``.

    Strict: one exact spelling, no leading zeros, so the ``ts`` that was signed
    is the decimal string in the header.
    """
    m = _AUTH_RE.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise InvalidSignature("malformed")
    try:
        sig = b64d(m.group(3))
    except ValueError as exc:
        raise InvalidSignature("malformed") from exc
    if len(sig) != _sodium.SIGNATURE_BYTES:
        raise InvalidSignature("malformed")
    return m.group(1), int(m.group(2)), sig


def verify_request(
    value: str,
    method: str,
    target: str,
    body_digest: bytes,
    manifest: Manifest,
    now: int,
) -> tuple[str, bytes]:
    """Check a courier request's signature; returns (kid, sig) so the server can
    refuse a signature it has seen before (replay is its job, it has the store)."""
    key_id, ts, sig = parse_authorization(value)
    courier = manifest.courier_by_kid(key_id)
    if courier is None:
        raise InvalidSignature("bad-signature")
    # A stale or future timestamp bounds how long a captured request is useful.
    if abs(now - ts) > MAX_SKEW:
        raise InvalidSignature("bad-signature")
    try:
        message = request_signing_bytes(method, target, ts, body_digest)
    except ValueError as exc:
        raise InvalidSignature("malformed") from exc
    if not _valid(message, sig, courier.ed25519):
        raise InvalidSignature("bad-signature")
    return key_id, sig
