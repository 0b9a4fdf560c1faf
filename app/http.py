"""Small request helpers shared by the routers."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

import crypto
from app.errors import InvalidRequest, JsonTooDeep, UploadTooLarge
from crypto.encoding import MAX_JSON_DEPTH, JSONTooDeep


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


def parse_json(body: bytes) -> Any:
    """The body as JSON, read as strictly as the offline tools read it:
    nesting bounded before the parser recurses (a deep body was a 500), and
    no duplicate key or NaN/Infinity, which other readers of the same
    document (the browser, the verifier) could take differently."""
    try:
        return crypto.load_json(body)
    except JSONTooDeep as exc:
        raise JsonTooDeep(max_depth=MAX_JSON_DEPTH) from exc
    except ValueError as exc:
        raise InvalidRequest(
            "The body is not strict JSON: UTF-8, no duplicate keys, no NaN or Infinity."
        ) from exc


def parse_json_object(body: bytes) -> dict[str, Any]:
    """`parse_json`, and the body must be an object."""
    data = parse_json(body)
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


class StrictJSONRoute(APIRoute):
    """A route whose JSON body (a pydantic model) passes `parse_json` before
    FastAPI reads it: FastAPI's own reading takes duplicate keys (the last
    wins) and recurses to any depth. Routes without a body field (uploads,
    which stream) are left alone."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def strict(request: Request) -> Response:
            body = await request.body()  # kept by the request: FastAPI reads it again
            if body:
                parse_json(body)
            return await handler(request)

        return strict
