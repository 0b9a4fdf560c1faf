"""Builders and runners for the CLI tests: organisations, submissions, bundles."""

from __future__ import annotations

import datetime as dt
import io
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

import crypto
from crypto.cli import admin, courier, verifier

PASSPHRASE = "correct horse battery staple orbit"
CODENAME = "берёза лампа окно тропа север ручей камень облако ветер"


@dataclass
class Org:
    """An organisation: admins in memory, verifiers with key files on disk."""

    admins: list[crypto.Identity]
    verifier: crypto.Identity
    verifier2: crypto.Identity
    outsider: crypto.Identity
    chain: list[dict[str, Any]]
    root: crypto.TrustRoot
    keyring_dir: Path
    outsider_keyring_dir: Path
    base: Path

    @property
    def manifest(self) -> crypto.Manifest:
        return crypto.parse_manifest(self.chain[-1])

    @property
    def genesis_payload(self) -> bytes:
        return crypto.parse_manifest(self.chain[0]).payload

    def successor(
        self, *, verifiers: Sequence[crypto.VerifierEntry], base: crypto.Manifest | None = None
    ) -> dict[str, Any]:
        """The next manifest after `base` (default: the latest), signed by both admins."""
        current = base or self.manifest
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        payload = crypto.build_manifest_payload(
            version=current.version + 1,
            issued=now,
            expires=now + dt.timedelta(days=30),
            org=current.data["org"],
            threshold=2,
            admins=[a.public() for a in self.admins],
            verifiers=verifiers,
            couriers=[],
        )
        return crypto.dsse_sign(crypto.MANIFEST_TYPE, payload, self.admins)

    def chain_file(self, path: Path, *newer: dict[str, Any]) -> Path:
        """A `--to-manifest` file: this organisation's chain, then `newer` manifests."""
        path.write_text(json.dumps({"chain": [*self.chain, *newer]}))
        return path


def entry(identity: crypto.Identity, status: str = "active") -> crypto.VerifierEntry:
    return crypto.VerifierEntry.from_public(identity.public(), status)


# --------------------------------------------------------------------------
# Building submissions and bundles the way the browser and the server do


@dataclass
class Attachment:
    name: str
    data: bytes
    type: str = "application/octet-stream"
    id: str = field(default_factory=lambda: secrets.token_hex(16))


@dataclass
class Submission:
    sid: str
    kind: str
    envelopes: list[tuple[str, bytes]]
    digests: dict[str, bytes]
    received: str = "2026-11-22T10:00:00Z"  # the server's hour

    def tamper(self, eid: str, offset: int = -20) -> None:
        """Flip one byte of an envelope (default: inside its last payload chunk)."""
        for n, (name, data) in enumerate(self.envelopes):
            if name == eid:
                buf = bytearray(data)
                buf[offset] ^= 0x01
                self.envelopes[n] = (name, bytes(buf))
                return
        raise KeyError(eid)

    def drop(self, eid: str) -> None:
        self.envelopes = [(n, d) for n, d in self.envelopes if n != eid]


def make_submission(
    manifest: crypto.Manifest,
    *,
    answers: dict[str, Any] | None = None,
    attachments: Sequence[Attachment] = (),
    mailbox: crypto.MailboxKeys | None = None,
    kind: str = "submission",
    recipients: Sequence[bytes] | None = None,
    digest_overrides: dict[str, bytes] | None = None,
    sent: str = "2026-11-22T10:00:00Z",
    received: str = "2026-11-22T10:00:00Z",
    form_version: int = 1,
) -> Submission:
    """Seal a form and its attachments as the applicant's browser would (v2)."""
    ref = manifest.ref
    to = (
        list(recipients)
        if recipients is not None
        else [v.x25519 for v in manifest.active_verifiers()]
    )
    envelopes: list[tuple[str, bytes]] = []
    refs = []
    digests: dict[str, bytes] = {}
    for att in attachments:
        sealed = crypto.seal_bytes(att.data, kind="attachment", manifest=ref, recipients=to)
        digest = crypto.payload_digest(io.BytesIO(sealed))
        digests[att.id] = digest
        envelopes.append((att.id, sealed))
        claimed = (digest_overrides or {}).get(att.id, digest)
        refs.append(
            {
                "id": att.id,
                "name": att.name,
                "type": att.type,
                "size": len(att.data),
                "digest": crypto.b64e(claimed),
            }
        )
    content: dict[str, Any] = {
        "v": 2,
        "lang": "ru",
        "form": {"id": "deserter-intake", "version": form_version},
        "answers": answers if answers is not None else {"name": "Иван"},
        "attachments": refs,
        "sent": sent,
    }
    if mailbox is not None:
        content["reply"] = {
            "x25519": crypto.b64e(mailbox.reply_public),
            "mailbox": mailbox.mailbox_id,
        }
    form = crypto.seal_bytes(
        json.dumps(content, ensure_ascii=False).encode(), kind=kind, manifest=ref, recipients=to
    )
    digests["form"] = crypto.payload_digest(io.BytesIO(form))
    return Submission(secrets.token_hex(16), kind, [("form", form), *envelopes], digests, received)


def write_bundle(
    path: Path, chain: list[dict[str, Any]], submissions: Sequence[Submission]
) -> Path:
    """A courier bundle as the server writes it."""
    with path.open("wb") as out:
        writer = crypto.BundleWriter(out)
        writer.add_chain(chain)
        for sub in submissions:
            meta = {
                "id": sub.sid,
                "kind": sub.kind,
                "received": sub.received,
                "envelopes": [
                    {"id": eid, "size": len(data), "digest": crypto.b64e(sub.digests[eid])}
                    for eid, data in sub.envelopes
                ],
            }
            writer.add_submission(
                meta, [(eid, len(data), io.BytesIO(data)) for eid, data in sub.envelopes]
            )
        writer.close()
    return path


# --------------------------------------------------------------------------
# Running the tools


def run(
    tool: str,
    args: Sequence[object],
    *,
    passphrase: str | None = PASSPHRASE,
    input: str | None = None,
) -> Result:
    """Invoke a tool in-process, as its console script would.

    `passphrase=None` leaves INTAKE_PASSPHRASE empty, so the tool prompts (`input`).
    """
    group = {"verifier": verifier.cli, "admin": admin.cli, "courier": courier.cli}[tool]
    return CliRunner().invoke(
        group,
        [str(a) for a in args],
        env={"INTAKE_PASSPHRASE": passphrase or ""},
        input=input,
        prog_name=f"intake-{tool}",
    )


def assert_clean_failure(result: Result, prog: str = "intake-verifier") -> list[str]:
    """Exit 1, an `error:` and a `hint:` line, and no traceback; returns the stderr lines."""
    assert result.exit_code == 1, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith(f"{prog}: error: ")]
    hints = [line for line in lines if line.startswith(f"{prog}: hint: ")]
    assert len(errors) == 1, result.stderr
    assert len(hints) == 1, result.stderr
    return lines


def case_dirs(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir()) if out.exists() else []


# --------------------------------------------------------------------------
# A whole case as a volunteer meets it: decrypted, with a follow-up and a reply


def signed_genesis(
    admins: Sequence[crypto.Identity],
    verifiers: Sequence[crypto.Identity],
    couriers: Sequence[crypto.Identity] = (),
    org_name: str = "Test org",
) -> dict[str, Any]:
    """A version-1 manifest, valid for 30 days, signed by all of its 2-of-N `admins`."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    payload = crypto.build_manifest_payload(
        version=1,
        issued=now,
        expires=now + dt.timedelta(days=30),
        org={"name": org_name, "contact": "test@example.invalid"},
        threshold=2,
        admins=[a.public() for a in admins],
        verifiers=[entry(v) for v in verifiers],
        couriers=[c.public() for c in couriers],
    )
    return crypto.dsse_sign(crypto.MANIFEST_TYPE, payload, admins)


def write_keyring(
    folder: Path, name: str, verifier: crypto.Identity, root: crypto.TrustRoot
) -> Path:
    """A verifier's keyring folder: its key file and the pinned trust root."""
    folder.mkdir(parents=True)
    crypto.write_key_file(folder / f"{name}.key", verifier, PASSPHRASE)
    (folder / "trust-root.json").write_text(json.dumps(root.to_json()))
    return folder


def new_org(base: Path, *, outsider_keyring: bool = False) -> Org:
    """An organisation with real key files under `base` (what the `org` fixture builds);
    the outsider's keyring costs another Argon2id key file, so only when asked."""
    admins = [crypto.generate_identity("admin", f"admin-{n}") for n in (1, 2)]
    v1 = crypto.generate_identity("verifier", "anna")
    v2 = crypto.generate_identity("verifier", "boris")
    outsider = crypto.generate_identity("verifier", "outsider")
    genesis = signed_genesis(admins, [v1])
    root = crypto.TrustRoot(2, frozenset(a.sign_kid for a in admins))
    keyring_dir = write_keyring(base / "keyring", "anna", v1, root)
    outsider_dir = base / "none"
    if outsider_keyring:
        outsider_dir = write_keyring(base / "outsider", "outsider", outsider, root)
    return Org(admins, v1, v2, outsider, [genesis], root, keyring_dir, outsider_dir, base)


def courier_keyring(
    org: Org, courier: crypto.Identity, base: Path
) -> tuple[list[dict[str, Any]], Path]:
    """A genesis naming `org`'s verifier and `courier` (written to base/genesis.json),
    and a keyring folder under `base` that pins it."""
    genesis = signed_genesis(org.admins, [org.verifier], [courier], org_name="Courier test")
    (base / "genesis.json").write_text(json.dumps(genesis))
    keyring = base / "keyring"
    keyring.mkdir()
    (keyring / "anna.key").write_bytes((org.keyring_dir / "anna.key").read_bytes())
    (keyring / "anna.key").chmod(0o600)
    (keyring / "trust-root.json").write_text(json.dumps(org.root.to_json()))
    return [genesis], keyring


def reply_to_case(
    case: Path, keyring: Path, out: Path, message: str, status: str = "received", *extra: object
) -> Result:
    """`intake-verifier reply` to one decrypted case, as a volunteer types it."""
    args = ["reply", case, "--keyring", keyring, "--status", status, "--message", message]
    return run("verifier", [*args, "--out", out, *extra])


def rewrap(bundle: Path, keyring: Path, chain_file: Path, out: Path) -> Result:
    """`intake-verifier rewrap` of a bundle to the newest manifest of `chain_file`."""
    args = ["rewrap", bundle, "--keyring", keyring, "--to-manifest", chain_file, "--out", out]
    return run("verifier", args)


def rewrapped_for_boris(
    org: Org, keyring: Path, base: Path, attachment: Attachment
) -> tuple[Submission, dict[str, Any], Path, Result]:
    """A bundle of one submission (with `attachment`) rewrapped to the next manifest,
    which retires anna and names boris: (submission, that manifest, rewraps file, result)."""
    sub = make_submission(org.manifest, attachments=[attachment])
    bundle = write_bundle(base / "bundle.tar", org.chain, [sub])
    successor = org.successor(verifiers=[entry(org.verifier, "retired"), entry(org.verifier2)])
    out = base / "rewraps.json"
    result = rewrap(bundle, keyring, org.chain_file(base / "chain.json", successor), out)
    return sub, successor, out, result


# What an applicant in trouble sends: urgent dangers, a near deadline, documents.
URGENT_ANSWERS: dict[str, Any] = {
    "contact-method": "signal",
    "contact-address": "+7 900 000-00-00",
    "country": "kazakhstan",
    "city": "Алматы",
    "arrived": "2024-10",
    "documents": ["internal-passport", "military-id"],
    "documents-notes": "Заграничный паспорт остался в части.",
    "service-status": "mobilised",
    "service-start": "2022-09",
    "left-date": "2024-09",
    "criminal-case": "unknown",
    "dangers": ["deportation", "expiring-stay"],
    "stay-expires": "2026-12",
    "help-needed": ["legal", "documents"],
    "story": "Меня мобилизовали в 2022 году.\nВ 2024 году я ушёл из части и уехал в Казахстан.",
    "consent": "yes",
}


def decrypt_into(bundle: Path, keyring: Path, out: Path, lang: str = "ru") -> Result:
    args = ["decrypt", bundle, "--keyring", keyring, "--out", out, "--lang", lang]
    return run("verifier", args)


@dataclass
class Scene:
    """A decrypted case folder, its follow-up and the reply recorded in it."""

    cases: Path
    case: Path
    submission: Submission
    followup: Submission
    replies: Path


def decrypted_scene(
    org: Org,
    keyring: Path,
    base: Path,
    *,
    answers: dict[str, Any],
    attachments: Sequence[Attachment] = (),
    followup_message: str = "Новый адрес: ул. Абая, 10.",
    followup_attachments: Sequence[Attachment] = (),
    reply_message: str = "Мы получили вашу заявку. Пришлите, пожалуйста, фото паспорта.",
    lang: str = "ru",
) -> Scene:
    """Decrypt a submission (then its follow-up, from a later bundle) and reply to it,
    all through the real verifier tool, as a volunteer would."""
    base.mkdir(parents=True, exist_ok=True)
    mailbox = crypto.derive_mailbox(CODENAME, org.genesis_payload)
    # Sent at 06:50 by the phone's clock, filed under 06:00 by the hour-rounding server.
    sub = make_submission(
        org.manifest,
        answers=answers,
        attachments=attachments,
        mailbox=mailbox,
        sent="2026-11-22T06:50:12Z",
        received="2026-11-22T06:00:00Z",
    )
    cases = base / "cases"
    first = decrypt_into(write_bundle(base / "b1.tar", org.chain, [sub]), keyring, cases, lang)
    assert first.exit_code == 0, first.output
    replies = base / "replies.json"
    sent = reply_to_case(cases / sub.sid[:8], keyring, replies, reply_message, "needs-info")
    assert sent.exit_code == 0, sent.output
    later = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=5)
    followup = make_submission(
        org.manifest,
        kind="followup",
        mailbox=mailbox,
        answers={"message": followup_message},
        attachments=followup_attachments,
        sent=crypto.format_time(later),
        received=crypto.format_time(later.replace(minute=0, second=0)),
    )
    second = decrypt_into(
        write_bundle(base / "b2.tar", org.chain, [followup]), keyring, cases, lang
    )
    assert second.exit_code == 0, second.output
    return Scene(cases, cases / sub.sid, sub, followup, replies)


JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
