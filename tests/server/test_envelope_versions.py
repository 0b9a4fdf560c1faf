"""The server stores version-2, -3 and -4 envelopes, and no version 1.

Version 4 (PROTOCOL.md version 5) is what a page without WebAssembly writes:
the same layout, an AES-256-GCM payload of ``chunk + 16``-byte chunks and its
own payload-digest label; the server checks its framing and names it by its
digest like the others.

Version 3 (what pages write now) differs from version 2 only in the payload
digest, the name the server stores an envelope by; a page cached from before
version 3 still sends version 2, so both are stored, each under its own
version's digest. A version-1 attachment is named by the digest of its whole
envelope, which the first key rotation (rewrap) breaks; refusing v1 at upload
keeps such cases from silently becoming unopenable later. The offline tools
still open v1 envelopes from older bundles (tests/cli, tests/crypto vectors).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from server_helpers import create, parsed, put, seal, upload

import crypto
from app.models import Envelope
from crypto.envelope import _content_plaintext, _seal_plaintext

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.usefixtures("ready")


def _seal_old(genesis: dict[str, Any], content: bytes, v: int) -> bytes:
    """A well-formed envelope of an earlier version, sealed to the manifest's
    active verifiers (only the private writer can still produce one)."""
    manifest = parsed(genesis)
    out = io.BytesIO()
    _seal_plaintext(
        _content_plaintext(io.BytesIO(content), len(content)),
        crypto.padded_size(len(content)),
        out,
        v=v,
        kind="submission",
        manifest=manifest.ref,
        recipients=[v.x25519 for v in manifest.active_verifiers()],
        chunk=65536,
        rng=None,
    )
    return out.getvalue()


def _stored_digest(client: TestClient, sid: str) -> str | None:
    engine = client.app.state.runtime.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        digest: str | None = connection.execute(
            sa.select(Envelope.digest).where(Envelope.submission_id == sid)
        ).scalar_one()
    return digest


def test_version_1_upload_is_refused_clearly_and_the_upload_can_start_again(
    client: TestClient, genesis: dict[str, Any]
) -> None:
    old = _seal_old(genesis, b'{"answers": {}}' + b" " * 100, v=1)
    assert crypto.read_header(io.BytesIO(old)).v == 1
    sid = create(client, {"form": old}).json()["id"]

    refused = put(client, sid, "form", 0, old)

    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "envelope-invalid"
    assert "version-2" in error["message"] and "version-3" in error["message"]
    assert "version-4" in error["message"]
    # Nothing kept: the same upload starts again from 0 (a fixed page re-seals
    # as v3; the declared size must then match, so declare anew).
    assert client.get(f"/api/v1/submissions/{sid}/envelopes/form").json()["offset"] == 0
    assert client.post(f"/api/v1/submissions/{sid}/finalise").status_code == 409
    current = seal(genesis, b'{"answers": {}}')
    fresh = create(client, {"form": current}).json()["id"]
    upload(client, fresh, "form", current)
    assert client.post(f"/api/v1/submissions/{fresh}/finalise").status_code == 200


@pytest.mark.parametrize("version", [2, 3, 4])
def test_version_2_3_and_4_uploads_are_stored_under_their_own_payload_digest(
    client: TestClient, genesis: dict[str, Any], version: int
) -> None:
    content = b'{"answers": {}}' + b" " * 70_000  # two chunks: the v3 hash list has two entries
    # Version 3 is what the public writer produces now; 4 what a page without WebAssembly does.
    envelope = seal(genesis, content) if version == 3 else _seal_old(genesis, content, v=version)
    assert crypto.read_header(io.BytesIO(envelope)).v == version
    sid = create(client, {"form": envelope}).json()["id"]

    upload(client, sid, "form", envelope)

    assert client.post(f"/api/v1/submissions/{sid}/finalise").status_code == 200
    # Named by the digest of the envelope's own version, which a verifier's
    # receipt and the submission's attachment references use too.
    assert _stored_digest(client, sid) == crypto.payload_digest(io.BytesIO(envelope)).hex()
