"""The intake page: `/` in Russian, `/en/` in English.

Each language has its own URL rather than content negotiation, so a page's
bytes depend on nothing the browser sends: admins can sign their digests and
anyone can check them from outside.

The questions come from the form definition in the latest manifest (signed
by the admins), or from the project's default form when that manifest
carries none. They are rendered here, as plain HTML, so the form is usable
before the crypto library has arrived; the page's script then checks what
was rendered against the verified manifest before it encrypts anything.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

from babel.dates import get_month_names
from babel.numbers import format_decimal
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.routing import NoMatchFound

import crypto
from app import clock
from app.pages.assets import PAGE_MODULES
from app.pages.i18n import DEFAULT_LANGUAGE
from app.pages.rendering import check_language, latest_manifest, mark, render
from crypto import formdef

log = logging.getLogger("intake")

router = APIRouter(include_in_schema=False)

# Strings the page's script shows; translated on the server and handed to the
# script as JSON, so every word lives in the gettext catalogs.
SCRIPT_MESSAGES = {
    "loading": mark("Preparing encryption…"),
    "ready": mark("Encryption is ready. Nothing leaves this phone unencrypted."),
    "crypto_failed": mark(
        "Encryption could not start. Reload the page; if it keeps failing, try another browser."
    ),
    "chain_failed": mark(
        "The organisation's keys could not be verified. "
        "Do not send anything; tell the organisation."
    ),
    "form_mismatch": mark(
        "The questions on this page differ from the ones the organisation signed. "
        "Do not send anything; tell the organisation."
    ),
    "empty": mark("Please answer at least one question or add a file before sending."),
    "required": mark("This answer is required."),
    "consent_required": mark("Please tick this box to send."),
    "too_long": mark("Too long: at most {max} characters."),
    "date_year": mark("Please choose the year too."),
    "encrypting": mark("Encrypting…"),
    "working": mark("Checking that you are not a robot (a few seconds)…"),
    "working_progress": mark(
        "Checking that you are not a robot (longer while the site is busy): about {percent}%…"
    ),
    "uploading": mark("Sending…"),
    "progress": mark("{done} of {total} ({percent}%)"),
    "offline": mark("Connection lost. Waiting to resume… Your answers are kept."),
    "offline_start": mark(
        "No connection. Your answers are kept on this page; press send again when you are online."
    ),
    "server_error": mark("The server refused the message: {message}. Your answers are kept."),
    "sent": mark("Message number: {reference}"),
    "unexpected": mark(
        "Something went wrong. Nothing was sent in plain text. Your answers are kept; try again."
    ),
    "step": mark("Step {n} of {total}"),
    "too_many_files": mark("At most {count} files can be sent."),
    "file_too_large": mark("{name} is too large: at most {limit} per file."),
    "total_too_large": mark("All files together may be at most {limit}."),
    "file_empty": mark("{name} is empty and was left out."),
    "remove_file": mark("Remove {name}"),
    "no_files": mark("No files chosen."),
    "files_total": mark("Files: {count}, {size} in all"),
    "cleaned": mark("hidden data will be removed"),
    "not_cleaned": mark("hidden data will be sent with it"),
    "metadata_unknown": mark(
        "This file may contain the place and time it was made and the device. "
        "We could not remove it."
    ),
    "send_anyway": mark("Send it anyway"),
    "leave_out": mark("Remove it"),
    "sent_as_is": mark("will be sent as it is (your choice)"),
    "decide_files": mark(
        "Some files may contain the place and time they were made: "
        "for each one, choose to send it anyway or to remove it."
    ),
    "codename_wait": mark("Preparing your codename…"),
    "codename_failed": mark("The codename could not be made. Reload the page and try again."),
    "codename_word": mark("Word {n}"),
    "codename_wrong": mark("That is not word {n}. Look at what you wrote down."),
    "codename_choose": mark("Please choose one."),
    "codename_confirm_first": mark("Please confirm your codename first."),
    "leave": mark("What you typed on this page will be lost. Leave anyway?"),
    "field_problem": mark("{label}: {problem}"),
    "change": mark("Change"),
    "back_to_check": mark("Back to checking your answers"),
    "check_files": mark("Photos and documents"),
    "check_no_files": mark("None"),
    "check_replies": mark("Replies on this site"),
    "check_reply_yes": mark("Yes, with a codename"),
    "check_reply_no": mark("No"),
    "unit_b": mark("B"),
    "unit_kb": mark("KB"),
    "unit_mb": mark("MB"),
    "unit_gb": mark("GB"),
}

# Room left in a declared envelope size for its header (64 recipients at
# most, ~170 bytes each): the file-size limit shown is what fits with that.
_HEADER_ALLOWANCE = 16 * 1024
# Room for the form envelope within the submission total.
_FORM_ALLOWANCE = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Upload limits, stated on the page before he picks a file."""

    max_files: int
    max_file_bytes: int  # largest file whose envelope fits max_envelope_bytes
    max_total_bytes: int  # all files together
    max_envelope_bytes: int  # the server's own limits, for exact checks
    max_submission_bytes: int


def largest_content(max_envelope: int, chunk: int = 65536) -> int:
    """The largest content length whose envelope fits in `max_envelope` bytes."""
    budget = max_envelope - _HEADER_ALLOWANCE
    if crypto.payload_length_for(0, chunk) > budget:
        return 0
    low, high = 0, max(budget, 0)
    while low < high:  # largest n with payload_length_for(n) <= budget
        mid = (low + high + 1) // 2
        if crypto.payload_length_for(mid, chunk) <= budget:
            low = mid
        else:
            high = mid - 1
    return low


def upload_limits(settings: Any) -> Limits:
    max_envelope = int(settings.max_envelope_bytes)
    max_submission = int(settings.max_submission_bytes)
    return Limits(
        max_files=int(settings.max_attachments),
        max_file_bytes=largest_content(max_envelope),
        max_total_bytes=max(0, max_submission - _FORM_ALLOWANCE),
        max_envelope_bytes=max_envelope,
        max_submission_bytes=max_submission,
    )


# Validated forms by manifest digest: a manifest never changes once stored.
_forms: dict[bytes, dict[str, Any] | None] = {}
_forms_lock = threading.Lock()


def _manifest_form(manifest: crypto.Manifest) -> dict[str, Any] | None:
    with _forms_lock:
        if manifest.digest in _forms:
            return _forms[manifest.digest]
    form = manifest.data.get("form")
    checked: dict[str, Any] | None = None
    if form is not None:
        try:
            formdef.validate_form(form)
            checked = form
        except ValueError as exc:
            # Admins signed a form this server cannot render; the page falls
            # back to the default, and its own check then refuses to send.
            log.warning("manifest %d carries an invalid form: %s", manifest.version, exc)
    with _forms_lock:
        _forms[manifest.digest] = checked
    return checked


def current_form(manifest: crypto.Manifest | None) -> tuple[dict[str, Any], str]:
    """The form `manifest` (the latest) signs, and where it came from ("manifest" or "default")."""
    if manifest is None:
        return formdef.default_form(), "default"
    form = _manifest_form(manifest)
    if form is None:
        return formdef.default_form(), "default"
    return form, "manifest"


def _text(value: dict[str, str], lang: str, fallback: str) -> str:
    return value.get(lang) or value[fallback]


# In a multichoice question, the option with this value ("No documents",
# "Nothing urgent") excludes every other: ticking it clears the rest, ticking
# another clears it. A rule of presentation, so the signed form (and every
# manifest and vector carrying it) is unchanged.
EXCLUSIVE_OPTION_VALUE = "none"

# A section with a field whose id starts so asks how to reach the applicant:
# it is shown after the other questions, once he has seen what is asked and
# why, rather than as the very first thing. Only the page's order changes:
# the answers, the signed form and the page's shape check do not depend on it.
CONTACT_FIELD_PREFIX = "contact-"


def _asks_for_contact(section: dict[str, Any]) -> bool:
    return any(field["id"].startswith(CONTACT_FIELD_PREFIX) for field in section["fields"])


def presentation_order(sections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sections in the order the page shows them: contact sections last, others as signed."""
    return [s for s in sections if not _asks_for_contact(s)] + [
        s for s in sections if _asks_for_contact(s)
    ]


def form_view(form: dict[str, Any], lang: str, year: int) -> dict[str, Any]:
    """The form as the template needs it: texts in `lang`, steps, year lists.

    Fields of type `consent` are shown on the last step, beside the send
    button, so the applicant agrees to exactly what is about to happen; a
    section holding nothing else gets no step of its own. Sections come in
    `presentation_order`; exclusive options are marked (EXCLUSIVE_OPTION_VALUE).
    """
    fallback = form["languages"][0]
    steps: list[dict[str, Any]] = []
    consents: list[dict[str, Any]] = []
    for section in presentation_order(form["sections"]):
        fields = []
        for field in section["fields"]:
            kind = field["type"]
            view = {
                "id": field["id"],
                "type": kind,
                "label": _text(field["label"], lang, fallback),
                "help": _text(field["help"], lang, fallback) if "help" in field else "",
                "required": bool(field.get("required", False)),
                "max_length": formdef.max_length(field),
                "options": [
                    {
                        "value": o["value"],
                        "label": _text(o["label"], lang, fallback),
                        "exclusive": kind == "multichoice" and o["value"] == EXCLUSIVE_OPTION_VALUE,
                    }
                    for o in field.get("options", [])
                ],
            }
            if kind == "date":
                before = int(field.get("years_before", 15))
                after = int(field.get("years_after", 0))
                view["years"] = list(range(year + after, year - before - 1, -1))
            if kind == "consent":
                consents.append(view)
            else:
                fields.append(view)
        if fields:
            steps.append(
                {
                    "id": section["id"],
                    "title": _text(section["title"], lang, fallback),
                    "help": _text(section["help"], lang, fallback) if "help" in section else "",
                    "fields": fields,
                }
            )
    return {
        "id": form["id"],
        "version": form["version"],
        "title": _text(form["title"], lang, fallback),
        "description": _text(form["description"], lang, fallback) if "description" in form else "",
        "steps": steps,
        "consents": consents,
    }


def mailbox_path(request: Request, lang: str) -> str | None:
    """Where replies are read (the mailbox page, app/pages/mailbox.py), if this server has one."""
    try:
        if lang == DEFAULT_LANGUAGE:
            return str(request.app.url_path_for("mailbox_default"))
        return str(request.app.url_path_for("mailbox_in", lang=lang))
    except NoMatchFound:
        return None


# Modules intake-page.js import()s, each pinned by SRI: those it needs at
# once (preloaded with the page, `PAGE_MODULES`) and two it loads once ready.
LAZY_MODULES = (*PAGE_MODULES["intake"][1:], "js/exif.js", "js/codename.js")

_UNITS = (mark("B"), mark("KB"), mark("MB"), mark("GB"))


def format_size(size: int, lang: str, gettext: Any) -> str:
    """`size` bytes for people: "190 MB" / "190 МБ" (1 MB = 1,000,000 bytes, as phones count)."""
    value = float(size)
    unit = 0
    while value >= 1000 and unit < len(_UNITS) - 1:
        value /= 1000
        unit += 1
    digits = "#,##0" if value >= 10 or unit == 0 else "#,##0.#"
    return f"{format_decimal(value, format=digits, locale=lang)}\u00a0{gettext(_UNITS[unit])}"


def limits_text(limits: Limits, lang: str, gettext: Any) -> dict[str, Any]:
    """The limits as the pages state them, one wording for both pages."""
    return {
        "count": limits.max_files,
        "size": format_size(limits.max_file_bytes, lang, gettext),
        "total": format_size(limits.max_total_bytes, lang, gettext),
    }


def _month_names(lang: str) -> list[str]:
    names = get_month_names("wide", context="stand-alone", locale=lang)
    return [names[month][:1].upper() + names[month][1:] for month in range(1, 13)]


def _render(request: Request, lang: str) -> HTMLResponse:
    settings = request.app.state.settings
    pages = request.app.state.pages
    gettext = pages.catalogs.get(lang).gettext
    # One read of the latest manifest: the form and the anchor come from the same one.
    manifest = latest_manifest(request)
    form, source = current_form(manifest)
    limits = upload_limits(settings)
    # Codenames in the page's language; a language without a word list gets
    # the default language's (a translator adds app/static/wordlists/<lang>.txt).
    codename_lang = lang if f"wordlists/{lang}.txt" in pages.assets.integrity else DEFAULT_LANGUAGE
    wordlist = f"wordlists/{codename_lang}.txt"
    return render(
        request,
        "intake.html",
        lang,
        SCRIPT_MESSAGES,
        manifest=manifest,
        form=form_view(form, lang, clock.now().year),
        form_source=source,
        form_ref_json=json.dumps(
            {"id": form["id"], "version": form["version"]}, separators=(",", ":")
        ),
        limits=limits,
        limits_text=limits_text(limits, lang, gettext),
        limits_json=json.dumps(limits.__dict__, separators=(",", ":")),
        module_sri_json=json.dumps(pages.assets.subset(LAZY_MODULES), separators=(",", ":")),
        wordlist_json=json.dumps(
            {
                "lang": codename_lang,
                "url": pages.assets.url(wordlist),
                "sri": pages.assets.sri(wordlist),
            },
            separators=(",", ":"),
        ),
        codename_lang=codename_lang,
        month_names=_month_names(lang),
        mailbox_url=mailbox_path(request, lang),
    )


@router.get("/", response_class=HTMLResponse)
def intake_default(request: Request) -> HTMLResponse:
    return _render(request, DEFAULT_LANGUAGE)


@router.get("/{lang}/", response_class=HTMLResponse)
def intake_in(request: Request, lang: str) -> HTMLResponse:
    return _render(request, check_language(lang))
