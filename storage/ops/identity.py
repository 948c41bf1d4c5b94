"""The NIK format (domain.md §6.1), checked before anything is stored or looked up.

NIK layout `PP KK CC DD MM YY SSSS`: province, regency/city, district, day of birth (+40 for women),
month, two-digit year, serial from 0001. There is no check digit, so a well-shaped NIK may still not exist;
these checks only catch what is certainly wrong (typos, swapped fields, the wrong person's birth date).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

# Kepmendagri 300.2.2-2138/2025: the 38 provinces (domain.md §6.1)
# fmt: off
PROVINCE_CODES = frozenset({
    "11", "12", "13", "14", "15", "16", "17", "18", "19", "21", "31", "32", "33", "34", "35", "36",
    "51", "52", "53", "61", "62", "63", "64", "65", "71", "72", "73", "74", "75", "76", "81", "82",
    "91", "92", "93", "94", "95", "96",
})
# fmt: on
_SEPARATORS = re.compile(r"[\s.\-]")


class InvalidIdentity(ValueError):
    """`reason` is a machine code: nik_length, nik_province, nik_date, nik_serial."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class NikInfo:
    province: str
    birth_day: int  # 1-31, the +40 already removed
    birth_month: int
    birth_yy: int  # last two digits of the birth year
    female: bool

    def matches(self, birth_date: date) -> bool:
        """True when the birth date agrees with the date encoded in the NIK."""
        return (birth_date.day, birth_date.month, birth_date.year % 100) == (
            self.birth_day,
            self.birth_month,
            self.birth_yy,
        )


def digits(text: str) -> str:
    """Remove the separators people type inside numbers ("3201 0145 0690 0003", "3201.0145...")."""
    return _SEPARATORS.sub("", text)


def _possible_date(day: int, month: int, yy: int) -> bool:
    for century in (1900, 2000):
        try:
            date(century + yy, month, day)
            return True
        except ValueError:
            continue
    return False


def parse_nik(nik: str) -> NikInfo:
    """The parts of a 16-digit NIK, or InvalidIdentity saying what is wrong."""
    if len(nik) != 16 or not nik.isdigit():
        raise InvalidIdentity("nik_length", "a NIK has exactly 16 digits")
    if nik[:2] not in PROVINCE_CODES:
        raise InvalidIdentity("nik_province", "the NIK starts with an unknown province code")
    day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    female = day > 40
    if female:
        day -= 40
    if not _possible_date(day, month, yy):
        raise InvalidIdentity("nik_date", "the NIK's date of birth part is not a real date")
    if nik[12:] == "0000":
        raise InvalidIdentity("nik_serial", "the NIK's serial number cannot be 0000")
    return NikInfo(province=nik[:2], birth_day=day, birth_month=month, birth_yy=yy, female=female)


def mask_nik(nik: str) -> str:
    """Keep the regency code (4 digits, not personal) so an operator can find the row; hide the rest."""
    return nik[:4] + "*" * max(len(nik) - 4, 0)


def age_on(birth_date: date, day: date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))
