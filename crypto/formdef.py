"""Form definitions: the questions an applicant is asked, as signed data.

A form definition travels in the key manifest's ``form`` field, so the
questions cannot be altered (a question dropped, an option reworded into a
trap) without the admins' signatures. The server renders the form from the
latest manifest; the page checks what it rendered against the verified
manifest before it encrypts anything. The schema is in docs/FORMS.md.

Standard library only: the server, the admin tool and the verifier tool all
use it, and it needs no cryptography.
"""

from __future__ import annotations

import copy
import json
import re
from importlib import resources
from typing import Any

FORM_TYPE = "intake/form"
DEFAULT_FORM_FILE = "deserter-intake.form.json"

FIELD_TYPES = ("text", "textarea", "choice", "multichoice", "date", "yesno", "consent")

# Bounds keep a hostile or mistaken definition from making a page unusable
# (thousands of questions) or an answer unbounded.
MAX_SECTIONS = 30
MAX_FIELDS = 200
MAX_OPTIONS = 50
MAX_TEXT_CHARS = 2000
MAX_LENGTH_LIMIT = 20000
DEFAULT_MAX_LENGTH = {"text": 200, "textarea": 10000}
MAX_YEARS_SPAN = 100

_ID_RE = re.compile(r"[a-z][a-z0-9-]{0,47}")
_LANG_RE = re.compile(r"[a-z]{2,3}")
_DATE_RE = re.compile(r"(\d{4})(?:-(0[1-9]|1[0-2]))?")

_TOP_REQUIRED = {"type", "id", "version", "languages", "title", "sections"}
_TOP_OPTIONAL = {"description"}
_SECTION_REQUIRED = {"id", "title", "fields"}
_SECTION_OPTIONAL = {"help"}
_FIELD_REQUIRED = {"id", "type", "label"}
_FIELD_OPTIONAL = {
    "help",
    "required",
    "max_length",
    "options",
    "years_before",
    "years_after",
}
_OPTION_KEYS = {"value", "label"}


def default_form() -> dict[str, Any]:
    """The deserter-intake form that ships with the project (a fresh copy each call)."""
    text = resources.files("crypto").joinpath("data", DEFAULT_FORM_FILE).read_text("utf-8")
    form: dict[str, Any] = json.loads(text)
    validate_form(form)
    return copy.deepcopy(form)


def _where(path: str, message: str) -> ValueError:
    return ValueError(f"form{path}: {message}")


def _check_keys(obj: Any, path: str, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise _where(path, "must be an object")
    for key in obj:
        if not isinstance(key, str) or (key not in required and key not in optional):
            raise _where(path, f"unknown key {key!r}")
    for key in sorted(required):
        if key not in obj:
            raise _where(path, f"missing key {key!r}")
    return obj


def _check_id(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise _where(path, "id must be 1-48 of a-z, 0-9 and '-', starting with a letter")
    return value


def _add_once(seen: set[str], value: str, path: str, repeated: str) -> None:
    """Section ids, field ids and a field's option values are each unique in
    their scope: a second one is refused at `path` (`repeated` formats it)."""
    if value in seen:
        raise _where(path, repeated.format(value))
    seen.add(value)


def _check_int(value: Any, path: str, low: int, high: int) -> int:
    # bool is an int in Python; a signed `true` must not pass as 1.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _where(path, f"must be an integer in {low}..{high}")
    return value


def _check_text(value: Any, path: str, languages: list[str]) -> None:
    """A text shown to applicants: one non-empty string per form language, no others."""
    if not isinstance(value, dict):
        raise _where(path, "must be an object of language code to text")
    if set(value) != set(languages):
        missing = sorted(set(languages) - set(value))
        extra = sorted(set(value) - set(languages))
        detail = []
        if missing:
            detail.append("missing " + ", ".join(missing))
        if extra:
            detail.append("unexpected " + ", ".join(str(e) for e in extra))
        raise _where(path, "languages differ from the form's: " + "; ".join(detail))
    for lang in languages:
        text = value[lang]
        if not isinstance(text, str) or not text.strip():
            raise _where(f"{path}.{lang}", "must be a non-empty string")
        if len(text) > MAX_TEXT_CHARS:
            raise _where(f"{path}.{lang}", f"longer than {MAX_TEXT_CHARS} characters")


def _check_field(field: Any, path: str, languages: list[str]) -> str:
    _check_keys(field, path, _FIELD_REQUIRED, _FIELD_OPTIONAL)
    field_id = _check_id(field["id"], path + ".id")
    kind = field["type"]
    if kind not in FIELD_TYPES:
        raise _where(path + ".type", f"must be one of {', '.join(FIELD_TYPES)}")
    _check_text(field["label"], path + ".label", languages)
    if "help" in field:
        _check_text(field["help"], path + ".help", languages)
    required = field.get("required", False)
    if not isinstance(required, bool):
        raise _where(path + ".required", "must be true or false")
    if kind == "consent" and required is not True:
        # A consent that may be left unticked is no consent at all.
        raise _where(path + ".required", "a consent field must be required")
    if "max_length" in field:
        if kind not in DEFAULT_MAX_LENGTH:
            raise _where(path + ".max_length", "only text and textarea fields have a length")
        _check_int(field["max_length"], path + ".max_length", 1, MAX_LENGTH_LIMIT)
    for key in ("years_before", "years_after"):
        if key in field:
            if kind != "date":
                raise _where(f"{path}.{key}", "only date fields have years")
            _check_int(field[key], f"{path}.{key}", 0, MAX_YEARS_SPAN)
    if kind in ("choice", "multichoice"):
        if "options" not in field:
            raise _where(path, f"a {kind} field needs options")
        options = field["options"]
        if not isinstance(options, list) or not 2 <= len(options) <= MAX_OPTIONS:
            raise _where(path + ".options", f"must be a list of 2..{MAX_OPTIONS} options")
        seen: set[str] = set()
        for j, option in enumerate(options):
            opath = f"{path}.options[{j}]"
            _check_keys(option, opath, _OPTION_KEYS, set())
            value = _check_id(option["value"], opath + ".value")
            _add_once(seen, value, opath + ".value", "option {!r} listed twice")
            _check_text(option["label"], opath + ".label", languages)
    elif "options" in field:
        raise _where(path + ".options", f"a {kind} field has no options")
    return field_id


def validate_form(form: Any) -> None:
    """Check a form definition's structure; ValueError naming the first fault and where.

    Strict on purpose (unknown keys refused): the page and the verifier must
    read a signed definition the same way, and a typo an admin signs should be
    caught before it reaches applicants.
    """
    _check_keys(form, "", _TOP_REQUIRED, _TOP_OPTIONAL)
    if form["type"] != FORM_TYPE:
        raise _where(".type", f"must be {FORM_TYPE!r}")
    _check_id(form["id"], ".id")
    _check_int(form["version"], ".version", 1, 2**53 - 1)
    languages = form["languages"]
    if (
        not isinstance(languages, list)
        or not languages
        or not all(isinstance(lang, str) and _LANG_RE.fullmatch(lang) for lang in languages)
        or len(set(languages)) != len(languages)
    ):
        raise _where(".languages", "must be a non-empty list of distinct language codes")
    _check_text(form["title"], ".title", languages)
    if "description" in form:
        _check_text(form["description"], ".description", languages)
    sections = form["sections"]
    if not isinstance(sections, list) or not 1 <= len(sections) <= MAX_SECTIONS:
        raise _where(".sections", f"must be a list of 1..{MAX_SECTIONS} sections")
    # Sections and fields are separate namespaces: only field ids reach the answers.
    section_ids: set[str] = set()
    ids: set[str] = set()
    count = 0
    for i, section in enumerate(sections):
        spath = f".sections[{i}]"
        _check_keys(section, spath, _SECTION_REQUIRED, _SECTION_OPTIONAL)
        section_id = _check_id(section["id"], spath + ".id")
        _add_once(section_ids, section_id, spath + ".id", "section id {!r} used twice")
        _check_text(section["title"], spath + ".title", languages)
        if "help" in section:
            _check_text(section["help"], spath + ".help", languages)
        fields = section["fields"]
        if not isinstance(fields, list) or not fields:
            raise _where(spath + ".fields", "must be a non-empty list")
        for j, field in enumerate(fields):
            field_id = _check_field(field, f"{spath}.fields[{j}]", languages)
            _add_once(ids, field_id, f"{spath}.fields[{j}].id", "id {!r} used twice")
            count += 1
    if count > MAX_FIELDS:
        raise _where(".sections", f"more than {MAX_FIELDS} fields")


def fields(form: dict[str, Any]) -> list[dict[str, Any]]:
    """Every field of a (validated) form, in order."""
    return [field for section in form["sections"] for field in section["fields"]]


def form_shape(form: dict[str, Any]) -> list[dict[str, Any]]:
    """What must not change without the admins' signatures: each field's id,
    type, required flag and option values, in order (the page compares the
    form it rendered against this, computed from the verified manifest)."""
    return [
        {
            "id": field["id"],
            "type": field["type"],
            "required": bool(field.get("required", False)),
            "options": [option["value"] for option in field.get("options", [])],
        }
        for field in fields(form)
    ]


def max_length(field: dict[str, Any]) -> int | None:
    """The longest answer a text field takes (None for other types)."""
    default = DEFAULT_MAX_LENGTH.get(field["type"])
    if default is None:
        return None
    value: int = field.get("max_length", default)
    return value


def validate_answers(form: dict[str, Any], answers: Any) -> None:
    """Check submitted answers against a (validated) form; ValueError on the first fault.

    For the verifier: the answers came through a page the server served, so
    they are checked, not trusted. A missing key is an unanswered question.
    """
    if not isinstance(answers, dict):
        raise ValueError("answers: must be an object")
    by_id = {field["id"]: field for field in fields(form)}
    for key in answers:
        if key not in by_id:
            raise ValueError(f"answers: unknown question {key!r}")
    for field_id, field in by_id.items():
        value = answers.get(field_id)
        where = f"answers.{field_id}"
        if value is None or value == "" or value == []:
            if field.get("required", False):
                raise ValueError(f"{where}: required")
            continue
        kind = field["type"]
        options = {option["value"] for option in field.get("options", [])}
        if kind in ("text", "textarea"):
            limit = max_length(field) or 0
            if not isinstance(value, str) or len(value) > limit:
                raise ValueError(f"{where}: must be text of at most {limit} characters")
        elif kind == "choice":
            if not isinstance(value, str) or value not in options:
                raise ValueError(f"{where}: not one of the options")
        elif kind == "multichoice":
            if (
                not isinstance(value, list)
                or not all(isinstance(v, str) and v in options for v in value)
                or len(set(value)) != len(value)
            ):
                raise ValueError(f"{where}: must be a list of distinct options")
        elif kind == "date":
            if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
                raise ValueError(f"{where}: must be YYYY or YYYY-MM")
        elif kind == "yesno":
            if not isinstance(value, str) or value not in ("yes", "no"):
                raise ValueError(f"{where}: must be 'yes' or 'no'")
        elif kind == "consent" and value != "yes":
            raise ValueError(f"{where}: must be 'yes'")


__all__ = [
    "DEFAULT_FORM_FILE",
    "FIELD_TYPES",
    "FORM_TYPE",
    "default_form",
    "fields",
    "form_shape",
    "max_length",
    "validate_answers",
    "validate_form",
]
