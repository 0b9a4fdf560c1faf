"""manifests.json: chain verification from the pinned root, per PROTOCOL.md v3.

Vectors with an `anchor` (v3) parse it first, as a page does, and pass it to
`verify_chain`; every `ok` vector also pins the latest manifest's key-set
bytes and fingerprint.
"""

from __future__ import annotations

from typing import Any

import pytest

from crypto import (
    InvalidSignature,
    ManifestExpired,
    TrustRoot,
    b64e,
    key_set_bytes,
    parse_anchor,
    parse_time,
    verify_chain,
)

from .support import load, params


def _verify(vector: dict[str, Any]) -> list[Any]:
    root = TrustRoot.from_json(vector["trust_root"])
    anchor = parse_anchor(vector["anchor"]) if "anchor" in vector else None
    return verify_chain(vector["chain"], root, parse_time(vector["now"]), anchor=anchor)


@pytest.mark.parametrize("vector", params("manifests.json"))
def test_manifest_vector(vector: dict[str, Any]) -> None:
    if vector["expect"] == "ok":
        trusted = _verify(vector)
        assert len(trusted) == len(vector["chain"])
        latest = trusted[-1]
        assert latest.version == vector["latest_version"]
        assert [v.kid for v in latest.active_verifiers()] == vector["active_verifiers"]
        assert b64e(key_set_bytes(latest)) == vector["key_set_bytes"]
        assert latest.key_set_fingerprint == vector["key_set_fingerprint"]
        return
    with pytest.raises(InvalidSignature) as info:
        _verify(vector)
    assert info.value.reason == vector["expect"]
    assert isinstance(info.value, ManifestExpired) == (vector["expect"] == "expired")


def test_the_vectors_cover_the_anchor_and_the_key_set() -> None:
    names = {v["name"] for v in load("manifests.json")["vectors"]}
    assert "rollback-chain-short-of-anchor" in names
    assert "rollback-fork-at-anchor-version" in names
    assert any(n.startswith("malformed-anchor-") for n in names)
    assert "ok-renewal-keeps-key-set" in names
