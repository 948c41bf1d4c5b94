"""Entity extraction for the entities of contract §2: nik, kpj, phone, date, amount, program, occupation.

`extract(text)` returns Rasa entity dicts `{"entity", "value", "start", "end", "extractor"}` with
`start`/`end` indexing the ORIGINAL text, values normalized exactly as the contract says (strings; an int
for `amount`), sorted by `start`, never overlapping.

Each type has its own module with a `find` function. Finders may propose overlapping candidates (the digit
groups of a NIK also look like amounts; an 11-digit mobile number also looks like a KPJ); the combiner keeps
them by priority, highest first:

    nik > phone > kpj > date > amount > program > occupation

and, within one priority, the longer span first, then the earlier one. A candidate that overlaps one already
kept is dropped. Why this order: the longer, stricter digit shapes go first, so a NIK is never an amount, a
phone or a date (and the date-like digits inside it are never a date); a phone (validated by libphonenumber,
with a 0/62/+62 prefix) is never a KPJ or an amount; a date's digits are never an amount; the word-based
entities cannot collide with digits, and a program name outranks an occupation word.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from nlu.entities import amount, date, kpj, nik, occupation, phone, program
from nlu.entities.candidate import EXTRACTOR, Candidate
from nlu.normalize import Normalized, fold, normalize

__all__ = ["EXTRACTOR", "PRIORITY", "Candidate", "candidates", "extract", "resolve"]

PRIORITY: tuple[str, ...] = ("nik", "phone", "kpj", "date", "amount", "program", "occupation")
_RANK = {name: rank for rank, name in enumerate(PRIORITY)}


def candidates(
    text: str, normalized: Normalized | None = None, *, today: dt.date | None = None
) -> list[Candidate]:
    """Every finder's candidates, overlaps included (for tests and debugging)."""
    if normalized is None or normalized.original != text:
        normalized = normalize(text)
    folded = fold(text)
    found: list[Candidate] = []
    found += nik.find(folded)
    found += phone.find(folded)
    found += kpj.find(folded)
    found += date.find(folded, today=today)
    found += amount.find(normalized, folded)
    found += program.find(normalized)
    found += occupation.find(normalized)
    return found


def resolve(found: list[Candidate]) -> list[Candidate]:
    """Keep non-overlapping candidates by priority (module docstring), returned sorted by start."""
    kept: list[Candidate] = []
    for cand in sorted(found, key=lambda c: (_RANK[c.entity], c.start - c.end, c.start)):
        if all(cand.end <= k.start or cand.start >= k.end for k in kept):
            kept.append(cand)
    return sorted(kept, key=lambda c: c.start)


def extract(
    text: str, normalized: Normalized | None = None, *, today: dt.date | None = None
) -> list[dict[str, Any]]:
    """The entities of `text` as Rasa entity dicts (module docstring).

    `normalized` should be `normalize(text)` when the caller already has it (saves the work); if it was made
    from another text it is ignored. `today` fixes the reference year for two-digit years (tests).
    """
    return [c.as_rasa() for c in resolve(candidates(text, normalized, today=today))]
