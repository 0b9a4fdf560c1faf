"""The case report a volunteer reads: answers.html (and answers.txt beside it).

It speaks in the signed form's own questions and option labels, grouped in
the form's sections, with urgent answers in a box at the top, attachments
as links into the case folder, follow-ups and our own replies in the order
they happened, and one line saying what to do next.

Every string from a case is hostile. The HTML escapes all of it (after
`visible` has shown invisible characters), carries a CSP that allows no
script, no image, no network and no form, and links only attachments that
no flag marks and whose type a browser shows rather than runs; the link is
built from the sanitised file name, percent-encoded, relative, and only if
the file is a plain file inside the case folder.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import crypto
from crypto.encoding import is_hex32

from . import casefiles
from .casefiles import CaseWarning, WarningParam
from .caseview import (
    Attached,
    CaseView,
    NotedWarning,
    Part,
    SentReply,
    form_names,
    parse_time,
    read_view,
    text,
)
from .hostile import linkable, visible
from .urgency import UrgentAnswer

LANGS = ("ru", "en")
SHORT_ID = 8

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "case": "Case",
        "followup": "Follow-up",
        "next": "What to do next",
        "urgent": "Urgent",
        "sent": "Sent by the applicant",
        "sent_note": "by the clock of their phone",
        "received": "Reached the server",
        "received_note": (
            "the server keeps only the hour, to protect applicants, so this can look "
            "earlier than the time sent"
        ),
        "lang": "Applicant's language",
        "replies": "Replies through the site",
        "replies_yes": "possible (they hold a codename)",
        "replies_no": "declined by the applicant",
        "form": "Form",
        "form_unknown": (
            "This form ({form}) is not known to this tool: questions are shown by their ids."
        ),
        "opened_by": "Opened with key",
        "case_id": "Full case id",
        "part_of": "Part of case",
        "warnings": "Warnings",
        "answers": "Answers",
        "older": (
            "Decrypted by an older version of intake-verifier: the answers are in the "
            "original answers file only; decrypt the bundle into a new folder for this report."
        ),
        "not_in_form": "Answers to questions that are not in the signed form",
        "not_option": "not one of the form's options",
        "nothing": "No question was answered.",
        "yes": "Yes",
        "no": "No",
        "agreed": "Agreed",
        "attachments": "Attachments",
        "name": "name",
        "type": "type",
        "bytes": "bytes",
        "open": "open",
        "careful": "careful",
        "not_linked": "not linked: open it deliberately, with a program you trust",
        "conversation": "Conversation",
        "c_sent": "Application sent",
        "c_followup": "The applicant wrote again",
        "c_reply": "Your reply",
        "signed_by": "signed by",
        "written_to": "written to",
        "do_urgent": "URGENT: answer today.",
        "do_reply": "Reply:",
        "do_again": "The applicant wrote again after your last reply. Reply:",
        "do_push": "then carry the replies file across and run intake-courier push.",
        "do_wait": "Nothing to do until the applicant writes again (your last reply: {what}).",
        "do_none": (
            "The applicant declined replies through the site: use only a contact they gave "
            "under their answers, and only if it is safe."
        ),
        "status.received": "received",
        "status.needs-info": "needs more information",
        "status.verified": "verified",
        "status.declined": "declined",
        "message": "Message",
        "utc": "UTC",
        # Warnings about a case, by code (decrypt.py); {file} makes one about an attachment.
        "w.attachment": 'attachment "{file}"',
        "w.no-answers": "the content holds no answers",
        "w.answer-not-text": 'the answer to "{field}" is not text; shown as JSON',
        "w.reply-malformed": "the reply key or mailbox id is malformed; no reply is possible",
        "w.manifest-not-in-chain": (
            "sealed under manifest version {version}, which is not in the verified chain"
        ),
        "w.manifest-digest-differs": (
            "names manifest version {version} but with a different digest (forged manifest?)"
        ),
        "w.sealed-to-strangers": (
            "sealed to key(s) that are not active verifiers of manifest {version}: {keys}"
        ),
        "w.not-sealed-to-verifiers": (
            "not sealed to active verifier(s) of manifest {version}: {keys}"
        ),
        "w.attachment-size": "the form says {claimed} bytes, it holds {actual}",
        "w.unnamed-envelopes": (
            "the bundle holds {count} envelope(s) the form does not name; ignored"
        ),
        "w.form-digest-differs": "the server's digest for the form differs from its content",
        "w.attachment-digest-differs": "the server's digest differs from its content",
        "w.orphan-followup": "follow-up whose submission is not among the cases in this folder",
    },
    "ru": {
        "case": "Обращение",
        "followup": "Дополнение",
        "next": "Что сделать дальше",
        "urgent": "Срочно",
        "sent": "Отправлено заявителем",
        "sent_note": "по часам его телефона",
        "received": "Получено сервером",
        "received_note": (
            "сервер хранит только час, чтобы защитить заявителей, поэтому это время "
            "может выглядеть раньше времени отправки"
        ),
        "lang": "Язык заявителя",
        "replies": "Ответы через сайт",
        "replies_yes": "возможны (у заявителя есть кодовая фраза)",
        "replies_no": "заявитель отказался",
        "form": "Анкета",
        "form_unknown": ("Эта анкета ({form}) неизвестна программе: вопросы показаны их кодами."),
        "opened_by": "Открыто ключом",
        "case_id": "Полный номер",
        "part_of": "Часть обращения",
        "warnings": "Предупреждения",
        "answers": "Анкета",
        "older": (
            "Расшифровано старой версией intake-verifier: ответы есть только в прежнем "
            "файле; расшифруйте пакет в новую папку, чтобы получить этот отчёт."
        ),
        "not_in_form": "Ответы на вопросы, которых нет в подписанной анкете",
        "not_option": "нет среди вариантов анкеты",
        "nothing": "Ни на один вопрос не ответили.",
        "yes": "Да",
        "no": "Нет",
        "agreed": "Согласие дано",
        "attachments": "Вложения",
        "name": "имя",
        "type": "тип",
        "bytes": "байт",
        "open": "открыть",
        "careful": "осторожно",
        "not_linked": "без ссылки: открывайте осознанно, программой, которой доверяете",
        "conversation": "Переписка",
        "c_sent": "Анкета отправлена",
        "c_followup": "Заявитель написал снова",
        "c_reply": "Ваш ответ",
        "signed_by": "подписан",
        "written_to": "записан в",
        "do_urgent": "СРОЧНО: ответьте сегодня.",
        "do_reply": "Ответьте:",
        "do_again": "Заявитель написал после вашего последнего ответа. Ответьте:",
        "do_push": "затем перенесите файл ответов и выполните intake-courier push.",
        "do_wait": (
            "Ничего не нужно, пока заявитель не напишет снова (ваш последний ответ: {what})."
        ),
        "do_none": (
            "Заявитель отказался от ответов через сайт: используйте только контакт из его "
            "ответов и только если это безопасно."
        ),
        "status.received": "получено",
        "status.needs-info": "нужны сведения",
        "status.verified": "подтверждено",
        "status.declined": "отказано",
        "message": "Сообщение",
        "utc": "UTC",
        "w.attachment": "вложение «{file}»",
        "w.no-answers": "в анкете нет ни одного ответа",
        "w.answer-not-text": (
            "ответ на вопрос «{field}» пришёл не текстом; он показан как есть (в формате JSON)"
        ),
        "w.reply-malformed": (
            "ключ для ответа или номер почтового ящика повреждены: ответить через сайт нельзя"
        ),
        "w.manifest-not-in-chain": (
            "зашифровано по манифесту версии {version}, которого нет в проверенной цепочке"
        ),
        "w.manifest-digest-differs": (
            "указан манифест версии {version}, но его отпечаток другой (манифест подделан?)"
        ),
        "w.sealed-to-strangers": (
            "среди получателей есть чужие ключи (это не действующие ключи проверяющих "
            "по манифесту {version}): {keys}"
        ),
        "w.not-sealed-to-verifiers": (
            "среди получателей не хватает действующих ключей проверяющих "
            "по манифесту {version}: {keys}"
        ),
        "w.attachment-size": (
            "размер не совпадает с анкетой: в ней указано {claimed} Б, а в файле {actual} Б"
        ),
        "w.unnamed-envelopes": (
            "в пакете есть конверты, которых анкета не называет (всего: {count}); они пропущены"
        ),
        "w.form-digest-differs": (
            "контрольная сумма анкеты, записанная сервером, не совпадает с её содержимым"
        ),
        "w.attachment-digest-differs": (
            "контрольная сумма, записанная сервером, не совпадает с содержимым"
        ),
        "w.orphan-followup": (
            "это дополнение, но обращения, к которому оно относится, нет в этой папке"
        ),
    },
}


def _param(value: Any) -> str | None:
    """A warning parameter as text, or None if it is not one a warning can hold."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    return None


def word_warning(lang: str, code: str, params: Mapping[str, Any]) -> str | None:
    """A coded warning in `lang`, not yet made safe to show; None if this version
    does not know the code or the parameters do not fit it (show its stored words)."""
    words = _WORDS[lang if lang in LANGS else "en"]
    template = words.get(f"w.{code}")
    values: dict[str, str] = {}
    for key, value in params.items():
        shown = _param(value)
        if shown is None or not isinstance(key, str):
            return None
        values[key] = shown
    if template is None:
        return None
    try:
        # Only our template is a format string; the values are inserted as they are.
        said = template.format_map(values)
    except (KeyError, IndexError, ValueError):
        return None
    if "file" in values:
        said = words["w.attachment"].format(file=values["file"]) + ": " + said
    return said


def warning(code: str, **params: WarningParam) -> CaseWarning:
    """A warning about a case, with its English words (invisible characters shown)."""
    said = word_warning("en", code, params)
    if said is None:
        raise KeyError(f"no words for warning {code!r} with {sorted(params)}")
    return CaseWarning(code, dict(params), visible(said))


def default_lang(environ: Mapping[str, str] | None = None) -> str:
    """The report language from the locale (LANGUAGE, LC_ALL, LC_MESSAGES, LANG), else en."""
    env = os.environ if environ is None else environ
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value:
            code = value.split(":")[0][:2].lower()
            return code if code in LANGS else "en"
    return "en"


@dataclass(frozen=True)
class ReportContext:
    """What the report needs beyond the folder: the reader's language and,
    for the next-step command, where the case will live and the keyring."""

    lang: str = "en"
    case_path: Path | None = None  # default: the folder rendered
    keyring: str | None = None
    today: dt.date | None = None


def short_id(case_id: str) -> str:
    return case_id[:SHORT_ID] if is_hex32(case_id) else visible(case_id, limit=SHORT_ID)


# --------------------------------------------------------------------------
# Words: the form's and ours


class _Speaker:
    """The report's words in one language: ours, and the form's labels."""

    def __init__(self, lang: str, form: dict[str, Any] | None) -> None:
        self.lang = lang if lang in LANGS else "en"
        self.form = form
        self.fields: dict[str, dict[str, Any]] = {}
        if form is not None:
            for section in form["sections"]:
                for field in section["fields"]:
                    self.fields[field["id"]] = field

    def __call__(self, key: str, **values: str) -> str:
        return _WORDS[self.lang][key].format(**values) if values else _WORDS[self.lang][key]

    def pick(self, texts: Any) -> str:
        """A form text in our language, else in the form's first language."""
        if not isinstance(texts, dict):
            return ""
        if isinstance(texts.get(self.lang), str):
            return str(texts[self.lang])
        languages = self.form.get("languages", []) if self.form else []
        for lang in [*languages, *sorted(texts)]:
            if isinstance(texts.get(lang), str):
                return str(texts[lang])
        return ""

    def question(self, field_id: str) -> str:
        field = self.fields.get(field_id)
        return self.pick(field["label"]) if field else field_id

    def answer(self, field_id: str, value: str) -> tuple[str, str | None]:
        """How one answer value reads, and a code to show beside it in plain text
        (None when the reading is the value itself); an odd value is marked."""
        field = self.fields.get(field_id)
        if field is None:
            return value, None
        kind = field["type"]
        if kind in ("choice", "multichoice"):
            for option in field["options"]:
                if option["value"] == value:
                    return self.pick(option["label"]), value
            return f"{value} ({self('not_option')})", None
        if kind == "yesno" and value in ("yes", "no"):
            return self(value), value
        if kind == "consent" and value == "yes":
            return self("agreed"), value
        return value, None

    def warning(self, noted: NotedWarning) -> str:
        """A warning in our language; its stored English words if we cannot say it."""
        if noted.code is None:
            return noted.text
        params = dict(noted.params)
        field = params.get("field")
        if isinstance(field, str):
            params["field"] = self.question(field)
        said = word_warning(self.lang, noted.code, params)
        return noted.text if said is None else said

    def status(self, status: str) -> str:
        return _WORDS[self.lang].get(f"status.{status}", status)

    def when(self, value: str) -> str:
        parsed = parse_time(value)
        if parsed is None:
            return value
        return parsed.strftime("%Y-%m-%d %H:%M ") + self("utc")

    def hour(self, value: str) -> str:
        """The server's hour as the hour it stands for: 06:00–07:00, not 06:00."""
        parsed = parse_time(value)
        if parsed is None:
            return value
        if parsed.minute or parsed.second:
            return self.when(value)
        end = parsed + dt.timedelta(hours=1)
        return f"{parsed:%Y-%m-%d %H:%M}–{end:%H:%M} {self('utc')}"


# --------------------------------------------------------------------------
# What the report says, independent of HTML or text


@dataclass
class _Answer:
    field: str
    question: str
    shown: list[str]
    codes: list[str | None]


@dataclass
class _Section:
    title: str
    answers: list[_Answer]


def _sections(speak: _Speaker, answers: dict[str, list[str]]) -> list[_Section]:
    """The answered questions, in the form's sections and order; the rest last."""

    def one(field_id: str, values: list[str]) -> _Answer:
        pairs = [speak.answer(field_id, v) for v in values]
        return _Answer(
            field_id, speak.question(field_id), [p[0] for p in pairs], [p[1] for p in pairs]
        )

    sections: list[_Section] = []
    if speak.form is not None:
        for section in speak.form["sections"]:
            rows = [
                one(f["id"], answers[f["id"]]) for f in section["fields"] if answers.get(f["id"])
            ]
            if rows:
                sections.append(_Section(speak.pick(section["title"]), rows))
    elsewhere = [one(k, v) for k, v in answers.items() if k not in speak.fields]
    if elsewhere:
        title = speak("not_in_form") if speak.form is not None else speak("answers")
        sections.append(_Section(title, elsewhere))
    return sections


def _urgent_lines(speak: _Speaker, urgent: list[UrgentAnswer]) -> list[tuple[str, str]]:
    return [
        (speak.question(u.field), "; ".join(speak.answer(u.field, v)[0] for v in u.values))
        for u in urgent
    ]


def _next_step(view: CaseView, speak: _Speaker, ctx: ReportContext) -> tuple[str, str, str]:
    """(words before a command, the command, words after it); command may be empty."""
    if view.kind != "submission":
        return "", "", ""
    if not view.has_mailbox:
        return speak("do_none"), "", ""
    if not view.awaiting_reply():
        last = view.last_reply()
        what = f"{speak.status(last.status)}, {speak.when(last.sent)}" if last else ""
        return speak("do_wait", what=what), "", ""
    where = ctx.case_path or view.folder
    case_arg = str(where.parent / short_id(view.id)) if is_hex32(view.id) else str(where)
    command = (
        f"intake-verifier reply {case_arg} --keyring {ctx.keyring or 'KEYRING'} "
        '--status received --message "…" --out replies.json --append'
    )
    before = speak("do_again") if view.replies else speak("do_reply")
    if view.urgent:
        before = speak("do_urgent") + " " + before
    return before, command, speak("do_push")


def _link(part: Part, attached: Attached) -> str | None:
    """A relative href to the attachment's file, or None when it must not be linked."""
    match = re.fullmatch(r"attachments/([^/\\]+)", attached.file)
    if match is None or not linkable(match.group(1), attached.flags):
        return None
    name = match.group(1)
    path = part.folder / "attachments" / name
    # Only a plain file, really inside this part's folder (no symlink, no "..").
    if name in (".", "..") or path.is_symlink() or not path.is_file():
        return None
    if path.resolve().parent != (part.folder / "attachments").resolve():
        return None
    return part.rel + "attachments/" + quote(name, safe="")


@dataclass
class _Event:
    when: dt.datetime | None
    part: Part | None = None
    reply: SentReply | None = None


def _conversation(view: CaseView) -> list[_Event]:
    """The application, its follow-ups and our replies, oldest first."""
    events = [_Event(view.main.when, part=view.main)]
    events += [_Event(p.when, part=p) for p in view.followups]
    events += [_Event(parse_time(r.sent), reply=r) for r in view.replies]
    first = events[0]
    rest = sorted(
        events[1:],
        key=lambda e: (e.when is None, e.when or dt.datetime.min.replace(tzinfo=dt.UTC)),
    )
    return [first, *rest]


# --------------------------------------------------------------------------
# HTML


_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:56em;margin:1.5em auto;padding:0 1em;"
    "color:#111}h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin-top:1.6em;"
    "border-bottom:1px solid #ccc}h3{font-size:1.05em;margin:1.2em 0 .3em}"
    "dt{font-weight:600;margin-top:.7em}dd{white-space:pre-wrap;margin:.1em 0 0 1.2em;"
    "unicode-bidi:plaintext}.next{background:#eef4ff;border:1px solid #9bb8e8;padding:.6em .9em}"
    ".urgent{background:#fff0f0;border:3px solid #c00;padding:.4em 1em;margin:1em 0}"
    ".urgent h2{color:#a00;border:0;margin:.3em 0}.warn{color:#900;font-weight:bold}"
    ".note{color:#555;font-size:.9em}code{background:#f3f3f3;padding:0 .2em;word-break:break-all}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;"
    "text-align:left;vertical-align:top}.ours{border-left:4px solid #2a6;padding-left:.8em}"
    ".theirs{border-left:4px solid #888;padding-left:.8em}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
# No script, no network, no forms: a hostile answer that escaped the escaping
# still could not run or phone home.
CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'none'; "
    "base-uri 'none'; form-action 'none'"
)


def _h(value: str) -> str:
    return html.escape(visible(value, multiline=True), quote=True)


def _attachments_html(speak: _Speaker, part: Part) -> list[str]:
    if not part.attachments:
        return []
    out = [
        f"<table><tr><th>{_h(speak('name'))}</th><th>{_h(speak('type'))}</th>"
        f"<th>{_h(speak('bytes'))}</th><th>{_h(speak('open'))}</th></tr>"
    ]
    for a in part.attachments:
        href = _link(part, a)
        if href is not None:
            target = html.escape(href, quote=True)
            cell = f'<a href="{target}" rel="noopener noreferrer">{_h(a.file)}</a>'
        else:
            reasons = "; ".join(a.flags)
            careful = f"{_h(speak('careful'))}: {_h(reasons)}"
            cell = (f'<span class="warn">{careful}</span> ' if reasons else "") + (
                f"<code>{_h(part.rel + a.file)}</code> "
                f'<span class="note">{_h(speak("not_linked"))}</span>'
            )
        size = "" if a.size is None else str(a.size)
        out.append(
            f'<tr><td dir="auto">{_h(a.name)}</td><td>{_h(a.type)}</td><td>{size}</td>'
            f"<td>{cell}</td></tr>"
        )
    out.append("</table>")
    return out


def _answers_html(speak: _Speaker, part: Part, heading: str) -> list[str]:
    if part.answers is None:
        return [f'<p class="warn">{_h(speak("older"))}</p>']
    sections = _sections(speak, part.answers)
    if not sections:
        return [f"<p>{_h(speak('nothing'))}</p>"]
    out: list[str] = []
    for section in sections:
        out.append(f"<{heading}>{_h(section.title)}</{heading}><dl>")
        for answer in section.answers:
            out.append(f"<dt>{_h(answer.question)}</dt>")
            out += [f'<dd dir="auto">{_h(v)}</dd>' for v in answer.shown]
        out.append("</dl>")
    return out


def _message_html(speak: _Speaker, part: Part) -> list[str]:
    """A follow-up's content: its message, then any other answers, then files."""
    if part.answers is None:
        return [f'<p class="warn">{_h(speak("older"))}</p>']
    out: list[str] = []
    message = part.answers.get("message")
    if message:
        out += [f'<p dir="auto" class="msg">{_h(m)}</p>' for m in message]
    others = {k: v for k, v in part.answers.items() if k != "message"}
    if others:
        out.append("<dl>")
        for key, values in others.items():
            out.append(f"<dt>{_h(key)}</dt>")
            out += [f'<dd dir="auto">{_h(v)}</dd>' for v in values]
        out.append("</dl>")
    return out + _attachments_html(speak, part)


def _facts_html(view: CaseView, speak: _Speaker) -> list[str]:
    doc = view.main.doc
    form_id, version = form_names(doc)
    rows = [
        (speak("sent"), f"{speak.when(view.main.sent)} ({speak('sent_note')})"),
        (speak("received"), f"{speak.hour(view.main.received)} ({speak('received_note')})"),
        (speak("lang"), text(doc, "lang")),
    ]
    if view.kind == "submission":
        rows.append(
            (speak("replies"), speak("replies_yes") if view.has_mailbox else speak("replies_no"))
        )
    title = speak.pick(view.form["title"]) if view.form else ""
    rows.append(
        (speak("form"), f"{title} ({form_id}, {version})" if title else f"{form_id}, {version}")
    )
    opened = text(doc, "opened_by")
    if is_hex32(opened):
        rows.append((speak("opened_by"), crypto.fingerprint(opened)))
    rows.append((speak("case_id"), view.id))
    return (
        ["<table>"] + [f"<tr><th>{_h(k)}</th><td>{_h(v)}</td></tr>" for k, v in rows] + ["</table>"]
    )


def render_html(view: CaseView, ctx: ReportContext) -> str:
    speak = _Speaker(ctx.lang, view.form)
    is_case = view.kind == "submission"
    title = f"{speak('case' if is_case else 'followup')} {short_id(view.id)}"
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{speak.lang}"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{_h(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_h(title)}</h1>",
    ]
    before, command, after = _next_step(view, speak, ctx)
    if before:
        parts.append(f'<p class="next"><strong>{_h(speak("next"))}:</strong> {_h(before)}')
        if command:
            parts.append(f"<code>{_h(command)}</code> {_h(after)}")
        parts.append("</p>")
    if view.urgent:
        parts.append(f'<div class="urgent"><h2>{_h(speak("urgent"))}</h2><ul>')
        parts += [
            f"<li><strong>{_h(q)}</strong> {_h(a)}</li>"
            for q, a in _urgent_lines(speak, view.urgent)
        ]
        parts.append("</ul></div>")
    thread = text(view.main.doc, "thread")
    if not is_case and is_hex32(thread):
        parts.append(
            f'<p>{_h(speak("part_of"))} <a href="../../answers.html" rel="noopener noreferrer">'
            f"{_h(short_id(thread))}</a></p>"
        )
    if view.main.warnings:
        parts.append(f'<h2 class="warn">{_h(speak("warnings"))}</h2><ul>')
        parts += [f'<li class="warn">{_h(speak.warning(w))}</li>' for w in view.main.warnings]
        parts.append("</ul>")
    parts += _facts_html(view, speak)
    if view.form is None and is_case:
        form_id, version = form_names(view.main.doc)
        parts.append(
            f'<p class="note">{_h(speak("form_unknown", form=f"{form_id} {version}"))}</p>'
        )
    if is_case:
        parts.append(f"<h2>{_h(speak('answers'))}</h2>")
        parts += _answers_html(speak, view.main, "h3")
        if view.main.attachments:
            parts.append(f"<h2>{_h(speak('attachments'))}</h2>")
            parts += _attachments_html(speak, view.main)
    else:
        parts.append(f"<h2>{_h(speak('message'))}</h2>")
        parts += _message_html(speak, view.main)
    events = _conversation(view)
    if is_case and len(events) > 1:
        parts.append(f"<h2>{_h(speak('conversation'))}</h2>")
        for event in events:
            parts += _event_html(speak, event, view)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _event_html(speak: _Speaker, event: _Event, view: CaseView) -> list[str]:
    if event.reply is not None:
        r = event.reply
        head = f"{speak('c_reply')} ({speak.status(r.status)}), {speak.when(r.sent)}"
        out = [f'<div class="ours"><h3>{_h(head)}</h3>']
        out.append(f'<p dir="auto" class="msg">{_h(r.message)}</p>')
        note = f"{speak('signed_by')} {r.signer}" + (
            f"; {speak('written_to')} {r.out}" if r.out else ""
        )
        out.append(f'<p class="note">{_h(note)}</p></div>')
        return out
    part = event.part
    if part is None:  # an event is a reply or a part; nothing else to show
        return []
    if part is view.main:
        head = f"{speak('c_sent')}, {speak.when(part.sent)}"
        return [f'<div class="theirs"><h3>{_h(head)}</h3></div>']
    head = f"{speak('c_followup')}, {speak.when(part.sent)}"
    return [f'<div class="theirs"><h3>{_h(head)}</h3>', *_message_html(speak, part), "</div>"]


# --------------------------------------------------------------------------
# Plain text


def _indent(value: str, prefix: str) -> list[str]:
    lines = visible(value, multiline=True).split("\n")
    return [prefix + lines[0]] + ["    " + line for line in lines[1:]]


def _answers_text(speak: _Speaker, part: Part) -> list[str]:
    if part.answers is None:
        return [speak("older")]
    lines: list[str] = []
    for section in _sections(speak, part.answers):
        lines += ["", f"== {visible(section.title)} =="]
        for answer in section.answers:
            if answer.question != answer.field:
                lines.append(visible(answer.question))
            # `id: value`, with option codes: for grep and scripts.
            shown = [
                s if c is None else f"{s} [{c}]"
                for s, c in zip(answer.shown, answer.codes, strict=True)
            ]
            if len(shown) == 1:
                lines += _indent(shown[0], f"  {visible(answer.field)}: ")
            else:
                lines.append(f"  {visible(answer.field)}:")
                for value in shown:
                    lines += _indent(value, "    - ")
    return lines


def _followup_text(part: Part, prefix: str) -> list[str]:
    """A follow-up's message (and any other answer, by its key)."""
    lines: list[str] = []
    for key, values in (part.answers or {}).items():
        label = prefix if key == "message" else f"{prefix}{visible(key)}: "
        for value in values:
            lines += _indent(value, label)
    return lines


def _attachments_text(speak: _Speaker, part: Part) -> list[str]:
    lines: list[str] = []
    for n, a in enumerate(part.attachments, 1):
        flags = f"  [{speak('careful').upper()}: {'; '.join(a.flags)}]" if a.flags else ""
        size = "?" if a.size is None else str(a.size)
        lines.append(
            f"{n}. {visible(a.name, limit=120)}  ({visible(a.type, limit=60)}, {size} "
            f"{speak('bytes')}) -> {visible(part.rel + a.file)}{flags}"
        )
    return lines


def render_text(view: CaseView, ctx: ReportContext) -> str:
    speak = _Speaker(ctx.lang, view.form)
    is_case = view.kind == "submission"
    doc = view.main.doc
    lines = [f"{speak('case' if is_case else 'followup')} {view.id}"]
    before, command, after = _next_step(view, speak, ctx)
    if before:
        lines.append(f"{speak('next')}: {before}" + (f" {command} {after}" if command else ""))
    if view.urgent:
        lines += ["", f"== {speak('urgent').upper()} =="]
        lines += [f"!! {visible(q)}: {visible(a)}" for q, a in _urgent_lines(speak, view.urgent)]
    if view.main.warnings:
        lines += ["", f"== {speak('warnings').upper()} =="]
        lines += [f"! {visible(speak.warning(w))}" for w in view.main.warnings]
    lines += [
        "",
        f"{speak('sent')}: {visible(speak.when(view.main.sent))} ({speak('sent_note')})",
        f"{speak('received')}: {visible(speak.hour(view.main.received))} "
        f"({speak('received_note')})",
        f"{speak('lang')}: {visible(text(doc, 'lang'))}",
    ]
    form_id, version = form_names(doc)
    lines.append(f"{speak('form')}: {visible(form_id)} {visible(version)}")
    thread = text(doc, "thread")
    if is_hex32(thread):
        lines.append(f"{speak('part_of')}: {thread}")
    mailbox = doc.get("reply")
    if is_case:
        lines.append(
            f"{speak('replies')}: "
            + (speak("replies_yes") if isinstance(mailbox, dict) else speak("replies_no"))
        )
    if is_case:
        lines += _answers_text(speak, view.main)
    else:
        lines += ["", f"== {speak('message')} ==", *_followup_text(view.main, "  ")]
    if view.main.attachments:
        lines += ["", f"== {speak('attachments')} ==", *_attachments_text(speak, view.main)]
    events = _conversation(view)
    if is_case and len(events) > 1:
        lines += ["", f"== {speak('conversation')} =="]
        for event in events[1:]:
            lines.append("")
            if event.reply is not None:
                r = event.reply
                lines.append(
                    f"-- {speak('c_reply')} ({speak.status(r.status)}), {speak.when(r.sent)}"
                )
                lines += _indent(r.message, "   ")
            elif event.part is not None:
                p = event.part
                lines.append(f"-- {speak('c_followup')}, {visible(speak.when(p.sent))}")
                lines += _followup_text(p, "   ")
                lines += ["   " + line for line in _attachments_text(speak, p)]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Writing


def report_lang_of(doc: dict[str, Any], fallback: str | None = None) -> str:
    chosen = fallback or doc.get("report_lang")
    return chosen if isinstance(chosen, str) and chosen in LANGS else default_lang()


def write_report(folder: Path, ctx: ReportContext, *, fresh: bool = False) -> bool:
    """(Re)write answers.html and answers.txt of the case in `folder`; False if
    the folder holds no case or the case predates the answers in case.json.
    `fresh`: the folder is new (staging) and holds no report yet."""
    view = read_view(folder, ctx.today)
    if view is None or view.main.answers is None:
        return False
    put = casefiles.write_private if fresh else casefiles.replace_private
    put(folder / "answers.html", render_html(view, ctx).encode())
    put(folder / "answers.txt", render_text(view, ctx).encode())
    return True


__all__ = [
    "CSP",
    "LANGS",
    "ReportContext",
    "default_lang",
    "render_html",
    "render_text",
    "report_lang_of",
    "short_id",
    "warning",
    "word_warning",
    "write_report",
]
