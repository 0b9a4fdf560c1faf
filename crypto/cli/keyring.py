"""The keyring directory: *.key, trust-root.json, last-manifest.json (rollback memory)."""

from __future__ import annotations

import hmac
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import crypto

from .errors import SIGNATURE_REASONS, InputError, KeyFileError, TrustError
from .files import dump_json, read_json_file, write_file
from .keyfiles import ask_passphrase, env_passphrase, open_key_file

TRUST_ROOT_FILE = "trust-root.json"
LAST_MANIFEST_FILE = "last-manifest.json"


def keyring_dir(directory: Path) -> Path:
    if not directory.is_dir():
        raise InputError(
            f"keyring {directory} is not a directory",
            "pass --keyring DIR, the folder holding your *.key files and trust-root.json",
        )
    return directory


def load_keyring(directory: Path) -> crypto.Keyring:
    """Open every *.key file: one passphrase for all, or one per file on a terminal.

    A script sets INTAKE_PASSPHRASE (or INTAKE_PASSPHRASE_<FILE STEM> for a
    file with its own passphrase); a person types one passphrase, and is asked
    again only for a file that it does not open.
    """
    keyring_dir(directory)
    paths = sorted(p for p in directory.glob("*.key") if p.is_file())
    if not paths:
        raise KeyFileError(
            f"no *.key files in {directory}",
            "put your verifier key file (made by intake-verifier keygen) in the keyring folder",
        )
    identities: list[crypto.Identity] = []
    shared: str | None = None
    for path in paths:
        specific = env_passphrase(path)
        if specific is None:
            if shared is None:
                shared = ask_passphrase("Keyring passphrase")
            try:
                identities.append(open_key_file(path, shared))
                continue
            except KeyFileError:
                if not sys.stdin.isatty():
                    raise
            specific = ask_passphrase(f"Passphrase for {path.name}")
        identities.append(open_key_file(path, specific))
    return crypto.Keyring(identities)


def load_trust_root(directory: Path) -> crypto.TrustRoot:
    path = keyring_dir(directory) / TRUST_ROOT_FILE
    if not path.is_file():
        raise TrustError(
            f"no {TRUST_ROOT_FILE} in {directory}",
            "copy the trust root printed by `intake-admin init` into that file",
        )
    try:
        return crypto.TrustRoot.parse(path.read_text(encoding="utf-8"))
    except (ValueError, crypto.IntakeCryptoError, UnicodeDecodeError):
        raise TrustError(
            f"{path} is not a valid trust root",
            'it holds {"threshold": k, "admins": [kid, ...]} as printed by intake-admin init',
        ) from None


def load_chain_file(path: Path) -> list[dict[str, Any]]:
    """A chain as served by GET /api/v1/manifests, a bare list, or one manifest."""
    data = read_json_file(path, "chain file")
    return chain_from_json(data, str(path))


def chain_from_json(data: Any, where: str) -> list[dict[str, Any]]:
    chain: Any
    if isinstance(data, dict) and "chain" in data:
        chain = data["chain"]
    elif isinstance(data, dict) and "payloadType" in data:
        chain = [data]
    else:
        chain = data
    if not isinstance(chain, list) or not chain or not all(isinstance(x, dict) for x in chain):
        raise InputError(
            f"{where} holds no manifest chain",
            'expected {"chain": [manifest, ...]} as served by GET /api/v1/manifests',
        )
    return cast(list[dict[str, Any]], chain)


def verify_chain_or_fail(
    chain: Sequence[dict[str, Any]], root: crypto.TrustRoot
) -> list[crypto.Manifest]:
    try:
        return list(crypto.verify_chain(chain, root))
    except crypto.ManifestExpired as exc:
        raise TrustError(
            f"the newest manifest of the chain expired on {crypto.format_time(exc.expires)}",
            "ask the admins for a renewed manifest (intake-admin renew) and use the new chain",
        ) from None
    except crypto.InvalidSignature as exc:
        raise TrustError(
            "the manifest chain does not verify: " + SIGNATURE_REASONS.get(exc.reason, exc.reason),
            "do not use it; get the chain again and compare the trust root with the admins",
        ) from None


@dataclass(frozen=True)
class Remembered:
    version: int
    digest: bytes
    chain: list[dict[str, Any]]


def load_remembered(directory: Path) -> Remembered | None:
    path = directory / LAST_MANIFEST_FILE
    if not path.exists():
        return None
    data = read_json_file(path, "remembered manifest")
    try:
        version = data["version"]
        digest = crypto.b64d(data["digest"])
        chain = chain_from_json(data["chain"], str(path))
        if not isinstance(version, int) or isinstance(version, bool) or len(digest) != 32:
            raise ValueError
    except (KeyError, TypeError, ValueError, InputError):
        raise TrustError(
            f"{path} is damaged",
            "restore it from a backup; deleting it disables rollback protection",
        ) from None
    return Remembered(version, digest, chain)


def check_not_rolled_back(manifests: Sequence[crypto.Manifest], remembered: Remembered) -> None:
    """Refuse a chain older than, or forked from, the newest one this keyring has seen.

    PROTOCOL.md "Known limits": an admin set that has been rotated out could
    still sign a fork for a reader that only knows the genesis; remembering the
    newest verified manifest closes that for this laptop.
    """
    latest = manifests[-1]
    if latest.version < remembered.version:
        raise TrustError(
            f"rollback: this chain ends at manifest version {latest.version}, but this keyring "
            f"has already seen version {remembered.version}",
            "an old or forked chain was supplied; get the current chain from the server",
        )
    for manifest in manifests:
        if manifest.version == remembered.version:
            if not _digest_equal(manifest.digest, remembered.digest):
                raise TrustError(
                    f"fork: manifest version {manifest.version} of this chain differs from the one "
                    "this keyring has seen",
                    "two different manifests carry the same version: tell the admins at once",
                )
            return
    raise TrustError(
        f"fork: this chain does not contain manifest version {remembered.version}, "
        "which this keyring has seen",
        "get the full chain from the server; if it still lacks it, tell the admins",
    )


def _digest_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def trusted_chain(directory: Path, chain: Sequence[dict[str, Any]]) -> list[crypto.Manifest]:
    """Verify a chain from the pinned root, refuse rollback, and remember its newest link."""
    root = load_trust_root(directory)
    manifests = verify_chain_or_fail(chain, root)
    remembered = load_remembered(directory)
    if remembered is not None:
        check_not_rolled_back(manifests, remembered)
    if remembered is None or manifests[-1].version > remembered.version:
        latest = manifests[-1]
        record = {
            "type": "intake/last-manifest",
            "version": latest.version,
            "digest": crypto.b64e(latest.digest),
            "fingerprint": latest.fingerprint,
            "chain": list(chain),
        }
        write_file(directory / LAST_MANIFEST_FILE, dump_json(record), overwrite=True)
    return manifests


def current_manifest(directory: Path) -> crypto.Manifest:
    """The newest manifest this keyring has verified, checked again from the trust root."""
    remembered = load_remembered(directory)
    if remembered is None:
        raise TrustError(
            f"this keyring has not verified any manifest yet (no {LAST_MANIFEST_FILE})",
            "run `intake-verifier verify-chain CHAIN.json --keyring DIR` or decrypt a bundle first",
        )
    manifests = verify_chain_or_fail(remembered.chain, load_trust_root(directory))
    check_not_rolled_back(manifests, remembered)
    return manifests[-1]


def choose_signer(
    keyring: crypto.Keyring, manifest: crypto.Manifest, prefer_kid: str | None = None
) -> crypto.Identity:
    """The verifier identity that signs for us: listed in the manifest, active first."""
    listed = {v.kid: v for v in manifest.verifiers}
    candidates = [i for i in keyring.verifiers() if i.kid in listed]
    if not candidates:
        raise KeyFileError(
            "no verifier key in the keyring is listed in the current manifest",
            "the server accepts only listed verifiers; ask the admins to add your key",
        )
    candidates.sort(key=lambda i: (i.kid != prefer_kid, listed[i.kid].status != "active"))
    return candidates[0]
