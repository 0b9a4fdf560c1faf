"""Identities (private keys), public keys, key files at rest, and keyrings.

A verifier holds an X25519 key (things are sealed to it) and an Ed25519 key
(it signs replies and receipts); admins and couriers hold only Ed25519 keys.
Key files are Argon2id + secretbox, written 0600, and a reader refuses a
file whose KDF cost has been weakened or inflated (PROTOCOL.md v2).
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from crypto import _sodium
from crypto.encoding import b64d, b64e, is_int, kid, load_json
from crypto.errors import InvalidKeyFile, WrongPassphrase

KINDS = ("verifier", "admin", "courier")
KDF_ALG = "argon2id13"
MIN_OPS, MAX_OPS = 3, 10
MIN_MEM, MAX_MEM = 256 * 2**20, 4 * 2**30
MAX_KEY_FILE_BYTES = 64 * 1024


def _check_kind(kind: object) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    return str(kind)


@dataclass(frozen=True)
class PublicKey:
    """The public half of an identity: what an admin imports into a manifest."""

    kind: str
    label: str
    x25519: bytes | None
    ed25519: bytes

    def __post_init__(self) -> None:
        _check_kind(self.kind)
        if not isinstance(self.label, str):
            raise TypeError("label must be a string")
        if not isinstance(self.ed25519, bytes) or len(self.ed25519) != 32:
            raise ValueError("ed25519 public key must be 32 bytes")
        if self.kind == "verifier":
            if not isinstance(self.x25519, bytes) or len(self.x25519) != 32:
                raise ValueError("a verifier has a 32-byte x25519 public key")
        elif self.x25519 is not None:
            raise ValueError("only verifiers have an x25519 key")

    @property
    def kid(self) -> str:
        """kid of the X25519 key for verifiers (what envelopes name), else of Ed25519."""
        return kid(self.x25519) if self.x25519 is not None else kid(self.ed25519)

    @property
    def sign_kid(self) -> str:
        """kid of the Ed25519 key (what signatures name)."""
        return kid(self.ed25519)

    def to_json(self) -> dict[str, Any]:
        """The public key file: ``{"v": 1, "kind", "label", "x25519"?, "ed25519"}``."""
        out: dict[str, Any] = {"v": 1, "kind": self.kind, "label": self.label}
        if self.x25519 is not None:
            out["x25519"] = b64e(self.x25519)
        out["ed25519"] = b64e(self.ed25519)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PublicKey:
        """Parse a public key file; ``InvalidKeyFile`` if anything is off."""
        try:
            if not isinstance(data, Mapping) or data.get("v") != 1 or not is_int(data.get("v")):
                raise ValueError("not a v1 public key file")
            kind = _check_kind(data.get("kind"))
            expected = {"v", "kind", "label", "ed25519"} | (
                {"x25519"} if kind == "verifier" else set()
            )
            if set(data) != expected:
                raise ValueError("unexpected fields")
            label = data["label"]
            if not isinstance(label, str):
                raise ValueError("label")
            x = b64d(data["x25519"]) if kind == "verifier" else None
            return cls(kind=kind, label=label, x25519=x, ed25519=b64d(data["ed25519"]))
        except (ValueError, TypeError) as exc:
            raise InvalidKeyFile() from exc


@dataclass(frozen=True)
class Identity:
    """A private identity. Secrets are kept out of ``repr`` so they never reach a log."""

    kind: str
    label: str
    x25519_secret: bytes | None = field(repr=False)
    ed25519_seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_kind(self.kind)
        if not isinstance(self.label, str):
            raise TypeError("label must be a string")
        if not isinstance(self.ed25519_seed, bytes) or len(self.ed25519_seed) != 32:
            raise ValueError("ed25519 seed must be 32 bytes")
        if self.kind == "verifier":
            if not isinstance(self.x25519_secret, bytes) or len(self.x25519_secret) != 32:
                raise ValueError("a verifier has a 32-byte x25519 secret")
        elif self.x25519_secret is not None:
            raise ValueError("only verifiers have an x25519 secret")

    @property
    def x25519_public(self) -> bytes | None:
        if self.x25519_secret is None:
            return None
        return _sodium.x25519_public(self.x25519_secret)

    @property
    def ed25519_public(self) -> bytes:
        return _sodium.sign_public(self.ed25519_seed)

    @property
    def kid(self) -> str:
        return self.public().kid

    @property
    def sign_kid(self) -> str:
        return kid(self.ed25519_public)

    def sign(self, message: bytes) -> bytes:
        """Ed25519 detached signature over ``message``."""
        return _sodium.sign_detached(bytes(message), self.ed25519_seed)

    def public(self) -> PublicKey:
        return PublicKey(self.kind, self.label, self.x25519_public, self.ed25519_public)

    def _secret_json(self) -> bytes:
        data: dict[str, Any] = {"kind": self.kind, "label": self.label}
        if self.x25519_secret is not None:
            data["x25519_secret"] = b64e(self.x25519_secret)
        data["ed25519_seed"] = b64e(self.ed25519_seed)
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def generate_identity(kind: str, label: str) -> Identity:
    """A fresh identity from the OS CSPRNG."""
    kind = _check_kind(kind)
    x = _sodium.random_bytes(32) if kind == "verifier" else None
    return Identity(kind=kind, label=label, x25519_secret=x, ed25519_seed=_sodium.random_bytes(32))


def _passphrase_bytes(passphrase: str) -> bytes:
    if not isinstance(passphrase, str):
        raise TypeError("passphrase must be a string")
    return passphrase.encode("utf-8")


def _check_cost(ops: object, mem: object) -> bool:
    return (
        is_int(ops)
        and is_int(mem)
        and MIN_OPS <= ops <= MAX_OPS  # type: ignore[operator]
        and MIN_MEM <= mem <= MAX_MEM  # type: ignore[operator]
    )


def write_key_file(
    path: str | os.PathLike[str],
    identity: Identity,
    passphrase: str,
    *,
    ops: int = MIN_OPS,
    mem: int = MIN_MEM,
) -> None:
    """Encrypt ``identity`` under ``passphrase`` into a new file of mode 0600.

    Refuses to overwrite (``FileExistsError``): losing a key file to a typo
    would lose every submission sealed to it.
    """
    if not _check_cost(ops, mem):
        raise ValueError(f"KDF cost must be ops {MIN_OPS}..{MAX_OPS}, mem {MIN_MEM}..{MAX_MEM}")
    # O_EXCL: never follow or clobber an existing file; 0600 from the first byte.
    # Opened before the (slow) KDF so a refused path fails at once.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask may only have removed bits; be exact anyway
        salt = _sodium.random_bytes(_sodium.PWHASH_SALT_BYTES)
        nonce = _sodium.random_bytes(_sodium.SECRETBOX_NONCE_BYTES)
        key = _sodium.argon2id(_passphrase_bytes(passphrase), salt, ops, mem)
        box = _sodium.secretbox(identity._secret_json(), nonce, key)
        doc = {
            "v": 1,
            "kdf": {"alg": KDF_ALG, "ops": ops, "mem": mem, "salt": b64e(salt)},
            "nonce": b64e(nonce),
            "box": b64e(box),
        }
        view = memoryview((json.dumps(doc, indent=1) + "\n").encode("ascii"))
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)


def _parse_secret(data: bytes) -> Identity:
    doc = load_json(data)
    if not isinstance(doc, dict):
        raise ValueError("secret is not an object")
    kind = _check_kind(doc.get("kind"))
    expected = {"kind", "label", "ed25519_seed"} | (
        {"x25519_secret"} if kind == "verifier" else set()
    )
    if set(doc) != expected or not isinstance(doc["label"], str):
        raise ValueError("unexpected secret fields")
    x = b64d(doc["x25519_secret"]) if kind == "verifier" else None
    return Identity(kind, doc["label"], x, b64d(doc["ed25519_seed"]))


def read_key_file(path: str | os.PathLike[str], passphrase: str) -> Identity:
    """Decrypt a key file. ``InvalidKeyFile`` for a malformed or out-of-bounds
    file (checked before any KDF work), ``WrongPassphrase`` if the box does not open."""
    pw = _passphrase_bytes(passphrase)
    with open(path, "rb") as fh:
        raw = fh.read(MAX_KEY_FILE_BYTES + 1)
    try:
        if len(raw) > MAX_KEY_FILE_BYTES:
            raise ValueError("key file too large")
        doc = load_json(raw)
        if not isinstance(doc, dict) or set(doc) != {"v", "kdf", "nonce", "box"}:
            raise ValueError("fields")
        if not is_int(doc["v"]) or doc["v"] != 1:
            raise ValueError("version")
        kdf = doc["kdf"]
        if not isinstance(kdf, dict) or set(kdf) != {"alg", "ops", "mem", "salt"}:
            raise ValueError("kdf fields")
        if kdf["alg"] != KDF_ALG:
            raise ValueError("kdf alg")
        # A weakened cost is a sign of tampering; an inflated one would let a
        # hostile file exhaust the laptop. Both are refused before any work.
        if not _check_cost(kdf["ops"], kdf["mem"]):
            raise ValueError("kdf cost out of bounds")
        salt = b64d(kdf["salt"])
        nonce = b64d(doc["nonce"])
        box = b64d(doc["box"])
        if len(salt) != _sodium.PWHASH_SALT_BYTES or len(nonce) != _sodium.SECRETBOX_NONCE_BYTES:
            raise ValueError("salt or nonce length")
    except (ValueError, TypeError) as exc:
        raise InvalidKeyFile() from exc
    key = _sodium.argon2id(pw, salt, kdf["ops"], kdf["mem"])
    secret = _sodium.secretbox_open(box, nonce, key)
    if secret is None:
        raise WrongPassphrase()
    try:
        return _parse_secret(secret)
    except (ValueError, TypeError) as exc:
        raise InvalidKeyFile() from exc


class Keyring:
    """The identities a tool holds; every verifier identity is tried on open."""

    def __init__(self, identities: Iterable[Identity]) -> None:
        self._identities = list(identities)
        for ident in self._identities:
            if not isinstance(ident, Identity):
                raise TypeError("a Keyring holds Identity objects")

    def __iter__(self) -> Iterator[Identity]:
        return iter(self._identities)

    def __len__(self) -> int:
        return len(self._identities)

    def find_x25519(self, kid_hex: str) -> Identity | None:
        """The verifier identity whose X25519 kid is ``kid_hex``."""
        for ident in self._identities:
            if ident.x25519_secret is not None and ident.kid == kid_hex:
                return ident
        return None

    def find_sign(self, kid_hex: str) -> Identity | None:
        """The identity whose Ed25519 kid is ``kid_hex``."""
        for ident in self._identities:
            if ident.sign_kid == kid_hex:
                return ident
        return None

    def verifiers(self) -> list[Identity]:
        """Identities that can open envelopes (they hold an X25519 secret)."""
        return [i for i in self._identities if i.x25519_secret is not None]


def check_passphrase_strength(passphrase: str) -> list[str]:
    """Problems with a passphrase (empty list if acceptable).

    Acceptable: at least 5 distinct words of 3+ characters, or at least 16
    characters drawing on 3 of: lower case, upper case, digits, other.
    Offline guessing is slowed by Argon2id, not stopped, so length matters.
    """
    text = unicodedata.normalize("NFC", passphrase)
    words = {w for w in text.split() if len(w) >= 3}
    if len(words) >= 5:
        return []
    classes = sum(
        (
            any(c.islower() for c in text),
            any(c.isupper() for c in text),
            any(c.isdigit() for c in text),
            any(not c.isalnum() for c in text),
        )
    )
    problems: list[str] = []
    if len(text) < 16:
        problems.append("too short: use at least 5 words, or 16 characters or more")
    if classes < 3:
        problems.append(
            "too uniform: mix lower case, upper case, digits and symbols, or use 5 words"
        )
    return problems
