"""What couriers do: list and pull submissions, push receipts, replies and
rewraps. Every pushed file is verified whole before any of it is applied."""

from __future__ import annotations

import hmac
import io
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

import crypto
from app import clock
from app.courier import bundle
from app.db import read_session, transaction
from app.errors import (
    EnvelopeRejected,
    InvalidRequest,
    ReceiptRejected,
    ReplyRejected,
    RewrapRejected,
)
from app.manifests import service as manifests
from app.models import Envelope, Receipt, Reply, Submission
from app.runtime import Runtime
from app.storage import BlobMissing
from app.submissions import service as submissions

_IN_BATCH = 500  # bound on IN (...) lists
_MAILBOX = re.compile(r"\A[0-9a-f]{64}\Z")

log = logging.getLogger("intake.courier")


def _batches(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), _IN_BATCH):
        yield values[start : start + _IN_BATCH]


def _items(data: dict[str, Any], type_name: str, key: str) -> list[dict[str, Any]]:
    """The list of a pushed file, after checking its declared type."""
    items = data.get(key)
    if data.get("type") != type_name or not isinstance(items, list):
        raise InvalidRequest(f"Expected a {type_name} file.")
    if not all(isinstance(item, dict) for item in items):
        raise InvalidRequest(f"Every entry of {key} must be an object.")
    return items


def _b64(value: object, size: int | None = None) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not base64 text")
    data = crypto.b64d(value)
    if size is not None and len(data) != size:
        raise ValueError("wrong length")
    return data


def _referenced(session: Session, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for batch in _batches(keys):
        found.update(
            digest
            for digest in session.scalars(select(Envelope.digest).where(Envelope.digest.in_(batch)))
            if digest is not None
        )
    return found


# -- listing and bundles --------------------------------------------------------


def listing(session: Session) -> list[dict[str, Any]]:
    return [
        {
            "id": submission.id,
            "kind": submission.kind,
            "received": clock.rfc3339(submission.completed or submission.created),
            "size": sum(envelope.size for envelope in submission.envelopes),
        }
        for submission in submissions.pending(session)
    ]


def _hours(submission: Submission) -> int:
    when = submission.completed or submission.created
    return int(when.timestamp()) // 3600


def plan_bundle(
    session: Session, runtime: Runtime, limit: int, watermark: bundle.Watermark | None = None
) -> bundle.Layout:
    """The bundle of the oldest `limit` complete submissions (only those the
    `watermark` names, when resuming one), laid out but not read."""
    chosen: list[bundle.PlannedSubmission] = []
    marks: list[tuple[int, str]] = []
    for submission in submissions.pending(session):
        if len(chosen) >= limit:
            break
        hours = _hours(submission)
        if watermark is not None:
            held = watermark.holds(hours, submission.id)
            if held is None:
                break
            if not held:
                continue
        try:
            planned = _plan_submission(runtime, submission)
        except (BlobMissing, bundle.BundleChanged) as exc:
            # A complete submission whose bytes are gone or damaged: leave it
            # out (it cannot be opened anyway) and tell the operator.
            log.error("submission left out of a bundle: %s", type(exc).__name__)
            continue
        chosen.append(planned)
        marks.append((hours, submission.id))
    return bundle.layout(manifests.chain_envelopes(session), chosen, bundle.Watermark.of(marks))


def _plan_submission(runtime: Runtime, submission: Submission) -> bundle.PlannedSubmission:
    meta: dict[str, Any] = {
        "id": submission.id,
        "kind": submission.kind,
        "received": clock.rfc3339(submission.completed or submission.created),
        "envelopes": [],
    }
    planned = bundle.PlannedSubmission(meta=meta, envelopes=[])
    for envelope in submission.envelopes:
        if envelope.digest is None:  # pragma: no cover - complete implies digests
            continue
        # The stored size, not the declared one: a rewrap may have changed it.
        piece = bundle.blob_piece(runtime.blobs, envelope.digest)
        meta["envelopes"].append(
            {
                "id": envelope.eid,
                "size": piece.size,
                "digest": crypto.b64e(bytes.fromhex(envelope.digest)),
            }
        )
        planned.envelopes.append((envelope.eid, piece))
    return planned


# -- receipts -------------------------------------------------------------------


@dataclass
class ReceiptOutcome:
    accepted: int
    deleted: list[str]
    orphaned: set[str]  # blob keys no envelope references any more


def apply_receipts(
    session: Session, manifest: crypto.Manifest, data: dict[str, Any]
) -> ReceiptOutcome:
    """Stores verified receipts, then deletes every complete submission whose
    envelopes are all receipted. Blobs are deleted by the caller after the
    commit (`delete_orphans`), so a failed commit loses nothing."""
    parsed: list[tuple[str, str, bytes]] = []
    for index, item in enumerate(_items(data, "intake/receipts", "receipts")):
        try:
            raw_digest = _b64(item.get("digest"), 32)
            sig = _b64(item.get("sig"))
            kid = item.get("kid")
            if not isinstance(kid, str):
                raise ValueError("kid")
            # Only a verifier of the current manifest (active or retired) can
            # release ciphertext for deletion; a courier key cannot.
            crypto.verify_receipt(raw_digest, kid, sig, manifest)
        except (ValueError, crypto.InvalidSignature) as exc:
            raise ReceiptRejected(index=index) from exc
        parsed.append((raw_digest.hex(), kid, sig))

    held = _referenced(session, sorted({key for key, _, _ in parsed}))
    accepted = 0
    for key, kid, sig in parsed:
        if key not in held:
            continue  # already deleted, or never here: nothing to do
        accepted += 1
        if session.get(Receipt, (key, kid)) is None:
            session.add(Receipt(digest=key, kid=kid, sig=sig, created=clock.hour()))
    session.flush()

    touched: set[str] = set()
    for batch in _batches(sorted(held)):
        touched.update(
            session.scalars(select(Envelope.submission_id).where(Envelope.digest.in_(batch)))
        )
    deleted: list[str] = []
    candidates: set[str] = set()
    for sid in sorted(touched):
        submission = session.get(Submission, sid)
        if submission is None or submission.state != "complete":
            continue
        digests = [envelope.digest for envelope in submission.envelopes]
        if any(digest is None for digest in digests):  # pragma: no cover - complete implies digests
            continue
        keys = [digest for digest in digests if digest is not None]
        receipted = set(session.scalars(select(Receipt.digest).where(Receipt.digest.in_(keys))))
        if set(keys) <= receipted:
            candidates.update(keys)
            session.delete(submission)
            deleted.append(sid)
    session.flush()
    orphaned = candidates - _referenced(session, sorted(candidates))
    for batch in _batches(sorted(orphaned)):
        session.execute(delete(Receipt).where(Receipt.digest.in_(batch)))
    return ReceiptOutcome(accepted=accepted, deleted=deleted, orphaned=orphaned)


def delete_orphans(runtime: Runtime, keys: Iterable[str]) -> int:
    """Deletes blobs that no envelope references (re-checked now, after the
    transaction that released them has committed)."""
    wanted = sorted(keys)
    with read_session(runtime.engine) as session:
        still = _referenced(session, wanted)
    count = 0
    for key in wanted:
        if key not in still:
            runtime.blobs.delete(key)
            count += 1
    return count


# -- replies --------------------------------------------------------------------


def store_replies(
    session: Session, runtime: Runtime, manifest: crypto.Manifest, data: dict[str, Any]
) -> int:
    """Stores verified replies by mailbox; a reply pushed twice is kept once."""
    parsed: list[Reply] = []
    for index, item in enumerate(_items(data, "intake/replies", "replies")):
        try:
            mailbox = item.get("mailbox")
            kid = item.get("kid")
            if not isinstance(mailbox, str) or not _MAILBOX.match(mailbox):
                raise ValueError("mailbox")
            if not isinstance(kid, str):
                raise ValueError("kid")
            envelope = _b64(item.get("envelope"))
            if len(envelope) > runtime.settings.max_reply_bytes:
                raise ValueError("too large")
            header = crypto.read_header(io.BytesIO(envelope))
            if header.kind != "reply":
                raise ValueError("not a reply")
            crypto.check_payload_framing(header, len(envelope) - len(header.prefix))
            sig = _b64(item.get("sig"))
            # Browsers check this too; the server refuses to be a channel for
            # anything not signed by a verifier of the current manifest.
            crypto.verify_reply(envelope, kid, sig, manifest)
        except (ValueError, crypto.IntakeCryptoError) as exc:
            raise ReplyRejected(index=index) from exc
        parsed.append(
            Reply(mailbox=mailbox, envelope=envelope, kid=kid, sig=sig, created=clock.hour())
        )
    accepted = 0
    for reply in parsed:
        existing = session.scalars(
            select(Reply.id).where(Reply.mailbox == reply.mailbox, Reply.sig == reply.sig)
        ).first()
        if existing is None:
            session.add(reply)
            accepted += 1
    session.flush()
    return accepted


# -- rewraps --------------------------------------------------------------------


def apply_rewraps(runtime: Runtime, manifest: crypto.Manifest, data: dict[str, Any]) -> int:
    """Replaces envelope prefixes after key rotation. Each entry must be signed
    by a verifier of the current manifest (active or retired): the courier key
    that carried the file is not enough, or a stolen courier key could replace
    every prefix with garbage and make the ciphertext unopenable. The new
    prefix must be well formed, keep the same stream header, chunk size and
    kind (so the payload still decrypts), and be sealed to exactly the active
    verifiers of a manifest the server holds. One bad entry refuses the whole
    file. Runs its own short transactions: blob rewrites happen with none open."""
    settings = runtime.settings
    wanted: list[tuple[str, crypto.EnvelopeHeader]] = []
    for index, item in enumerate(_items(data, "intake/rewraps", "rewraps")):
        try:
            digest = _b64(item.get("digest"), 32)
            prefix = _b64(item.get("prefix"))
            if len(prefix) > 12 + settings.max_header_bytes + 32:
                raise ValueError("prefix too large")
            kid = item.get("kid")
            if not isinstance(kid, str):
                raise ValueError("kid")
            crypto.verify_rewrap(digest, prefix, kid, _b64(item.get("sig")), manifest)
            header = crypto.parse_prefix(prefix)
        except (ValueError, crypto.IntakeCryptoError) as exc:
            raise RewrapRejected(index=index) from exc
        wanted.append((digest.hex(), header))

    with read_session(runtime.engine) as session:
        held = _referenced(session, sorted({key for key, _ in wanted}))

    uploads = submissions.Uploads(runtime)
    plan: list[tuple[str, int, bytes]] = []
    for index, (key, new) in enumerate(wanted):
        if key not in held:
            continue
        try:
            with runtime.blobs.open(key) as src:
                old = crypto.read_header(src)
        except BlobMissing:
            continue  # receipted and deleted meanwhile: nothing to rewrap
        same_stream = hmac.compare_digest(old.stream_header, new.stream_header)
        if not same_stream or old.chunk != new.chunk or old.kind != new.kind or old.v != new.v:
            raise RewrapRejected(index=index)
        try:
            uploads.check_header(new, old.kind)
        except EnvelopeRejected as exc:
            raise RewrapRejected(index=index, reason=exc.code) from exc
        plan.append((key, len(old.prefix), new.prefix))

    for key, old_length, prefix in plan:
        size = runtime.blobs.replace_prefix(key, old_length, prefix)
        with transaction(runtime.session_factory) as session:
            session.execute(update(Envelope).where(Envelope.digest == key).values(size=size))
    return len(plan)
