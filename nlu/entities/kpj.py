"""KPJ (Kartu Peserta Jamsostek) membership number: 11 digits.

Users type it after "kpj", "no peserta" or "nomor kartu", but also bare, so every 11-digit number (whole, or
in groups separated by single spaces, dots or dashes) is a candidate. An 11-digit Indonesian phone number
("0812 3456 789") is also 11 digits: the combiner ranks phone above kpj, so it is never reported as a KPJ.
The value is the 11 digits as a string (leading zeros kept).
"""

from __future__ import annotations

import re

from nlu.entities import digits
from nlu.entities.candidate import Candidate

__all__ = ["find", "parse_kpj"]

_SEPARATED = re.compile(r"^\s*[0-9]+(?:[ .\-][0-9]+)*\s*$")


def find(folded: str) -> list[Candidate]:
    """Every KPJ-shaped (11-digit) number in `folded`."""
    found = []
    for groups in digits.runs(folded):
        for i, j in digits.exact_spans(groups, 11):
            if groups[i].text.startswith("+"):
                continue
            value = "".join(g.digits for g in groups[i : j + 1])
            found.append(Candidate("kpj", value, groups[i].start, groups[j].end))
    return found


def parse_kpj(text: str) -> str | None:
    """A user's answer → the 11 digits, if the whole answer is one KPJ number, else None."""
    if not _SEPARATED.match(text):
        return None
    only = re.sub(r"[^0-9]", "", text)
    return only if len(only) == 11 else None
