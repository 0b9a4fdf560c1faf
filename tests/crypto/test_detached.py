"""Detached signature files (crypto/detached.py): what they name, what they
refuse, and that combining them gives the document the admins signed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from crypto import InvalidSignature, b64d, b64e, dsse_check_signers, dsse_sign, generate_identity
from crypto.detached import (
    MANIFEST_SIGNATURE_TYPE,
    SITE_SIGNATURE_TYPE,
    combine_detached,
    parse_detached,
    sign_detached,
)
from crypto.dsse import MANIFEST_TYPE
from crypto.site import SITE_TYPE

A, B = (generate_identity("admin", n) for n in "AB")
KEYS = {i.sign_kid: i.ed25519_public for i in (A, B)}
ISSUED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def _draft(payload: bytes = b'{"version":7}', payload_type: str = MANIFEST_TYPE) -> dict[str, Any]:
    return dsse_sign(payload_type, payload, [])


def test_two_admins_signing_apart_combine_into_a_document_both_signed() -> None:
    draft = _draft()
    files = [parse_detached(sign_detached(draft, admin, 7)) for admin in (A, B)]
    combined = combine_detached(draft, files)
    assert dsse_check_signers(combined, KEYS) == ({A.sign_kid, B.sign_kid}, set())
    assert combined["payload"] == draft["payload"]


def test_a_file_names_its_draft_by_kind_and_version_or_issue_time() -> None:
    manifest_file = sign_detached(_draft(), A, 7)
    assert manifest_file["type"] == MANIFEST_SIGNATURE_TYPE and manifest_file["version"] == 7
    site_file = sign_detached(_draft(b"{}", SITE_TYPE), A, ISSUED)
    assert site_file["type"] == SITE_SIGNATURE_TYPE
    assert parse_detached(site_file).names == ISSUED
    with pytest.raises(ValueError, match="version"):
        sign_detached(_draft(), A, ISSUED)
    with pytest.raises(ValueError, match="issue time"):
        sign_detached(_draft(b"{}", SITE_TYPE), A, 7)
    with pytest.raises(ValueError, match="no detached signature file"):
        sign_detached(_draft(b"{}", "text/plain"), A, 7)


def test_a_signature_of_another_draft_is_refused_before_combining() -> None:
    other = parse_detached(sign_detached(_draft(b'{"version":8}'), A, 8))
    assert not other.signs(_draft())
    with pytest.raises(InvalidSignature) as caught:
        combine_detached(_draft(), [other])
    assert caught.value.reason == "malformed"
    # Same payload bytes under the other document type: another draft too.
    assert not other.signs(_draft(b'{"version":8}', SITE_TYPE))


def test_a_key_signing_twice_is_combined_once() -> None:
    draft = _draft()
    twice = [parse_detached(sign_detached(draft, A, 7)) for _ in range(2)]
    assert len(combine_detached(draft, twice)["signatures"]) == 1


def test_a_forged_sig_combines_but_does_not_verify() -> None:
    """The file is not an authority: only the signature, checked once combined."""
    data = sign_detached(_draft(), A, 7)
    sig = b64d(data["sig"])
    data["sig"] = b64e(bytes([sig[0] ^ 1]) + sig[1:])
    combined = combine_detached(_draft(), [parse_detached(data)])
    assert dsse_check_signers(combined, KEYS) == (set(), {A.sign_kid})


@pytest.mark.parametrize(
    "change",
    [
        {"type": "intake/other-signature"},
        {"version": True},
        {"version": 0},
        {"version": "7"},
        {"keyid": "AB" * 16},
        {"sig": b64e(b"\0" * 63)},
        {"payload_digest": b64e(b"\0" * 31)},
        {"label": 5},
        {"issued": "2026-12-01T09:30:00Z"},
        {"note": "extra field"},
    ],
    ids=lambda c: next(iter(c)) + "=" + repr(next(iter(c.values())))[:20],
)
def test_malformed_files_are_refused(change: dict[str, Any]) -> None:
    data = sign_detached(_draft(), A, 7) | change
    with pytest.raises(InvalidSignature) as caught:
        parse_detached(data)
    assert caught.value.reason == "malformed"


@pytest.mark.parametrize("missing", ["type", "version", "payload_digest", "keyid", "sig"])
def test_files_missing_a_field_are_refused(missing: str) -> None:
    data = sign_detached(_draft(), A, 7)
    del data[missing]
    with pytest.raises(InvalidSignature):
        parse_detached(data)


def test_the_label_is_optional_and_not_signed() -> None:
    data = sign_detached(_draft(), A, 7)
    del data["label"]
    assert parse_detached(data).label == ""
