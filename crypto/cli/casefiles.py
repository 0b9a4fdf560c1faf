"""Readable case folders: parsing decrypted content, answers.txt/.html, case.json.

Layout of one case (`OUT/<submission id>/`):

    answers.txt     the answers as plain text, invisible characters shown as <U+XXXX>
    answers.html    the same, every value HTML-escaped, a CSP that forbids scripts
    attachments/    each attachment under a sanitised name, mode 0600
    case.json       machine-readable: status, kinds, payload digests, reply key, mailbox
    followups/<id>/ a follow-up threaded into this case, same layout

The decrypted content is the applicant's word (or an attacker's): it is never
trusted for a path, never emitted unescaped, and its structure is checked
before anything is rendered.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import crypto

from .hostile import HostileJSONError, strict_json, visible

CASE_FILE = "case.json"
CASE_FORMAT = 1
HEX32 = re.compile(r"[0-9a-f]{32}")
HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_ANSWERS = 1000
MAX_ATTACHMENTS = 256
MAX_SHORT_TEXT = 200


class ContentError(ValueError):
    """Decrypted content whose structure we cannot use (the case is refused)."""


@dataclass
class AttachmentRef:
    id: str
    name: str
    type: str
    size: int | None
    digest: bytes


@dataclass
class Content:
    v: int | None
    lang: str
    form_id: str
    form_version: str
    answers: list[tuple[str, list[str]]]
    attachments: list[AttachmentRef]
    reply_x25519: bytes | None
    mailbox: str | None
    sent: str
    notes: list[str] = field(default_factory=list)


def _short(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, str | int):
        return visible(str(value), limit=MAX_SHORT_TEXT)
    return ""


def parse_content(data: bytes) -> Content:
    """Check and extract the submission or follow-up content (PROTOCOL.md, v2).

    Attachment references must be exact (they are what binds the attachments
    to the form); oddities elsewhere become notes, so a slightly malformed
    form still reaches a person instead of being lost.
    """
    try:
        doc = strict_json(data)
    except HostileJSONError as exc:
        raise ContentError(f"the content is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ContentError("the content is not a JSON object")
    notes: list[str] = []
    answers = _parse_answers(doc.get("answers"), notes)
    attachments = _parse_attachments(doc.get("attachments", []))
    reply_x25519, mailbox = _parse_reply(doc.get("reply"), notes)
    form_raw = doc.get("form")
    form: dict[str, Any] = form_raw if isinstance(form_raw, dict) else {}
    version = doc.get("v")
    return Content(
        v=version if isinstance(version, int) and not isinstance(version, bool) else None,
        lang=_short(doc.get("lang")),
        form_id=_short(form.get("id")),
        form_version=_short(form.get("version")),
        answers=answers,
        attachments=attachments,
        reply_x25519=reply_x25519,
        mailbox=mailbox,
        sent=_short(doc.get("sent")),
        notes=notes,
    )


def _parse_answers(raw: Any, notes: list[str]) -> list[tuple[str, list[str]]]:
    if raw is None:
        notes.append("the content holds no answers")
        return []
    if not isinstance(raw, dict):
        raise ContentError("the answers are not a JSON object")
    if len(raw) > MAX_ANSWERS:
        raise ContentError(f"more than {MAX_ANSWERS} answers")
    answers: list[tuple[str, list[str]]] = []
    for key, value in raw.items():
        if isinstance(value, str):
            answers.append((key, [value]))
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            answers.append((key, list(value)))
        else:
            # Shown as JSON text rather than dropped: the verifier should see it.
            notes.append(f"answer {visible(key, limit=60)!r} is not text; shown as JSON")
            answers.append((key, [json.dumps(value, ensure_ascii=False)]))
    return answers


def _parse_attachments(raw: Any) -> list[AttachmentRef]:
    if not isinstance(raw, list):
        raise ContentError("the attachment list is not a JSON list")
    if len(raw) > MAX_ATTACHMENTS:
        raise ContentError(f"more than {MAX_ATTACHMENTS} attachments")
    refs: list[AttachmentRef] = []
    seen: set[str] = set()
    for item in raw:
        if not isinstance(item, dict):
            raise ContentError("an attachment reference is not a JSON object")
        att_id = item.get("id")
        if not isinstance(att_id, str) or not HEX32.fullmatch(att_id):
            raise ContentError("an attachment id is not 32 lowercase hex digits")
        if att_id in seen:
            raise ContentError("two attachment references share an id")
        seen.add(att_id)
        digest_text = item.get("digest")
        try:
            digest = crypto.b64d(digest_text) if isinstance(digest_text, str) else b""
        except ValueError:
            digest = b""
        if len(digest) != 32:
            raise ContentError(f"attachment {att_id} has no valid digest")
        size = item.get("size")
        name = item.get("name")
        mime = item.get("type")
        refs.append(
            AttachmentRef(
                id=att_id,
                name=name if isinstance(name, str) else "",
                type=mime if isinstance(mime, str) else "",
                size=size if isinstance(size, int) and not isinstance(size, bool) else None,
                digest=digest,
            )
        )
    return refs


def _parse_reply(raw: Any, notes: list[str]) -> tuple[bytes | None, str | None]:
    if raw is None:
        return None, None
    try:
        key = crypto.b64d(raw["x25519"])
        mailbox = raw["mailbox"]
        if len(key) != 32 or not isinstance(mailbox, str) or not HEX64.fullmatch(mailbox):
            raise ValueError
    except (TypeError, KeyError, ValueError):
        notes.append("the reply key or mailbox id is malformed; no reply is possible")
        return None, None
    return key, mailbox


# --------------------------------------------------------------------------
# Rendering


@dataclass
class AttachmentRecord:
    ref: AttachmentRef
    file: str  # relative path inside the case folder
    size: int
    payload_digest: bytes
    flags: list[str]


@dataclass
class CaseRecord:
    id: str
    kind: str
    received: str
    decrypted: str
    envelope_version: int
    manifest_version: int
    manifest_digest: bytes
    opened_by: str
    content: Content
    envelopes: list[dict[str, Any]]
    attachments: list[AttachmentRecord]
    warnings: list[str]
    thread: str | None = None

    def to_json(self) -> dict[str, Any]:
        c = self.content
        return {
            "type": "intake/case",
            "format": CASE_FORMAT,
            "id": self.id,
            "kind": self.kind,
            "status": "warnings" if self.warnings else "ok",
            "thread": self.thread,
            "received": self.received,
            "decrypted": self.decrypted,
            "sent": c.sent,
            "lang": c.lang,
            "form": {"id": c.form_id, "version": c.form_version},
            "envelope_version": self.envelope_version,
            "manifest": {
                "version": self.manifest_version,
                "digest": crypto.b64e(self.manifest_digest),
            },
            "opened_by": self.opened_by,
            "envelopes": self.envelopes,
            "attachments": [
                {
                    "id": a.ref.id,
                    "name": a.ref.name,
                    "file": a.file,
                    "type": a.ref.type,
                    "size": a.size,
                    "digest": crypto.b64e(a.ref.digest),
                    "flags": a.flags,
                }
                for a in self.attachments
            ],
            "reply": (
                {"x25519": crypto.b64e(c.reply_x25519), "mailbox": c.mailbox}
                if c.reply_x25519 is not None
                else None
            ),
            "warnings": self.warnings,
            "followups": [],
        }


def render_text(case: CaseRecord) -> str:
    c = case.content
    lines = [
        f"{'Follow-up' if case.kind == 'followup' else 'Case'} {case.id}",
        f"Received (server's word):   {visible(case.received, limit=40)}",
        f"Sent (applicant's word):    {c.sent}",
        f"Form: {c.form_id} version {c.form_version}   Language: {c.lang}",
        f"Manifest version {case.manifest_version}; opened by {crypto.fingerprint(case.opened_by)}",
    ]
    if case.thread:
        lines.append(f"Follow-up to case {case.thread}")
    if c.mailbox:
        lines.append(f"Reply mailbox: {c.mailbox}")
    else:
        lines.append("Reply mailbox: none (the applicant declined replies)")
    if case.warnings:
        lines += ["", "== WARNINGS =="] + [f"! {w}" for w in case.warnings]
    lines += ["", "== Answers =="]
    for key, values in c.answers:
        lines.append(f"{visible(key)}:")
        for value in values:
            for line in visible(value, multiline=True).split("\n"):
                lines.append(f"    {line}")
    if c.attachments:
        lines += ["", "== Attachments =="]
        for n, a in enumerate(case.attachments, 1):
            flags = f"  [CAREFUL: {'; '.join(a.flags)}]" if a.flags else ""
            lines.append(
                f"{n}. {visible(a.ref.name, limit=120)!s}  ({visible(a.ref.type, limit=60)}, "
                f"{a.size} bytes) -> {a.file}{flags}"
            )
    return "\n".join(lines) + "\n"


_STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
    "dt{font-weight:bold;margin-top:1em}dd{white-space:pre-wrap;margin-left:1.5em;"
    "unicode-bidi:plaintext}.warn{color:#900;font-weight:bold}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
# No script, no network, no forms: a hostile answer that escaped the escaping
# still could not run or phone home.
CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'none'; "
    "base-uri 'none'; form-action 'none'"
)


def _h(text: str) -> str:
    return html.escape(visible(text, multiline=True), quote=True)


def render_html(case: CaseRecord) -> str:
    c = case.content
    title = f"{'Follow-up' if case.kind == 'followup' else 'Case'} {case.id}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{_h(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_h(title)}</h1>",
        "<table>",
        f"<tr><th>Received (server's word)</th><td>{_h(case.received)}</td></tr>",
        f"<tr><th>Sent (applicant's word)</th><td>{_h(c.sent)}</td></tr>",
        f"<tr><th>Form</th><td>{_h(c.form_id)} version {_h(c.form_version)}</td></tr>",
        f"<tr><th>Language</th><td>{_h(c.lang)}</td></tr>",
        f"<tr><th>Manifest</th><td>version {case.manifest_version}</td></tr>",
        f"<tr><th>Reply mailbox</th><td>{_h(c.mailbox or 'none')}</td></tr>",
    ]
    if case.thread:
        parts.append(f"<tr><th>Follow-up to</th><td>{_h(case.thread)}</td></tr>")
    parts.append("</table>")
    if case.warnings:
        parts.append('<h2 class="warn">Warnings</h2><ul>')
        parts += [f'<li class="warn">{_h(w)}</li>' for w in case.warnings]
        parts.append("</ul>")
    parts.append("<h2>Answers</h2><dl>")
    for key, values in c.answers:
        parts.append(f"<dt>{_h(key)}</dt>")
        parts += [f'<dd dir="auto">{_h(v)}</dd>' for v in values]
    parts.append("</dl>")
    if case.attachments:
        # Names only, deliberately no links: opening an attachment should be a
        # deliberate act in a viewer the verifier chose, not a click in here.
        parts.append(
            "<h2>Attachments</h2><table><tr><th>name</th><th>type</th>"
            "<th>bytes</th><th>saved as</th><th>careful</th></tr>"
        )
        for a in case.attachments:
            parts.append(
                f"<tr><td>{_h(a.ref.name)}</td><td>{_h(a.ref.type)}</td><td>{a.size}</td>"
                f'<td>{_h(a.file)}</td><td class="warn">{_h("; ".join(a.flags))}</td></tr>'
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_private(path: Path, data: bytes) -> None:
    """A new file, mode 0600, never following a symlink planted in the way."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_case_files(folder: Path, case: CaseRecord) -> None:
    write_private(folder / "answers.txt", render_text(case).encode())
    write_private(folder / "answers.html", render_html(case).encode())
    write_private(folder / CASE_FILE, _case_json_bytes(case.to_json()))


def _case_json_bytes(doc: dict[str, Any]) -> bytes:
    # ensure_ascii: invisible characters in names stay visible as \uXXXX escapes.
    return (json.dumps(doc, indent=2, ensure_ascii=True) + "\n").encode()


def read_case(folder: Path) -> dict[str, Any] | None:
    """A case.json we wrote earlier, or None if the folder holds none (or a broken one)."""
    path = folder / CASE_FILE
    if path.is_symlink() or not path.is_file():
        return None
    try:
        doc = strict_json(path.read_bytes())
    except (OSError, HostileJSONError):
        return None
    if not isinstance(doc, dict) or doc.get("type") != "intake/case":
        return None
    return doc


def replace_case_json(folder: Path, doc: dict[str, Any]) -> None:
    tmp = folder / f".{CASE_FILE}.tmp"
    if tmp.exists():
        tmp.unlink()
    write_private(tmp, _case_json_bytes(doc))
    os.replace(tmp, folder / CASE_FILE)


def iter_cases(cases_dir: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every case folder under `cases_dir` (cases and their follow-ups), oldest layout first."""
    for folder in sorted(cases_dir.iterdir()):
        if folder.name.startswith(".") or folder.is_symlink() or not folder.is_dir():
            continue
        doc = read_case(folder)
        if doc is not None:
            yield folder, doc
        followups = folder / "followups"
        if followups.is_dir() and not followups.is_symlink():
            for sub in sorted(followups.iterdir()):
                if sub.is_symlink() or not sub.is_dir():
                    continue
                sub_doc = read_case(sub)
                if sub_doc is not None:
                    yield sub, sub_doc
