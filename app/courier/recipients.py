"""Which stored envelopes are sealed to which verifier keys (the revocation report).

When a verifier key is revoked (lost, or worse), the admins and verifiers must
know which submissions still held here can be opened with it, so they can
rewrap or purge them. The database keeps no recipient list (it would be one
more thing to keep in step with rewraps); the envelope headers are the truth,
and reading a header needs no key (`crypto.read_header`), so the report reads
each stored blob's prefix. Only couriers may ask: recipient kids per
submission are metadata the public has no business with.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

import crypto
from app import clock
from app.db import read_session
from app.models import Envelope, Submission
from app.runtime import Runtime
from app.storage import BlobMissing


def report(runtime: Runtime, kid: str | None = None) -> dict[str, Any]:
    """Every held submission with each envelope's manifest version and
    recipient kids; with `kid`, only those with an envelope sealed to it."""
    with read_session(runtime.engine) as session:
        rows = session.execute(
            select(
                Submission.id,
                Submission.kind,
                Submission.state,
                Submission.created,
                Submission.completed,
                Envelope.eid,
                Envelope.digest,
            )
            .join(Envelope, Envelope.submission_id == Submission.id)
            .where(Envelope.digest.is_not(None))
            .order_by(Submission.created, Submission.id, Envelope.position)
        ).all()
    # Blob reads run with no transaction open (see app.submissions.service).
    submissions: dict[str, dict[str, Any]] = {}
    scanned = 0
    for sid, kind, state, created, completed, eid, digest in rows:
        entry = submissions.setdefault(
            sid,
            {
                "id": sid,
                "kind": kind,
                "state": state,
                "received": clock.rfc3339(completed or created),
                "envelopes": [],
            },
        )
        if digest is None:  # pragma: no cover - the query selects stored envelopes only
            continue
        try:
            with runtime.blobs.open(digest) as src:
                header = crypto.read_header(src)
        except (BlobMissing, crypto.InvalidEnvelope):
            # Vanished (deleted by a receipt meanwhile) or unreadable: say so
            # rather than leave it out, so nothing is silently assumed safe.
            entry["envelopes"].append({"id": eid, "manifest": None, "recipients": None})
            continue
        scanned += 1
        entry["envelopes"].append(
            {
                "id": eid,
                "manifest": header.manifest.version,
                "recipients": sorted(header.recipient_kids),
            }
        )
    listed = list(submissions.values())
    if kid is not None:
        listed = [
            s
            for s in listed
            if any(e["recipients"] is None or kid in e["recipients"] for e in s["envelopes"])
        ]
    return {"kid": kid, "scanned": scanned, "submissions": listed}
