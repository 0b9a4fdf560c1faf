"""Retention and housekeeping (`intake purge`) and a health summary
(`intake status`). Purge is idempotent and safe to run while the server runs.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import delete, func, select

from app import clock
from app.courier.service import delete_orphans
from app.db import forget_deleted, read_connection, read_session, rowcount, transaction
from app.mailbox import service as mailbox
from app.manifests import service as manifests
from app.manifests import site as site_documents
from app.migrate import alembic_config
from app.models import Envelope, Receipt, Reply, SeenSignature, SpentChallenge, Submission
from app.runtime import Runtime
from app.storage import BlobMissing, guarded_path


@dataclass
class PurgeReport:
    abandoned_uploads: int = 0
    expired_signatures: int = 0
    expired_challenges: int = 0
    replies: int = 0
    receipts: int = 0
    partials: int = 0
    repaired: int = 0
    blobs: int = 0
    temporaries: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def purge(runtime: Runtime, now: datetime | None = None) -> PurgeReport:
    settings = runtime.settings
    now = now or clock.now()
    report = PurgeReport()

    with transaction(runtime.session_factory) as session:
        cutoff = now - timedelta(hours=settings.upload_expiry_hours)
        abandoned = list(
            session.scalars(
                select(Submission).where(
                    Submission.state == "uploading", Submission.created < cutoff
                )
            )
        )
        for submission in abandoned:
            session.delete(submission)
        report.abandoned_uploads = len(abandoned)

        report.expired_signatures = rowcount(
            session.execute(delete(SeenSignature).where(SeenSignature.expires < now))
        )
        report.expired_challenges = rowcount(
            session.execute(delete(SpentChallenge).where(SpentChallenge.expires < now))
        )
        # The same rule the mailbox applies when it serves replies.
        report.replies = mailbox.purge(session, settings, now)
        referenced = select(Envelope.digest).where(Envelope.digest.is_not(None))
        report.receipts = rowcount(
            session.execute(delete(Receipt).where(Receipt.digest.not_in(referenced)))
        )
        rows = {
            (sid, eid): digest
            for sid, eid, digest in session.execute(
                select(Envelope.submission_id, Envelope.eid, Envelope.digest)
            )
        }
        held = {digest for digest in rows.values() if digest is not None}

    # Blob work runs with no transaction open (see app.submissions.service).
    blobs = runtime.blobs
    report.repaired = finish_interrupted_moves(runtime, rows)
    report.partials = _discard_settled_partials(runtime, rows)
    orphans = [key for key in blobs.list_blobs() if key not in held]
    report.blobs = delete_orphans(runtime, orphans)
    clean_tmp = getattr(blobs, "clean_tmp", None)
    if clean_tmp is not None:
        report.temporaries = int(clean_tmp())
    forget_deleted(runtime.engine)
    return report


def finish_interrupted_moves(
    runtime: Runtime, rows: dict[tuple[str, str], str | None] | None = None
) -> int:
    """Moves into the blob store every envelope its row already names complete
    but whose bytes a killed process left in `partial/`. Run at start-up, so an
    acknowledged submission is pullable without waiting for `intake purge`.
    `rows` maps (submission, envelope) to digest; read from the database when
    not given."""
    if rows is None:
        with read_session(runtime.engine) as session:
            rows = {
                (sid, eid): digest
                for sid, eid, digest in session.execute(
                    select(Envelope.submission_id, Envelope.eid, Envelope.digest).where(
                        Envelope.digest.is_not(None)
                    )
                )
            }
    repaired = 0
    blobs = runtime.blobs
    for upload in list(blobs.list_partials()):
        digest = rows.get(_upload_key(upload))
        if digest is not None and not blobs.exists(digest):
            with contextlib.suppress(BlobMissing):  # raced with the upload itself
                blobs.commit_partial(upload, digest)
                repaired += 1
    return repaired


def _discard_settled_partials(runtime: Runtime, rows: dict[tuple[str, str], str | None]) -> int:
    """Drops partials no row names, and those of envelopes already stored;
    uploads in progress keep theirs."""
    discarded = 0
    for upload in list(runtime.blobs.list_partials()):
        key = _upload_key(upload)
        if key not in rows or rows[key] is not None:
            runtime.blobs.discard_partial(upload)
            discarded += 1
    return discarded


def _upload_key(upload: str) -> tuple[str, str]:
    sid, _, eid = upload.partition(".")
    return sid, eid


def database_revision(runtime: Runtime) -> tuple[str | None, str | None]:
    """(current, head) Alembic revisions."""
    head = ScriptDirectory.from_config(alembic_config(runtime.settings)).get_current_head()
    with read_connection(runtime.engine) as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, head


def status(runtime: Runtime) -> dict[str, Any]:
    current, head = database_revision(runtime)
    info: dict[str, Any] = {
        "database": {"revision": current, "head": head, "up_to_date": current == head},
        "trust_root": manifests.trust_root_json(runtime.settings),
        "blob_backend": runtime.settings.blob_backend,
    }
    if current != head:
        return info
    with read_session(runtime.engine) as session:
        rows = manifests.chain_rows(session)
        if rows:
            latest = runtime.manifests.parse(rows[-1])
            expiry = manifests.expiry_info(latest)
            info["manifest"] = {
                "versions": [row.version for row in rows],
                "latest": latest.version,
                "expires": expiry["expires"],
                "expired": latest.expires < clock.now(),
                "expires_in_days": expiry["expires_in_days"],
                "expiring_soon": expiry["expiring_soon"],
                "fingerprint": latest.fingerprint,
            }
            if expiry["expired"] or expiry["expiring_soon"]:
                info["warnings"] = [
                    f"manifest version {latest.version} expires {expiry['expires']}: "
                    "admins must sign a renewal (intake-admin renew) and publish it"
                ]
            info["site"] = site_documents.summary(session, runtime.manifests)
        else:
            info["manifest"] = None
        info["submissions"] = dict(
            session.execute(select(Submission.state, func.count()).group_by(Submission.state)).all()
        )
        info["replies"] = session.scalar(select(func.count()).select_from(Reply))
    path = guarded_path(runtime.settings)
    if path is not None and path.exists():
        from app.storage import free_bytes

        info["disk"] = {
            "path": str(path),
            "free_bytes": free_bytes(path),
            "min_free_bytes": runtime.settings.min_free_bytes,
        }
    return info
