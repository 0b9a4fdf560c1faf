"""Every string the intake page shows (templates and script) has a Russian translation."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_file

from app.pages.i18n import load_catalogs
from app.pages.intake import SCRIPT_MESSAGES

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "templates"


def page_msgids() -> set[str]:
    ids: set[str] = set(SCRIPT_MESSAGES.values())
    for name in ("base.html", "intake.html", "intake/fields.html"):
        for message in extract_from_file(
            "jinja2", str(TEMPLATES / name), options={"extensions": "jinja2.ext.i18n"}
        ):
            if isinstance(message[1], str):
                ids.add(message[1])
    return ids


# Strings whose Russian is the same text: only placeholders and punctuation.
SAME_IN_RUSSIAN = {"{label}: {problem}", "{done} of {total} ({percent}%)"}


def test_every_string_of_the_intake_page_is_translated_into_russian() -> None:
    russian = load_catalogs().get("ru")
    untranslated = sorted(
        m for m in page_msgids() if russian.gettext(m) == m and m not in SAME_IN_RUSSIAN
    )
    assert untranslated == []
