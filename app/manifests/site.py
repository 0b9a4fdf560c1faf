"""Signed site documents: the admins' digests of every file the applicant's pages load.

The server stores and serves them; it checks each one as an outside reader
would (signed by a threshold of the *current* manifest's admins), so it never
serves a document that `intake-admin check-site` would refuse for its
signatures. The server cannot forge one: it holds no admin key.

Version 3 documents also sign the security headers every listed response must
carry; version-2 documents (without `headers`) are still accepted, so a
deployment can upgrade before its admins sign again, but `check-site` fails
on them unless told `--allow-unsigned-headers` (docs/PROTOCOL.md).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import crypto
from app import clock
from app.manifests import service
from app.manifests.errors import NoSiteDocument, SiteRejected, SiteStale
from app.manifests.service import ManifestCache
from app.models import SiteDocumentRow
from crypto.site import SiteDocument, parse_site, verify_site


def site_rows(session: Session) -> list[SiteDocumentRow]:
    return list(session.scalars(select(SiteDocumentRow).order_by(SiteDocumentRow.issued)))


def latest_row(session: Session) -> SiteDocumentRow | None:
    return session.scalars(
        select(SiteDocumentRow).order_by(SiteDocumentRow.issued.desc()).limit(1)
    ).first()


def latest_envelope(session: Session) -> dict[str, Any]:
    row = latest_row(session)
    if row is None:
        raise NoSiteDocument()
    envelope: dict[str, Any] = json.loads(row.envelope)
    return envelope


def accept(session: Session, cache: ManifestCache, envelope: dict[str, Any]) -> SiteDocument:
    """Verify `envelope` under the current manifest and store it, if it is
    newer than the one held (no credentials exist, so anyone may re-post an
    old signed document: it must not roll the served one back)."""
    current = service.current(session, cache)
    try:
        doc = verify_site(envelope, current)
    except crypto.InvalidSignature as exc:
        raise SiteRejected(exc.reason) from exc
    latest = latest_row(session)
    if latest is not None and doc.issued <= latest.issued:
        raise SiteStale()
    row = SiteDocumentRow(issued=doc.issued, manifest_version=doc.manifest_version)
    service.store_signed(session, row, envelope, doc.digest, SiteStale)
    return doc


def summary(session: Session, cache: ManifestCache) -> dict[str, Any] | None:
    """The served document in brief, and whether the current admins' signatures
    still meet the threshold (after an admin rotation they must sign again)."""
    row = latest_row(session)
    if row is None:
        return None
    envelope = json.loads(row.envelope)
    doc = parse_site(envelope)
    current = service.current(session, cache)
    signed = crypto.dsse_check_signers(envelope, current.admin_keys)[0]
    return {
        "issued": clock.rfc3339(doc.issued),
        "manifest_version": doc.manifest_version,
        "files": len(doc.files),
        "version": doc.version,
        "headers_signed": doc.headers is not None,
        "signed_by_current_admins": len(signed),
        "valid_for_current_manifest": len(signed) >= current.threshold,
    }


def audit_entries(session: Session, cache: ManifestCache) -> list[dict[str, Any]]:
    """Every site document accepted, with who signed it (any admin the chain
    has ever listed) and the document itself, so the log can be checked."""
    admin_keys: dict[str, bytes] = {}
    for manifest_row in service.chain_rows(session):
        admin_keys.update(cache.parse(manifest_row).admin_keys)
    entries = []
    for row in site_rows(session):
        envelope = json.loads(row.envelope)
        entries.append(
            {
                "issued": clock.rfc3339(row.issued),
                "manifest_version": row.manifest_version,
                "digest": crypto.b64e(bytes.fromhex(row.digest)),
                "accepted": clock.rfc3339(row.accepted),
                "signed_by": sorted(crypto.dsse_check_signers(envelope, admin_keys)[0]),
                "envelope": envelope,
            }
        )
    return entries
