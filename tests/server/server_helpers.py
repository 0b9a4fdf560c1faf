"""Builders for the server tests: real keys, real manifests, real envelopes,
and a real uvicorn server on a loopback port."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from fastapi import FastAPI

import crypto
from tests.support.pow import solved

ORG = {"name": "Test NGO", "contact": "intake@example.org"}


@dataclass
class World:
    """The keys of one deployment: admins, verifiers, a courier."""

    admins: list[crypto.Identity]
    verifiers: list[crypto.Identity]
    courier: crypto.Identity
    threshold: int = 2
    manifests: dict[int, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def create(cls) -> World:
        return cls(
            admins=[crypto.generate_identity("admin", f"admin {n}") for n in range(3)],
            verifiers=[crypto.generate_identity("verifier", f"verifier {n}") for n in range(3)],
            courier=crypto.generate_identity("courier", "courier"),
        )

    def trust_root(self) -> str:
        kids = [admin.sign_kid for admin in self.admins]
        return json.dumps({"threshold": self.threshold, "admins": kids})

    def manifest(
        self,
        version: int,
        *,
        active: Sequence[crypto.Identity] | None = None,
        retired: Sequence[crypto.Identity] = (),
        couriers: Sequence[crypto.Identity] | None = None,
        signers: Sequence[crypto.Identity] | None = None,
        expires: datetime | None = None,
    ) -> dict[str, Any]:
        """A signed DSSE manifest (cached per version for the default shape)."""
        active = list(self.verifiers[:2] if active is None else active)
        verifiers = [crypto.VerifierEntry.from_public(v.public(), "active") for v in active]
        verifiers += [crypto.VerifierEntry.from_public(v.public(), "retired") for v in retired]
        now = datetime.now(UTC).replace(microsecond=0)
        payload = crypto.build_manifest_payload(
            version=version,
            issued=now,
            expires=expires or now + timedelta(days=365),
            org=ORG,
            threshold=self.threshold,
            admins=[admin.public() for admin in self.admins],
            verifiers=verifiers,
            couriers=[c.public() for c in (couriers if couriers is not None else [self.courier])],
        )
        return crypto.dsse_sign(
            crypto.MANIFEST_TYPE, payload, list(signers or self.admins[: self.threshold])
        )


def parsed(envelope: dict[str, Any]) -> crypto.Manifest:
    return crypto.parse_manifest(envelope)


def seal(
    manifest: dict[str, Any],
    content: bytes,
    kind: str = "submission",
    recipients: Sequence[crypto.Identity] | None = None,
    chunk: int = 65536,
) -> bytes:
    """An envelope sealed to the manifest's active verifiers (or to `recipients`)."""
    m = parsed(manifest)
    if recipients is None:
        keys = [v.x25519 for v in m.active_verifiers()]
    else:
        keys = [r.x25519_public for r in recipients if r.x25519_public is not None]
    return crypto.seal_bytes(content, kind=kind, manifest=m.ref, recipients=keys, chunk=chunk)


def attachment_id(n: int) -> str:
    return f"{n:032x}"


def create(
    client: Any,
    envelopes: dict[str, bytes],
    kind: str = "submission",
    mailbox: str | None = None,
    pow_proof: dict[str, str] | None = None,
) -> Any:
    body: dict[str, Any] = {
        "kind": kind,
        "envelopes": [{"id": eid, "size": len(data)} for eid, data in envelopes.items()],
    }
    if mailbox is not None:  # what pages loaded before migration 0003 still send
        body["mailbox"] = mailbox
    if pow_proof is not None:
        body["pow"] = pow_proof
    return client.post("/api/v1/submissions", json=body)


def put(client: Any, sid: str, eid: str, offset: int, data: bytes) -> Any:
    return client.put(
        f"/api/v1/submissions/{sid}/envelopes/{eid}?offset={offset}",
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )


def upload(client: Any, sid: str, eid: str, data: bytes, chunk: int = 1 << 20) -> Any:
    offset = 0
    response = None
    while offset < len(data) or response is None:
        response = put(client, sid, eid, offset, data[offset : offset + chunk])
        assert response.status_code == 200, response.text
        offset = response.json()["offset"]
    return response


def submit(client: Any, envelopes: dict[str, bytes], kind: str = "submission", **kw: Any) -> str:
    """Create, upload every envelope, finalise; returns the submission id."""
    response = create(client, envelopes, kind=kind, **kw)
    assert response.status_code == 201, response.text
    sid: str = response.json()["id"]
    for eid, data in envelopes.items():
        upload(client, sid, eid, data)
    final = client.post(f"/api/v1/submissions/{sid}/finalise")
    assert final.status_code == 200, final.text
    return sid


def pow_proof(client: Any) -> dict[str, str]:
    return solved(client.post("/api/v1/challenges").json())


_STEP = itertools.count()
_SIGNED: set[tuple[str, str, str, bytes, int]] = set()


def signed(
    identity: crypto.Identity, method: str, target: str, body: bytes = b"", ts: int | None = None
) -> dict[str, str]:
    """An Authorization header. Ed25519 is deterministic, so two identical
    requests with one timestamp would carry one signature (a replay): by
    default each call steps its timestamp back a little, as a slower courier
    would, and never reuses one for the same request (the clock moving on by
    a second must not bring back a timestamp already stepped to)."""
    if ts is None:
        now, digest = int(time.time()), crypto.blake2b(32, body)
        for _ in range(240):
            stamp = now - next(_STEP) % 240
            seen = (identity.sign_kid, method, target, digest, stamp)
            if seen not in _SIGNED:
                _SIGNED.add(seen)
                break
        else:
            raise RuntimeError("more than 240 identical signed requests in one second")
    else:
        stamp = ts
    return {"Authorization": crypto.sign_request(identity, method, target, body, stamp)}


def courier_get(client: Any, world: World, target: str, **kw: Any) -> Any:
    return client.get(target, headers=signed(world.courier, "GET", target), **kw)


def courier_post(
    client: Any, world: World, target: str, document: Any, ts: int | None = None
) -> Any:
    body = json.dumps(document).encode()
    headers = signed(world.courier, "POST", target, body, ts)
    headers["Content-Type"] = "application/json"
    return client.post(target, content=body, headers=headers)


def read_bundle(
    data: bytes,
) -> tuple[list[dict[str, Any]], dict[str, tuple[dict[str, Any], dict[str, bytes]]]]:
    """(chain, {sid: (meta, {eid: envelope bytes})}) from a bundle's bytes."""
    chain: list[dict[str, Any]] = []
    subs: dict[str, tuple[dict[str, Any], dict[str, bytes]]] = {}
    for item in crypto.read_bundle(io.BytesIO(data)):
        if isinstance(item, crypto.ChainItem):
            chain = item.chain
        else:
            envelopes = {}
            for eid, spool in item.envelopes:
                spool.seek(0)
                envelopes[eid] = spool.read()
            item.close()
            subs[item.meta["id"]] = (item.meta, envelopes)
    return chain, subs


def receipts(world_verifier: crypto.Identity, envelopes: Sequence[bytes]) -> dict[str, Any]:
    items = []
    for data in envelopes:
        digest = crypto.payload_digest(io.BytesIO(data))
        kid, sig = crypto.sign_receipt(world_verifier, digest)
        items.append({"digest": crypto.b64e(digest), "kid": kid, "sig": crypto.b64e(sig)})
    return {"type": "intake/receipts", "receipts": items}


def rewrap_to(world: World, envelope: bytes, manifest: dict[str, Any]) -> tuple[bytes, bytes]:
    """(payload digest, new prefix): `envelope` rewrapped by the first verifier
    to the active verifiers of `manifest`, as the verifier's tool does offline."""
    target = crypto.parse_manifest(manifest)
    prefix = crypto.rewrap_prefix(
        io.BytesIO(envelope),
        crypto.Keyring([world.verifiers[0]]),
        [v.x25519 for v in target.active_verifiers()],
        manifest=target.ref,
    )
    return crypto.payload_digest(io.BytesIO(envelope)), prefix


def rewraps(signer: crypto.Identity, digest: bytes, prefix: bytes) -> dict[str, Any]:
    """A rewraps document of one new `prefix` for the payload `digest`, signed by `signer`."""
    kid, sig = crypto.sign_rewrap(signer, digest, prefix)
    item = {"digest": crypto.b64e(digest), "prefix": crypto.b64e(prefix)}
    return {"type": "intake/rewraps", "rewraps": [{**item, "kid": kid, "sig": crypto.b64e(sig)}]}


@contextlib.contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """Runs `app` under uvicorn on a free loopback port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, access_log=False, log_config=None, ws="none", lifespan="on", server_header=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def make_reply(
    world: World, genesis: dict[str, Any], mailbox_codename: str
) -> tuple[dict[str, Any], crypto.MailboxKeys]:
    """A reply file entry for the mailbox of `mailbox_codename`, signed by a verifier."""
    keys = crypto.derive_mailbox(mailbox_codename, crypto.parse_manifest(genesis).payload)
    content = json.dumps(
        {"status": "received", "message": "ok", "sent": "2026-11-22T10:00:00Z"}
    ).encode()
    envelope = crypto.seal_bytes(
        content,
        kind="reply",
        manifest=crypto.parse_manifest(genesis).ref,
        recipients=[keys.reply_public],
    )
    kid, sig = crypto.sign_reply(world.verifiers[0], envelope)
    item = {
        "mailbox": keys.mailbox_id,
        "envelope": crypto.b64e(envelope),
        "kid": kid,
        "sig": crypto.b64e(sig),
    }
    return item, keys
