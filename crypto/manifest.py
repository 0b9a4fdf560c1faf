"""Key manifests and the chain of trust from the pinned genesis (PROTOCOL.md v3).

A reader holds only the pinned admin set of genesis (``TrustRoot``) and walks
the chain: every link must be signed by a threshold of the previous admin set
*and* of its own (so a rotated set consented), versions strictly increase,
and only the latest link must be unexpired (v2). A reader that also holds an
anchor (v3: the newest manifest the page was rendered for) refuses a chain
that stops short of it or holds another manifest at its version.

Classes, in the order a link is checked: ``malformed`` (structure, kids that
do not match keys, insane thresholds), ``untrusted-root`` (genesis differs
from the pin), ``rollback``, then signatures per required set: too few valid
ones is ``bad-signature`` if a key of that set signed but its signature did
not verify, else ``threshold``. Then ``rollback`` for a chain that does not
reach the anchor, and finally ``expired`` for the latest link.
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crypto.dsse import MANIFEST_TYPE, dsse_check_signers, dsse_payload, dsse_sign
from crypto.encoding import (
    b64d,
    b64e,
    blake2b,
    canonical_json,
    fingerprint,
    format_time,
    is_int,
    is_kid,
    kid,
    load_json,
    parse_time,
)
from crypto.envelope import MAX_MANIFEST_VERSION, ManifestRef
from crypto.errors import InvalidSignature, ManifestExpired
from crypto.keys import PublicKey

MANIFEST_PAYLOAD_TYPE = "intake/manifest"
STATUSES = ("active", "retired")
_STANDARD_FIELDS = frozenset(
    {"type", "version", "issued", "expires", "org", "admins", "verifiers", "couriers"}
)
# (v3) The key-set fingerprint's domain and the byte of each verifier status.
KEY_SET_DOMAIN = b"intake/v3/key-set"
_STATUS_BYTE = {"active": 1, "retired": 2}


@dataclass(frozen=True)
class TrustRoot:
    """The pinned genesis admin set: kids and threshold, from deployment config."""

    threshold: int
    admin_kids: frozenset[str]

    def __post_init__(self) -> None:
        if not isinstance(self.admin_kids, frozenset) or not all(
            is_kid(k) for k in self.admin_kids
        ):
            raise ValueError("admin_kids must be a frozenset of kids")
        if not is_int(self.threshold) or not 1 <= self.threshold <= len(self.admin_kids):
            raise ValueError("threshold must be 1..number of admins")

    def to_json(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "admins": sorted(self.admin_kids)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrustRoot:
        """Parse ``{"threshold": n, "admins": [kid, ...]}`` (``ValueError`` if bad)."""
        if not isinstance(data, Mapping) or set(data) != {"threshold", "admins"}:
            raise ValueError("trust root must have exactly threshold and admins")
        admins = data["admins"]
        if (
            not isinstance(admins, list)
            or not all(is_kid(k) for k in admins)
            or len(set(admins)) != len(admins)
        ):
            raise ValueError("admins must be a list of distinct kids")
        return cls(threshold=data["threshold"], admin_kids=frozenset(admins))

    @classmethod
    def parse(cls, text: str) -> TrustRoot:
        return cls.from_json(load_json(text))


@dataclass(frozen=True)
class VerifierEntry:
    """A verifier as a manifest lists it; ``kid`` is the kid of its X25519 key."""

    kid: str
    label: str
    x25519: bytes
    ed25519: bytes
    status: str

    @property
    def sign_kid(self) -> str:
        return kid(self.ed25519)

    @property
    def active(self) -> bool:
        return self.status == "active"

    def to_json(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "label": self.label,
            "x25519": b64e(self.x25519),
            "ed25519": b64e(self.ed25519),
            "status": self.status,
        }

    @classmethod
    def from_public(cls, key: PublicKey, status: str = "active") -> VerifierEntry:
        if key.kind != "verifier" or key.x25519 is None:
            raise ValueError("not a verifier public key")
        if status not in STATUSES:
            raise ValueError("status must be active or retired")
        return cls(key.kid, key.label, key.x25519, key.ed25519, status)


@dataclass(frozen=True)
class Manifest:
    """A structurally valid manifest (whether it is *trusted* is ``verify_chain``'s job)."""

    payload: bytes
    data: dict[str, Any]
    version: int
    issued: datetime
    expires: datetime
    threshold: int
    admins: list[PublicKey]
    verifiers: list[VerifierEntry]
    couriers: list[PublicKey]
    envelope: dict[str, Any]

    @property
    def digest(self) -> bytes:
        """``H(32, payload)``: what envelope headers name."""
        return blake2b(32, self.payload)

    @property
    def ref(self) -> ManifestRef:
        return ManifestRef(self.version, self.digest)

    @property
    def fingerprint(self) -> str:
        """This manifest's own fingerprint: kid-style rendering of ``H(16, payload)``."""
        return fingerprint(blake2b(16, self.payload).hex())

    @property
    def key_set_fingerprint(self) -> str:
        """(v3) What applicants compare: kid-style rendering of ``H(16, key_set_bytes)``.

        It covers who may read and sign, not issue or expiry dates, so a renewal
        keeps it and any rotation, retirement or revocation changes it: a page
        served an old chain shows a key set the organisation no longer publishes.
        """
        return fingerprint(blake2b(16, key_set_bytes(self)).hex())

    @property
    def admin_keys(self) -> dict[str, bytes]:
        return {a.sign_kid: a.ed25519 for a in self.admins}

    def active_verifiers(self) -> list[VerifierEntry]:
        return [v for v in self.verifiers if v.active]

    def verifier_by_sign_kid(self, kid_hex: str) -> VerifierEntry | None:
        """Active or retired verifier whose Ed25519 kid is ``kid_hex``."""
        for v in self.verifiers:
            if v.sign_kid == kid_hex:
                return v
        return None

    def courier_by_kid(self, kid_hex: str) -> PublicKey | None:
        for c in self.couriers:
            if c.sign_kid == kid_hex:
                return c
        return None


def key_set_bytes(manifest: Manifest) -> bytes:
    """``"intake/v3/key-set" || u32be(threshold) || u32be(n) || admin kids (16 bytes
    each, ascending) || u32be(m) || per verifier, ascending by kid: kid || sign kid
    || status byte (1 active, 2 retired)``. Fixed-width fields and counts, so no
    two key sets share bytes; no JSON, so no canonicalisation to agree on."""
    admins = sorted(bytes.fromhex(a.sign_kid) for a in manifest.admins)
    verifiers = sorted(
        (bytes.fromhex(v.kid), bytes.fromhex(v.sign_kid), _STATUS_BYTE[v.status])
        for v in manifest.verifiers
    )
    out = [KEY_SET_DOMAIN, struct.pack(">II", manifest.threshold, len(admins)), *admins]
    out.append(struct.pack(">I", len(verifiers)))
    for vkid, skid, status in verifiers:
        out.append(vkid + skid + bytes([status]))
    return b"".join(out)


def _key(entry: object, field: str) -> bytes:
    if not isinstance(entry, dict):
        raise ValueError("entry must be an object")
    value = b64d(entry[field])
    if len(value) != 32:
        raise ValueError("keys are 32 bytes")
    return value


def _label(entry: dict[str, Any]) -> str:
    label = entry["label"]
    if not isinstance(label, str):
        raise ValueError("label must be a string")
    return label


def _signing_keys(entries: object, kind: str) -> list[PublicKey]:
    if not isinstance(entries, list):
        raise ValueError("key list")
    out = []
    for entry in entries:
        ed = _key(entry, "ed25519")
        # A manifest cannot name one key and list another.
        if entry["kid"] != kid(ed):
            raise ValueError("kid does not match key")
        out.append(PublicKey(kind, _label(entry), None, ed))
    if len({k.sign_kid for k in out}) != len(out):
        raise ValueError("duplicate kid")
    return out


def _verifier_entries(entries: object) -> list[VerifierEntry]:
    if not isinstance(entries, list):
        raise ValueError("verifiers")
    out = []
    for entry in entries:
        x = _key(entry, "x25519")
        ed = _key(entry, "ed25519")
        if entry["kid"] != kid(x):
            raise ValueError("kid does not match key")
        if entry["status"] not in STATUSES:
            raise ValueError("status")
        out.append(VerifierEntry(entry["kid"], _label(entry), x, ed, entry["status"]))
    if len({v.kid for v in out}) != len(out) or len({v.sign_kid for v in out}) != len(out):
        raise ValueError("duplicate verifier key")
    return out


def parse_manifest(envelope: Mapping[str, Any]) -> Manifest:
    """Check a DSSE manifest's structure (not its signatures); unknown fields are ignored."""
    payload_type, payload = dsse_payload(envelope)
    try:
        if payload_type != MANIFEST_TYPE:
            raise ValueError("payloadType")
        data = load_json(payload)
        if not isinstance(data, dict) or data.get("type") != MANIFEST_PAYLOAD_TYPE:
            raise ValueError("type")
        version = data["version"]
        if not is_int(version) or not 1 <= version <= MAX_MANIFEST_VERSION:
            raise ValueError("version")
        issued = parse_time(data["issued"])
        expires = parse_time(data["expires"])
        if not isinstance(data["org"], dict):
            raise ValueError("org")
        admins_doc = data["admins"]
        if not isinstance(admins_doc, dict):
            raise ValueError("admins")
        admins = _signing_keys(admins_doc["keys"], "admin")
        threshold = admins_doc["threshold"]
        if not is_int(threshold) or not 1 <= threshold <= len(admins):
            raise ValueError("threshold")
        verifiers = _verifier_entries(data["verifiers"])
        couriers = _signing_keys(data["couriers"], "courier")
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidSignature("malformed") from exc
    return Manifest(
        payload=payload,
        data=data,
        version=version,
        issued=issued,
        expires=expires,
        threshold=threshold,
        admins=admins,
        verifiers=verifiers,
        couriers=couriers,
        envelope=dict(envelope),
    )


def _require_signatures(
    envelope: Mapping[str, Any], keys: Mapping[str, bytes], threshold: int
) -> None:
    valid, failed = dsse_check_signers(envelope, keys)
    if len(valid) < threshold:
        raise InvalidSignature("bad-signature" if failed else "threshold")


def _check_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return now


def _accept_successor(current: Manifest, candidate: Mapping[str, Any]) -> Manifest:
    nxt = parse_manifest(candidate)
    if nxt.version <= current.version:
        raise InvalidSignature("rollback")
    # Rule 2: the admins trusted so far authorise the change.
    _require_signatures(candidate, current.admin_keys, current.threshold)
    # Rule 3: a rotated-in admin set has consented too.
    _require_signatures(candidate, nxt.admin_keys, nxt.threshold)
    return nxt


def _check_fresh(latest: Manifest, now: datetime) -> None:
    if latest.expires <= now:
        raise ManifestExpired(latest.expires)


def verify_genesis(envelope: Mapping[str, Any], root: TrustRoot) -> Manifest:
    """Genesis: version 1, exactly the pinned admin set, signed by its threshold."""
    genesis = parse_manifest(envelope)
    if (
        genesis.version != 1
        or frozenset(genesis.admin_keys) != root.admin_kids
        or genesis.threshold != root.threshold
    ):
        raise InvalidSignature("untrusted-root")
    _require_signatures(envelope, genesis.admin_keys, genesis.threshold)
    return genesis


def check_anchor(trusted: Sequence[Manifest], anchor: ManifestRef) -> None:
    """(v3) ``rollback`` unless the verified chain reaches ``anchor``: its latest
    version is at least the anchor's, and its link at that version has the
    anchor's digest. A server serving the chain as it was before a revocation
    (every link still validly signed) is refused this way, not by signatures."""
    if not isinstance(anchor, ManifestRef):
        raise TypeError("anchor must be a ManifestRef")
    link = next((m for m in trusted if m.version == anchor.version), None)
    # Constant time, as every digest comparison: the anchor is public, but a
    # habit that never leaks is cheaper than an argument about each case.
    if link is None or not hmac.compare_digest(link.digest, anchor.digest):
        raise InvalidSignature("rollback")


def parse_anchor(data: object) -> ManifestRef:
    """An anchor as pages carry it, ``{"version": N, "digest": "<b64 H(32, payload)>"}``;
    ``InvalidSignature("malformed")`` for anything else (a reader fails closed)."""
    try:
        if not isinstance(data, Mapping) or set(data) != {"version", "digest"}:
            raise ValueError("anchor keys")
        return ManifestRef(data["version"], b64d(data["digest"]))
    except (TypeError, ValueError) as exc:
        raise InvalidSignature("malformed") from exc


def anchor_json(manifest: Manifest) -> dict[str, Any]:
    """The anchor a page rendered for ``manifest`` carries (see ``parse_anchor``)."""
    return {"version": manifest.version, "digest": b64e(manifest.digest)}


def verify_chain(
    chain: Sequence[Mapping[str, Any]],
    root: TrustRoot,
    now: datetime | None = None,
    *,
    anchor: ManifestRef | None = None,
) -> list[Manifest]:
    """Walk ``chain`` (genesis first) from the pinned ``root``; the last item is the
    manifest to use. Only the latest link must be unexpired (v2). With an
    ``anchor`` (v3), a chain that does not reach it is a ``rollback``."""
    moment = _check_now(now)
    # The chain usually comes straight from hostile JSON: anything but a
    # non-empty list of links is malformed, not a TypeError.
    if not isinstance(chain, Sequence) or isinstance(chain, str | bytes) or not chain:
        raise InvalidSignature("malformed")
    trusted = [verify_genesis(chain[0], root)]
    for candidate in chain[1:]:
        trusted.append(_accept_successor(trusted[-1], candidate))
    if anchor is not None:
        check_anchor(trusted, anchor)
    _check_fresh(trusted[-1], moment)
    return trusted


def verify_successor(
    current: Manifest, candidate: Mapping[str, Any], now: datetime | None = None
) -> Manifest:
    """Accept ``candidate`` as the next manifest after the trusted ``current``."""
    moment = _check_now(now)
    nxt = _accept_successor(current, candidate)
    _check_fresh(nxt, moment)
    return nxt


def build_manifest_payload(
    *,
    version: int,
    issued: datetime,
    expires: datetime,
    org: Mapping[str, Any],
    threshold: int,
    admins: Sequence[PublicKey],
    verifiers: Sequence[VerifierEntry],
    couriers: Sequence[PublicKey],
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    """Canonical JSON payload of a manifest (sorted keys, no spaces, UTF-8)."""
    if not is_int(version) or version < 1:
        raise ValueError("version must be >= 1")
    if not is_int(threshold) or not 1 <= threshold <= len(admins):
        raise ValueError("threshold must be 1..number of admins")
    data: dict[str, Any] = {
        "type": MANIFEST_PAYLOAD_TYPE,
        "version": version,
        "issued": format_time(issued),
        "expires": format_time(expires),
        "org": dict(org),
        "admins": {
            "threshold": threshold,
            "keys": [
                {"kid": a.sign_kid, "ed25519": b64e(a.ed25519), "label": a.label} for a in admins
            ],
        },
        "verifiers": [v.to_json() for v in verifiers],
        "couriers": [
            {"kid": c.sign_kid, "label": c.label, "ed25519": b64e(c.ed25519)} for c in couriers
        ],
    }
    if extra:
        clash = _STANDARD_FIELDS & set(extra)
        if clash:
            raise ValueError(f"extra must not replace {sorted(clash)}")
        data.update(extra)
    payload = canonical_json(data)
    # Refuse to emit what a reader would refuse (duplicate kids, bad statuses...).
    try:
        parse_manifest(dsse_sign(MANIFEST_TYPE, payload, []))
    except InvalidSignature as exc:
        raise ValueError("these fields do not make a valid manifest") from exc
    return payload
