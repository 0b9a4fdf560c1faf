"""A rewrap needs a verifier's signature: a stolen courier key cannot replace
held prefixes (and so make the ciphertext unopenable)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pytest
from server_helpers import (
    World,
    attachment_id,
    courier_get,
    courier_post,
    read_bundle,
    seal,
    submit,
)

import crypto

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.usefixtures("ready")

REWRAPS = "/api/v1/courier/rewraps"


class Rotation:
    """One held attachment and a rewrap of it to manifest 2's verifiers."""

    def __init__(
        self,
        client: TestClient,
        world: World,
        genesis: dict[str, Any],
        *,
        retired: Sequence[crypto.Identity] = (),
    ) -> None:
        self.client, self.world = client, world
        self.content = b"held across a rotation" * 500
        self.envelope = seal(genesis, self.content, kind="attachment")
        self.sid = submit(client, {"form": seal(genesis, b"f"), attachment_id(3): self.envelope})
        rotated = world.manifest(
            2, active=[world.verifiers[0], world.verifiers[2]], retired=retired
        )
        assert client.post("/api/v1/manifests", json=rotated).status_code == 201
        manifest = crypto.parse_manifest(rotated)
        # Verifier 1 holds K (it was a recipient under the genesis).
        self.prefix = crypto.rewrap_prefix(
            io.BytesIO(self.envelope),
            crypto.Keyring([world.verifiers[1]]),
            [v.x25519 for v in manifest.active_verifiers()],
            manifest=manifest.ref,
        )
        self.digest = crypto.payload_digest(io.BytesIO(self.envelope))

    def entry(self, signer: crypto.Identity, prefix: bytes | None = None) -> dict[str, str]:
        kid, sig = crypto.sign_rewrap(signer, self.digest, self.prefix)
        return {
            "digest": crypto.b64e(self.digest),
            "prefix": crypto.b64e(self.prefix if prefix is None else prefix),
            "kid": kid,
            "sig": crypto.b64e(sig),
        }

    def push(self, *entries: dict[str, str]) -> Any:
        document = {"type": "intake/rewraps", "rewraps": list(entries)}
        return courier_post(self.client, self.world, REWRAPS, document)

    def held(self) -> bytes:
        bundle = courier_get(self.client, self.world, "/api/v1/courier/bundle")
        _chain, subs = read_bundle(bundle.content)
        return subs[self.sid][1][attachment_id(3)]


def _refused(response: Any, index: int = 0) -> None:
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "rewrap-invalid"
    assert response.json()["error"]["detail"]["index"] == index


def test_rewrap_signed_by_an_active_verifier_is_applied(
    client: TestClient, world: World, genesis: dict[str, Any]
) -> None:
    rotation = Rotation(client, world, genesis)

    assert rotation.push(rotation.entry(world.verifiers[0])).json() == {"accepted": 1}

    held = rotation.held()
    assert held.startswith(rotation.prefix)
    _opened, plain = crypto.open_bytes(held, crypto.Keyring([world.verifiers[2]]))
    assert plain == rotation.content


def test_rewrap_signed_by_a_retired_verifier_is_applied(
    client: TestClient, world: World, genesis: dict[str, Any]
) -> None:
    # The verifier rotating out is often the only one holding the old keys.
    rotation = Rotation(client, world, genesis, retired=[world.verifiers[1]])

    assert rotation.push(rotation.entry(world.verifiers[1])).json() == {"accepted": 1}
    assert rotation.held().startswith(rotation.prefix)


@pytest.mark.parametrize("signer", ["courier", "admin", "revoked verifier", "stranger"])
def test_rewrap_not_signed_by_a_verifier_of_the_current_manifest_is_refused(
    client: TestClient, world: World, genesis: dict[str, Any], signer: str
) -> None:
    # Verifier 1 is not in manifest 2 at all: its key was revoked.
    rotation = Rotation(client, world, genesis)
    identity = {
        "courier": world.courier,
        "admin": world.admins[0],
        "revoked verifier": world.verifiers[1],
        "stranger": crypto.generate_identity("verifier", "stranger"),
    }[signer]

    _refused(rotation.push(rotation.entry(identity)))

    assert rotation.held() == rotation.envelope


def test_unsigned_or_altered_rewraps_refuse_the_whole_file(
    client: TestClient, world: World, genesis: dict[str, Any]
) -> None:
    rotation = Rotation(client, world, genesis)
    good = rotation.entry(world.verifiers[0])
    unsigned = {"digest": good["digest"], "prefix": good["prefix"]}
    # A courier swapping in garbage after the verifier signed.
    garbage = bytearray(rotation.prefix)
    garbage[-40] ^= 1
    altered = {**good, "prefix": crypto.b64e(bytes(garbage))}
    not_base64 = {**good, "sig": "%%%"}
    kid_as_number = {**good, "kid": 7}

    for index, bad in enumerate([unsigned, altered, not_base64, kid_as_number]):
        _refused(rotation.push(good, bad), index=1)
        assert rotation.held() == rotation.envelope, index
