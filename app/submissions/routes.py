"""`/api/v1/submissions`: thin HTTP edge over `app.submissions.service`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from app import clock
from app.db import writing
from app.errors import UnsupportedMediaType
from app.http import StrictJSONRoute
from app.runtime import RuntimeDep
from app.submissions import service
from app.submissions.schemas import (
    EID,
    HEX32,
    Created,
    CreateSubmission,
    Finalised,
    Offset,
    Progress,
    UploadHint,
)

router = APIRouter(prefix="/api/v1/submissions", tags=["submissions"], route_class=StrictJSONRoute)

Sid = Annotated[str, Path(pattern=HEX32)]
Eid = Annotated[str, Path(pattern=EID)]


@router.post("", status_code=201)
async def create_submission(body: CreateSubmission, runtime: RuntimeDep) -> Created:
    proof = body.pow
    # A MAC and one hash, before anything shared: junk without a valid proof
    # never opens a transaction or touches the bucket below.
    runtime.pow.check(proof.challenge if proof else None, proof.nonce if proof else None)

    def declare(session: Session) -> str:
        # As `service.declare` (one transaction in one worker thread), with the
        # global bucket charged only once the proof is redeemed: a request
        # without a valid, unspent proof never drains it, and a 429 rolls the
        # redemption back, so the proof is not lost.
        sid = service.create(session, runtime, body).id
        runtime.limiter.hit("submissions.create")
        return sid

    sid = await writing(runtime.session_factory, declare)
    return Created(id=sid, upload=UploadHint(chunk=runtime.settings.upload_chunk_bytes))


@router.get("/{sid}/envelopes/{eid}")
async def get_progress(sid: Sid, eid: Eid, runtime: RuntimeDep) -> Progress:
    offset, size = await run_in_threadpool(service.Uploads(runtime).progress, sid, eid)
    return Progress(offset=offset, size=size)


@router.put(
    "/{sid}/envelopes/{eid}",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def put_envelope(
    sid: Sid,
    eid: Eid,
    request: Request,
    runtime: RuntimeDep,
    offset: Annotated[int, Query(ge=0)],
) -> Offset:
    # Per submission only: its id comes from a paid declaration and cannot be
    # guessed, so junk ids fill only their own buckets. (A global bucket here
    # was drained by PUTs to made-up ids, locking every upload out.)
    runtime.limiter.hit("upload.per-submission", sid)
    # Only octet-stream: browsers cannot send it cross-origin without a
    # preflight, which this server never grants.
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/octet-stream":
        raise UnsupportedMediaType()
    declared = request.headers.get("content-length")
    length = int(declared) if declared is not None and declared.isdigit() else None
    # request.stream(), never request.body(): the body is written as it
    # arrives, in constant memory.
    new_offset = await service.Uploads(runtime).upload(sid, eid, offset, request.stream(), length)
    return Offset(offset=new_offset)


@router.post("/{sid}/finalise")
async def finalise(sid: Sid, runtime: RuntimeDep) -> Finalised:
    submission = await run_in_threadpool(service.finalise_received, runtime, sid)
    received = submission.completed or clock.hour()
    return Finalised(status="complete", received=clock.rfc3339(received))
