"""requests.json: courier request signatures (Authorization: Intake-Sig)."""

from __future__ import annotations

from typing import Any

import pytest

from crypto import (
    InvalidSignature,
    Manifest,
    b64d,
    b64e,
    blake2b,
    parse_authorization,
    request_signing_bytes,
    verify_request,
)

from .support import load, params, verified_chain

DOC = load("requests.json")


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return verified_chain(DOC)[-1]


@pytest.mark.parametrize("vector", params("requests.json"))
def test_request_vector(vector: dict[str, Any], manifest: Any) -> None:
    body_digest = blake2b(32, b64d(vector["body"]))
    args = (vector["authorization"], vector["method"], vector["target"], body_digest, manifest)
    if vector["signing_bytes"] is not None:
        _kid, ts, _sig = parse_authorization(vector["authorization"])
        signed = request_signing_bytes(vector["method"], vector["target"], ts, body_digest)
        assert b64e(signed) == vector["signing_bytes"]
    if vector["expect"] == "ok":
        kid, sig = verify_request(*args, now=vector["now"])
        assert manifest.courier_by_kid(kid) is not None
        assert len(sig) == 64
        return
    with pytest.raises(InvalidSignature) as info:
        verify_request(*args, now=vector["now"])
    assert info.value.reason == vector["expect"]
