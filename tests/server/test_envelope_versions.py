"""The server stores only version-2 envelopes (PROTOCOL.md: writers produce
v2). A version-1 attachment is named by the digest of its whole envelope,
which the first key rotation (rewrap) breaks; refusing v1 at upload keeps
such cases from silently becoming unopenable later. The offline tools still
open v1 envelopes from older bundles (tests/cli, tests/crypto vectors)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import pytest
from server_helpers import create, parsed, put, seal, upload

import crypto
from crypto.envelope import _content_plaintext, _seal_plaintext

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.usefixtures("ready")


def _seal_v1(genesis: dict[str, Any], content: bytes) -> bytes:
    """A well-formed version-1 envelope, sealed to the manifest's active verifiers
    (only the private writer can still produce one)."""
    manifest = parsed(genesis)
    out = io.BytesIO()
    _seal_plaintext(
        _content_plaintext(io.BytesIO(content), len(content)),
        crypto.padded_size(len(content)),
        out,
        v=1,
        kind="submission",
        manifest=manifest.ref,
        recipients=[v.x25519 for v in manifest.active_verifiers()],
        chunk=65536,
        rng=None,
    )
    return out.getvalue()


def test_version_1_upload_is_refused_clearly_and_the_upload_can_start_again(
    client: TestClient, genesis: dict[str, Any]
) -> None:
    old = _seal_v1(genesis, b'{"answers": {}}' + b" " * 100)
    assert crypto.read_header(io.BytesIO(old)).v == 1
    sid = create(client, {"form": old}).json()["id"]

    refused = put(client, sid, "form", 0, old)

    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "envelope-invalid"
    assert "version-2" in error["message"]
    # Nothing kept: the same upload starts again from 0 (a fixed page re-seals
    # as v2; the declared size must then match, so declare anew).
    assert client.get(f"/api/v1/submissions/{sid}/envelopes/form").json()["offset"] == 0
    assert client.post(f"/api/v1/submissions/{sid}/finalise").status_code == 409
    current = seal(genesis, b'{"answers": {}}')
    fresh = create(client, {"form": current}).json()["id"]
    upload(client, fresh, "form", current)
    assert client.post(f"/api/v1/submissions/{fresh}/finalise").status_code == 200
