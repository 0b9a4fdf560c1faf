"""rewraps.json: a rewrap is applied only with the signature of a verifier of
the current manifest, over the payload digest and the new prefix."""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from crypto import (
    InvalidSignature,
    Keyring,
    TrustRoot,
    b64d,
    open_bytes,
    parse_prefix,
    parse_time,
    payload_digest,
    read_header,
    rewrap_signing_bytes,
    verify_chain,
    verify_rewrap,
)
from tests.crypto.support import identities

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rewraps.json"


@cache
def _doc() -> dict[str, Any]:
    return json.loads(VECTORS.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _params() -> list[Any]:
    return [pytest.param(v, id=v["name"]) for v in _doc()["vectors"]]


@pytest.mark.parametrize("vector", _params())
def test_rewrap_vector(vector: dict[str, Any]) -> None:
    doc = _doc()
    latest = verify_chain(
        doc["chain"], TrustRoot.from_json(doc["trust_root"]), parse_time(doc["now"])
    )[-1]
    digest, prefix, sig = b64d(vector["digest"]), b64d(vector["prefix"]), b64d(vector["sig"])
    if vector["signing_bytes"] is not None:
        assert rewrap_signing_bytes(digest, prefix) == b64d(vector["signing_bytes"])
    if vector["expect"] == "ok":
        signer = verify_rewrap(digest, prefix, vector["kid"], sig, latest)
        assert signer.sign_kid == vector["kid"]
        return
    with pytest.raises(InvalidSignature) as info:
        verify_rewrap(digest, prefix, vector["kid"], sig, latest)
    assert info.value.reason == vector["expect"]


def test_signed_prefix_really_rewraps_the_vector_envelope() -> None:
    """The ok vectors sign a prefix that opens the original payload for the
    new verifiers (verifier-3 was not a recipient before)."""
    doc = _doc()
    envelope = b64d(doc["envelope"])
    ok = next(v for v in doc["vectors"] if v["expect"] == "ok")
    prefix = b64d(ok["prefix"])
    old = read_header(io.BytesIO(envelope))
    new = parse_prefix(prefix)
    assert new.stream_header == old.stream_header and new.manifest.version == 2
    rewrapped = prefix + envelope[len(old.prefix) :]
    assert payload_digest(io.BytesIO(rewrapped)) == b64d(ok["digest"])
    opened, _plain = open_bytes(rewrapped, Keyring([identities()["verifier-3"]]))
    assert opened.payload_digest == b64d(ok["digest"])


def test_every_rewrap_vector_class_is_present() -> None:
    classes = {v["expect"] for v in _doc()["vectors"]}
    assert classes == {"ok", "bad-signature", "malformed"}
