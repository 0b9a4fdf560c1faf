"""Page languages from gettext catalogs (Babel).

Translators add a language by adding `app/locale/<code>/LC_MESSAGES/messages.po`
and listing it in LANGUAGES: no code changes. Catalogs are compiled in memory
when the app starts, so no build step can leave a stale `.mo` behind.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

# Russian first: it is the language of nearly every applicant.
LANGUAGES: dict[str, str] = {"ru": "Русский", "en": "English"}
DEFAULT_LANGUAGE = "ru"


@dataclass(frozen=True)
class Catalogs:
    """One compiled gettext catalog per language."""

    translations: dict[str, Translations]

    def get(self, lang: str) -> Translations:
        return self.translations[lang]


def load_catalogs(locale_dir: Path = LOCALE_DIR) -> Catalogs:
    translations: dict[str, Translations] = {}
    for lang in LANGUAGES:
        po_path = locale_dir / lang / "LC_MESSAGES" / "messages.po"
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=lang)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        translations[lang] = Translations(fp=buffer, domain="messages")
    return Catalogs(translations)
