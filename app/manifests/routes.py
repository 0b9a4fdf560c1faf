"""Signed documents and what follows from them, with no credentials anywhere:
the admins' signatures are the authority.

- `/api/v1/manifests`: the chain for browsers, new manifests from admins, and
  the audit log (every version, who signed, when it arrived);
- `/api/v1/site`: the admins' signed digests of the applicant's pages;
- `/api/v1/status`: when the latest manifest expires, for admins to renew in time.

(The revocation report, `/api/v1/courier/recipients`, is a courier route:
`app.courier.routes`.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from app import clock
from app.compression import public_answer
from app.db import reading, writing
from app.errors import IntakeError, NoManifest
from app.http import parse_json_object, read_limited
from app.manifests import service, site
from app.runtime import Runtime, RuntimeDep

MAX_MANIFEST_BYTES = 1024 * 1024
MAX_SITE_BYTES = 1024 * 1024

manifests_router = APIRouter(prefix="/api/v1/manifests", tags=["manifests"])
site_router = APIRouter(prefix="/api/v1/site", tags=["manifests"])
status_router = APIRouter(prefix="/api/v1/status", tags=["manifests"])


@manifests_router.get("", response_class=Response)
async def get_chain(request: Request, runtime: RuntimeDep) -> Response:
    # Every page load asks for this before it is ready: served from bytes made
    # once per chain, compressed (public, the same for everyone: no BREACH).
    body = await reading(
        runtime.engine, lambda session: runtime.manifests.chain_document(session, runtime.settings)
    )
    return await public_answer(body, "application/json", request.headers.get("accept-encoding"))


@manifests_router.post("", status_code=201)
async def post_manifest(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    async def handle() -> dict[str, Any]:
        envelope = parse_json_object(await read_limited(request, MAX_MANIFEST_BYTES))

        def accept(session: Session) -> dict[str, Any]:
            manifest = service.accept(session, runtime.settings, runtime.manifests, envelope)
            return {"version": manifest.version, "fingerprint": manifest.fingerprint}

        return await writing(runtime.session_factory, accept)

    return await _charging_failures(runtime, handle)


@manifests_router.get("/audit")
async def get_audit(runtime: RuntimeDep) -> dict[str, Any]:
    """The audit log, with the chain and site documents it is checked against."""

    def build(session: Session) -> dict[str, Any]:
        return {
            "trust_root": service.trust_root_json(runtime.settings),
            "chain": service.chain_envelopes(session),
            "manifests": service.audit_entries(session, runtime.manifests),
            "site_documents": site.audit_entries(session, runtime.manifests),
        }

    return await reading(runtime.engine, build)


@site_router.get("")
async def get_site(runtime: RuntimeDep) -> dict[str, Any]:
    return {"site": await reading(runtime.engine, site.latest_envelope)}


@site_router.post("", status_code=201)
async def post_site(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    async def handle() -> dict[str, Any]:
        envelope = parse_json_object(await read_limited(request, MAX_SITE_BYTES))

        def accept(session: Session) -> dict[str, Any]:
            doc = site.accept(session, runtime.manifests, envelope)
            return {
                "issued": clock.rfc3339(doc.issued),
                "manifest_version": doc.manifest_version,
                "files": len(doc.files),
            }

        return await writing(runtime.session_factory, accept)

    return await _charging_failures(runtime, handle)


async def _charging_failures(
    runtime: Runtime, handle: Callable[[], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """Verify first, charge a bucket only for a refused document. The admins'
    signatures are the authority: a valid signed manifest or site document
    (an emergency revocation) never waits on anonymous traffic. A bounded
    body (1 MiB) and one verification are what junk costs; past the bucket a
    prober gets 429 instead of the failure reason."""
    try:
        return await handle()
    except IntakeError as exc:
        if 400 <= exc.status < 500:
            runtime.limiter.hit("manifests.rejected")
        raise


@status_router.get("")
async def get_status(runtime: RuntimeDep) -> dict[str, Any]:
    """Public: everything here is in the signed chain anyway; this only saves
    an admin (or a monitoring probe) from verifying it to see the expiry."""

    def build(session: Session) -> dict[str, Any]:
        try:
            manifest = service.current(session, runtime.manifests)
        except NoManifest:
            return {"manifest": None, "site": None}
        return {
            "manifest": service.expiry_info(manifest),
            "site": site.summary(session, runtime.manifests),
        }

    return await reading(runtime.engine, build)


router = APIRouter()
for _sub in (manifests_router, site_router, status_router):
    router.include_router(_sub)
