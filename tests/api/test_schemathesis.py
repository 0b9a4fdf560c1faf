"""schemathesis against the app's own OpenAPI document.

Over a thousand generated requests (valid and deliberately invalid) reach
every operation of a real app on SQLite, with real manifests and stored
submissions, proof of work at difficulty 0 and rate limits off so they get
past the gates. Every answer must be below 500 and exactly as documented:
its status code, its content type and its body's schema, so every error is
the one JSON error shape.

Courier operations need a fresh signature per request: a small ASGI layer
signs each one with the deployment's courier key, over the exact target and
body it carries, as `intake-courier` would. Half the cases that name a
submission are pointed at real ones, so uploads, progress and finalise reach
their deep paths instead of stopping at 404.
"""

from __future__ import annotations

import itertools
import json
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks
from schemathesis.python import asgi
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import crypto
from app.main import create_app
from app.migrate import upgrade
from tests.server.server_helpers import (
    World,
    attachment_id,
    create,
    make_reply,
    put,
    seal,
    submit,
)
from tests.support.app_clients import unthrottled_settings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

MIN_CASES = 1000
POSITIVE_EXAMPLES = 60
NEGATIVE_EXAMPLES = 45
CHECKS: list[Any] = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
FUZZ = settings(
    database=None,
    deadline=None,
    derandomize=False,
    suppress_health_check=list(HealthCheck),
)


class SigningCourier:
    """Signs every `/api/v1/courier/` request with a courier key, over the
    target and body exactly as the app will see them."""

    def __init__(self, app: ASGIApp, courier: crypto.Identity) -> None:
        self.app = app
        self.courier = courier
        self._stamps = itertools.count()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/v1/courier/"):
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        target = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        # Each request its own timestamp: equal requests must not share a signature.
        ts = int(time.time()) - next(self._stamps) % 280
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"authorization"]
        try:
            value = crypto.sign_request(self.courier, scope["method"], target, body, ts)
            headers.append((b"authorization", value.encode()))
        except ValueError:
            pass  # a target no courier could sign (spaces, controls): sent unsigned
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app({**scope, "headers": headers}, replay, send)


@dataclass
class Deployment:
    app: SigningCourier
    complete: list[str]
    form: bytes  # a real form envelope, sealed to the deployment's verifiers


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    world = World.create()
    settings_ = unthrottled_settings(
        database_url=f"sqlite:///{tmp / 'intake.db'}",
        blob_dir=tmp / "blobs",
        trust_root=world.trust_root(),
        pow_secret="s" * 64,
    )
    upgrade(settings_)
    app = create_app(settings_)
    with TestClient(app) as client:
        genesis = world.manifest(1)
        assert client.post("/api/v1/manifests", json=genesis).status_code == 201
        complete = [
            submit(
                client,
                {
                    "form": seal(genesis, f"form {n}".encode()),
                    attachment_id(n): seal(genesis, b"scan" * 3000, kind="attachment"),
                },
            )
            for n in range(3)
        ]
        form = seal(genesis, b"uploaded by schemathesis" * 200)
        half = create(client, {"form": form}).json()["id"]
        assert put(client, half, "form", 0, form[:1000]).status_code == 200
        reply, _keys = make_reply(world, genesis, "one two three four five six seven eight nine")
        document = json.dumps({"type": "intake/replies", "replies": [reply]}).encode()
        signer = SigningCourier(app, world.courier)
        with TestClient(signer) as signed:
            response = signed.post(
                "/api/v1/courier/replies",
                content=document,
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code == 200, response.text
    return Deployment(SigningCourier(app, world.courier), complete, form)


def _run_operation(
    operation: Any,
    mode: GenerationMode,
    examples: int,
    aim: Callable[[Any, int | None], None],
    seen: Counter[str],
    form_size: int,
) -> None:
    # Operations on a submission also draw whether (and how much of a real
    # envelope) to aim at a real one; the rest are schemathesis's alone.
    aimed = (
        st.one_of(st.none(), st.integers(1, form_size)) if "{sid}" in operation.path else st.none()
    )

    @settings(FUZZ, max_examples=examples)
    @given(case=operation.as_strategy(generation_mode=mode), cut=aimed)
    def run(case: Any, cut: int | None) -> None:
        aim(case, cut)
        response = case.call_and_validate(checks=CHECKS)
        seen[f"{operation.label} -> {response.status_code}"] += 1

    run()


def test_generated_requests_get_documented_answers_and_never_a_5xx(
    deployment: Deployment,
) -> None:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", deployment.app)

    uploads = asgi.get_client(deployment.app)

    def aim(case: Any, cut: int | None) -> None:
        """Point a case at a real submission: an upload goes to a new one and
        carries the first `cut` bytes of a real envelope (all of them, at
        times, so it completes and is validated); the rest name a complete one."""
        if cut is None or "sid" not in case.path_parameters:
            return
        case.path_parameters["sid"] = deployment.complete[0]
        if "eid" in case.path_parameters:
            case.path_parameters["eid"] = "form"
        if case.method.upper() == "PUT":
            declared = {
                "kind": "submission",
                "envelopes": [{"id": "form", "size": len(deployment.form)}],
            }
            case.path_parameters["sid"] = uploads.post("/api/v1/submissions", json=declared).json()[
                "id"
            ]
            case.query = {**(case.query or {}), "offset": 0}
            case.body = deployment.form[:cut]

    seen: Counter[str] = Counter()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        for mode, examples in (
            (GenerationMode.POSITIVE, POSITIVE_EXAMPLES),
            (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES),
        ):
            try:
                _run_operation(operation, mode, examples, aim, seen, len(deployment.form))
            except hypothesis.errors.Unsatisfiable:
                continue  # nothing to make invalid (no parameters, no body)
            except Exception as exc:  # every operation is reported, not only the first
                failures.append(f"{operation.label} ({mode.value}): {exc}"[:3000])

    total = sum(seen.values())
    report = "\n".join(f"{count:5d}  {key}" for key, count in sorted(seen.items()))
    assert not failures, "\n\n".join(failures) + "\n\n" + report
    assert total >= MIN_CASES, report
    assert not [key for key in seen if key.rsplit(" ", 1)[-1].startswith("5")], report
    # Deep paths were reached, not only the gates.
    reached = {key.rsplit(" -> ", 1)[0] for key in seen if not key.endswith(("401", "404", "422"))}
    for label in (
        "POST /api/v1/submissions",
        "PUT /api/v1/submissions/{sid}/envelopes/{eid}",
        "GET /api/v1/courier/bundle",
        "POST /api/v1/courier/receipts",
    ):
        assert label in reached, report
