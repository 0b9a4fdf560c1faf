"""Finding a case: the `cases` listing and short id prefixes for CASE arguments.

A volunteer should pick a case by its first characters, not by copying 32
hex digits. A prefix names a case only if exactly one case folder starts
with it; an ambiguous or unknown prefix is refused with the candidates named,
never guessed, so a reply cannot go to the wrong applicant.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from .casefiles import CASE_FILE, HEX32
from .caseview import CaseView, parse_time, read_view, text
from .common import InputError

MIN_PREFIX = 4
SHORT = 8
_PREFIX = re.compile(rf"[0-9a-f]{{{MIN_PREFIX},32}}")


def case_folders(cases_dir: Path) -> list[Path]:
    """The top-level case folders of `cases_dir` (32-hex names, real folders)."""
    return sorted(
        p
        for p in cases_dir.iterdir()
        if HEX32.fullmatch(p.name) and not p.is_symlink() and p.is_dir()
    )


def resolve_case(arg: Path) -> Path:
    """The case folder `arg` names: the folder itself, or CASES/<unique id prefix>."""
    if arg.is_dir() and not arg.is_symlink() and (arg / CASE_FILE).is_file():
        return arg
    prefix = arg.name.lower()
    parent = arg.parent
    if not _PREFIX.fullmatch(prefix) or not parent.is_dir():
        if arg.exists():
            raise InputError(f"{arg} holds no case.json", "name a case folder written by decrypt")
        raise InputError(
            f"{arg} is not a case folder",
            f"give the folder, or at least {MIN_PREFIX} characters of its id "
            "(intake-verifier cases CASES lists them)",
        )
    found = [p for p in case_folders(parent) if p.name.startswith(prefix)]
    if not found:
        raise InputError(
            f"no case in {parent} has an id starting with {prefix}",
            f"intake-verifier cases {parent} lists the cases there",
        )
    if len(found) > 1:
        names = ", ".join(p.name[: max(len(prefix) + 2, SHORT)] for p in found[:6])
        more = f" and {len(found) - 6} more" if len(found) > 6 else ""
        raise InputError(
            f"{prefix} is the start of {len(found)} case ids ({names}{more})",
            "give more characters of the id",
        )
    return found[0]


def unique_prefix_length(ids: list[str], minimum: int = SHORT) -> int:
    """The shortest length (at least `minimum`) at which every id is told apart."""
    length = minimum
    while length < 32 and len({i[:length] for i in ids}) < len(set(ids)):
        length += 1
    return length


@dataclass(frozen=True)
class CaseLine:
    """One row of the listing."""

    id: str
    received: str
    lang: str
    urgent: bool
    status: str
    replied: str
    sort_key: tuple[int, int, str]


def _received(view: CaseView) -> str:
    when = parse_time(view.main.received)
    return when.strftime("%Y-%m-%d %H:00") if when else "?"


def case_line(view: CaseView) -> CaseLine:
    status = text(view.main.doc, "status") or "?"
    if view.kind == "followup":
        status = "orphan"  # a follow-up whose case is not in this folder
    elif view.followups:
        status += f", {len(view.followups)} f-up"
    last = view.last_reply()
    if view.kind != "submission":
        replied = "-"
    elif not view.has_mailbox:
        replied = "no mailbox"
    elif last is None:
        replied = "NOT YET"
    else:
        when = parse_time(last.sent)
        replied = f"{when:%m-%d} {last.status}" if when else last.status
        if view.awaiting_reply():
            replied = "NEW F-UP"
    waiting = view.kind == "submission" and view.has_mailbox and view.awaiting_reply()
    return CaseLine(
        id=view.id,
        received=_received(view),
        lang=text(view.main.doc, "lang")[:5] or "?",
        urgent=bool(view.urgent),
        status=status,
        replied=replied,
        sort_key=(0 if view.urgent else 1, 0 if waiting else 1, view.main.received),
    )


def list_cases(cases_dir: Path, today: dt.date | None = None) -> list[CaseLine]:
    """Every case of `cases_dir`: urgent first, then those awaiting a reply, oldest first."""
    lines = []
    for folder in case_folders(cases_dir):
        view = read_view(folder, today)
        if view is not None:
            lines.append(case_line(view))
    return sorted(lines, key=lambda line: line.sort_key)


__all__ = ["CaseLine", "case_folders", "list_cases", "resolve_case", "unique_prefix_length"]
