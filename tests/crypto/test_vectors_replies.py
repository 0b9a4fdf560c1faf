"""replies.json: a reply is shown only if a verifier of the trusted manifest signed it."""

from __future__ import annotations

from typing import Any

import pytest

from crypto import (
    InvalidSignature,
    TrustRoot,
    b64d,
    b64e,
    open_reply,
    parse_time,
    verify_chain,
    verify_reply,
)

from .support import params


@pytest.mark.parametrize("vector", params("replies.json"))
def test_reply_vector(vector: dict[str, Any]) -> None:
    latest = verify_chain(
        vector["chain"], TrustRoot.from_json(vector["trust_root"]), parse_time(vector["now"])
    )[-1]
    envelope, sig = b64d(vector["envelope"]), b64d(vector["sig"])
    if vector["expect"] == "ok":
        entry = verify_reply(envelope, vector["kid"], sig, latest)
        assert entry.sign_kid == vector["kid"]
        content = open_reply(envelope, b64d(vector["reply_secret"]), b64d(vector["reply_public"]))
        assert b64e(content) == vector["content"]
        return
    with pytest.raises(InvalidSignature) as info:
        verify_reply(envelope, vector["kid"], sig, latest)
    assert info.value.reason == vector["expect"]
