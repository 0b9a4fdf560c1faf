"""Courier endpoints: signed requests, bundles, receipts, replies, rewraps."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from server_helpers import (
    World,
    attachment_id,
    courier_get,
    courier_post,
    make_reply,
    read_bundle,
    receipts,
    rewrap_to,
    rewraps,
    seal,
    signed,
    submit,
)

import crypto

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.usefixtures("ready")

LIST = "/api/v1/courier/submissions"


def _error(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    return code


def test_courier_routes_refuse_unsigned_requests(client: TestClient) -> None:
    for method, path in [
        ("GET", LIST),
        ("GET", "/api/v1/courier/bundle"),
        ("POST", "/api/v1/courier/receipts"),
        ("POST", "/api/v1/courier/replies"),
        ("POST", "/api/v1/courier/rewraps"),
    ]:
        response = client.request(method, path)
        assert response.status_code == 401, path
        assert _error(response) == "unauthorized"


def test_signed_request_is_accepted_once_and_its_replay_refused(
    client: TestClient, world: World
) -> None:
    headers = signed(world.courier, "GET", LIST)
    first = client.get(LIST, headers=headers)
    assert first.status_code == 200
    assert first.json() == {"submissions": []}
    replay = client.get(LIST, headers=headers)
    assert replay.status_code == 401
    assert _error(replay) == "replayed-request"


def test_request_signed_outside_the_time_window_is_refused(
    client: TestClient, world: World
) -> None:
    now = int(time.time())
    # +302: the server reads its clock a moment later than `now` (up to a second).
    for ts in (now - 301, now + 302):
        response = client.get(LIST, headers=signed(world.courier, "GET", LIST, ts=ts))
        assert response.status_code == 401
    assert (
        client.get(LIST, headers=signed(world.courier, "GET", LIST, ts=now - 200)).status_code
        == 200
    )


def test_signature_binds_key_method_target_and_body(client: TestClient, world: World) -> None:
    stranger = crypto.generate_identity("courier", "not in the manifest")
    assert client.get(LIST, headers=signed(stranger, "GET", LIST)).status_code == 401
    # An admin or verifier key is not a courier key either.
    assert client.get(LIST, headers=signed(world.admins[0], "GET", LIST)).status_code == 401
    # Signed for another target (limit changed in flight).
    headers = signed(world.courier, "GET", "/api/v1/courier/bundle?limit=1")
    assert client.get("/api/v1/courier/bundle?limit=500", headers=headers).status_code == 401
    # Signed for another method.
    assert client.post(LIST, headers=signed(world.courier, "GET", LIST)).status_code in (401, 405)
    # Body swapped after signing.
    body = json.dumps({"type": "intake/receipts", "receipts": []}).encode()
    headers = signed(world.courier, "POST", "/api/v1/courier/receipts", body)
    tampered = body.replace(b"[]", b"[ ]")
    response = client.post("/api/v1/courier/receipts", content=tampered, headers=headers)
    assert response.status_code == 401
    ok = client.post("/api/v1/courier/receipts", content=body, headers=headers)
    assert ok.status_code == 200
    assert ok.json() == {"accepted": 0, "deleted": []}


def _two_submissions(
    client: TestClient, genesis: dict[str, Any]
) -> tuple[dict[str, dict[str, bytes]], list[str]]:
    held: dict[str, dict[str, bytes]] = {}
    order = []
    for n in range(2):
        envelopes = {
            "form": seal(genesis, f"form {n}".encode()),
            attachment_id(n): seal(genesis, f"scan {n}".encode() * 100, kind="attachment"),
        }
        sid = submit(client, envelopes)
        held[sid] = envelopes
        order.append(sid)
    return held, order


def test_listing_and_bundle_limit(
    client: TestClient, world: World, genesis: dict[str, Any]
) -> None:
    held, order = _two_submissions(client, genesis)
    listing = courier_get(client, world, LIST).json()["submissions"]
    assert sorted(s["id"] for s in listing) == sorted(order)
    for entry in listing:
        assert entry["kind"] == "submission"
        assert entry["size"] == sum(len(data) for data in held[entry["id"]].values())
        assert entry["received"].endswith(":00:00Z")
    _chain, subs = read_bundle(courier_get(client, world, "/api/v1/courier/bundle?limit=1").content)
    assert len(subs) == 1
    limit = courier_get(client, world, "/api/v1/courier/bundle?limit=0")
    assert limit.status_code == 422


def test_receipts_delete_ciphertext_only_when_every_envelope_is_covered(
    client: TestClient, world: World, genesis: dict[str, Any], tmp_path: Path
) -> None:
    held, order = _two_submissions(client, genesis)
    first, second = order
    objects = tmp_path / "blobs" / "objects"
    assert len(list(objects.glob("*/*"))) == 4

    partial = courier_post(
        client,
        world,
        "/api/v1/courier/receipts",
        receipts(world.verifiers[0], [held[first]["form"]]),
    )
    assert partial.json() == {"accepted": 1, "deleted": []}
    assert len(list(objects.glob("*/*"))) == 4  # one envelope of two: nothing deleted

    rest = receipts(world.verifiers[1], [held[first][attachment_id(0)]])
    done = courier_post(client, world, "/api/v1/courier/receipts", rest)
    assert done.json() == {"accepted": 1, "deleted": [first]}
    assert len(list(objects.glob("*/*"))) == 2
    listing = courier_get(client, world, LIST).json()["submissions"]
    assert [s["id"] for s in listing] == [second]
    _chain, subs = read_bundle(courier_get(client, world, "/api/v1/courier/bundle").content)
    assert list(subs) == [second]
    assert subs[second][1] == held[second]

    # Pushing the same receipts again (a new request) is harmless.
    again = courier_post(client, world, "/api/v1/courier/receipts", rest, ts=int(time.time()) - 1)
    assert again.json() == {"accepted": 0, "deleted": []}


def test_a_bad_receipt_rejects_the_whole_file(
    client: TestClient, world: World, genesis: dict[str, Any]
) -> None:
    held, order = _two_submissions(client, genesis)
    sid = order[0]
    good = receipts(world.verifiers[0], list(held[sid].values()))
    forged = receipts(world.courier, [held[order[1]]["form"]])["receipts"]  # not a verifier
    document = {"type": "intake/receipts", "receipts": good["receipts"] + forged}
    response = courier_post(client, world, "/api/v1/courier/receipts", document)
    assert response.status_code == 422
    assert _error(response) == "receipt-invalid"
    assert response.json()["error"]["detail"] == {"index": 2}
    assert len(courier_get(client, world, LIST).json()["submissions"]) == 2
    wrong_type = courier_post(
        client, world, "/api/v1/courier/receipts", {"type": "intake/replies", "receipts": []}
    )
    assert wrong_type.status_code == 422


def test_replies_reach_the_mailbox_once(
    client: TestClient, world: World, genesis: dict[str, Any]
) -> None:
    item, keys = make_reply(
        world, genesis, "alpha bravo charlie delta echo foxtrot golf hotel india"
    )
    document = {"type": "intake/replies", "replies": [item]}
    assert courier_post(client, world, "/api/v1/courier/replies", document).json() == {
        "accepted": 1
    }
    repeat = courier_post(
        client, world, "/api/v1/courier/replies", document, ts=int(time.time()) - 1
    )
    assert repeat.json() == {"accepted": 0}

    fetched = client.post("/api/v1/mailbox", json={"token": crypto.b64e(keys.token)})
    assert fetched.status_code == 200
    replies = fetched.json()["replies"]
    assert len(replies) == 1
    envelope = crypto.b64d(replies[0]["envelope"])
    assert replies[0]["kid"] == world.verifiers[0].sign_kid
    assert replies[0]["sent"].endswith(":00:00Z")
    crypto.verify_reply(
        envelope, replies[0]["kid"], crypto.b64d(replies[0]["sig"]), crypto.parse_manifest(genesis)
    )
    assert (
        json.loads(crypto.open_reply(envelope, keys.reply_secret, keys.reply_public))["status"]
        == "received"
    )


def test_reply_not_signed_by_a_verifier_is_refused(
    client: TestClient, world: World, genesis: dict[str, Any]
) -> None:
    item, _keys = make_reply(world, genesis, "one two three four five six seven eight nine")
    envelope = crypto.b64d(item["envelope"])
    kid, sig = crypto.sign_reply(world.courier, envelope)
    forged = {**item, "kid": kid, "sig": crypto.b64e(sig)}
    response = courier_post(
        client, world, "/api/v1/courier/replies", {"type": "intake/replies", "replies": [forged]}
    )
    assert response.status_code == 422
    assert _error(response) == "reply-invalid"
    not_reply = seal(genesis, b"x")
    kid, sig = crypto.sign_reply(world.verifiers[0], not_reply)
    wrong_kind = {**item, "envelope": crypto.b64e(not_reply), "kid": kid, "sig": crypto.b64e(sig)}
    response = courier_post(
        client,
        world,
        "/api/v1/courier/replies",
        {"type": "intake/replies", "replies": [wrong_kind]},
    )
    assert response.status_code == 422


def test_rewrap_replaces_the_prefix_and_keeps_the_payload(
    client: TestClient, world: World, genesis: dict[str, Any]
) -> None:
    content = b"rotate me" * 1000
    envelope = seal(genesis, content, kind="attachment")
    sid = submit(client, {"form": seal(genesis, b"f"), attachment_id(9): envelope})
    rotated = world.manifest(
        2, active=[world.verifiers[0], world.verifiers[2]], retired=[world.verifiers[1]]
    )
    assert client.post("/api/v1/manifests", json=rotated).status_code == 201

    # A rewrap prefix for the new manifest (the verifier would do this offline).
    digest, prefix = rewrap_to(world, envelope, rotated)
    document = rewraps(world.verifiers[0], digest, prefix)
    assert courier_post(client, world, "/api/v1/courier/rewraps", document).json() == {
        "accepted": 1
    }

    _chain, subs = read_bundle(courier_get(client, world, "/api/v1/courier/bundle").content)
    rewrapped = subs[sid][1][attachment_id(9)]
    assert rewrapped != envelope
    assert crypto.payload_digest(io.BytesIO(rewrapped)) == digest
    _opened, plain = crypto.open_bytes(rewrapped, crypto.Keyring([world.verifiers[2]]))
    assert plain == content

    # A prefix for another stream is refused, and nothing changes.
    other = seal(rotated, b"other", kind="attachment")
    header_len = int.from_bytes(other[8:12], "big")
    other_prefix = other[: 12 + header_len + 32]
    bad = rewraps(world.verifiers[0], digest, other_prefix)
    response = courier_post(client, world, "/api/v1/courier/rewraps", bad)
    assert response.status_code == 422
    assert _error(response) == "rewrap-invalid"
    _chain, subs = read_bundle(courier_get(client, world, "/api/v1/courier/bundle").content)
    assert subs[sid][1][attachment_id(9)] == rewrapped


def test_courier_requests_need_a_manifest_courier(
    make_client: Callable[..., TestClient], world: World
) -> None:
    # A manifest that lists no courier: nobody can pull ciphertext.
    client = make_client()
    no_courier = world.manifest(2, couriers=[])
    assert client.post("/api/v1/manifests", json=no_courier).status_code == 201
    assert courier_get(client, world, LIST).status_code == 401
