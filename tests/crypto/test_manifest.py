"""Manifests: building canonical payloads, parsing leniently, trusting strictly."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from crypto import (
    InvalidSignature,
    ManifestExpired,
    TrustRoot,
    VerifierEntry,
    b64d,
    blake2b,
    build_manifest_payload,
    dsse_sign,
    parse_manifest,
    verify_chain,
    verify_successor,
)
from crypto.dsse import MANIFEST_TYPE
from tests.vectors.generate import A1, A2, A3, C1, GENESIS, NOW, ROOT, SECOND, V1, V2, V3, manifest


def build(**changes: object) -> bytes:
    args: dict[str, object] = {
        "version": 1,
        "issued": datetime(2026, 1, 1, tzinfo=UTC),
        "expires": datetime(2027, 1, 1, tzinfo=UTC),
        "org": {"name": "Организация", "contact": "x@example.org"},
        "threshold": 2,
        "admins": [a.public() for a in (A1, A2, A3)],
        "verifiers": [VerifierEntry.from_public(V1.public())],
        "couriers": [C1.public()],
    }
    args.update(changes)
    return build_manifest_payload(**args)  # type: ignore[arg-type]


def test_payload_is_canonical_json() -> None:
    payload = build()
    value = json.loads(payload)
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert payload == canonical.encode("utf-8")
    assert "Организация".encode() in payload  # UTF-8, not \u escapes
    assert value["type"] == "intake/manifest" and value["issued"] == "2026-01-01T00:00:00Z"


def test_payload_carries_extra_fields_but_not_over_standard_ones() -> None:
    assert json.loads(build(extra={"form": {"id": "f"}}))["form"] == {"id": "f"}
    with pytest.raises(ValueError):
        build(extra={"version": 9})


@pytest.mark.parametrize(
    "changes",
    [
        {"threshold": 0},
        {"threshold": 4},
        {"admins": [A1.public(), A1.public()]},
        {"verifiers": [VerifierEntry.from_public(V1.public())] * 2},
    ],
    ids=["threshold-zero", "threshold-too-high", "duplicate-admin", "duplicate-verifier"],
)
def test_build_refuses_what_a_reader_would_refuse(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        build(**changes)


def test_parsed_manifest_exposes_keys_digest_and_fingerprint() -> None:
    m = parse_manifest(SECOND)
    assert m.version == 2 and m.threshold == 2
    assert [a.sign_kid for a in m.admins] == [A1.sign_kid, A2.sign_kid, A3.sign_kid]
    assert [v.kid for v in m.active_verifiers()] == [V1.kid, V3.kid]
    assert m.verifier_by_sign_kid(V2.sign_kid) is not None  # retired, still listed
    assert m.verifier_by_sign_kid(V1.kid) is None  # x25519 kid is not a signing kid
    assert m.courier_by_kid(C1.sign_kid) is not None and m.courier_by_kid(V1.sign_kid) is None
    assert m.digest == blake2b(32, b64d(SECOND["payload"])) and m.ref.version == 2
    assert m.fingerprint == " ".join(
        blake2b(16, m.payload).hex()[i : i + 4] for i in range(0, 32, 4)
    )


def test_trust_root_round_trips_and_refuses_nonsense() -> None:
    assert TrustRoot.parse(json.dumps(ROOT.to_json())) == ROOT
    for bad in (
        {"threshold": 0, "admins": ["a" * 32]},
        {"threshold": 2, "admins": ["a" * 32]},
        {"threshold": 1, "admins": ["A" * 32]},
        {"threshold": 1, "admins": ["a" * 32] * 2},
        {"threshold": 1, "admins": ["a" * 32], "x": 1},
        {"threshold": 1, "admins": [{"kid": "a" * 32}]},
        {"threshold": True, "admins": ["a" * 32]},
    ):
        with pytest.raises(ValueError):
            TrustRoot.from_json(bad)


def test_verify_successor_accepts_the_next_link_and_refuses_rollback() -> None:
    genesis = verify_chain([GENESIS], ROOT, NOW)[0]
    assert verify_successor(genesis, SECOND, NOW).version == 2
    second = parse_manifest(SECOND)
    with pytest.raises(InvalidSignature) as info:
        verify_successor(second, manifest(2), NOW)
    assert info.value.reason == "rollback"


def test_expired_latest_reports_when_it_expired() -> None:
    with pytest.raises(ManifestExpired) as info:
        verify_chain([GENESIS], ROOT, datetime(2030, 1, 1, tzinfo=UTC))
    assert info.value.expires == parse_manifest(GENESIS).expires
    assert info.value.reason == "expired"


def test_expiry_one_second_before_now_is_refused_and_after_is_accepted() -> None:
    expires = parse_manifest(GENESIS).expires
    verify_chain([GENESIS], ROOT, expires - timedelta(seconds=1))
    with pytest.raises(ManifestExpired):
        verify_chain([GENESIS], ROOT, expires)


def test_now_defaults_to_the_clock_and_must_be_aware() -> None:
    fresh = manifest(1, issued=datetime.now(UTC), expires=datetime.now(UTC) + timedelta(days=1))
    assert verify_chain([fresh], ROOT)[0].version == 1
    with pytest.raises(ValueError):
        verify_chain([fresh], ROOT, datetime(2026, 1, 1))  # naive on purpose


@pytest.mark.parametrize("chain", [None, {}, "chain", 5, [5], [[]]])
def test_a_chain_that_is_not_a_list_of_links_is_malformed(chain: object) -> None:
    with pytest.raises(InvalidSignature) as info:
        verify_chain(chain, ROOT, NOW)  # type: ignore[arg-type]
    assert info.value.reason == "malformed"


def test_unknown_fields_everywhere_in_the_payload_are_ignored() -> None:
    data = json.loads(b64d(GENESIS["payload"]))
    data["future"] = {"x": [1, 2]}
    data["admins"]["note"] = "n"
    data["admins"]["keys"][0]["extra"] = True
    data["couriers"][0]["extra"] = None
    payload = json.dumps(data).encode()
    assert parse_manifest(dsse_sign(MANIFEST_TYPE, payload, [A1])).version == 1
