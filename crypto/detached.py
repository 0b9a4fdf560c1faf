"""Detached signature files: one admin's DSSE signature on a draft, carried apart from it.

Admins sign on separate offline machines, so each passes around a small file
instead of the whole document (PROTOCOL.md, *Detached signature files*). Its
``sig`` is exactly the signature that admin would add to the document, so
combining is copying ``{"keyid", "sig"}`` back; ``payload_digest`` and
``version``/``issued`` only name the draft, so a signature of another draft is
refused before it is combined. Nothing in the file but ``sig`` is an authority.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crypto import _sodium
from crypto.dsse import MANIFEST_TYPE, dsse_payload, dsse_with_signatures, pae
from crypto.encoding import b64d, b64e, blake2b, format_time, is_kid, parse_time
from crypto.errors import InvalidSignature
from crypto.keys import Identity
from crypto.site import SITE_TYPE

MANIFEST_SIGNATURE_TYPE = "intake/manifest-signature"
SITE_SIGNATURE_TYPE = "intake/site-signature"

# file "type" -> (payloadType of the document it signs, the field that names the draft)
_KINDS: dict[str, tuple[str, str]] = {
    MANIFEST_SIGNATURE_TYPE: (MANIFEST_TYPE, "version"),
    SITE_SIGNATURE_TYPE: (SITE_TYPE, "issued"),
}
_BY_PAYLOAD_TYPE = {payload_type: file_type for file_type, (payload_type, _) in _KINDS.items()}


@dataclass(frozen=True)
class DetachedSignature:
    """A parsed detached signature file; ``names`` is the manifest version or the issue time."""

    file_type: str
    keyid: str
    sig: bytes
    payload_digest: bytes
    names: int | datetime
    label: str = ""

    @property
    def payload_type(self) -> str:
        return _KINDS[self.file_type][0]

    def signs(self, envelope: Mapping[str, Any]) -> bool:
        """True when this names ``envelope``'s draft: same kind, same payload bytes."""
        payload_type, payload = dsse_payload(envelope)
        return payload_type == self.payload_type and hmac.compare_digest(
            blake2b(32, payload), self.payload_digest
        )

    def entry(self) -> dict[str, str]:
        """The ``{"keyid", "sig"}`` entry this adds to the document's ``signatures``."""
        return {"keyid": self.keyid, "sig": b64e(self.sig)}


def sign_detached(
    envelope: Mapping[str, Any], signer: Identity, names: int | datetime
) -> dict[str, Any]:
    """``signer``'s detached signature file for the draft ``envelope``.

    ``names`` is the manifest's version (manifests) or the site document's
    issue time (site documents): it tells people which draft this belongs to.
    """
    payload_type, payload = dsse_payload(envelope)
    file_type = _BY_PAYLOAD_TYPE.get(payload_type)
    if file_type is None:
        raise ValueError(f"no detached signature file for {payload_type!r}")
    field = _KINDS[file_type][1]
    if field == "version" and not (isinstance(names, int) and not isinstance(names, bool)):
        raise ValueError("a manifest signature names the manifest's version")
    if field == "issued" and not isinstance(names, datetime):
        raise ValueError("a site signature names the document's issue time")
    named: int | str = names if isinstance(names, int) else format_time(names)
    return {
        "type": file_type,
        field: named,
        "payload_digest": b64e(blake2b(32, payload)),
        "keyid": signer.sign_kid,
        "label": signer.label,
        "sig": b64e(signer.sign(pae(payload_type, payload))),
    }


def parse_detached(data: object) -> DetachedSignature:
    """A detached signature file's fields, checked; ``InvalidSignature("malformed")`` otherwise.

    The signature itself is not checked here: it is checked against the
    payload when the combined document is verified.
    """
    try:
        if not isinstance(data, Mapping):
            raise ValueError("not an object")
        file_type = data["type"]
        if file_type not in _KINDS:
            raise ValueError("type")
        field = _KINDS[file_type][1]
        if set(data) - {"label"} != {"type", field, "payload_digest", "keyid", "sig"}:
            raise ValueError("fields")
        raw = data[field]
        if field == "version":
            if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
                raise ValueError("version")
            names: int | datetime = raw
        else:
            names = parse_time(raw)
        keyid, sig, digest = data["keyid"], b64d(data["sig"]), b64d(data["payload_digest"])
        if not is_kid(keyid) or len(sig) != _sodium.SIGNATURE_BYTES or len(digest) != 32:
            raise ValueError("keyid, sig or payload_digest")
        label = data.get("label", "")
        if not isinstance(label, str):
            raise ValueError("label")
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidSignature("malformed") from exc
    return DetachedSignature(file_type, keyid, sig, digest, names, label)


def combine_detached(
    envelope: Mapping[str, Any], signatures: Iterable[DetachedSignature]
) -> dict[str, Any]:
    """The draft with these signatures (one per key, the last one kept), unverified.

    A signature of another draft is ``InvalidSignature("malformed")``: callers
    that want to say which file it was check ``signs`` first.
    """
    by_key: dict[str, DetachedSignature] = {}
    for detached in signatures:
        if not detached.signs(envelope):
            raise InvalidSignature("malformed")
        by_key[detached.keyid] = detached
    return dsse_with_signatures(envelope, [d.entry() for d in by_key.values()])
