"""Every JSON body the server reads is bounded before it is parsed (issue 14,
item 7), on SQLite and PostgreSQL.

A deeply nested body made the parser recurse until RecursionError, and the
manifest and site routes answered 500. Now nesting deeper than 64 is refused
with `json-too-deep` before any parser runs, on every route that takes JSON
(signed courier routes included), and duplicate keys and NaN/Infinity, which
readers disagree on, are refused the same way everywhere.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_helpers import World, signed

from crypto.encoding import MAX_JSON_DEPTH

PUBLIC_JSON_ROUTES = ["/api/v1/manifests", "/api/v1/site", "/api/v1/submissions", "/api/v1/mailbox"]
COURIER_JSON_ROUTES = [
    "/api/v1/courier/receipts",
    "/api/v1/courier/replies",
    "/api/v1/courier/rewraps",
]


def nested(depth: int) -> bytes:
    """An object holding arrays `depth` levels deep in all."""
    return b'{"a":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def post(client: TestClient, world: World, target: str, body: bytes) -> Any:
    headers = {"Content-Type": "application/json"}
    if target.startswith("/api/v1/courier/"):
        headers.update(signed(world.courier, "POST", target, body))
    return client.post(target, content=body, headers=headers)


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


@pytest.mark.parametrize("target", PUBLIC_JSON_ROUTES + COURIER_JSON_ROUTES)
def test_deeply_nested_json_is_refused_before_parsing_on_every_json_route(
    ready: TestClient, world: World, target: str
) -> None:
    for body in (b"[" * 200_000 + b"]" * 200_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000):
        response = post(ready, world, target, body)
        assert response.status_code == 422, response.text
        assert response.json()["error"] == {
            "code": "json-too-deep",
            "message": "The body nests arrays and objects too deeply.",
            "detail": {"max_depth": MAX_JSON_DEPTH},
        }


@pytest.mark.parametrize("target", PUBLIC_JSON_ROUTES + COURIER_JSON_ROUTES)
def test_nesting_up_to_the_limit_is_read_and_brackets_in_strings_do_not_count(
    ready: TestClient, world: World, target: str
) -> None:
    at_limit = post(ready, world, target, nested(MAX_JSON_DEPTH))
    assert at_limit.status_code in (400, 401, 403, 422), at_limit.text
    assert error_code(at_limit) != "json-too-deep"  # read, then refused for what it says
    assert error_code(post(ready, world, target, nested(MAX_JSON_DEPTH + 1))) == "json-too-deep"
    in_a_string = b'{"a": "' + b"[{" * 100_000 + b'"}'
    assert error_code(post(ready, world, target, in_a_string)) != "json-too-deep"


@pytest.mark.parametrize("target", PUBLIC_JSON_ROUTES + COURIER_JSON_ROUTES)
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"kind": "submission", "kind": "followup"}', id="duplicate-key"),
        pytest.param(b'{"size": NaN}', id="nan"),
        pytest.param(b'{"size": -Infinity}', id="infinity"),
    ],
)
def test_duplicate_keys_and_nan_or_infinity_are_refused_on_every_json_route(
    ready: TestClient, world: World, target: str, body: bytes
) -> None:
    response = post(ready, world, target, body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid-request"
    assert "strict JSON" in response.json()["error"]["message"]


def test_a_declaration_naming_a_field_twice_is_not_taken_as_its_last_value(
    ready: TestClient,
) -> None:
    # FastAPI's own reading kept the last value: `kind` would be "submission".
    body = b'{"kind": "followup", "kind": "submission", "envelopes": [{"id": "form", "size": 10}]}'
    response = ready.post(
        "/api/v1/submissions", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid-request"
