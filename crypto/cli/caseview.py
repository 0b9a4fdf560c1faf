"""A decrypted case folder read back as one thing: answers, form, follow-ups, replies.

The report (answers.html, answers.txt) and the `cases` listing both start
here. Everything read from case.json came from a decrypted envelope or from
our own earlier runs, so each value is type-checked as it is read and a
malformed one is skipped, never trusted for a path or shown unescaped.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import crypto
from crypto.formdef import default_form, validate_form

from . import casefiles
from .casefiles import FORM_FILE, HEX32
from .hostile import HostileJSONError, strict_json
from .urgency import UrgentAnswer, urgent_answers

MAX_FORM_FILE = 1 << 20
# Read-only here: one copy for every case rendered in a run.
_shipped_form = functools.cache(default_form)


@dataclass(frozen=True)
class Attached:
    """An attachment as case.json records it; `file` is relative to its own folder."""

    name: str
    file: str
    type: str
    size: int | None
    flags: tuple[str, ...]


@dataclass(frozen=True)
class SentReply:
    """A reply this verifier sealed for the case (recorded by `intake-verifier reply`)."""

    sent: str
    status: str
    message: str
    lang: str
    signer: str
    out: str


@dataclass(frozen=True)
class NotedWarning:
    """A warning as case.json records it: its code and parameters (None and empty
    when written by a version that kept only words) and its English words."""

    code: str | None
    params: dict[str, Any]
    text: str


@dataclass
class Part:
    """The submission or one follow-up: its case.json and what it carries."""

    folder: Path
    rel: str  # the folder relative to the case folder: "" or "followups/<id>/"
    doc: dict[str, Any]
    answers: dict[str, list[str]] | None  # None: decrypted by an older tool
    attachments: list[Attached]
    warnings: list[NotedWarning] = field(default_factory=list)

    @property
    def id(self) -> str:
        return text(self.doc, "id")

    @property
    def sent(self) -> str:
        return text(self.doc, "sent")

    @property
    def received(self) -> str:
        return text(self.doc, "received")

    @property
    def when(self) -> dt.datetime | None:
        """When the applicant sent it: their clock, else the server's hour."""
        return parse_time(self.sent) or parse_time(self.received)


@dataclass
class CaseView:
    folder: Path
    main: Part
    form: dict[str, Any] | None
    followups: list[Part] = field(default_factory=list)
    replies: list[SentReply] = field(default_factory=list)
    urgent: list[UrgentAnswer] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.main.id

    @property
    def kind(self) -> str:
        return text(self.main.doc, "kind")

    @property
    def has_mailbox(self) -> bool:
        reply = self.main.doc.get("reply")
        return isinstance(reply, dict) and isinstance(reply.get("mailbox"), str)

    def last_from_applicant(self) -> dt.datetime | None:
        times = [p.when for p in [self.main, *self.followups] if p.when is not None]
        return max(times) if times else None

    def last_reply(self) -> SentReply | None:
        dated = [(parse_time(r.sent), r) for r in self.replies]
        known = [(when, r) for when, r in dated if when is not None]
        return max(known, key=lambda pair: pair[0])[1] if known else None

    def awaiting_reply(self) -> bool:
        """Whether the applicant wrote last (or nobody replied yet)."""
        last = self.last_reply()
        if last is None:
            return True
        ours = parse_time(last.sent)
        theirs = self.last_from_applicant()
        return ours is not None and theirs is not None and theirs > ours


def text(doc: dict[str, Any], key: str) -> str:
    value = doc.get(key)
    return value if isinstance(value, str) else ""


def parse_time(value: str) -> dt.datetime | None:
    try:
        return crypto.parse_time(value)
    except ValueError:
        return None


def read_answers(doc: dict[str, Any]) -> dict[str, list[str]] | None:
    raw = doc.get("answers")
    if not isinstance(raw, dict):
        return None
    answers: dict[str, list[str]] = {}
    for key, values in raw.items():
        if isinstance(values, list) and all(isinstance(v, str) for v in values):
            answers[key] = list(values)
    return answers


def read_attachments(doc: dict[str, Any]) -> list[Attached]:
    raw = doc.get("attachments")
    found: list[Attached] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        size = item.get("size")
        flags = item.get("flags")
        found.append(
            Attached(
                name=text(item, "name"),
                file=text(item, "file"),
                type=text(item, "type"),
                size=size if isinstance(size, int) and not isinstance(size, bool) else None,
                flags=tuple(f for f in flags if isinstance(f, str))
                if isinstance(flags, list)
                else (),
            )
        )
    return found


def read_warnings(doc: dict[str, Any]) -> list[NotedWarning]:
    """The case's warnings: coded ones when case.json has them, else its words alone
    (a case folder written before warnings had codes)."""
    coded = doc.get("coded_warnings")
    if isinstance(coded, list):
        found: list[NotedWarning] = []
        for item in coded:
            if not isinstance(item, dict):
                continue
            code, params = item.get("code"), item.get("params")
            found.append(
                NotedWarning(
                    code=code if isinstance(code, str) else None,
                    params=params if isinstance(params, dict) else {},
                    text=text(item, "text"),
                )
            )
        return found
    words = doc.get("warnings")
    return [
        NotedWarning(None, {}, w)
        for w in (words if isinstance(words, list) else [])
        if isinstance(w, str)
    ]


def read_replies(doc: dict[str, Any]) -> list[SentReply]:
    raw = doc.get("replies")
    return [
        SentReply(
            sent=text(item, "sent"),
            status=text(item, "status"),
            message=text(item, "message"),
            lang=text(item, "lang"),
            signer=text(item, "signer"),
            out=text(item, "out"),
        )
        for item in (raw if isinstance(raw, list) else [])
        if isinstance(item, dict)
    ]


def _part(folder: Path, rel: str, doc: dict[str, Any]) -> Part:
    return Part(folder, rel, doc, read_answers(doc), read_attachments(doc), read_warnings(doc))


def _followups(folder: Path) -> list[Part]:
    base = folder / "followups"
    if base.is_symlink() or not base.is_dir():
        return []
    parts: list[Part] = []
    for sub in sorted(base.iterdir()):
        if not HEX32.fullmatch(sub.name) or sub.is_symlink() or not sub.is_dir():
            continue
        doc = casefiles.read_case(sub)
        if doc is not None and doc.get("kind") == "followup" and doc.get("id") == sub.name:
            parts.append(_part(sub, f"followups/{sub.name}/", doc))
    return parts


def form_names(doc: dict[str, Any]) -> tuple[str, str]:
    form = doc.get("form")
    if not isinstance(form, dict):
        return "", ""
    return text(form, "id"), text(form, "version")


def matches(form: dict[str, Any], form_id: str, version: str) -> bool:
    return form.get("id") == form_id and str(form.get("version")) == version


def load_form(folder: Path, doc: dict[str, Any]) -> dict[str, Any] | None:
    """The definition of the form this case was answered on, or None if unknown.

    First the copy decrypt saved from the verified manifest chain, then the
    form this tool ships with; either must carry the id and version the
    applicant's content names, or its labels could describe other questions.
    """
    form_id, version = form_names(doc)
    path = folder / FORM_FILE
    if not path.is_symlink() and path.is_file() and path.stat().st_size <= MAX_FORM_FILE:
        try:
            saved = strict_json(path.read_bytes())
            validate_form(saved)
        except (OSError, HostileJSONError, ValueError):
            saved = None
        if isinstance(saved, dict) and matches(saved, form_id, version):
            return saved
    shipped = _shipped_form()
    return shipped if matches(shipped, form_id, version) else None


def read_view(folder: Path, today: dt.date | None = None) -> CaseView | None:
    """The case in `folder` (None if it holds no case.json we wrote)."""
    doc = casefiles.read_case(folder)
    if doc is None:
        return None
    main = _part(folder, "", doc)
    view = CaseView(folder=folder, main=main, form=load_form(folder, doc))
    if view.kind == "submission":
        view.followups = _followups(folder)
        view.followups.sort(key=lambda p: (p.when is None, p.when or dt.datetime.min, p.id))
    view.replies = read_replies(doc)
    if main.answers is not None and view.kind == "submission":
        form_id, _version = form_names(doc)
        view.urgent = urgent_answers(form_id, main.answers, today or dt.datetime.now(dt.UTC).date())
    return view


__all__ = [
    "Attached",
    "CaseView",
    "NotedWarning",
    "Part",
    "SentReply",
    "load_form",
    "parse_time",
    "read_view",
    "text",
]
