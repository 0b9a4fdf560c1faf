"""Codename normalisation (PROTOCOL.md v2) and the reply key."""

from __future__ import annotations

import pytest

from crypto import (
    InvalidEnvelope,
    Keyring,
    ManifestRef,
    derive_mailbox,
    normalise_codename,
    open_reply,
    seal_bytes,
)
from tests.vectors.generate import GENESIS_PAYLOAD, V1


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("  Ёлка\tЖЁЛТЫЙ\u00a0мёд\u3000 ", "елка желтый мед"),
        ("ＡＢＣ　ｄｅｆ", "abc def"),  # full-width letters and ideographic space
        ("е\u0308ж", "еж"),  # NFKC composes е + U+0308 to ё, which then folds to е
        ("a\u200bb", "a\u200bb"),  # zero-width space is not white space here
        ("a\u001cb", "a\u001cb"),  # nor is U+001C, although Python's str.split thinks so
        ("a\u0085b\u2028c\u2029d\u1680e\u205ff\u202fg", "a b c d e f g"),
        ("", ""),
    ],
)
def test_normalisation_follows_the_spec_exactly(raw: str, normalised: str) -> None:
    assert normalise_codename(raw) == normalised


def test_mailbox_depends_on_the_deployment_genesis() -> None:
    a = derive_mailbox("one two three", GENESIS_PAYLOAD)
    b = derive_mailbox("one two three", GENESIS_PAYLOAD + b" ")
    assert a.mailbox_id != b.mailbox_id and a.reply_public != b.reply_public
    assert len(a.mailbox_id) == 64 and len(a.token) == 32


def test_empty_codename_is_refused() -> None:
    with pytest.raises(ValueError):
        derive_mailbox(" \t\u3000", GENESIS_PAYLOAD)


def test_mailbox_keys_repr_hides_the_secret_and_token() -> None:
    keys = derive_mailbox("one two three", GENESIS_PAYLOAD)
    assert keys.token.hex() not in repr(keys) and repr(keys.reply_secret) not in repr(keys)


def test_open_reply_opens_replies_only() -> None:
    keys = derive_mailbox("one two three", GENESIS_PAYLOAD)
    ref = ManifestRef(1, bytes(32))
    reply = seal_bytes(b"{}", kind="reply", manifest=ref, recipients=[keys.reply_public])
    assert open_reply(reply, keys.reply_secret, keys.reply_public) == b"{}"
    other = seal_bytes(b"{}", kind="followup", manifest=ref, recipients=[keys.reply_public])
    with pytest.raises(InvalidEnvelope) as info:
        open_reply(other, keys.reply_secret, keys.reply_public)
    assert info.value.reason == "malformed"
    # and a verifier keyring is not needed, nor does the reply key open verifier mail
    assert V1.x25519_public is not None
    to_verifier = seal_bytes(b"x", kind="reply", manifest=ref, recipients=[V1.x25519_public])
    with pytest.raises(InvalidEnvelope) as info:
        open_reply(to_verifier, keys.reply_secret, keys.reply_public)
    assert info.value.reason == "no-match"
    assert Keyring([V1]).verifiers() == [V1]
