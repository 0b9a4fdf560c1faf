"""Manifest files for the tools: loading, drafts, detached signatures, human diffs.

A draft is a DSSE envelope with an empty `signatures` list, so each admin can
sign the exact payload bytes on their own machine and hand back a small
signature file; `combine` puts the signatures beside the payload unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

import crypto
from crypto.detached import DetachedSignature, parse_detached, sign_detached
from crypto.encoding import is_kid
from crypto.site import SITE_TYPE, SiteDocument, parse_site

from .common import (
    InputError,
    TrustError,
    chain_from_json,
    now_utc,
    read_json_file,
)
from .hostile import HostileJSONError, strict_json, visible

_STANDARD_FIELDS = frozenset(
    {"type", "version", "issued", "expires", "org", "admins", "verifiers", "couriers"}
)
MAX_LABEL = 64
# Every manifest the tool writes is valid this long unless told otherwise. A
# server (or a stale mirror) that serves the chain as it was before a
# revocation can make readers without a page anchor (v3) trust the revoked key
# until the last manifest of that old chain expires: short validity bounds
# that window, and a routine `renew` (GET /api/v1/status reminds) keeps the
# service running. A year, as before, left a revoked key usable for a year.
MANIFEST_VALIDITY_DAYS = 30
# A revocation is the moment a rollback pays most; its manifest may not be
# made longer-lived than the default, so the next revocation's window stays short.
MAX_REVOCATION_DAYS = 30


def fp(kid: str) -> str:
    return crypto.fingerprint(kid)


def check_label(label: str) -> str:
    """Labels end up in manifests every applicant's browser shows: plain and short."""
    label = label.strip()
    if not label or len(label) > MAX_LABEL or visible(label) != label:
        raise InputError(
            "a label must be 1-64 visible characters",
            "use a short name such as 'verifier-anna' or 'laptop-2'",
        )
    return label


def load_dsse(path: Path, what: str) -> dict[str, Any]:
    """A DSSE envelope from a file: itself, the last link of a chain file, or
    the `site` of a GET /api/v1/site answer."""
    data = read_json_file(path, what)
    if isinstance(data, dict) and "chain" in data:
        data = chain_from_json(data, str(path))[-1]
    elif isinstance(data, dict) and set(data) == {"site"}:
        data = data["site"]
    if not isinstance(data, dict) or "payloadType" not in data:
        raise InputError(
            f"{path} is not a signed manifest (a DSSE envelope)", "is this the right file?"
        )
    return data


def parse_or_fail(envelope: Mapping[str, Any], where: str) -> crypto.Manifest:
    try:
        manifest = crypto.parse_manifest(envelope)
    except crypto.IntakeCryptoError:
        raise InputError(
            f"{where} does not hold a well-formed manifest", "is this the right file?"
        ) from None
    if envelope.get("payloadType") != crypto.MANIFEST_TYPE:
        raise InputError(f"{where} is not a manifest envelope", "is this the right file?")
    return manifest


def load_manifest_file(path: Path, what: str = "manifest") -> crypto.Manifest:
    """A manifest from a DSSE file or the last link of a chain file (structure only)."""
    return parse_or_fail(load_dsse(path, what), str(path))


MAX_QR_TEXT = 4096  # a public key's QR code holds a few hundred bytes


def _scanned_text() -> Any:
    """A public key as a QR scanner types it (the compact JSON), on stdin."""
    data = sys.stdin.read(MAX_QR_TEXT + 1).encode("utf-8")
    if len(data) > MAX_QR_TEXT:
        raise InputError("the scanned text is too long for a public key", None)
    try:
        return strict_json(data.strip())
    except HostileJSONError:
        raise InputError(
            "the scanned text is not a public key", "scan the QR code shown by keygen again"
        ) from None


def load_public_key(path: Path, kind: str) -> crypto.PublicKey:
    """A public key from its file, or `-` for the text of its scanned QR code on stdin."""
    data = _scanned_text() if str(path) == "-" else read_json_file(path, "public key file")
    try:
        key = crypto.PublicKey.from_json(data)
    except (TypeError, ValueError, KeyError, crypto.IntakeCryptoError):
        raise InputError(
            f"{path} is not a public key file",
            "it is the JSON printed by keygen (--public-out)",
        ) from None
    if key.kind != kind:
        raise InputError(
            f"{path} holds a {key.kind} key, not a {kind} key", f"give the {kind}'s public key"
        )
    return key


def normalise_kid(text: str) -> str:
    """Accept a kid typed as shown (`3f2a 91c0 …`) or as 32 hex digits."""
    kid = re.sub(r"[\s:-]", "", text).lower()
    if not is_kid(kid):
        raise InputError(
            f"{visible(text, limit=60)!r} is not a key id", "copy the 32 hex digits of the kid"
        )
    return kid


# --------------------------------------------------------------------------
# Drafts


def extra_fields(manifest: crypto.Manifest) -> dict[str, Any]:
    """Fields beyond the standard ones (a signed form definition, say): carried forward."""
    return {k: v for k, v in manifest.data.items() if k not in _STANDARD_FIELDS}


def build_draft(
    current: crypto.Manifest,
    *,
    admins: Sequence[crypto.PublicKey] | None = None,
    threshold: int | None = None,
    verifiers: Sequence[crypto.VerifierEntry] | None = None,
    couriers: Sequence[crypto.PublicKey] | None = None,
    expires: dt.datetime | None = None,
    extra: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The successor of `current` with the given changes, version + 1, unsigned,
    valid for MANIFEST_VALIDITY_DAYS unless `expires` says otherwise.

    Fields beyond the standard ones (the signed form definition, say) are
    carried forward unchanged unless `extra` replaces them: a draft that
    silently dropped the form would change what applicants are asked.
    """
    moment = now or now_utc()
    expires = expires or moment + dt.timedelta(days=MANIFEST_VALIDITY_DAYS)
    carried = {**extra_fields(current), **(extra or {})}
    try:
        payload = crypto.build_manifest_payload(
            version=current.version + 1,
            issued=moment,
            expires=expires,
            org=current.data["org"],
            threshold=threshold if threshold is not None else current.threshold,
            admins=list(admins if admins is not None else current.admins),
            verifiers=list(verifiers if verifiers is not None else current.verifiers),
            couriers=list(couriers if couriers is not None else current.couriers),
            extra=carried,
        )
    except ValueError as exc:
        raise InputError(f"these changes do not make a valid manifest: {exc}", None) from None
    if expires <= moment:
        raise InputError("the draft would already be expired", "give a positive --expires-days N")
    return crypto.dsse_sign(crypto.MANIFEST_TYPE, payload, [])


def draft_payload(draft: Mapping[str, Any]) -> bytes:
    return crypto.b64d(str(draft["payload"]))


def read_signature_file(path: Path) -> DetachedSignature:
    """A detached signature file (crypto/detached.py owns the format), or a clear refusal."""
    try:
        return parse_detached(read_json_file(path, "signature file"))
    except crypto.InvalidSignature:
        raise InputError(
            f"{path} is not a signature file", "it is the file written by `intake-admin sign`"
        ) from None


# --------------------------------------------------------------------------
# Either kind of signed document: a manifest or a site document


@dataclass(frozen=True)
class Document:
    """A DSSE file the admins sign: a key manifest or a site document."""

    envelope: dict[str, Any]
    manifest: crypto.Manifest | None = None
    site: SiteDocument | None = None

    @property
    def kind(self) -> str:
        return "manifest" if self.manifest is not None else "site"

    @property
    def digest(self) -> bytes:
        if self.manifest is not None:
            return self.manifest.digest
        if self.site is None:  # pragma: no cover - one of the two is always set
            raise ValueError("empty document")
        return self.site.digest

    @property
    def title(self) -> str:
        if self.manifest is not None:
            return f"manifest version {self.manifest.version}"
        if self.site is None:  # pragma: no cover
            raise ValueError("empty document")
        return (
            f"site document issued {crypto.format_time(self.site.issued)} "
            f"(manifest version {self.site.manifest_version}, {len(self.site.files)} files)"
        )


def parse_document(envelope: Mapping[str, Any], where: str) -> Document:
    if envelope.get("payloadType") == SITE_TYPE:
        try:
            return Document(dict(envelope), site=parse_site(envelope))
        except crypto.IntakeCryptoError:
            raise InputError(
                f"{where} does not hold a well-formed site document", "is this the right file?"
            ) from None
    return Document(dict(envelope), manifest=parse_or_fail(envelope, where))


def load_document(path: Path, what: str) -> Document:
    return parse_document(load_dsse(path, what), str(path))


def detached_signature(doc: Document, signer: crypto.Identity) -> dict[str, Any]:
    """``signer``'s detached signature file for either kind of document."""
    if doc.manifest is not None:
        return sign_detached(doc.envelope, signer, doc.manifest.version)
    if doc.site is None:  # pragma: no cover - one of the two is always set
        raise ValueError("empty document")
    return sign_detached(doc.envelope, signer, doc.site.issued)


def site_diff_lines(old: SiteDocument | None, new: SiteDocument) -> list[str]:
    """Which served files a new site document changes, adds or drops."""
    if old is None:
        return [f"+ {_show(path)}" for path in sorted(new.files)]
    lines = []
    for path in sorted(new.files.keys() - old.files.keys()):
        lines.append(f"+ file added: {_show(path)}")
    for path in sorted(old.files.keys() - new.files.keys()):
        lines.append(f"- file no longer listed: {_show(path)}")
    for path in sorted(old.files.keys() & new.files.keys()):
        if old.files[path] != new.files[path]:
            lines.append(f"~ file changes: {_show(path)}")
    return lines or ["no file changes"]


# --------------------------------------------------------------------------
# Showing manifests and changes


def verifier_kid_from(manifest: crypto.Manifest, kid: str) -> crypto.VerifierEntry | None:
    """A verifier by the kid of its X25519 key or of its Ed25519 key."""
    for entry in manifest.verifiers:
        if kid in (entry.kid, entry.sign_kid):
            return entry
    return None


def manifest_table(manifest: crypto.Manifest, title: str | None = None) -> Table:
    table = Table(title=title, show_header=True, header_style="bold", title_justify="left")
    table.add_column("role")
    table.add_column("label")
    table.add_column("key id")
    table.add_column("status")
    for admin in manifest.admins:
        table.add_row("admin", Text(visible(admin.label, limit=40)), fp(admin.sign_kid), "")
    for v in manifest.verifiers:
        table.add_row("verifier", Text(visible(v.label, limit=40)), fp(v.kid), v.status)
    for c in manifest.couriers:
        table.add_row("courier", Text(visible(c.label, limit=40)), fp(c.sign_kid), "")
    return table


def print_manifest(console: Console, manifest: crypto.Manifest) -> None:
    org_raw = manifest.data.get("org")
    org: dict[str, Any] = org_raw if isinstance(org_raw, dict) else {}
    console.print(
        Text(
            f"Manifest version {manifest.version}  fingerprint {manifest.fingerprint}\n"
            f"  key set (what applicants compare): {manifest.key_set_fingerprint}\n"
            f"  organisation: {visible(str(org.get('name', '')), limit=80)}"
            f"  contact: {visible(str(org.get('contact', '')), limit=80)}\n"
            f"  issued {crypto.format_time(manifest.issued)}"
            f"  expires {crypto.format_time(manifest.expires)}\n"
            f"  admins: {manifest.threshold} of {len(manifest.admins)} must sign the next version"
        )
    )
    console.print(manifest_table(manifest))


def diff_lines(old: crypto.Manifest, new: crypto.Manifest) -> list[str]:
    """What a person must know before signing: who gains and who loses access."""
    lines = [
        f"version {old.version} -> {new.version}"
        + ("" if new.version > old.version else "   !! NOT NEWER: readers will refuse it")
    ]
    if new.expires != old.expires:
        lines.append(
            f"expiry {crypto.format_time(old.expires)} -> {crypto.format_time(new.expires)}"
        )
    if new.data.get("org") != old.data.get("org"):
        lines.append(
            "organisation details change: "
            f"{_show(old.data.get('org'))} -> {_show(new.data.get('org'))}"
        )
    old_v = {v.kid: v for v in old.verifiers}
    new_v = {v.kid: v for v in new.verifiers}
    for kid, v in new_v.items():
        before = old_v.get(kid)
        name = f"verifier {_show(v.label)} ({fp(kid)})"
        if before is None and v.active:
            lines.append(f"+ GAINS ACCESS to every new submission: {name}")
        elif before is None:
            lines.append(f"+ listed as retired (no access to new submissions): {name}")
        elif before.active and not v.active:
            lines.append(
                f"- LOSES ACCESS to new submissions (retired; its replies still verify): {name}"
            )
        elif not before.active and v.active:
            lines.append(f"+ GAINS ACCESS again (re-activated): {name}")
        elif (before.x25519, before.ed25519) != (v.x25519, v.ed25519):
            lines.append(f"! keys change for {name}")
        if before is not None and before.label != v.label:
            lines.append(f"  label {_show(before.label)} -> {_show(v.label)} for {fp(kid)}")
    for kid, v in old_v.items():
        if kid not in new_v:
            lines.append(
                f"- REVOKED: verifier {_show(v.label)} ({fp(kid)}) loses access to new "
                "submissions and its replies no longer verify"
            )
    lines += _key_changes("admin", old.admins, new.admins, "may sign future manifests")
    # Kids are distinct within a parsed manifest, so the lists' lengths count keys.
    old_n, new_n = len(old.admins), len(new.admins)
    if new.threshold != old.threshold or new_n != old_n:
        lines.append(f"admin threshold {old.threshold} of {old_n} -> {new.threshold} of {new_n}")
    lines += _key_changes("courier", old.couriers, new.couriers, "may pull ciphertext")
    old_extra, new_extra = extra_fields(old), extra_fields(new)
    for key in sorted(set(old_extra) | set(new_extra)):
        if old_extra.get(key) == new_extra.get(key):
            continue
        if key == "form":
            lines.extend(form_diff_lines(old_extra.get(key), new_extra.get(key)))
        else:
            lines.append(f"field {_show(key)} changes")
    if len(lines) == 1 + (new.expires != old.expires):
        lines.append("no change of keys")
    return lines


def _key_changes(
    role: str, old: list[crypto.PublicKey], new: list[crypto.PublicKey], power: str
) -> list[str]:
    """Admin and courier keys change alike: added ones gain `power`, removed ones lose it."""
    old_k = {k.sign_kid: k for k in old}
    new_k = {k.sign_kid: k for k in new}
    lines = [
        f"+ NEW {role.upper()}: {_show(k.label)} ({fp(kid)}) {power}"
        for kid, k in new_k.items()
        if kid not in old_k
    ]
    lines += [
        f"- {role} removed: {_show(k.label)} ({fp(kid)})"
        for kid, k in old_k.items()
        if kid not in new_k
    ]
    return lines


def _show(value: Any) -> str:
    return repr(visible(str(value), limit=80))


def effective_now_for(chain: Sequence[Mapping[str, Any]]) -> dt.datetime | None:
    """A moment at which an expired chain's last link is still fresh, or None if it is fresh.

    Admins must be able to verify a chain whose latest manifest expired, or
    they could never sign its renewal; only the *candidate* must be unexpired.
    """
    try:
        last = crypto.parse_manifest(chain[-1])
    except crypto.IntakeCryptoError:
        raise TrustError("the last manifest of the chain is malformed", None) from None
    now = now_utc()
    if last.expires > now:
        return None
    return last.expires - dt.timedelta(seconds=1)


# --------------------------------------------------------------------------
# Expiry


# Half of MANIFEST_VALIDITY_DAYS: with 30-day manifests, a warning at 30 days
# would never stop. Two weeks leave a threshold of admins time to meet.
EXPIRY_WARNING_DAYS = 14


def expiry_warning(manifest: crypto.Manifest, what: str) -> str | None:
    """A warning when `manifest` expires within 14 days (or has expired).

    An expired latest manifest stops every new submission (browsers refuse
    it), and a renewal needs a threshold of admins together: they need time.
    """
    left = manifest.expires - now_utc()
    when = crypto.format_time(manifest.expires)
    if left <= dt.timedelta(0):
        return (
            f"{what} (version {manifest.version}) EXPIRED on {when}: browsers refuse it; "
            "sign and publish a renewal (intake-admin renew) at once"
        )
    if left <= dt.timedelta(days=EXPIRY_WARNING_DAYS):
        days = left.days
        return (
            f"{what} (version {manifest.version}) expires on {when}, in {days} day(s): "
            "prepare a renewal now (intake-admin renew --current ... --out DRAFT)"
        )
    return None


# --------------------------------------------------------------------------
# The signed form definition


def _value(value: Any) -> str:
    """A number or flag as itself, anything else quoted (and made visible)."""
    if value is None or isinstance(value, bool | int):
        return json.dumps(value)
    return _show(value)


def _form_text(value: Any) -> str:
    """A translated text of the form ({"ru": ..., "en": ...}) for one line of a diff."""
    if isinstance(value, Mapping):
        return " / ".join(f"{k}: {_show(v)}" for k, v in sorted(value.items()))
    return _show(value)


def _form_fields(form: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    """{field id: (section id, field)} of a form, tolerating a malformed one."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    sections = form.get("sections") if isinstance(form, Mapping) else None
    for section in sections if isinstance(sections, list) else []:
        if not isinstance(section, Mapping):
            continue
        for field in section.get("fields") or []:
            if isinstance(field, dict) and isinstance(field.get("id"), str):
                out[field["id"]] = (str(section.get("id")), field)
    return out


def _options(field: Mapping[str, Any]) -> dict[str, Any]:
    options = field.get("options")
    return {
        str(o.get("value")): o.get("label")
        for o in (options if isinstance(options, list) else [])
        if isinstance(o, Mapping)
    }


def _field_changes(fid: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    name = f"question {_show(fid)}"
    lines: list[str] = []
    for key in ("type", "required", "max_length", "years_before", "years_after"):
        if old.get(key) != new.get(key):
            lines.append(f"~ {name}: {key} {_value(old.get(key))} -> {_value(new.get(key))}")
    for key in ("label", "help"):
        if old.get(key) != new.get(key):
            lines.append(
                f"~ {name}: {key} {_form_text(old.get(key))} -> {_form_text(new.get(key))}"
            )
    old_o, new_o = _options(old), _options(new)
    for value in new_o.keys() - old_o.keys():
        lines.append(f"+ {name}: option {_show(value)} added ({_form_text(new_o[value])})")
    for value in old_o.keys() - new_o.keys():
        lines.append(f"- {name}: option {_show(value)} removed ({_form_text(old_o[value])})")
    for value in old_o.keys() & new_o.keys():
        if old_o[value] != new_o[value]:
            lines.append(
                f"~ {name}: option {_show(value)} label "
                f"{_form_text(old_o[value])} -> {_form_text(new_o[value])}"
            )
    if [o for o in old_o if o in new_o] != [o for o in new_o if o in old_o]:
        lines.append(f"~ {name}: options reordered")
    return lines


def form_diff_lines(old: Any, new: Any) -> list[str]:
    """What changes in the signed form: what applicants will be asked, in words.

    Admins sign the form with the keys, so they must see each question added,
    removed or reworded (a reworded option can turn a harmless question into a
    trap), not just "the form changed".
    """
    if old is None:
        count = len(_form_fields(new))
        return [f"+ FORM added: {_show(_get(new, 'id'))} with {count} question(s)"]
    if new is None:
        return ["- FORM REMOVED: the page will have no signed form"]
    lines: list[str] = []
    for key in ("id", "version", "languages"):
        if _get(old, key) != _get(new, key):
            lines.append(f"~ form {key} {_value(_get(old, key))} -> {_value(_get(new, key))}")
    for key in ("title", "description"):
        if _get(old, key) != _get(new, key):
            lines.append(
                f"~ form {key} {_form_text(_get(old, key))} -> {_form_text(_get(new, key))}"
            )
    old_s = {str(s.get("id")): s for s in _get(old, "sections") or [] if isinstance(s, Mapping)}
    new_s = {str(s.get("id")): s for s in _get(new, "sections") or [] if isinstance(s, Mapping)}
    for sid in new_s.keys() - old_s.keys():
        lines.append(f"+ section {_show(sid)} added: {_form_text(new_s[sid].get('title'))}")
    for sid in old_s.keys() - new_s.keys():
        lines.append(f"- section {_show(sid)} removed: {_form_text(old_s[sid].get('title'))}")
    for sid in sorted(old_s.keys() & new_s.keys()):
        for key in ("title", "help"):
            if old_s[sid].get(key) != new_s[sid].get(key):
                lines.append(
                    f"~ section {_show(sid)}: {key} {_form_text(old_s[sid].get(key))} -> "
                    f"{_form_text(new_s[sid].get(key))}"
                )
    old_f, new_f = _form_fields(old), _form_fields(new)
    for fid, (sid, field) in new_f.items():
        if fid not in old_f:
            required = "required" if field.get("required") else "optional"
            lines.append(
                f"+ QUESTION ADDED {_show(fid)} ({_show(field.get('type'))}, {required}, "
                f"section {_show(sid)}): {_form_text(field.get('label'))}"
            )
    for fid, (_sid, field) in old_f.items():
        if fid not in new_f:
            lines.append(f"- QUESTION REMOVED {_show(fid)}: {_form_text(field.get('label'))}")
    for fid in old_f.keys() & new_f.keys():
        (old_sid, old_field), (new_sid, new_field) = old_f[fid], new_f[fid]
        if old_sid != new_sid:
            lines.append(
                f"~ question {_show(fid)} moves from section {_show(old_sid)} to {_show(new_sid)}"
            )
        lines.extend(_field_changes(fid, old_field, new_field))
    if [f for f in old_f if f in new_f] != [f for f in new_f if f in old_f]:
        lines.append("~ questions reordered")
    if not lines:
        lines.append("~ form changes (layout only)")
    return lines


def _get(form: Any, key: str) -> Any:
    return form.get(key) if isinstance(form, Mapping) else None
