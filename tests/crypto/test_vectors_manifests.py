"""manifests.json: chain verification from the pinned root, per PROTOCOL.md v2."""

from __future__ import annotations

from typing import Any

import pytest

from crypto import InvalidSignature, ManifestExpired, TrustRoot, parse_time, verify_chain

from .support import params


@pytest.mark.parametrize("vector", params("manifests.json"))
def test_manifest_vector(vector: dict[str, Any]) -> None:
    root = TrustRoot.from_json(vector["trust_root"])
    now = parse_time(vector["now"])
    if vector["expect"] == "ok":
        trusted = verify_chain(vector["chain"], root, now)
        assert len(trusted) == len(vector["chain"])
        assert trusted[-1].version == vector["latest_version"]
        assert [v.kid for v in trusted[-1].active_verifiers()] == vector["active_verifiers"]
        return
    with pytest.raises(InvalidSignature) as info:
        verify_chain(vector["chain"], root, now)
    assert info.value.reason == vector["expect"]
    assert isinstance(info.value, ManifestExpired) == (vector["expect"] == "expired")
