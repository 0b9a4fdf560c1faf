"""The OpenAPI document describes every API route, its body, the courier
signature and the one error shape (schemathesis then holds the app to it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from app.main import create_app
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
ERROR = {"$ref": "#/components/schemas/Error"}


def _document() -> tuple[Any, dict[str, Any]]:
    app = create_app(Settings(environment="test", database_url="sqlite:///:memory:"))
    return app, app.openapi()  # built from the routes; nothing connects


def test_every_endpoint_of_the_api_reference_is_documented_with_the_one_error_shape() -> None:
    _app, doc = _document()
    reference = (ROOT / "docs" / "API.md").read_text(encoding="utf-8")
    endpoints = {
        (method.lower(), path)
        for method, path in re.findall(r"`(GET|POST|PUT) (/api/[^`?\[\s]*)", reference)
    }
    documented = {(m, p) for p, item in doc["paths"].items() for m in item}
    assert len(endpoints) >= 12
    assert endpoints <= documented, endpoints - documented
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert error["properties"]["error"]["required"] == ["code", "message", "detail"]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert responses["default"]["content"]["application/json"]["schema"] == ERROR
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert response["content"]["application/json"]["schema"] == ERROR, (
                        method,
                        path,
                        status,
                    )


def test_courier_routes_declare_their_signature_header() -> None:
    _app, doc = _document()
    scheme = doc["components"]["securitySchemes"]["IntakeSig"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "Authorization"}
    courier = [
        (path, operation)
        for path, item in doc["paths"].items()
        if path.startswith("/api/v1/courier/")
        for operation in item.values()
    ]
    assert len(courier) >= 5
    for path, operation in courier:
        assert operation["security"] == [{"IntakeSig": []}], path
    others = [
        op
        for p, item in doc["paths"].items()
        if not p.startswith("/api/v1/courier/")
        for op in item.values()
    ]
    assert all("security" not in op for op in others)


def test_bodies_are_described_including_the_raw_upload() -> None:
    _app, doc = _document()
    paths = doc["paths"]
    upload = paths["/api/v1/submissions/{sid}/envelopes/{eid}"]["put"]["requestBody"]
    assert upload["content"]["application/octet-stream"]["schema"]["format"] == "binary"
    for method, path, schema in [
        ("post", "/api/v1/manifests", "SignedDocument"),
        ("post", "/api/v1/courier/receipts", "ReceiptsFile"),
        ("post", "/api/v1/courier/replies", "RepliesFile"),
        ("post", "/api/v1/courier/rewraps", "RewrapsFile"),
    ]:
        body = paths[path][method]["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{schema}"}
    rewrap = doc["components"]["schemas"]["RewrapsFile"]["properties"]["rewraps"]["items"]
    assert set(rewrap["required"]) == {"digest", "prefix", "kid", "sig"}
    bundle = paths["/api/v1/courier/bundle"]["get"]
    assert {p["name"] for p in bundle["parameters"]} >= {"limit", "Range", "If-Range"}
    assert "application/x-tar" in bundle["responses"]["200"]["content"]
    assert "ETag" in bundle["responses"]["200"]["headers"]
    assert "206" in bundle["responses"]
