"""mailbox.json: codename normalisation and mailbox derivation, byte for byte."""

from __future__ import annotations

from typing import Any

import pytest

from crypto import b64d, b64e, derive_mailbox, mailbox_id_for_token, normalise_codename

from .support import load

VECTORS = load("mailbox.json")["vectors"]


@pytest.mark.parametrize(
    "vector", [pytest.param(v, id=f"codename-{i}") for i, v in enumerate(VECTORS)]
)
def test_mailbox_vector(vector: dict[str, Any]) -> None:
    assert normalise_codename(vector["codename"]) == vector["normalised"]
    keys = derive_mailbox(vector["codename"], b64d(vector["genesis_payload"]))
    assert b64e(keys.reply_public) == vector["reply_x25519"]
    assert b64e(keys.token) == vector["token"]
    assert keys.mailbox_id == vector["mailbox_id"] == mailbox_id_for_token(keys.token)


def test_spellings_of_one_codename_share_a_mailbox() -> None:
    # Vectors 1-3 are one codename written with ё, in shouting case, and with е.
    ids = {VECTORS[i]["mailbox_id"] for i in (1, 2, 3)}
    assert len(ids) == 1
