"""`/api/v1/courier/*`: every route requires a signed request (`CourierDep`).
Ciphertext leaves the server only through these."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Header, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from app.courier import bundle, recipients, service
from app.courier.auth import CourierDep
from app.db import forget_deleted, reading, writing
from app.http import parse_json_object
from app.runtime import RuntimeDep
from crypto.encoding import HEX32

router = APIRouter(prefix="/api/v1/courier", tags=["courier"])

MAX_BUNDLE_LIMIT = 500
KID_PATTERN = f"^{HEX32}$"


@router.get("/submissions")
async def list_submissions(courier: CourierDep, runtime: RuntimeDep) -> dict[str, Any]:
    return {"submissions": await reading(runtime.engine, service.listing)}


@router.get("/recipients")
async def get_recipients(
    courier: CourierDep,
    runtime: RuntimeDep,
    kid: Annotated[str | None, Query(pattern=KID_PATTERN)] = None,
) -> dict[str, Any]:
    return await run_in_threadpool(recipients.report, runtime, kid)


_BUNDLE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The whole bundle (PROTOCOL.md *Courier bundle*).",
        "content": {"application/x-tar": {"schema": {"type": "string", "format": "binary"}}},
        "headers": {
            "ETag": {
                "description": "The bundle id; send it back in If-Range to resume.",
                "schema": {"type": "string"},
            },
            "Accept-Ranges": {"schema": {"type": "string", "enum": ["bytes"]}},
        },
    },
    206: {
        "description": "The requested part of the bundle named by If-Range.",
        "content": {"application/x-tar": {"schema": {"type": "string", "format": "binary"}}},
        "headers": {
            "ETag": {"schema": {"type": "string"}},
            "Content-Range": {"schema": {"type": "string"}},
        },
    },
}


@router.get("/bundle", response_class=StreamingResponse, responses=_BUNDLE_RESPONSES)
async def get_bundle(
    courier: CourierDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=MAX_BUNDLE_LIMIT)] = 50,
    range_: Annotated[
        str | None,
        Header(alias="Range", max_length=100, description="`bytes=N-` to resume at byte N."),
    ] = None,
    if_range: Annotated[
        str | None,
        Header(alias="If-Range", max_length=200, description="The ETag of the bundle to resume."),
    ] = None,
) -> StreamingResponse:
    """A tar stream of the oldest complete submissions. Resumable: the same
    request with `Range: bytes=N-` and `If-Range: <ETag>` sends the rest of
    that same bundle, or the whole current one if it no longer exists."""

    def layout(session: Session) -> tuple[bundle.Layout, tuple[int, int] | None]:
        if range_ is not None and if_range is not None:
            resumed = service.plan_bundle(session, runtime, limit, bundle.watermark_of(if_range))
            if hmac.compare_digest(resumed.etag.encode(), if_range.strip().encode()):
                return resumed, bundle.requested_range(range_, resumed.length)
        plan = service.plan_bundle(session, runtime, limit)
        if range_ is not None and if_range is None:
            return plan, bundle.requested_range(range_, plan.length)
        return plan, None

    # The layout (names, sizes, prefixes) is read now; the bytes stream after
    # the read has ended.
    plan, span = await reading(runtime.engine, layout)
    first, last = span or (0, plan.length - 1)
    headers = {
        "ETag": plan.etag,
        "Accept-Ranges": "bytes",
        "Content-Length": str(last - first + 1),
        "Content-Disposition": 'attachment; filename="bundle.tar"',
    }
    if span is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{plan.length}"
    return StreamingResponse(
        bundle.stream(runtime.blobs, plan, first, last),
        status_code=206 if span is not None else 200,
        media_type="application/x-tar",
        headers=headers,
    )


@router.post("/receipts")
async def post_receipts(
    courier: CourierDep, runtime: RuntimeDep, tasks: BackgroundTasks
) -> dict[str, Any]:
    # Parsed in the worker thread (a large body is no work for the event loop),
    # before the transaction's first statement.
    outcome = await writing(
        runtime.session_factory,
        lambda session: service.apply_receipts(
            session, courier.manifest, parse_json_object(courier.body)
        ),
    )
    if outcome.orphaned:
        # Runs after the response, so after this request's commit.
        tasks.add_task(service.delete_orphans, runtime, outcome.orphaned)
    if outcome.deleted:
        tasks.add_task(forget_deleted, runtime.engine)
    return {"accepted": outcome.accepted, "deleted": outcome.deleted}


@router.post("/replies")
async def post_replies(courier: CourierDep, runtime: RuntimeDep) -> dict[str, Any]:
    accepted = await writing(
        runtime.session_factory,
        lambda session: service.store_replies(
            session, runtime, courier.manifest, parse_json_object(courier.body)
        ),
    )
    return {"accepted": accepted}


@router.post("/rewraps")
async def post_rewraps(courier: CourierDep, runtime: RuntimeDep) -> dict[str, Any]:
    data = parse_json_object(courier.body)
    accepted = await run_in_threadpool(service.apply_rewraps, runtime, courier.manifest, data)
    return {"accepted": accepted}
