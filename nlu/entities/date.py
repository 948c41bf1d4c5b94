"""Dates, Indonesian day-first, → ISO "YYYY-MM-DD".

Forms found: "17-08-1975", "05/11/1990", "12.05.85", ISO "1985-05-12", and a month name or abbreviation
between day and year: "12 Mei 1985", "1 januari 2000", "1 jan 2000", "12 agt 85", "3 sept 1990", "7-Okt-1988",
"12 Mei, 1985" (English month names too, for code-mixed text), and day, month and a four-digit year
separated by spaces only: "12 3 1985", "lahir 17 08 1990". A date needs day, month and year; "12 mei"
alone is not a date entity. An impossible date ("31-02-1990", "12-13-1990") is not an entity either.

Two-digit years ("12-05-85") are read with a birth-date-friendly pivot: 20YY when that year is not after
the reference year (today's, unless given), otherwise 19YY. So in 2025 "05" is 2005 and "85" is 1985; a
date of birth is never in the future, and registrations are about adults, so the past century is the safe
side. Years outside 1900-2100 are refused.
"""

from __future__ import annotations

import datetime as dt
import re

from nlu.entities.candidate import Candidate

__all__ = ["MONTHS", "expand_year", "find", "to_iso"]

MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    [
        "januari jan january",
        "februari pebruari feb peb february",
        "maret mar mrt march",
        "april apr",
        "mei may",
        "juni jun june",
        "juli jul july",
        "agustus agus agust agst agt ags agu aug august",
        "september sept sep",
        "oktober okt oct october",
        "november nopember nov nop",
        "desember des dec december",
    ],
    start=1,
):
    for _name in _names.split():
        MONTHS[_name] = _number

_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_NUMERIC = re.compile(
    r"(?<![0-9.,/\-])([0-9]{1,2})([\-/.])([0-9]{1,2})\2([0-9]{4}|[0-9]{2})(?![0-9]|[.,/\-][0-9])"
)
# Spaces only: the year must have four digits ("12 3 85" is too easily something else; the birth-date
# question reads it itself, flows.validators.compact_date).
_SPACED = re.compile(r"(?<![0-9.,/\-])([0-9]{1,2}) +([0-9]{1,2}) +((?:19|20)[0-9]{2})(?![0-9]|[.,/\-][0-9])")
_ISO = re.compile(r"(?<![0-9.,/\-])([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?![0-9]|[\-/][0-9])")
_NAMED = re.compile(
    rf"(?<![0-9])([0-9]{{1,2}})\s*[\-/.]?\s*({_MONTH})(?![a-z])\.?\s*[\-/.,]?\s*'?([0-9]{{4}}|[0-9]{{2}})(?![0-9])"
)


def expand_year(year: str, reference_year: int) -> int:
    """A typed year as four digits: two-digit years use the pivot of the module docstring."""
    value = int(year)
    if len(year) != 2:
        return value
    return 2000 + value if 2000 + value <= reference_year else 1900 + value


def to_iso(day: int, month: int, year: int) -> str | None:
    """ "YYYY-MM-DD", or None for an impossible date or a year outside 1900-2100."""
    if not 1900 <= year <= 2100:
        return None
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def find(folded: str, *, today: dt.date | None = None) -> list[Candidate]:
    """Every valid date in `folded`, left to right (overlaps are left to the combiner)."""
    reference = (today or dt.date.today()).year
    found = []
    for m in _NUMERIC.finditer(folded):
        iso = to_iso(int(m.group(1)), int(m.group(3)), expand_year(m.group(4), reference))
        if iso:
            found.append(Candidate("date", iso, m.start(), m.end()))
    for m in _SPACED.finditer(folded):
        iso = to_iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if iso:
            found.append(Candidate("date", iso, m.start(), m.end()))
    for m in _ISO.finditer(folded):
        iso = to_iso(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        if iso:
            found.append(Candidate("date", iso, m.start(), m.end()))
    for m in _NAMED.finditer(folded):
        iso = to_iso(int(m.group(1)), MONTHS[m.group(2)], expand_year(m.group(3), reference))
        if iso:
            found.append(Candidate("date", iso, m.start(), m.end()))
    return found
