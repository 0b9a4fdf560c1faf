"""Signed courier requests (PROTOCOL.md, *Couriers*).

A request is accepted only if its `Intake-Sig` is by a courier key of the
current manifest, over this exact method, target, time and body, within 300
seconds of the server's clock, and never seen before. Seen signatures are
stored in the database (so every instance shares them) in their own
committed transaction, so a replay racing the original is refused too.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import IntegrityError

import crypto
from app.clock import hour_after
from app.db import read_session, transaction
from app.errors import ReplayedRequest, Unauthorized
from app.http import read_limited, request_target
from app.manifests import service as manifests
from app.models import SeenSignature
from app.runtime import Runtime

MAX_SKEW = 300


@dataclass(frozen=True)
class CourierRequest:
    kid: str
    body: bytes
    manifest: crypto.Manifest


def _current(runtime: Runtime) -> crypto.Manifest:
    with read_session(runtime.engine) as session:
        return manifests.current(session, runtime.manifests)


def remember(runtime: Runtime, sig: bytes, ts: int) -> None:
    """Records a signature as used; `ReplayedRequest` if it already was."""
    expires = hour_after(datetime.fromtimestamp(ts + MAX_SKEW, UTC))
    row = SeenSignature(sig_hash=hashlib.sha256(sig).hexdigest(), expires=expires)
    try:
        with transaction(runtime.session_factory) as session:
            session.add(row)
    except IntegrityError as exc:
        raise ReplayedRequest() from exc


async def verify(request: Request) -> CourierRequest:
    runtime: Runtime = request.app.state.runtime
    value = request.headers.get("authorization")
    if not value:
        raise Unauthorized()
    try:
        kid, ts, sig = crypto.parse_authorization(value)
    except crypto.InvalidSignature as exc:
        raise Unauthorized() from exc
    now = int(time.time())
    # Cheap checks before reading a body from someone who may not be a courier.
    if abs(now - ts) > MAX_SKEW:
        raise Unauthorized("The request's time is more than 300 seconds from the server's.")
    manifest = await run_in_threadpool(_current, runtime)
    if manifest.courier_by_kid(kid) is None:
        raise Unauthorized()
    body = await read_limited(request, runtime.settings.max_courier_body_bytes)
    try:
        crypto.verify_request(
            value, request.method, request_target(request), crypto.blake2b(32, body), manifest, now
        )
    except crypto.InvalidSignature as exc:
        raise Unauthorized() from exc
    await run_in_threadpool(remember, runtime, sig, ts)
    return CourierRequest(kid=kid, body=body, manifest=manifest)


CourierDep = Annotated[CourierRequest, Depends(verify)]
