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
        "form": {"id": "deserter-intake", "version": 1},
        "answers": answers if answers is not None else {"name": "Иван"},
        "attachments": refs,
        "sent": "2026-11-22T10:00:00Z",
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
    return Submission(secrets.token_hex(16), kind, [("form", form), *envelopes], digests)


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
                "received": "2026-11-22T10:00:00Z",
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
