"""site_documents.json: canonical JSON (what writers of signed documents
produce), site-document signatures over the bytes as sent, the classes a
reader gives (PROTOCOL.md, *The signed site document*), and what a detached
signature file covers."""

from __future__ import annotations

from typing import Any

import pytest

from crypto import (
    InvalidSignature,
    Manifest,
    b64d,
    b64e,
    blake2b,
    canonical_json,
    parse_time,
)
from crypto._sodium import verify_detached
from crypto.detached import combine_detached, parse_detached
from crypto.dsse import pae
from crypto.site import build_site_payload, verify_site

from .support import load, params, verified_chain

DOC = load("site_documents.json")


@pytest.fixture(scope="module")
def chain() -> list[Manifest]:
    return verified_chain(DOC)


def _class(envelope: dict[str, Any], manifest: Any) -> str:
    try:
        verify_site(envelope, manifest)
    except InvalidSignature as exc:
        return exc.reason
    return "ok"


@pytest.mark.parametrize("vector", DOC["canonical_json"], ids=lambda v: v["name"])
def test_canonical_json_vector(vector: dict[str, Any]) -> None:
    assert b64e(canonical_json(vector["value"])) == vector["canonical"]


def test_canonical_json_sorts_by_code_point_not_utf16() -> None:
    # The one place a JavaScript writer that sorts with the default
    # comparison (UTF-16 code units) would produce other bytes.
    vector = next(v for v in DOC["canonical_json"] if v["name"] == "astral-key-after-bmp-key")
    text = b64d(vector["canonical"]).decode("utf-8")
    assert text.index("\ue000") < text.index("\uffff") < text.index("\U0001f600")
    assert sorted(vector["value"], key=lambda k: k.encode("utf-16-be")) != sorted(vector["value"])


@pytest.mark.parametrize("vector", params("site_documents.json"))
def test_site_vector_gives_the_expected_class(vector: dict[str, Any], chain: Any) -> None:
    assert _class(vector["envelope"], chain[-1]) == vector["expect"]


@pytest.mark.parametrize("vector", params("site_documents.json"))
def test_site_signatures_cover_the_pae_of_the_payload_as_sent(vector: dict[str, Any]) -> None:
    envelope = vector["envelope"]
    payload = b64d(envelope["payload"])
    t = envelope["payloadType"].encode()
    layout = b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)
    assert b64d(vector["pae"]) == layout == pae(envelope["payloadType"], payload)
    assert b64d(vector["payload_digest"]) == blake2b(32, payload)


@pytest.mark.parametrize(
    "vector", [p for p in params("site_documents.json") if "fields" in p.values[0]]
)
def test_site_payload_is_the_canonical_json_of_its_fields(vector: dict[str, Any]) -> None:
    fields = vector["fields"]
    payload = b64d(vector["envelope"]["payload"])
    document = {"type": "intake/site", **fields}
    assert payload == canonical_json(document)
    rebuilt = build_site_payload(
        manifest_version=fields["manifest_version"],
        issued=parse_time(fields["issued"]),
        files={path: b64d(digest) for path, digest in fields["files"].items()},
        headers=fields.get("headers"),
    )
    assert rebuilt == payload


def test_accepted_site_document_is_refused_once_a_payload_byte_changes(chain: Any) -> None:
    vector = next(v for v in DOC["vectors"] if v["name"] == "ok-v3-canonical")
    payload = bytearray(b64d(vector["envelope"]["payload"]))
    position = payload.index(b"DENY")
    payload[position] ^= 0x20  # "DENY" -> "dENY": still valid JSON, still a valid document
    changed = dict(vector["envelope"], payload=b64e(bytes(payload)))
    assert _class(changed, chain[-1]) == "bad-signature"


def test_detached_site_signature_files_cover_the_dsse_pae(chain: Any) -> None:
    vector = next(v for v in DOC["vectors"] if v["name"] == "ok-v3-canonical")
    admins = chain[-1].admin_keys
    message = b64d(vector["pae"])
    issued = parse_time(vector["fields"]["issued"])
    for detached in vector["detached"]:
        assert set(detached) == {"type", "issued", "payload_digest", "keyid", "label", "sig"}
        assert detached["type"] == "intake/site-signature"
        assert parse_time(detached["issued"]) == issued
        assert detached["payload_digest"] == vector["payload_digest"]
        assert verify_detached(b64d(detached["sig"]), message, admins[detached["keyid"]])
        assert not verify_detached(b64d(detached["sig"]), message + b" ", admins[detached["keyid"]])
    # Put beside the payload, the detached signatures make the signed document.
    combined = dict(
        vector["envelope"],
        signatures=[{"keyid": d["keyid"], "sig": d["sig"]} for d in vector["detached"]],
    )
    assert _class(combined, chain[-1]) == "ok"


def test_detached_manifest_signature_file_covers_the_dsse_pae(chain: Any) -> None:
    manifest, detached = DOC["manifest_detached"]["manifest"], DOC["manifest_detached"]["signature"]
    payload = b64d(manifest["payload"])
    assert set(detached) == {"type", "version", "payload_digest", "keyid", "label", "sig"}
    assert detached["type"] == "intake/manifest-signature"
    assert detached["version"] == chain[-1].version
    assert b64d(detached["payload_digest"]) == blake2b(32, payload)
    key = chain[-1].admin_keys[detached["keyid"]]
    assert verify_detached(b64d(detached["sig"]), pae(manifest["payloadType"], payload), key)


def test_the_detached_owner_reads_and_combines_the_vector_files(chain: Any) -> None:
    vector = next(v for v in DOC["vectors"] if v["name"] == "ok-v3-canonical")
    parsed = [parse_detached(d) for d in vector["detached"]]
    assert all(p.signs(vector["envelope"]) for p in parsed)
    assert _class(combine_detached(vector["envelope"], parsed), chain[-1]) == "ok"
    manifest_file = parse_detached(DOC["manifest_detached"]["signature"])
    assert manifest_file.names == chain[-1].version
    assert manifest_file.signs(DOC["manifest_detached"]["manifest"])
    assert not manifest_file.signs(vector["envelope"])
