"""`/api/v1/manifests`: the chain for browsers, and new manifests from admins
(no credentials: the admins' signatures are the authority)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from app.db import SessionDep
from app.http import parse_json_object, read_limited
from app.manifests import service
from app.runtime import RuntimeDep

router = APIRouter(prefix="/api/v1/manifests", tags=["manifests"])

MAX_MANIFEST_BYTES = 1024 * 1024


@router.get("")
def get_chain(session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    return {
        "chain": service.chain_envelopes(session),
        "trust_root": service.trust_root_json(runtime.settings),
    }


@router.post("", status_code=201)
async def post_manifest(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    runtime.limiter.hit("manifests.post")
    envelope = parse_json_object(await read_limited(request, MAX_MANIFEST_BYTES))

    def accept() -> dict[str, Any]:
        with runtime.session_factory() as session, session.begin():
            manifest = service.accept(session, runtime.settings, runtime.manifests, envelope)
        return {"version": manifest.version, "fingerprint": manifest.fingerprint}

    return await run_in_threadpool(accept)
