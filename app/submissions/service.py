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

import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio.to_thread
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, selectinload
from starlette.requests import ClientDisconnect

import crypto
from app import clock
from app.db import core_transaction, read_connection, read_session, rowcount, transaction
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
from app.storage import BlobMissing, OffsetConflict, PartialBusy, StorageFull, upload_id
from app.submissions.schemas import CreateSubmission
from crypto.envelope import PREFIX_OVERHEAD, PREFIX_START, prefix_length

# Free space is re-checked after this many bytes of one upload.
_DISK_CHECK_BYTES = 8 * 1024 * 1024
# Envelope versions the server stores (PROTOCOL.md, Uploading envelopes): 2 (a
# page cached from before version 3), 3 (what pages write) and 4 (what a page
# without WebAssembly writes: an AES-256-GCM payload). Never 1 (see there).
STORED_ENVELOPE_VERSIONS = (2, 3, 4)
# A body declared no larger than this is received whole and stored in one
# worker-thread call (a form, the last piece of an attachment); larger ones
# are written in batches of this size. Each hop to a worker thread costs
# more CPU than the write, and this bounds the memory one request holds.
WRITE_BATCH_BYTES = 256 * 1024


# The upload path's statements, built once: building one costs more CPU
# than SQLite takes to run it.
_THIS_ENVELOPE = (Envelope.submission_id == bindparam("of_sid")) & (
    Envelope.eid == bindparam("of_eid")
)
_TARGET = (
    select(Submission.kind, Submission.state, Envelope.size, Envelope.digest)
    .join(Submission, Submission.id == Envelope.submission_id)
    .where(_THIS_ENVELOPE)
)
_INCOMPLETE = update(Envelope).where(_THIS_ENVELOPE, Envelope.digest.is_(None))
_RECORD = _INCOMPLETE.values(received=bindparam("held"))
_COMPLETE = _INCOMPLETE.values(
    digest=bindparam("digest_hex"), blob_key=bindparam("digest_hex"), received=bindparam("held")
)
_RESIZE = update(Envelope).where(_THIS_ENVELOPE).values(size=bindparam("stored_size"))


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


def declare(runtime: Runtime, body: CreateSubmission) -> str:
    """`create` in a transaction begun and committed in this one thread: with
    SQLite the write lock is then held for the work alone, not across the
    hops to the event loop that a request-wide session makes."""
    with transaction(runtime.session_factory) as session:
        return create(session, runtime, body).id


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
    with transaction(runtime.session_factory) as session:
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
        # Read-only: a lookup never queues behind another upload's commit.
        with read_connection(self.runtime.engine) as connection:
            row = connection.execute(_TARGET, {"of_sid": sid, "of_eid": eid}).first()
        if row is None:
            raise NotFound()
        return _Target(
            sid=sid,
            eid=eid,
            kind=row.kind,
            size=row.size,
            complete=row.digest is not None or row.state == "complete",
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
        with read_session(self.runtime.engine) as session:
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
                # Gone meanwhile, the envelope not complete: a racing request
                # refused it (and was told why); the finalise that follows
                # answers "incomplete", never an error of its own.
                with contextlib.suppress(BlobMissing):
                    self._complete(target)

    async def upload(
        self, sid: str, eid: str, offset: int, body: AsyncIterator[bytes], length: int | None
    ) -> int:
        """Appends `body` at `offset`; returns the new offset. A body declared
        small is received whole and stored in one worker-thread call; a larger
        one is written as it arrives. Either way a request holds about
        `WRITE_BATCH_BYTES` at most, whatever the body's size."""
        if length is not None and length <= WRITE_BATCH_BYTES:
            data, disconnected = await _receive_whole(body)
            return await anyio.to_thread.run_sync(
                self._upload_whole, sid, eid, offset, length, data, disconnected
            )
        return await self._upload_streamed(sid, eid, offset, body, length)

    def _open(self, sid: str, eid: str, offset: int, length: int | None) -> _Target:
        """The checks that need no body. A complete target is returned only
        for a retried last request (nothing to write)."""
        target = self._target(sid, eid)
        if target.complete:
            if offset == target.size:
                return target
            raise UploadClosed()
        if length is not None and offset + length > target.size:
            raise UploadTooLarge(size=target.size)
        self.runtime.check_disk()
        return target

    def _upload_whole(
        self, sid: str, eid: str, offset: int, length: int, data: bytes, disconnected: bool
    ) -> int:
        """The whole upload of a received body, in this one worker thread."""
        target = self._open(sid, eid, offset, length)
        if target.complete:
            return target.size
        try:
            with self.blobs.append(target.upload_id, offset) as appender:
                if appender.size + len(data) > target.size:
                    raise UploadTooLarge(size=target.size)
                if data:
                    appender.write(data)
        except OffsetConflict as exc:
            return self._after_conflict(target, offset, exc)
        except PartialBusy as exc:
            raise UploadBusy() from exc
        except StorageFull as exc:
            raise InsufficientStorage() from exc
        return self._finish(target, appender.size, disconnected)

    def _after_conflict(self, target: _Target, offset: int, conflict: OffsetConflict) -> int:
        """The answer to a PUT whose offset no longer fits the partial. If a
        racing request completed the envelope (and moved its partial away)
        since `_open` looked, the answer `_open` now gives a retried request;
        otherwise the offset the server holds."""
        if self._target(target.sid, target.eid).complete:
            if offset == target.size:
                return target.size
            raise UploadClosed() from conflict
        raise OffsetMismatch(conflict.actual) from conflict

    async def _upload_streamed(
        self, sid: str, eid: str, offset: int, body: AsyncIterator[bytes], length: int | None
    ) -> int:
        """Writes a large body in batches of `WRITE_BATCH_BYTES` as it arrives."""
        run = anyio.to_thread.run_sync
        target = await run(self._open, sid, eid, offset, length)
        if target.complete:
            return target.size

        try:
            context = self.blobs.append(target.upload_id, offset)
            appender = await run(context.__enter__)
        except OffsetConflict as exc:
            return await run(self._after_conflict, target, offset, exc)
        except PartialBusy as exc:
            raise UploadBusy() from exc

        disconnected = False
        batch: list[bytes] = []
        batched = 0
        try:
            since_check = 0
            try:
                async for piece in body:
                    if not piece:
                        continue
                    if appender.size + batched + len(piece) > target.size:
                        raise UploadTooLarge(size=target.size)
                    batch.append(piece)
                    batched += len(piece)
                    if batched >= WRITE_BATCH_BYTES:
                        await run(appender.write, b"".join(batch))
                        since_check += batched
                        batch, batched = [], 0
                    if since_check >= _DISK_CHECK_BYTES:
                        since_check = 0
                        await run(self.runtime.check_disk)
            except ClientDisconnect:
                # Keep what arrived: the client resumes from the size on disk.
                disconnected = True
            if batch:
                await run(appender.write, b"".join(batch))
        except StorageFull as exc:
            raise InsufficientStorage() from exc
        finally:
            try:
                await run(context.__exit__, None, None, None)
            except OffsetConflict as exc:
                raise OffsetMismatch(exc.actual) from exc
            except StorageFull as exc:
                raise InsufficientStorage() from exc
        return await run(self._finish, target, appender.size, disconnected)

    def _finish(self, target: _Target, size: int, disconnected: bool) -> int:
        """After the bytes are durable: completes a whole envelope, or checks
        the prefix of a part and records how much is held."""
        if not disconnected:
            if size == target.size:
                try:
                    self._complete(target)
                except BlobMissing as exc:
                    # A racing finalise refused these bytes and dropped them.
                    raise OffsetMismatch(self.blobs.partial_size(target.upload_id)) from exc
                return size
            self._check_prefix(target, size)
        self._record(target, size)
        return size

    def _record(self, target: _Target, received: int) -> None:
        with core_transaction(self.runtime.engine) as connection:
            connection.execute(
                _RECORD, {"of_sid": target.sid, "of_eid": target.eid, "held": received}
            )

    def _reject(self, target: _Target, error: EnvelopeRejected) -> EnvelopeRejected:
        """Drops the upload's bytes so the client can start it again from 0."""
        self.blobs.discard_partial(target.upload_id)
        self._record(target, 0)
        return error

    def _check_prefix(self, target: _Target, size: int) -> None:
        """Early refusal of a body that cannot be an envelope, before the
        client sends the rest of it."""
        error = self._prefix_error(target, size)
        if error is not None:
            raise self._reject(target, error)

    def _prefix_error(self, target: _Target, size: int) -> EnvelopeRejected | None:
        if size < PREFIX_START:
            return None
        with self.blobs.open_partial(target.upload_id) as src:
            start = src.read(PREFIX_START)
        try:
            length = prefix_length(start)
        except crypto.InvalidEnvelope as exc:
            return EnvelopeRejected(reason=exc.reason)
        if length - PREFIX_OVERHEAD > self.runtime.settings.max_header_bytes:
            return EnvelopeRejected("The envelope header is too large.")
        if length >= target.size:
            return EnvelopeRejected(reason="malformed")
        return None

    def _validate(self, target: _Target) -> str:
        """The hex payload digest of a fully received envelope that passes
        every check; `EnvelopeRejected` otherwise (nothing dropped yet)."""
        error = self._prefix_error(target, target.size)
        if error is not None:
            raise error
        try:
            with self.blobs.open_partial(target.upload_id) as src:
                header = crypto.read_header(src)
                crypto.check_payload_framing(header, target.size - len(header.prefix))
                src.seek(0)
                digest = crypto.payload_digest(src)
        except crypto.InvalidEnvelope as exc:
            raise EnvelopeRejected(reason=exc.reason) from exc
        self.check_header(header, target.header_kind)
        return digest.hex()

    def _complete(self, target: _Target) -> None:
        """Validates a fully received envelope and stores it by payload digest.

        Several requests may do this at once for one envelope: finalises that
        each found every byte held, and the PUT that brought the last ones.
        The first to store it moves the partial away while the others may
        still read it (they then find it missing, or cut short); each of those
        checks the row before answering, and takes the winner's success for
        its own instead of an error (or, worse, refusing a stored envelope)."""
        try:
            key = self._validate(target)
        except (BlobMissing, EnvelopeRejected) as exc:
            if self._target(target.sid, target.eid).complete:
                return
            if isinstance(exc, EnvelopeRejected):
                raise self._reject(target, exc) from exc
            raise
        # The row first, then the bytes: a blob no row names would be taken
        # for an orphan by `intake purge`; a named blob still in its partial
        # is finished there instead (`app.maintenance`).
        with core_transaction(self.runtime.engine) as connection:
            connection.execute(
                _COMPLETE,
                {
                    "of_sid": target.sid,
                    "of_eid": target.eid,
                    "digest_hex": key,
                    "held": target.size,
                },
            )
        self.blobs.commit_partial(target.upload_id, key)
        stored_size = self.blobs.size(key)
        if stored_size != target.size:
            # The same payload was already held under another prefix: keep
            # that one, and say so in the row.
            with core_transaction(self.runtime.engine) as connection:
                connection.execute(
                    _RESIZE,
                    {"of_sid": target.sid, "of_eid": target.eid, "stored_size": stored_size},
                )

    def check_header(
        self, header: crypto.EnvelopeHeader, kind: str, *, allow_superseded: bool = False
    ) -> None:
        """The header names a manifest we hold and is sealed to exactly its
        active verifiers: a page that added a recipient (or dropped one) is
        refused here, before anyone relies on it."""
        if header.v not in STORED_ENVELOPE_VERSIONS:
            raise EnvelopeRejected(
                "Only version-2, version-3 and version-4 envelopes are accepted.",
                reason="malformed",
            )
        if header.kind != kind:
            raise EnvelopeRejected(
                "The envelope's kind does not fit its place.", reason="malformed"
            )
        with read_session(self.runtime.engine) as session:
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


async def _receive_whole(body: AsyncIterator[bytes]) -> tuple[bytes, bool]:
    """The body's bytes, and whether the client hung up before sending all of
    them (what arrived is still stored: the client resumes from there). The
    server's framing stops a body at its declared Content-Length."""
    pieces: list[bytes] = []
    try:
        async for piece in body:
            pieces.append(piece)
    except ClientDisconnect:
        return b"".join(pieces), True
    return b"".join(pieces), False
