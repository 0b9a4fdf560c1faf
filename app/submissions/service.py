"""Submissions: declare, upload (resumable), validate, finalise.

The server decrypts nothing. It checks what it can without a key, so that
garbage never reaches a verifier's laptop and a tampered page is caught early:
each envelope's structure and bounds (`crypto.read_header`), that its payload
length is possible (`crypto.check_payload_framing`), that it is sealed to
exactly the active verifiers of a manifest the server holds, and its payload
digest. An envelope that fails is discarded at once; none is kept half-valid.

Blob-store writes never run while this thread holds a database transaction:
with SQLite and the `db` blob backend they would wait on their own lock.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio.to_thread
from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload
from starlette.requests import ClientDisconnect

import crypto
from app import clock
from app.db import rowcount
from app.errors import (
    EnvelopeRejected,
    InsufficientStorage,
    InvalidRequest,
    LimitExceeded,
    NotFound,
    OffsetMismatch,
    RecipientsMismatch,
    SubmissionIncomplete,
    UploadBusy,
    UploadClosed,
    UploadTooLarge,
)
from app.manifests import service as manifests
from app.models import Envelope, Submission
from app.runtime import Runtime
from app.storage import OffsetConflict, PartialBusy, StorageFull, upload_id
from app.submissions.schemas import CreateSubmission

MAGIC = b"INTAKEv1"
# magic, header_len, header_mac: the fixed part of an envelope's prefix.
_FIXED_PREFIX = 8 + 4 + 32
# Free space is re-checked after this many bytes of one upload.
_DISK_CHECK_BYTES = 8 * 1024 * 1024


def create(session: Session, runtime: Runtime, body: CreateSubmission) -> Submission:
    """Declares a submission and its envelopes; needs a proof of work."""
    settings = runtime.settings
    ids = [envelope.id for envelope in body.envelopes]
    if ids.count("form") != 1:
        raise InvalidRequest("A submission has exactly one envelope with id 'form'.")
    if len(set(ids)) != len(ids):
        raise InvalidRequest("Envelope ids must be unique.")
    if len(ids) - 1 > settings.max_attachments:
        raise LimitExceeded(max_attachments=settings.max_attachments)
    if any(envelope.size > settings.max_envelope_bytes for envelope in body.envelopes):
        raise LimitExceeded(max_envelope_bytes=settings.max_envelope_bytes)
    total = sum(envelope.size for envelope in body.envelopes)
    if total > settings.max_submission_bytes:
        raise LimitExceeded(max_submission_bytes=settings.max_submission_bytes)
    manifests.current(session, runtime.manifests)  # nothing can validate without one
    runtime.check_disk()
    runtime.pow.redeem(
        session, body.pow.challenge if body.pow else None, body.pow.nonce if body.pow else None
    )
    # The form first, then attachments in the order the client declared them.
    ordered = sorted(body.envelopes, key=lambda envelope: envelope.id != "form")
    submission = Submission(
        id=secrets.token_hex(16),
        kind=body.kind,
        mailbox=body.mailbox,
        state="uploading",
        created=clock.hour(),
        size=total,
        envelopes=[
            Envelope(eid=envelope.id, position=index, size=envelope.size, received=0)
            for index, envelope in enumerate(ordered)
        ],
    )
    session.add(submission)
    session.flush()
    return submission


def finalise(session: Session, sid: str) -> Submission:
    """Marks the submission complete if every envelope is. Idempotent, and
    safe when called concurrently: only a conditional UPDATE flips the state."""
    submission = session.get(Submission, sid)
    if submission is None:
        raise NotFound()
    if submission.state == "complete":
        return submission
    if any(envelope.digest is None for envelope in submission.envelopes):
        raise SubmissionIncomplete()
    flipped = rowcount(
        session.execute(
            update(Submission)
            .where(Submission.id == sid, Submission.state == "uploading")
            .values(state="complete", completed=clock.hour())
            .execution_options(synchronize_session=False)
        )
    )
    session.expire(submission)
    session.refresh(submission)
    if not flipped and submission.state != "complete":  # pragma: no cover - deleted meanwhile
        raise NotFound()
    return submission


def finalise_received(runtime: Runtime, sid: str) -> Submission:
    """Finalises, first validating any envelope whose every byte is held but
    whose request never ended (a dropped connection, a killed server): the
    page reads "offset == size", has nothing left to send, and finalises."""
    Uploads(runtime).complete_received(sid)
    with runtime.session_factory() as session, session.begin():
        return finalise(session, sid)


@dataclass(frozen=True)
class _Target:
    sid: str
    eid: str
    kind: str  # the submission's kind
    size: int  # declared
    complete: bool

    @property
    def upload_id(self) -> str:
        return upload_id(self.sid, self.eid)

    @property
    def header_kind(self) -> str:
        """The `kind` the envelope's header must carry."""
        return self.kind if self.eid == "form" else "attachment"


class Uploads:
    """The resumable upload protocol. Holds no request-wide transaction: a body
    can take minutes to arrive, and a transaction held that long would stall
    every other writer."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.blobs = runtime.blobs

    def _target(self, sid: str, eid: str) -> _Target:
        with self.runtime.session_factory() as session:
            envelope = session.get(Envelope, (sid, eid))
            if envelope is None:
                raise NotFound()
            submission = envelope.submission
            return _Target(
                sid=sid,
                eid=eid,
                kind=submission.kind,
                size=envelope.size,
                complete=envelope.digest is not None or submission.state == "complete",
            )

    def progress(self, sid: str, eid: str) -> tuple[int, int]:
        """(offset, size): how many bytes the server holds, from the store itself
        (after a crash the partial's size is the truth, not a column)."""
        target = self._target(sid, eid)
        if target.complete:
            return target.size, target.size
        return self.blobs.partial_size(target.upload_id), target.size

    def complete_received(self, sid: str) -> None:
        """Validates and stores every envelope of `sid` fully held in its
        partial but not yet completed. Runs with no transaction open."""
        with self.runtime.session_factory() as session:
            submission = session.get(Submission, sid)
            if submission is None or submission.state == "complete":
                return
            targets = [
                _Target(sid, envelope.eid, submission.kind, envelope.size, complete=False)
                for envelope in submission.envelopes
                if envelope.digest is None
            ]
        for target in targets:
            if self.blobs.partial_size(target.upload_id) == target.size:
                self._complete(target)

    async def upload(
        self, sid: str, eid: str, offset: int, body: AsyncIterator[bytes], length: int | None
    ) -> int:
        """Appends `body` at `offset`; returns the new offset. Memory use is
        one received piece at a time, whatever the body's size."""
        run = anyio.to_thread.run_sync
        target = await run(self._target, sid, eid)
        if target.complete:
            if offset == target.size:
                return target.size  # a retried last request: already done
            raise UploadClosed()
        if length is not None and offset + length > target.size:
            raise UploadTooLarge(size=target.size)
        await run(self.runtime.check_disk)

        try:
            context = self.blobs.append(target.upload_id, offset)
            appender = await run(context.__enter__)
        except OffsetConflict as exc:
            raise OffsetMismatch(exc.actual) from exc
        except PartialBusy as exc:
            raise UploadBusy() from exc

        disconnected = False
        try:
            since_check = 0
            async for piece in body:
                if not piece:
                    continue
                if appender.size + len(piece) > target.size:
                    raise UploadTooLarge(size=target.size)
                await run(appender.write, piece)
                since_check += len(piece)
                if since_check >= _DISK_CHECK_BYTES:
                    since_check = 0
                    await run(self.runtime.check_disk)
        except ClientDisconnect:
            # Keep what arrived: the client resumes from the size on disk.
            disconnected = True
        except StorageFull as exc:
            raise InsufficientStorage() from exc
        finally:
            try:
                await run(context.__exit__, None, None, None)
            except OffsetConflict as exc:
                raise OffsetMismatch(exc.actual) from exc
            except StorageFull as exc:
                raise InsufficientStorage() from exc

        size = appender.size
        if not disconnected:
            if size == target.size:
                await run(self._complete, target)
                return size
            await run(self._check_prefix, target, size)
        await run(self._record, target, size)
        return size

    def _record(self, target: _Target, received: int) -> None:
        with self.runtime.session_factory() as session, session.begin():
            session.execute(
                update(Envelope)
                .where(
                    Envelope.submission_id == target.sid,
                    Envelope.eid == target.eid,
                    Envelope.digest.is_(None),
                )
                .values(received=received)
            )

    def _reject(self, target: _Target, error: EnvelopeRejected) -> EnvelopeRejected:
        """Drops the upload's bytes so the client can start it again from 0."""
        self.blobs.discard_partial(target.upload_id)
        self._record(target, 0)
        return error

    def _check_prefix(self, target: _Target, size: int) -> None:
        """Early refusal of a body that cannot be an envelope, before the
        client sends the rest of it."""
        if size < 12:
            return
        with self.blobs.open_partial(target.upload_id) as src:
            start = src.read(12)
        header_len = int.from_bytes(start[8:12], "big")
        if not hmac.compare_digest(start[:8], MAGIC):
            raise self._reject(target, EnvelopeRejected(reason="malformed"))
        if header_len > self.runtime.settings.max_header_bytes:
            raise self._reject(target, EnvelopeRejected("The envelope header is too large."))
        if _FIXED_PREFIX + header_len >= target.size:
            raise self._reject(target, EnvelopeRejected(reason="malformed"))

    def _complete(self, target: _Target) -> None:
        """Validates a fully received envelope and stores it by payload digest."""
        self._check_prefix(target, target.size)
        try:
            with self.blobs.open_partial(target.upload_id) as src:
                header = crypto.read_header(src)
                crypto.check_payload_framing(header, target.size - len(header.prefix))
                src.seek(0)
                digest = crypto.payload_digest(src)
        except crypto.InvalidEnvelope as exc:
            raise self._reject(target, EnvelopeRejected(reason=exc.reason)) from exc
        try:
            self.check_header(header, target.header_kind)
        except EnvelopeRejected as exc:
            raise self._reject(target, exc) from exc

        key = digest.hex()
        # The row first, then the bytes: a blob no row names would be taken
        # for an orphan by `intake purge`; a named blob still in its partial
        # is finished there instead (`app.maintenance`).
        with self.runtime.session_factory() as session, session.begin():
            session.execute(
                update(Envelope)
                .where(
                    Envelope.submission_id == target.sid,
                    Envelope.eid == target.eid,
                    Envelope.digest.is_(None),
                )
                .values(digest=key, blob_key=key, received=target.size)
            )
        self.blobs.commit_partial(target.upload_id, key)
        stored_size = self.blobs.size(key)
        if stored_size != target.size:
            # The same payload was already held under another prefix: keep
            # that one, and say so in the row.
            with self.runtime.session_factory() as session, session.begin():
                session.execute(
                    update(Envelope)
                    .where(Envelope.submission_id == target.sid, Envelope.eid == target.eid)
                    .values(size=stored_size)
                )

    def check_header(
        self, header: crypto.EnvelopeHeader, kind: str, *, allow_superseded: bool = False
    ) -> None:
        """The header names a manifest we hold and is sealed to exactly its
        active verifiers: a page that added a recipient (or dropped one) is
        refused here, before anyone relies on it."""
        if header.v != 2:
            raise EnvelopeRejected("Only version-2 envelopes are accepted.", reason="malformed")
        if header.kind != kind:
            raise EnvelopeRejected(
                "The envelope's kind does not fit its place.", reason="malformed"
            )
        with self.runtime.session_factory() as session:
            manifest = manifests.for_envelope(
                session,
                self.runtime.settings,
                self.runtime.manifests,
                header.manifest,
                allow_superseded=allow_superseded,
            )
        kids = list(header.recipient_kids)
        active = {verifier.kid for verifier in manifest.active_verifiers()}
        if len(set(kids)) != len(kids) or set(kids) != active:
            raise RecipientsMismatch()


def pending(session: Session) -> list[Submission]:
    """Complete submissions still held (not yet fully receipted), oldest first."""
    return list(
        session.scalars(
            select(Submission)
            .where(Submission.state == "complete")
            .options(selectinload(Submission.envelopes))
            .order_by(Submission.completed, Submission.id)
        )
    )
