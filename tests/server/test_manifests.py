"""The manifest chain: genesis against the pinned trust root, successors
against their predecessor, and refusals with a clear code."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from server_helpers import World

import crypto

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

URL = "/api/v1/manifests"


def _code(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    return code


def test_genesis_is_accepted_and_served_with_the_trust_root(
    client: TestClient, world: World
) -> None:
    empty = client.get(URL).json()
    assert empty == {"chain": [], "trust_root": json.loads(world.trust_root())}
    genesis = world.manifest(1)
    response = client.post(URL, json=genesis)
    assert response.status_code == 201
    assert response.json() == {
        "version": 1,
        "fingerprint": crypto.parse_manifest(genesis).fingerprint,
    }
    served = client.get(URL).json()
    assert served["chain"] == [genesis]
    # What is served verifies from the pinned root, as a browser would check it.
    root = crypto.TrustRoot.parse(world.trust_root())
    assert [m.version for m in crypto.verify_chain(served["chain"], root)] == [1]


def test_genesis_needs_a_configured_trust_root(
    make_client: Callable[..., TestClient], world: World
) -> None:
    client = make_client(trust_root=None)
    response = client.post(URL, json=world.manifest(1))
    assert response.status_code == 503
    assert _code(response) == "trust-root-missing"
    assert client.get(URL).json() == {"chain": [], "trust_root": None}


def test_genesis_signed_by_other_admins_is_refused(client: TestClient, world: World) -> None:
    impostors = [crypto.generate_identity("admin", "impostor") for _ in range(3)]
    forged = World(admins=impostors, verifiers=world.verifiers, courier=world.courier).manifest(1)
    response = client.post(URL, json=forged)
    assert response.status_code == 422
    assert _code(response) == "manifest-rejected"
    assert response.json()["error"]["detail"]["reason"] in {"untrusted-root", "threshold"}


def test_genesis_with_too_few_signatures_is_refused(client: TestClient, world: World) -> None:
    response = client.post(URL, json=world.manifest(1, signers=world.admins[:1]))
    assert response.status_code == 422
    assert response.json()["error"]["detail"]["reason"] == "threshold"


def test_successor_is_accepted_and_rollback_refused(client: TestClient, world: World) -> None:
    assert client.post(URL, json=world.manifest(1)).status_code == 201
    assert client.post(URL, json=world.manifest(2)).status_code == 201
    rollback = client.post(URL, json=world.manifest(2))
    assert rollback.status_code == 422
    assert rollback.json()["error"]["detail"]["reason"] == "rollback"
    assert [crypto.parse_manifest(m).version for m in client.get(URL).json()["chain"]] == [1, 2]


def test_expired_or_unsigned_successor_is_refused(client: TestClient, world: World) -> None:
    assert client.post(URL, json=world.manifest(1)).status_code == 201
    past = datetime.now(UTC) - timedelta(days=1)
    expired = client.post(URL, json=world.manifest(2, expires=past))
    assert expired.status_code == 422
    assert expired.json()["error"]["detail"]["reason"] == "expired"
    tampered = world.manifest(2)
    tampered["payload"] = world.manifest(3)["payload"]
    refused = client.post(URL, json=tampered)
    assert refused.status_code == 422
    assert refused.json()["error"]["detail"]["reason"] in {"threshold", "bad-signature"}


def test_malformed_manifest_bodies_are_refused(client: TestClient) -> None:
    not_json = client.post(URL, content=b"{nope", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422
    assert _code(not_json) == "invalid-request"
    not_dsse = client.post(URL, json={"hello": "world"})
    assert not_dsse.status_code in (422, 503)
    too_big = client.post(URL, content=b"{" + b" " * (2 * 1024 * 1024) + b"}")
    assert too_big.status_code == 413


def test_manifest_posts_are_rate_limited(
    make_client: Callable[..., TestClient], world: World
) -> None:
    client = make_client(rate_limit_scale=1)
    statuses = [client.post(URL, json={"x": 1}).status_code for _ in range(15)]
    assert 429 in statuses
    limited = client.post(URL, json={"x": 1})
    assert limited.status_code == 429
    assert limited.headers["retry-after"].isdigit()
