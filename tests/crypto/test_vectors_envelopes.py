"""envelopes.json: every vector opens, or fails with exactly its class."""

from __future__ import annotations

import io
from typing import Any

import pytest

from crypto import InvalidEnvelope, NoMatchingKey, b64d, b64e, open_envelope, payload_digest

from .support import keyring, params


@pytest.mark.parametrize("vector", params("envelopes.json"))
def test_envelope_vector(vector: dict[str, Any]) -> None:
    data = b64d(vector["envelope"])
    out = io.BytesIO()
    if vector["expect"] == "ok":
        opened = open_envelope(io.BytesIO(data), out, keyring(vector["keyring"]))
        assert b64e(out.getvalue()) == vector["content"]
        assert b64e(opened.payload_digest) == vector["payload_digest"]
        assert opened.size == len(b64d(vector["content"]))
        assert opened.header.kind == vector["kind"]
        assert opened.header.recipient_kids == vector["recipients"]
        # The keyless digest the server computes is the same one.
        assert payload_digest(io.BytesIO(data)) == opened.payload_digest
        return
    with pytest.raises(InvalidEnvelope) as info:
        open_envelope(io.BytesIO(data), out, keyring(vector["keyring"]))
    assert info.value.reason == vector["expect"]
    assert out.getvalue() == b"", "nothing may be released from a failed envelope"
    if vector["expect"] == "no-match":
        assert isinstance(info.value, NoMatchingKey)
        assert info.value.recipients == vector["recipients"]
