"""Small request helpers shared by the routers."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from app.errors import InvalidRequest, UploadTooLarge


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole body, refusing more than `limit` bytes without buffering them."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise UploadTooLarge("The body is too large.", limit=limit)
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise UploadTooLarge("The body is too large.", limit=limit)
    return bytes(body)


def parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest("The body is not JSON.") from exc
    if not isinstance(data, dict):
        raise InvalidRequest("The body must be a JSON object.")
    return data


def request_target(request: Request) -> str:
    """The request target exactly as sent (path and query), which courier
    signatures cover."""
    raw: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    target = raw.decode("latin-1")
    query: bytes = request.scope.get("query_string", b"")
    if query:
        target += "?" + query.decode("latin-1")
    return target
