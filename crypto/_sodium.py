"""The one module that calls libsodium (through PyNaCl's raw bindings).

Everything else in ``crypto`` goes through these few functions, so the sharp
primitives are fenced in one place and a reviewer reads one file to see every
libsodium call. Failures to authenticate come back as ``None`` / ``False``;
callers turn them into the protocol's failure classes.

Two functions here reimplement libsodium's randomised setup from caller-given
bytes, so test vectors can be reproduced byte for byte:

* ``StreamPush(key, header=...)``: ``crypto_secretstream_*_init_push`` draws a
  random 24-byte header and then sets the state exactly as ``init_pull`` does
  for that header (HChaCha20 sub-key, counter 1, nonce tail). Push and pull
  share the state layout, so ``init_pull(header)`` followed by ``push`` is the
  push side for a header we chose.
* ``box_seal(..., ephemeral_seed=...)``: ``crypto_box_seal`` is
  ``eph_pk || crypto_box_easy(m, nonce = H(24, eph_pk || pk), pk, eph_sk)``
  with a fresh ephemeral key pair; we derive that pair from a given seed.

Both are proven against libsodium in ``tests/crypto/test_sodium.py``.
"""

from __future__ import annotations

import hashlib
import secrets

from nacl import bindings as _b
from nacl.exceptions import BadSignatureError, CryptoError, UnavailableError

KEY_BYTES = 32
STREAM_HEADER_BYTES: int = _b.crypto_secretstream_xchacha20poly1305_HEADERBYTES
STREAM_ABYTES: int = _b.crypto_secretstream_xchacha20poly1305_ABYTES
TAG_MESSAGE: int = _b.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_FINAL: int = _b.crypto_secretstream_xchacha20poly1305_TAG_FINAL
SEAL_OVERHEAD: int = _b.crypto_box_SEALBYTES
SIGNATURE_BYTES: int = _b.crypto_sign_BYTES
SECRETBOX_NONCE_BYTES: int = _b.crypto_secretbox_NONCEBYTES
PWHASH_SALT_BYTES: int = _b.crypto_pwhash_SALTBYTES

if (STREAM_HEADER_BYTES, STREAM_ABYTES, SEAL_OVERHEAD) != (24, 17, 48):
    # The wire format fixes these sizes; a different libsodium build cannot speak it.
    raise ImportError("libsodium secretstream/box sizes differ from PROTOCOL.md")


def random_bytes(n: int) -> bytes:
    """Fresh randomness from the OS CSPRNG."""
    return secrets.token_bytes(n)


# -- BLAKE2b ---------------------------------------------------------------
#
# BLAKE2b is the one primitive taken from Python's ``hashlib`` rather than
# libsodium: the same RFC 7693 function (``crypto_generichash`` with no salt or
# personalisation gives identical output, keyed or not; ``test_sodium.py`` and
# the vectors prove it), but about twice as fast as the libsodium PyNaCl
# bundles, and the payload digest hashes every byte of every envelope.


def blake2b(size: int, message: bytes, key: bytes = b"") -> bytes:
    """``crypto_generichash`` with an ``size``-byte digest, keyed when ``key`` is given."""
    return hashlib.blake2b(message, digest_size=size, key=key).digest()


class Blake2b:
    """Incremental BLAKE2b, for hashing streams in constant memory."""

    def __init__(self, size: int, key: bytes = b"") -> None:
        self._state = hashlib.blake2b(digest_size=size, key=key)

    def update(self, data: bytes | memoryview) -> None:
        self._state.update(data)

    def digest(self) -> bytes:
        return self._state.digest()


# -- X25519 and sealed boxes -------------------------------------------------


def x25519_public(secret: bytes) -> bytes:
    """The X25519 public key of a 32-byte secret scalar."""
    return bytes(_b.crypto_scalarmult_base(secret))


def box_seed_keypair(seed: bytes) -> tuple[bytes, bytes]:
    """``crypto_box_seed_keypair``: (public, secret) from a 32-byte seed."""
    pk, sk = _b.crypto_box_seed_keypair(seed)
    return bytes(pk), bytes(sk)


def box_seal(message: bytes, recipient_pk: bytes, ephemeral_seed: bytes | None = None) -> bytes:
    """``crypto_box_seal``; with ``ephemeral_seed`` the output is reproducible (vectors only)."""
    if ephemeral_seed is None:
        return bytes(_b.crypto_box_seal(message, recipient_pk))
    eph_pk, eph_sk = box_seed_keypair(ephemeral_seed)
    nonce = blake2b(24, eph_pk + recipient_pk)
    return eph_pk + bytes(_b.crypto_box_easy(message, nonce, recipient_pk, eph_sk))


def box_seal_open(sealed: bytes, public: bytes, secret: bytes) -> bytes | None:
    """Open a sealed box, or ``None`` if it was not sealed to this key pair."""
    try:
        return bytes(_b.crypto_box_seal_open(sealed, public, secret))
    except (CryptoError, ValueError, TypeError):
        return None


# -- Ed25519 ----------------------------------------------------------------


def sign_public(seed: bytes) -> bytes:
    """The Ed25519 public key of a 32-byte seed."""
    pk, _sk = _b.crypto_sign_seed_keypair(seed)
    return bytes(pk)


def sign_detached(message: bytes, seed: bytes) -> bytes:
    """Ed25519 detached signature (libsodium's ``crypto_sign`` minus the message)."""
    _pk, sk = _b.crypto_sign_seed_keypair(seed)
    return bytes(_b.crypto_sign(message, sk))[:SIGNATURE_BYTES]


def verify_detached(signature: bytes, message: bytes, public: bytes) -> bool:
    """True only for a valid Ed25519 signature of ``message`` by ``public``."""
    if len(signature) != SIGNATURE_BYTES or len(public) != 32:
        return False
    try:
        _b.crypto_sign_open(signature + message, public)
    except (BadSignatureError, CryptoError, ValueError):
        return False
    return True


# -- Passphrase keys -------------------------------------------------------------


def argon2id(passphrase: bytes, salt: bytes, ops: int, mem: int) -> bytes:
    """32 bytes of ``crypto_pwhash`` (Argon2id 1.3) output."""
    return bytes(
        _b.crypto_pwhash_alg(32, passphrase, salt, ops, mem, _b.crypto_pwhash_ALG_ARGON2ID13)
    )


def secretbox(message: bytes, nonce: bytes, key: bytes) -> bytes:
    """``crypto_secretbox_easy`` (XSalsa20-Poly1305)."""
    return bytes(_b.crypto_secretbox_easy(message, nonce, key))


def secretbox_open(box: bytes, nonce: bytes, key: bytes) -> bytes | None:
    """Open a secretbox, or ``None`` if it does not authenticate under ``key``."""
    try:
        return bytes(_b.crypto_secretbox_open_easy(box, nonce, key))
    except (CryptoError, ValueError, TypeError):
        return None


# -- secretstream ---------------------------------------------------------------


class StreamPush:
    """The encrypting side of ``crypto_secretstream_xchacha20poly1305``."""

    def __init__(self, key: bytes, header: bytes | None = None) -> None:
        self._state = _b.crypto_secretstream_xchacha20poly1305_state()
        if header is None:
            self.header = bytes(
                _b.crypto_secretstream_xchacha20poly1305_init_push(self._state, key)
            )
        else:
            if len(header) != STREAM_HEADER_BYTES:
                raise ValueError("secretstream header must be 24 bytes")
            # Same state as init_push would have produced had it drawn `header`.
            _b.crypto_secretstream_xchacha20poly1305_init_pull(self._state, header, key)
            self.header = bytes(header)

    def push(self, message: bytes, final: bool) -> bytes:
        tag = TAG_FINAL if final else TAG_MESSAGE
        return bytes(_b.crypto_secretstream_xchacha20poly1305_push(self._state, message, tag=tag))


class StreamPull:
    """The decrypting side of ``crypto_secretstream_xchacha20poly1305``."""

    def __init__(self, key: bytes, header: bytes) -> None:
        self._state = _b.crypto_secretstream_xchacha20poly1305_state()
        _b.crypto_secretstream_xchacha20poly1305_init_pull(self._state, header, key)

    def pull(self, ciphertext: bytes) -> tuple[bytes, int] | None:
        """(plaintext, tag), or ``None`` if the chunk does not authenticate."""
        if len(ciphertext) < STREAM_ABYTES:
            return None
        try:
            message, tag = _b.crypto_secretstream_xchacha20poly1305_pull(self._state, ciphertext)
        except (CryptoError, RuntimeError, ValueError):
            return None
        return bytes(message), int(tag)


# -- AES-256-GCM (envelope version 4) ------------------------------------------
#
# libsodium's AES-256-GCM runs only on CPUs with AES instructions (AES-NI on
# x86, the ARMv8 crypto extensions on ARM); elsewhere PyNaCl refuses it with
# UnavailableError. ``aes256gcm_available`` probes once, with a known answer
# (NIST's empty-message test: key and nonce all zero), so a broken build is
# refused as firmly as a missing instruction set.

AES256GCM_NONCE_BYTES: int = _b.crypto_aead_aes256gcm_NPUBBYTES
AES256GCM_ABYTES: int = _b.crypto_aead_aes256gcm_ABYTES
_AES256GCM_KAT = bytes.fromhex("530f8afbc74536b9a963b4f1c4cb738b")
_aes_available: bool | None = None

if (AES256GCM_NONCE_BYTES, AES256GCM_ABYTES) != (12, 16):
    raise ImportError("libsodium AES-256-GCM sizes differ from PROTOCOL.md")


class CipherUnavailable(Exception):
    """This CPU cannot run libsodium's AES-256-GCM (no AES instructions)."""


def aes256gcm_available() -> bool:
    """True if libsodium's AES-256-GCM runs here and gives the known answer."""
    global _aes_available
    if _aes_available is None:
        try:
            probe = bytes(_b.crypto_aead_aes256gcm_encrypt(b"", None, bytes(12), bytes(32)))
        except (UnavailableError, CryptoError, RuntimeError):
            probe = b""
        _aes_available = probe == _AES256GCM_KAT
    return _aes_available


def aes256gcm_encrypt(message: bytes, nonce: bytes, key: bytes) -> bytes:
    """``crypto_aead_aes256gcm_encrypt`` without additional data: ciphertext || tag."""
    if not aes256gcm_available():
        raise CipherUnavailable("AES-256-GCM needs a CPU with AES instructions")
    return bytes(_b.crypto_aead_aes256gcm_encrypt(message, None, nonce, key))


def aes256gcm_decrypt(ciphertext: bytes, nonce: bytes, key: bytes) -> bytes | None:
    """The plaintext, or ``None`` if ``ciphertext`` does not authenticate."""
    if not aes256gcm_available():
        raise CipherUnavailable("AES-256-GCM needs a CPU with AES instructions")
    if len(ciphertext) < AES256GCM_ABYTES:
        return None
    try:
        return bytes(_b.crypto_aead_aes256gcm_decrypt(ciphertext, None, nonce, key))
    except (CryptoError, ValueError, TypeError):
        return None
