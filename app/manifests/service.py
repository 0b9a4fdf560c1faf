"""Key manifests: the chain the server serves and the rules for extending it.

The server checks every manifest exactly as a reader would (genesis against
the pinned trust root, each successor against its predecessor), so it never
serves a chain that browsers would refuse.
"""

from __future__ import annotations

import hmac
import json
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import crypto
from app import clock
from app.errors import (
    IntakeError,
    ManifestConflict,
    ManifestRejected,
    ManifestSuperseded,
    ManifestUnknown,
    NoManifest,
    TrustRootMissing,
)
from app.models import ManifestRow, SiteDocumentRow
from app.settings import Settings


class ManifestCache:
    """Parsed manifests by (version, digest): rows never change once stored,
    so parsing each once per process is enough."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[int, str], crypto.Manifest] = {}
        self._chain: tuple[tuple[int, str] | None, bytes] | None = None
        self._lock = threading.Lock()

    def parse(self, row: ManifestRow) -> crypto.Manifest:
        key = (row.version, row.digest)
        with self._lock:
            cached = self._parsed.get(key)
        if cached is not None:
            return cached
        manifest = crypto.parse_manifest(json.loads(row.envelope))
        with self._lock:
            self._parsed[key] = manifest
        return manifest

    def chain_document(self, session: Session, settings: Settings) -> bytes:
        """`GET /api/v1/manifests` as bytes, rebuilt only when a newer
        manifest was accepted (rows are append-only)."""
        latest = latest_row(session)
        key = (latest.version, latest.digest) if latest is not None else None
        with self._lock:
            if self._chain is not None and self._chain[0] == key:
                return self._chain[1]
        document = {"chain": chain_envelopes(session), "trust_root": trust_root_json(settings)}
        body = json.dumps(document, ensure_ascii=False).encode()
        with self._lock:
            self._chain = (key, body)
        return body


def trust_root(settings: Settings) -> crypto.TrustRoot | None:
    if not settings.trust_root:
        return None
    return crypto.TrustRoot.parse(settings.trust_root)


def trust_root_json(settings: Settings) -> dict[str, Any] | None:
    if not settings.trust_root:
        return None
    data = json.loads(settings.trust_root)
    return {"threshold": data["threshold"], "admins": list(data["admins"])}


def chain_rows(session: Session) -> list[ManifestRow]:
    return list(session.scalars(select(ManifestRow).order_by(ManifestRow.version)))


def chain_envelopes(session: Session) -> list[dict[str, Any]]:
    return [json.loads(row.envelope) for row in chain_rows(session)]


def latest_row(session: Session) -> ManifestRow | None:
    return session.scalars(
        select(ManifestRow).order_by(ManifestRow.version.desc()).limit(1)
    ).first()


def current(session: Session, cache: ManifestCache) -> crypto.Manifest:
    """The latest manifest; `NoManifest` if none was ever accepted."""
    row = latest_row(session)
    if row is None:
        raise NoManifest()
    return cache.parse(row)


def accept(
    session: Session, settings: Settings, cache: ManifestCache, envelope: dict[str, Any]
) -> crypto.Manifest:
    """Verifies `envelope` as genesis (none stored) or as the successor of
    the latest manifest, and stores it."""
    latest = latest_row(session)
    try:
        if latest is None:
            root = trust_root(settings)
            if root is None:
                raise TrustRootMissing()
            manifest = crypto.verify_chain([envelope], root)[-1]
        else:
            manifest = crypto.verify_successor(cache.parse(latest), envelope)
    except crypto.InvalidSignature as exc:
        raise ManifestRejected(exc.reason) from exc
    row = ManifestRow(version=manifest.version, payload=manifest.payload)
    store_signed(session, row, envelope, manifest.digest, ManifestConflict)
    return manifest


def store_signed(
    session: Session,
    row: ManifestRow | SiteDocumentRow,
    envelope: dict[str, Any],
    digest: bytes,
    clash: type[IntakeError],
) -> None:
    """Stores a verified manifest or site document as both are kept (canonical
    JSON, digest, the hour accepted); in a savepoint, so a key another request
    took first raises `clash` and leaves the caller's transaction usable."""
    row.envelope = json.dumps(envelope, separators=(",", ":"), sort_keys=True)
    row.digest = digest.hex()
    row.accepted = clock.hour()
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        raise clash() from exc


def for_envelope(
    session: Session,
    settings: Settings,
    cache: ManifestCache,
    ref: crypto.ManifestRef,
    *,
    allow_superseded: bool = False,
) -> crypto.Manifest:
    """The manifest an envelope header names, if new envelopes may still be
    sealed to it: the latest, or the one before it during the grace period
    after a rotation (so uploads sealed just before it are not lost)."""
    row = session.get(ManifestRow, ref.version)
    # Constant-time: nothing secret here, but comparing digests one way everywhere.
    if row is None or not hmac.compare_digest(bytes.fromhex(row.digest), ref.digest):
        raise ManifestUnknown()
    if not allow_superseded:
        successor = session.scalars(
            select(ManifestRow)
            .where(ManifestRow.version > row.version)
            .order_by(ManifestRow.version)
            .limit(1)
        ).first()
        if successor is not None:
            grace = timedelta(hours=settings.manifest_grace_hours)
            if clock.now() > successor.accepted + grace:
                raise ManifestSuperseded()
    return cache.parse(row)


# The admin tool, `intake status` and GET /api/v1/status warn this long before
# the latest manifest expires: an expired manifest stops every new submission.
# Half of the 30 days manifests are valid (PROTOCOL.md v3), so the warning is
# the routine reminder to renew, not a constant state.
EXPIRY_WARNING_DAYS = 14


def expiry_info(manifest: crypto.Manifest, now: datetime | None = None) -> dict[str, Any]:
    """When the latest manifest expires, and whether admins must renew it soon."""
    moment = now or clock.now()
    left = manifest.expires - moment
    return {
        "version": manifest.version,
        "fingerprint": manifest.fingerprint,
        # What the pages show applicants to compare (PROTOCOL.md v3).
        "key_set_fingerprint": manifest.key_set_fingerprint,
        "expires": clock.rfc3339(manifest.expires),
        "expires_in_days": max(left.days, 0) if left > timedelta(0) else 0,
        "expiring_soon": timedelta(0) < left <= timedelta(days=EXPIRY_WARNING_DAYS),
        "expired": left <= timedelta(0),
    }


def signers_of(manifest: crypto.Manifest, previous: crypto.Manifest | None) -> list[str]:
    """Kids of the admins whose signature on `manifest` verifies: its own admin
    set and, for a successor, the set before it (both must have signed)."""
    keys = dict(manifest.admin_keys)
    if previous is not None:
        keys.update(previous.admin_keys)
    return sorted(crypto.dsse_check_signers(manifest.envelope, keys)[0])


def audit_entries(session: Session, cache: ManifestCache) -> list[dict[str, Any]]:
    """Every manifest version with who signed it and when this server accepted
    it (to the hour). Anyone holding the trust root can check the signatures
    from the chain itself; only `accepted` rests on the server's word."""
    entries: list[dict[str, Any]] = []
    previous: crypto.Manifest | None = None
    for row in chain_rows(session):
        manifest = cache.parse(row)
        entries.append(
            {
                "version": manifest.version,
                "digest": crypto.b64e(manifest.digest),
                "fingerprint": manifest.fingerprint,
                "issued": clock.rfc3339(manifest.issued),
                "expires": clock.rfc3339(manifest.expires),
                "accepted": clock.rfc3339(row.accepted),
                "signed_by": signers_of(manifest, previous),
            }
        )
        previous = manifest
    return entries
