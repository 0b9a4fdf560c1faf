"""What every response carries: security headers, the error shape, and no
trace of the client."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from app.main import create_app

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

EXPECTED = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
        "img-src 'self' blob: data:; connect-src 'self'; form-action 'none'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


def _assert_hardened(response: Any, cache: str = "no-store") -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, name
    policy = response.headers["permissions-policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()"):
        assert feature in policy
    assert response.headers["cache-control"] == cache
    assert "server" not in response.headers


def test_api_answers_and_errors_carry_the_security_headers(client: TestClient) -> None:
    _assert_hardened(client.get("/api/v1/manifests"))
    _assert_hardened(client.get("/no/such/page"))
    _assert_hardened(client.post("/api/v1/submissions", json={}))
    _assert_hardened(client.get("/api/openapi.json"))
    assert "strict-transport-security" not in client.get("/api/v1/manifests").headers


def test_hsts_and_onion_location_when_configured(make_client: Callable[..., TestClient]) -> None:
    client = make_client(https=True, onion_location="http://example2345.onion/")
    response = client.get("/api/v1/manifests")
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert response.headers["onion-location"] == "http://example2345.onion/"


def test_static_files_are_never_stored_by_the_browser(client: TestClient) -> None:
    static = Path(__file__).resolve().parents[2] / "app" / "static"
    files = [p for p in static.rglob("*") if p.is_file() and "vendor" not in p.parts]
    if not files:
        pytest.skip("no static files yet")
    path = "/static/" + files[0].relative_to(static).as_posix()
    response = client.get(path)
    assert response.status_code == 200
    _assert_hardened(response)


def test_errors_have_one_shape(client: TestClient) -> None:
    for response in (
        client.get("/api/v1/nothing"),
        client.delete("/api/v1/manifests"),
        client.post("/api/v1/submissions", json={"kind": "nope"}),
        client.post("/api/v1/mailbox", json={"token": "AAAA"}),
    ):
        body = response.json()
        assert set(body) == {"error"}
        assert set(body["error"]) == {"code", "message", "detail"}
        assert isinstance(body["error"]["code"], str)
        assert isinstance(body["error"]["detail"], dict)
    assert client.delete("/api/v1/manifests").json()["error"]["code"] == "method-not-allowed"


def test_validation_errors_do_not_echo_the_input(client: TestClient) -> None:
    secret = "codename-words-that-must-not-come-back"
    response = client.post("/api/v1/mailbox", json={"token": 12345, "extra": secret})
    assert response.status_code == 422
    assert secret not in response.text


def test_unexpected_failure_is_a_500_in_the_same_shape_with_headers(
    make_settings: Callable[..., Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A database with no schema: a real failure, not a simulated one.
    settings = make_settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    from fastapi.testclient import TestClient

    with (
        caplog.at_level(logging.ERROR, logger="intake"),
        TestClient(create_app(settings)) as client,
    ):
        response = client.get("/api/v1/manifests", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal-error", "message": "Internal server error.", "detail": {}}
    }
    _assert_hardened(response)
    assert "203.0.113.9" not in caplog.text
    assert "testclient" not in caplog.text  # the TestClient's client host


def test_openapi_is_served_and_interactive_docs_are_not(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert "/api/v1/submissions/{sid}/envelopes/{eid}" in spec["paths"]
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
