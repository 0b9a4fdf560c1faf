"""A verifier's desk for the report tests: cases made by the real tool, and
the text, headings and links of the report it writes."""

from __future__ import annotations

import html.parser
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .support import (
    Org,
    Scene,
    Submission,
    decrypt_into,
    decrypted_scene,
    make_submission,
    write_bundle,
)


@dataclass
class Desk:
    """A verifier's desk for one test: the organisation, a copy of its keyring and a
    folder to work in; cases are made by the real tool."""

    org: Org
    keyring: Path
    base: Path

    def decrypt(
        self,
        subs: Sequence[Submission],
        *,
        chain: list[dict[str, Any]] | None = None,
        lang: str = "en",
        under: str = "",
    ) -> Path:
        """Decrypt a bundle of `subs` (under the org's chain unless told) into a new
        cases folder below base/`under`; that cases folder."""
        base = self.base / under
        base.mkdir(parents=True, exist_ok=True)
        bundle = write_bundle(base / "b.tar", chain or self.org.chain, subs)
        result = decrypt_into(bundle, self.keyring, base / "cases", lang)
        assert result.exit_code == 0, result.output
        return base / "cases"

    def case(
        self, answers: dict[str, object], lang: str = "en", under: str = "", **kwargs: Any
    ) -> Path:
        """The case folder of one submission answering `answers`."""
        sub = make_submission(self.org.manifest, answers=answers, **kwargs)
        return self.decrypt([sub], lang=lang, under=under) / sub.sid

    def scene(self, answers: dict[str, Any], lang: str = "en", **kwargs: Any) -> Scene:
        """A case with a follow-up and a sent reply (support.decrypted_scene)."""
        return decrypted_scene(
            self.org, self.keyring, self.base, answers=answers, lang=lang, **kwargs
        )


class ReportPage(html.parser.HTMLParser):
    """The text of a report, tag by tag, and its links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.hrefs: list[str] = []
        self.headings: list[str] = []
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [v or "" for k, v in attrs if k == "href"]
        self._in_heading = tag in ("h2", "h3")

    def handle_endtag(self, tag: str) -> None:
        self._in_heading = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_heading:
            self.headings.append(data)


def page_of(case: Path) -> ReportPage:
    page = ReportPage()
    page.feed((case / "answers.html").read_text(encoding="utf-8"))
    return page
