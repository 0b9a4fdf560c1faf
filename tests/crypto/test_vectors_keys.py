"""keys.json: the identities behind every other vector file."""

from __future__ import annotations

from typing import Any

import pytest

from crypto import TrustRoot, b64d, b64e, kid

from .support import identities, load


@pytest.mark.parametrize(
    "entry", [pytest.param(e, id=e["label"]) for e in load("keys.json")["identities"]]
)
def test_identity_publics_and_kids_follow_from_secrets(entry: dict[str, Any]) -> None:
    ident = identities()[entry["label"]]
    assert b64e(ident.ed25519_public) == entry["ed25519"]
    assert ident.sign_kid == entry["sign_kid"] == kid(b64d(entry["ed25519"]))
    if entry["kind"] == "verifier":
        assert ident.x25519_public is not None
        assert b64e(ident.x25519_public) == entry["x25519"]
        assert entry["kid"] == kid(b64d(entry["x25519"]))
    else:
        assert entry["x25519"] is None and entry["x25519_secret"] is None
        assert entry["kid"] == entry["sign_kid"]


def test_trust_root_pins_three_admins_with_threshold_two() -> None:
    root = TrustRoot.from_json(load("keys.json")["trust_root"])
    admins = {i.sign_kid for i in identities().values() if i.label.startswith("admin-")}
    assert root.threshold == 2
    assert root.admin_kids <= admins and len(root.admin_kids) == 3
