"""Which answers make a case urgent, for the verifier's report and case list.

The signed form definition has no urgency marking, and adding one would
change a schema the page and the server also validate (docs/FORMS.md: every
object is closed). So the rules live here, keyed by form id and field id: a
form this tool does not know simply has no urgent answers, and a question
renamed in a new form version stops matching rather than matching wrongly.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Options that mean the applicant may be gone (deported, detained, handed to
# Russia) before an ordinary answer would reach them.
URGENT_OPTIONS: Mapping[str, Mapping[str, frozenset[str]]] = {
    "deserter-intake": {
        "dangers": frozenset(
            {"deportation", "detention", "extradition", "expiring-stay", "threats"}
        ),
        "criminal-case": frozenset({"yes"}),
    },
}
# Date questions that are urgent when the date is this many days away or less.
URGENT_DATES: Mapping[str, Mapping[str, int]] = {
    "deserter-intake": {"stay-expires": 62},
}
# Date answers shown beside an urgent option even when the date is far off:
# "my stay is running out" is worth little without "when".
CONTEXT_DATES: Mapping[str, Mapping[str, tuple[str, str]]] = {
    "deserter-intake": {"stay-expires": ("dangers", "expiring-stay")},
}

_DATE = re.compile(r"(\d{4})(?:-(0[1-9]|1[0-2]))?")


@dataclass(frozen=True)
class UrgentAnswer:
    """One answer that makes the case urgent: the field and the value(s) that do."""

    field: str
    values: tuple[str, ...]


def earliest_day(answer: str) -> dt.date | None:
    """The first day a `YYYY` or `YYYY-MM` answer can mean (None if it is neither).

    The earliest, not the middle: for a deadline, guessing late is the harmful mistake.
    """
    match = _DATE.fullmatch(answer)
    if match is None:
        return None
    year = int(match.group(1))
    month = int(match.group(2) or 1)
    if not 1 <= year <= 9999:
        return None
    return dt.date(year, month, 1)


def urgent_answers(
    form_id: str, answers: Mapping[str, Sequence[str]], today: dt.date
) -> list[UrgentAnswer]:
    """The answers of `form_id` that make a case urgent, in the rules' order."""
    found: list[UrgentAnswer] = []
    for field, urgent in URGENT_OPTIONS.get(form_id, {}).items():
        chosen = tuple(v for v in answers.get(field, ()) if v in urgent)
        if chosen:
            found.append(UrgentAnswer(field, chosen))
    for field, days in URGENT_DATES.get(form_id, {}).items():
        values = answers.get(field, ())
        day = earliest_day(values[0]) if len(values) == 1 else None
        near = day is not None and day <= today + dt.timedelta(days=days)
        context = CONTEXT_DATES.get(form_id, {}).get(field)
        beside = context is not None and any(
            u.field == context[0] and context[1] in u.values for u in found
        )
        if near or (beside and values):
            found.append(UrgentAnswer(field, tuple(values)))
    return found


__all__ = ["UrgentAnswer", "earliest_day", "urgent_answers"]
