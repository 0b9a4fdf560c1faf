"""DSSE ("Dead Simple Signing Envelope") signing and verification.

Signatures are over ``PAE(payloadType, payload)`` of the *received* payload
bytes; nothing is re-serialised before verification, so there is no
canonicalisation step for an attacker to exploit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from crypto import _sodium
from crypto.encoding import b64d, b64e
from crypto.errors import InvalidSignature
from crypto.keys import Identity

MANIFEST_TYPE = "application/vnd.intake.manifest+json"
_ENVELOPE_KEYS = frozenset({"payloadType", "payload", "signatures"})


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSEv1 pre-authentication encoding: lengths are byte lengths in ASCII decimal."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def dsse_sign(payload_type: str, payload: bytes, signers: Sequence[Identity]) -> dict[str, Any]:
    """A DSSE envelope over ``payload`` signed by each of ``signers``."""
    message = pae(payload_type, payload)
    return {
        "payloadType": payload_type,
        "payload": b64e(payload),
        "signatures": [{"keyid": s.sign_kid, "sig": b64e(s.sign(message))} for s in signers],
    }


def _parse(envelope: Mapping[str, Any]) -> tuple[str, bytes, list[tuple[str, bytes | None]]]:
    """(payloadType, payload, [(keyid, sig or None if not 64 bytes)]); malformed otherwise."""
    try:
        if not isinstance(envelope, Mapping) or set(envelope) != _ENVELOPE_KEYS:
            raise ValueError("DSSE fields")
        payload_type = envelope["payloadType"]
        if not isinstance(payload_type, str):
            raise ValueError("payloadType")
        payload = b64d(envelope["payload"])
        sigs = envelope["signatures"]
        if not isinstance(sigs, list):
            raise ValueError("signatures")
        out: list[tuple[str, bytes | None]] = []
        for entry in sigs:
            if not isinstance(entry, Mapping) or set(entry) != {"keyid", "sig"}:
                raise ValueError("signature fields")
            if not isinstance(entry["keyid"], str):
                raise ValueError("keyid")
            sig = b64d(entry["sig"])
            out.append((entry["keyid"], sig if len(sig) == _sodium.SIGNATURE_BYTES else None))
        return payload_type, payload, out
    except (ValueError, TypeError) as exc:
        raise InvalidSignature("malformed") from exc


def dsse_payload(envelope: Mapping[str, Any]) -> tuple[str, bytes]:
    """(payloadType, payload bytes) of a well-formed envelope, unverified."""
    payload_type, payload, _ = _parse(envelope)
    return payload_type, payload


def dsse_add_signature(envelope: Mapping[str, Any], signer: Identity) -> dict[str, Any]:
    """A copy of ``envelope`` with ``signer``'s signature added (replacing its old one)."""
    payload_type, payload, _ = _parse(envelope)
    sig = {"keyid": signer.sign_kid, "sig": b64e(signer.sign(pae(payload_type, payload)))}
    others = [dict(s) for s in envelope["signatures"] if s["keyid"] != signer.sign_kid]
    return {
        "payloadType": payload_type,
        "payload": envelope["payload"],
        "signatures": [*others, sig],
    }


def dsse_with_signatures(
    envelope: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """``envelope``'s payload with exactly these ``{"keyid", "sig"}`` entries, unverified."""
    combined = {
        "payloadType": envelope["payloadType"],
        "payload": envelope["payload"],
        "signatures": [{"keyid": e["keyid"], "sig": e["sig"]} for e in entries],
    }
    _parse(combined)
    return combined


def dsse_check_signers(
    envelope: Mapping[str, Any], keys: Mapping[str, bytes]
) -> tuple[set[str], set[str]]:
    """(kids whose signature verifies, kids of ``keys`` named by a signature that does not).

    A signature counts only against the key its ``keyid`` names in ``keys``,
    and each key counts once however many times it signed.
    """
    payload_type, payload, sigs = _parse(envelope)
    message = pae(payload_type, payload)
    valid: set[str] = set()
    failed: set[str] = set()
    for keyid, sig in sigs:
        public = keys.get(keyid)
        if public is None:
            continue
        if sig is not None and _sodium.verify_detached(sig, message, public):
            valid.add(keyid)
        else:
            failed.add(keyid)
    return valid, failed - valid


def dsse_valid_signers(envelope: Mapping[str, Any], keys: Mapping[str, bytes]) -> set[str]:
    """Kids of ``keys`` with a valid signature on ``envelope``; bad signatures are
    simply not counted (``InvalidSignature("malformed")`` only for a broken envelope)."""
    return dsse_check_signers(envelope, keys)[0]
