"""The OpenAPI document (`/api/openapi.json`), finished after FastAPI builds it.

FastAPI describes what route signatures say. Three things the API does are
decided elsewhere, so they are added here, in one place, for every route:

- errors: every error has one JSON shape (`app.errors`, turned into HTTP by
  the handlers in `app.main`), including request-validation errors, which
  FastAPI would otherwise document in its own shape;
- courier authorisation: a signature header checked by a dependency
  (`app.courier.auth`), declared as the `IntakeSig` security scheme;
- raw JSON bodies: signed documents and pushed files are read as bytes and
  verified before they are parsed (a signature covers the exact bytes), so
  their routes declare no body model; their shapes are given here.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from crypto.encoding import HEX32

ERROR_REF = {"$ref": "#/components/schemas/Error"}

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "detail"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "description": "Stable, machine-readable."},
                "message": {"type": "string", "description": "For people; never echoes input."},
                "detail": {
                    "type": "object",
                    "description": "Values the server chose (offsets, limits, indexes).",
                },
            },
        }
    },
}

INTAKE_SIG: dict[str, Any] = {
    "type": "apiKey",
    "in": "header",
    "name": "Authorization",
    "description": (
        "`Intake-Sig kid=<kid>, ts=<unix seconds>, sig=<b64>`: an Ed25519 signature by a "
        "courier key of the current manifest over method, request target, time and body "
        "(PROTOCOL.md, *Couriers*). Each signature is accepted once, within 300 seconds."
    ),
}

_B64 = {"type": "string", "description": "Standard base64 with padding."}
_KID = {"type": "string", "pattern": f"^{HEX32}$"}
_DIGEST = {**_B64, "description": "b64 of a 32-byte payload digest (PROTOCOL.md v2)."}


def _object(**properties: dict[str, Any]) -> dict[str, Any]:
    """An object with these properties, every one required: so is each part of the raw bodies."""
    return {"type": "object", "required": list(properties), "properties": properties}


DSSE_SCHEMA: dict[str, Any] = {
    "title": "SignedDocument",
    "description": "A DSSE envelope (PROTOCOL.md, *Signed documents*).",
    **_object(
        payloadType={"type": "string"},
        payload=_B64,
        signatures={"type": "array", "items": _object(keyid={"type": "string"}, sig=_B64)},
    ),
}


def _file(key: str, title: str, **line: dict[str, Any]) -> dict[str, Any]:
    """A courier file: its type (`intake/<key>`) and its lines under `key`."""
    return {
        "title": title,
        **_object(
            type={"type": "string", "enum": [f"intake/{key}"]},
            **{key: {"type": "array", "items": _object(**line)}},
        ),
    }


RECEIPTS_SCHEMA = _file("receipts", "ReceiptsFile", digest=_DIGEST, kid=_KID, sig=_B64)
REPLIES_SCHEMA = _file(
    "replies",
    "RepliesFile",
    mailbox={"type": "string", "pattern": "^[0-9a-f]{64}$"},
    envelope=_B64,
    kid=_KID,
    sig=_B64,
)
REWRAPS_SCHEMA = _file(
    "rewraps",
    "RewrapsFile",
    digest=_DIGEST,
    prefix={**_B64, "description": "b64 of magic || header_len || header || header_mac"},
    kid={**_KID, "description": "kid of the signing verifier's Ed25519 key"},
    sig={**_B64, "description": 'Ed25519("intake/v2/rewrap" || payload_digest || H(32, prefix))'},
)

# (method, path) -> (schema name, schema) of routes that read a raw JSON body.
RAW_BODIES: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("post", "/api/v1/manifests"): ("SignedDocument", DSSE_SCHEMA),
    ("post", "/api/v1/site"): ("SignedDocument", DSSE_SCHEMA),
    ("post", "/api/v1/courier/receipts"): ("ReceiptsFile", RECEIPTS_SCHEMA),
    ("post", "/api/v1/courier/replies"): ("RepliesFile", REPLIES_SCHEMA),
    ("post", "/api/v1/courier/rewraps"): ("RewrapsFile", REWRAPS_SCHEMA),
}

COURIER_PREFIX = "/api/v1/courier/"
_FASTAPI_ERRORS = ("HTTPValidationError", "ValidationError")
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _uses_fastapi_errors(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return str(schema.get("$ref", "")).rsplit("/", 1)[-1] in _FASTAPI_ERRORS


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """Adds the error shape, the courier security scheme and the raw bodies."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    components.setdefault("securitySchemes", {})["IntakeSig"] = INTAKE_SIG
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for response in responses.values():
                if _uses_fastapi_errors(response):
                    response["content"] = _json(ERROR_REF)
            responses["default"] = {
                "description": "Any error, in the one error shape.",
                "content": _json(ERROR_REF),
            }
            if path.startswith(COURIER_PREFIX):
                operation["security"] = [{"IntakeSig": []}]
                responses.setdefault(
                    "401",
                    {
                        "description": "No valid, unused courier signature.",
                        "content": _json(ERROR_REF),
                    },
                )
            raw = RAW_BODIES.get((method, path))
            if raw is not None and "requestBody" not in operation:
                name, schema = raw
                schemas[name] = schema
                operation["requestBody"] = {
                    "required": True,
                    "content": _json({"$ref": f"#/components/schemas/{name}"}),
                }
    for name in _FASTAPI_ERRORS:
        schemas.pop(name, None)
    return document


def install(app: FastAPI) -> None:
    """Serves the finished document at the app's `openapi_url` (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
