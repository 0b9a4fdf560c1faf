"""Readable case folders: parsing decrypted content, answers.txt/.html, case.json.

Layout of one case (`OUT/<submission id>/`):

    answers.html    the case report (report.py): the form's questions, urgent answers
                    first, attachment links, follow-ups and replies; every value
                    HTML-escaped, a CSP that forbids scripts
    answers.txt     the same as plain text, invisible characters shown as <U+XXXX>
    attachments/    each attachment under a sanitised name, mode 0600
    case.json       machine-readable: status, kinds, payload digests, reply key,
                    mailbox, the answers, the replies sent, the warnings (in English,
                    and as codes with parameters for the report's language)
    form.json       the signed form definition the applicant answered (if known)
    followups/<id>/ a follow-up threaded into this case, same layout

The decrypted content is the applicant's word (or an attacker's): it is never
trusted for a path, never emitted unescaped, and its structure is checked
before anything is rendered.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import crypto
from crypto import encoding

from .hostile import HostileJSONError, strict_json, visible

CASE_FILE = "case.json"
FORM_FILE = "form.json"
CASE_FORMAT = 1
# The id grammar of the protocol (kids, submission and attachment ids).
HEX32 = re.compile(encoding.HEX32)
HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_ANSWERS = 1000
MAX_ATTACHMENTS = 256
MAX_SHORT_TEXT = 200


class ContentError(ValueError):
    """Decrypted content whose structure we cannot use (the case is refused)."""


# A warning's parameter: a number, a text (perhaps the applicant's), or texts.
WarningParam = str | int | list[str]
# A note found while parsing: a warning's code and its parameters (worded by decrypt).
Note = tuple[str, dict[str, WarningParam]]


@dataclass(frozen=True)
class CaseWarning:
    """Something odd about a case, kept as a stable code and its parameters so the
    report can say it in the reader's language (report.py words it). `text` is the
    English wording, for case.json's plain "warnings" list, older readers and the
    terminal. Parameters may be the applicant's words: stored as they came
    (clipped), neutralised wherever they are shown."""

    code: str
    params: dict[str, WarningParam]
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "params": self.params, "text": self.text}


def clip(value: str, limit: int = 120) -> str:
    """A hostile text cut to a length worth storing in a warning."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


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
    notes: list[Note] = field(default_factory=list)


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
    notes: list[Note] = []
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


def _parse_answers(raw: Any, notes: list[Note]) -> list[tuple[str, list[str]]]:
    if raw is None:
        notes.append(("no-answers", {}))
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
            notes.append(("answer-not-text", {"field": clip(key, 60)}))
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


def _parse_reply(raw: Any, notes: list[Note]) -> tuple[bytes | None, str | None]:
    if raw is None:
        return None, None
    try:
        key = crypto.b64d(raw["x25519"])
        mailbox = raw["mailbox"]
        if len(key) != 32 or not isinstance(mailbox, str) or not HEX64.fullmatch(mailbox):
            raise ValueError
    except (TypeError, KeyError, ValueError):
        notes.append(("reply-malformed", {}))
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
    warnings: list[CaseWarning]
    thread: str | None = None
    # The signed definition of the form the applicant answered (None: unknown).
    form_definition: dict[str, Any] | None = None
    report_lang: str = "en"

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
            "form_file": FORM_FILE if self.form_definition is not None else None,
            "report_lang": self.report_lang,
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
            # English words for older readers; coded_warnings for the report's language.
            "warnings": [w.text for w in self.warnings],
            "coded_warnings": [w.to_json() for w in self.warnings],
            "followups": [],
            # The answers as the applicant sent them (JSON-escaped on disk), so
            # the report can be rebuilt when a follow-up or a reply joins the case.
            "answers": {key: values for key, values in c.answers},
            "replies": [],
        }


def write_private(path: Path, data: bytes) -> None:
    """A new file, mode 0600, never following a symlink planted in the way."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def replace_private(path: Path, data: bytes) -> None:
    """Replace (or create) a file atomically, mode 0600, never through a symlink."""
    tmp = path.with_name(f".{path.name}.tmp")
    if tmp.exists() or tmp.is_symlink():
        tmp.unlink()
    write_private(tmp, data)
    os.replace(tmp, path)


def write_case_files(folder: Path, case: CaseRecord) -> None:
    """case.json and the form definition; the report is written from them."""
    write_private(folder / CASE_FILE, _case_json_bytes(case.to_json()))
    if case.form_definition is not None:
        text = json.dumps(case.form_definition, ensure_ascii=False, indent=1) + "\n"
        write_private(folder / FORM_FILE, text.encode())


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
    replace_private(folder / CASE_FILE, _case_json_bytes(doc))


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
