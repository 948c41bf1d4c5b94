"""Indonesian phone numbers → E.164 ("+6281234567890"), checked by Google's libphonenumber.

A candidate starts with "0", "62" or "+62" (domain.md §6.2: "08…", "628…", "+628…"; landlines "021…" too)
and may be typed in groups ("0812-3456-7890", "+62 813 1234 5678", "0812 3456 789"). Of the groups that
follow, the longest stretch that `phonenumbers` calls a valid Indonesian number wins, so a phone followed by
another number ("081234567890 2 anak") keeps its own digits only: groups after the first must have at least
three digits. Numbers without such a prefix are never
phones here: a bare 11-digit number is a KPJ, and a NIK that starts with 62 (Kalimantan Tengah) is ranked
above phones by the combiner.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

from nlu.entities import digits
from nlu.entities.candidate import Candidate

__all__ = ["find", "to_e164"]

_MIN_DIGITS, _MAX_DIGITS = 8, 15


@lru_cache(maxsize=256)
def to_e164(number: str) -> str | None:
    """Return "+62812…" for "0812-3456-7890" / "62812…" / "+62 812…", or None if not a valid ID number."""
    raw = "".join(ch for ch in number if ch.isdigit() or ch == "+")
    if raw.startswith("62"):
        raw = "+" + raw
    if raw.startswith("+62"):
        national = raw[3:]
    elif raw.startswith("0"):
        national = raw[1:]
    else:
        return None
    # no Indonesian number (mobile 8…, area codes 2…-9…) starts with 0 or 1 after the prefix: this skips
    # the costly parse for the digit groups of a NIK ("0145 0690 0003")
    if national[:1] in ("", "0", "1") or not _MIN_DIGITS <= len(raw.lstrip("+")) <= _MAX_DIGITS:
        return None
    try:
        parsed = phonenumbers.parse(raw, "ID")
    except phonenumbers.NumberParseException:
        return None
    if parsed.country_code != 62 or not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _accept(groups: tuple[digits.Group, ...]) -> bool:
    first = groups[0].text
    if not (first.startswith("0") or first.startswith("62") or first.startswith("+62")):
        return False
    # people group phone digits by three or four; a short trailing group is the next number ("2 anak")
    if any(len(g.digits) < 3 for g in groups[1:]):
        return False
    return to_e164("".join(g.text for g in groups)) is not None


def find(folded: str) -> list[Candidate]:
    """Every valid Indonesian phone number in `folded`, as E.164."""
    found = []
    for groups in digits.runs(folded):
        for i, j in digits.longest_spans(groups, _accept, _MAX_DIGITS):
            value = to_e164("".join(g.text for g in groups[i : j + 1]))
            assert value is not None
            found.append(Candidate("phone", value, groups[i].start, groups[j].end))
    return found
