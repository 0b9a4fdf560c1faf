"""`/api/v1/courier/*`: every route requires a signed request (`CourierDep`).
Ciphertext leaves the server only through these."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from app.courier import bundle, service
from app.courier.auth import CourierDep
from app.db import SessionDep
from app.http import parse_json_object
from app.runtime import RuntimeDep

router = APIRouter(prefix="/api/v1/courier", tags=["courier"])

MAX_BUNDLE_LIMIT = 500


@router.get("/submissions")
def list_submissions(courier: CourierDep, session: SessionDep) -> dict[str, Any]:
    return {"submissions": service.listing(session)}


@router.get("/bundle", response_class=StreamingResponse)
def get_bundle(
    courier: CourierDep,
    session: SessionDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=MAX_BUNDLE_LIMIT)] = 50,
) -> StreamingResponse:
    # The plan (names, sizes) is read now; the bytes stream after this
    # request's transaction has closed.
    plan = service.plan_bundle(session, runtime, limit)
    return StreamingResponse(
        bundle.stream(runtime.blobs, plan),
        media_type="application/x-tar",
        headers={"Content-Disposition": 'attachment; filename="bundle.tar"'},
    )


@router.post("/receipts")
def post_receipts(
    courier: CourierDep, session: SessionDep, runtime: RuntimeDep, tasks: BackgroundTasks
) -> dict[str, Any]:
    outcome = service.apply_receipts(session, courier.manifest, parse_json_object(courier.body))
    if outcome.orphaned:
        # Runs after the response, so after this request's commit.
        tasks.add_task(service.delete_orphans, runtime, outcome.orphaned)
    return {"accepted": outcome.accepted, "deleted": outcome.deleted}


@router.post("/replies")
def post_replies(courier: CourierDep, session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    accepted = service.store_replies(
        session, runtime, courier.manifest, parse_json_object(courier.body)
    )
    return {"accepted": accepted}


@router.post("/rewraps")
async def post_rewraps(courier: CourierDep, runtime: RuntimeDep) -> dict[str, Any]:
    data = parse_json_object(courier.body)
    accepted = await run_in_threadpool(service.apply_rewraps, runtime, courier.manifest, data)
    return {"accepted": accepted}
