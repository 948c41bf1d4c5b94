"""Slot validators: each takes what the user gave and returns the normalized value, or `Invalid` with the
content key of the reason (under "registration.") and the values that text needs.

They are pure (no state, no services): the form decides what to ask next; the membership check and the age
rule that needs "today" get it as an argument.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from nlu.entities.date import expand_year
from nlu.entities.nik import NikInfo, NikProblem, parse_nik
from nlu.entities.nik import validate as validate_nik
from nlu.entities.phone import to_e164

# Registration in the chat: adults (UU PDP treats children's data specially) and under 65 (domain.md §12).
MIN_AGE, MAX_AGE = 18, 65
MAX_INCOME = 1_000_000_000  # sanity bound: above this a typo is far likelier than a real monthly income
PERIODS = (1, 2, 3, 6, 12)
MAX_OCCUPATIONS = 2
_NAME_CHARS = re.compile(r"^[^\W\d_]+(?:[ .'\-][^\W\d_]*)*$")
_CITY_CHARS = re.compile(r"^[^\W\d_]+(?:[ .,'\-()/]+[^\W\d_]*)*$")


def _numeric(text: str) -> bool:
    """True when `text` holds a number character that the regexes' \\w lets through: "²", "¼", "①"."""
    return any(unicodedata.category(ch).startswith("N") for ch in text)


@dataclass(frozen=True)
class Invalid:
    reason: str  # content key under "registration."
    values: dict[str, Any] = field(default_factory=dict)


def full_name(
    text: str, prefixes: frozenset[str], not_name_words: frozenset[str], titles: frozenset[str] = frozenset()
) -> str | Invalid:
    """A legal name as typed (letters, spaces, . ' -), 2-7 words or one word of 3+ letters. "nama saya X"
    style prefixes are dropped; a text with words that never occur in names ("mau", "berapa") is refused,
    one that starts with a form of address ("Pak Karto") with its own reason."""
    name = " ".join(unicodedata.normalize("NFC", text).split()).strip(" ,.")
    longest_first = sorted(prefixes, key=len, reverse=True)
    for _ in range(3):  # "nama lengkap sy Siti": "nama lengkap", then "sy"
        lowered = name.lower()
        prefix = next((p for p in longest_first if lowered.startswith(p + " ")), None)
        if prefix is None:
            break
        name = name[len(prefix) :].strip(" ,.:")
    words = name.split()
    if not words or len(words) > 7 or len(name) > 60 or not _NAME_CHARS.match(name) or _numeric(name):
        return Invalid("name_invalid")
    if words[0].lower().strip(".") in titles:
        return Invalid("name_title")
    if sum(ch.isalpha() for ch in name) < 3 or any(w.lower().strip(".") in not_name_words for w in words):
        return Invalid("name_invalid")
    if name.islower() or name.isupper():
        name = " ".join(w[:1].upper() + w[1:].lower() for w in words)
    return name


def nik(text: str, entity: str | None, today: date) -> NikInfo | Invalid:
    """A NIK from the nik entity or the whole answer; 15 or 17 digits get a reason that says so."""
    candidate = entity or parse_nik(text)
    if candidate is None:
        compact = re.sub(r"[\s.\-]", "", text)
        if (
            len(compact) == 16
            and re.fullmatch(r"[0-9OoIl]+", compact)
            and sum(c.isdigit() for c in compact) >= 12
        ):
            return Invalid("nik_letters")  # "3201O115...": the letter O for a zero
        digits = re.sub(r"\D", "", text)
        if len(digits) >= 8 and len(digits) != 16 and re.fullmatch(r"[\d\s.\-]+", text.strip()):
            return Invalid("nik_length", {"digits": len(digits)})
        return Invalid("nik_missing")
    checked = validate_nik(candidate, today=today)
    if isinstance(checked, NikProblem):
        if checked is NikProblem.LENGTH:
            return Invalid("nik_length", {"digits": len(re.sub(r"\D", "", candidate))})
        if checked is NikProblem.PROVINCE:
            return Invalid("nik_province")
        if checked is NikProblem.BIRTH_DATE:
            return Invalid("nik_date")
        return Invalid("nik_invalid")
    return checked


def compact_date(text: str, today: date) -> str | None:
    """ "02081990" or "020890" (day, month, year without separators, as some people type a birth date), or
    "2 8 90" (spaces only, a two-digit year; the date entity takes four-digit years) as an ISO date; None
    for anything else or an impossible date."""
    digits = text.strip()
    spaced = re.fullmatch(r"(\d{1,2})\s+(\d{1,2})\s+(\d{2}|\d{4})", digits)
    if spaced:
        digits = "".join((spaced[1].zfill(2), spaced[2].zfill(2), spaced[3]))
    if not re.fullmatch(r"\d{6}|\d{8}", digits):
        return None
    year = expand_year(digits[4:], today.year)
    try:
        return date(year, int(digits[2:4]), int(digits[:2])).isoformat()
    except ValueError:
        return None


def agrees_with_nik(birth: date, nik_digits: str) -> bool:
    """The NIK's DDMMYY part is the birth date, with 40 added to the day for women (domain §6.1)."""
    day, month, yy = int(nik_digits[6:8]), int(nik_digits[8:10]), int(nik_digits[10:12])
    return birth.day in (day, day - 40) and birth.month == month and birth.year % 100 == yy


def birth_date(value: str | None, nik_digits: str | None, today: date) -> date | Invalid:
    """An ISO date from the date entity; in the past; agreeing with the NIK when known; age 18 to 64."""
    if not value:
        return Invalid("date_invalid")
    try:
        born = date.fromisoformat(str(value))
    except ValueError:
        return Invalid("date_invalid")
    if born >= today or born.year < 1900:
        return Invalid("date_invalid")
    if nik_digits and not agrees_with_nik(born, nik_digits):
        return Invalid("date_mismatch")
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if age >= MAX_AGE:
        return Invalid("too_old", {"max_age": MAX_AGE})
    if age < MIN_AGE:
        return Invalid("too_young", {"min_age": MIN_AGE})
    return born


def phone(text: str, entity: str | None) -> str | Invalid:
    """An Indonesian mobile number in E.164 (+628...), from the phone entity or the whole answer."""
    number = entity or (to_e164(text) if re.fullmatch(r"[\d\s+().\-]{8,20}", text.strip()) else None)
    if not number or not re.fullmatch(r"\+628[1-35-9]\d{7,10}", number):
        return Invalid("phone_invalid")
    return number


def city(text: str, prefixes: frozenset[str]) -> str | Invalid:
    """A city/regency name as typed ("Kota Bekasi", "kab. bogor" -> "Kab. Bogor")."""
    name = " ".join(text.split()).strip(" ,.")
    lowered = name.lower()
    for prefix in sorted(prefixes, key=len, reverse=True):
        if lowered.startswith(prefix + " "):
            name = name[len(prefix) :].strip(" ,.:")
            break
    if not 3 <= len(name) <= 40 or len(name.split()) > 5 or not _CITY_CHARS.match(name) or _numeric(name):
        return Invalid("city_invalid")
    if name.islower() or name.isupper():
        name = " ".join(w[:1].upper() + w[1:].lower() for w in name.split())
    return name


def occupations(values: list[str], known: set[str]) -> tuple[str, ...] | Invalid:
    """One or two values of the occupation list, in the order given, without repeats."""
    chosen = tuple(dict.fromkeys(v for v in values if v))
    if not chosen or any(v not in known for v in chosen):
        return Invalid("occupation_invalid")
    if len(chosen) > MAX_OCCUPATIONS:
        return Invalid("occupation_too_many", {"max": MAX_OCCUPATIONS})
    return chosen


def income(amount: Any, minimum: int) -> int | Invalid:
    """Declared monthly income in rupiah, at least the minimum income base."""
    try:
        value = int(amount)
    except (TypeError, ValueError, OverflowError):  # a typed payload can carry 1e999 (inf)
        return Invalid("income_invalid")
    if value <= 0:
        return Invalid("income_invalid")
    if value < 1000:
        # "2" or "1,5": the unit is missing, most likely "juta"; ask rather than guess.
        return Invalid("income_unit")
    if value < minimum:
        return Invalid("income_below")
    if value > MAX_INCOME:
        return Invalid("income_too_high")
    return value


def period(months: Any) -> int | Invalid:
    try:
        value = int(months)
    except (TypeError, ValueError, OverflowError):  # a typed payload can carry 1e999 (inf)
        return Invalid("period_invalid")
    return value if value in PERIODS else Invalid("period_invalid")
