"""NIK (Nomor Induk Kependudukan): finding one in text, and checking what its digits say (domain.md §6.1).

Finding (`find`) is about shape only: 16 digits, typed whole or in groups separated by single spaces, dots or
dashes ("3201014506900003", "3201 0145 0690 0003", "32.01.01.450690.0003"). The value is the 16 digits.

Checking (`validate`) reads the layout `PP KK CC DDMMYY SSSS`:

* PP, the province code, must be one of the 38 codes of Kepmendagri 300.2.2-2138/2025 (`PROVINCES`);
* KK, the regency/city code, must not be 00 (01-69 is a kabupaten, 71-99 a kota; 70 is in neither range but
  is accepted, with `regency_kind` None, rather than lock out a person over an uncertain rule);
* CC, the district code, must not be 00;
* DDMMYY is the birth date, with 40 added to the day for women (41-71); YY is read as 20YY unless that is
  after `today`, then as 19YY (a NIK holder is born in the past);
* SSSS, the serial number, starts at 0001.

No check digit exists, so a well-formed NIK can still belong to nobody: `validate` only rules out the
impossible. NIK is personal data: never log it; show it masked (`mask`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from nlu.entities import digits
from nlu.entities.candidate import Candidate

__all__ = ["PROVINCES", "NikInfo", "NikProblem", "find", "format_nik", "mask", "parse_nik", "validate"]

PROVINCES: dict[str, str] = {
    "11": "Aceh",
    "12": "Sumatera Utara",
    "13": "Sumatera Barat",
    "14": "Riau",
    "15": "Jambi",
    "16": "Sumatera Selatan",
    "17": "Bengkulu",
    "18": "Lampung",
    "19": "Kepulauan Bangka Belitung",
    "21": "Kepulauan Riau",
    "31": "DKI Jakarta",
    "32": "Jawa Barat",
    "33": "Jawa Tengah",
    "34": "DI Yogyakarta",
    "35": "Jawa Timur",
    "36": "Banten",
    "51": "Bali",
    "52": "Nusa Tenggara Barat",
    "53": "Nusa Tenggara Timur",
    "61": "Kalimantan Barat",
    "62": "Kalimantan Tengah",
    "63": "Kalimantan Selatan",
    "64": "Kalimantan Timur",
    "65": "Kalimantan Utara",
    "71": "Sulawesi Utara",
    "72": "Sulawesi Tengah",
    "73": "Sulawesi Selatan",
    "74": "Sulawesi Tenggara",
    "75": "Gorontalo",
    "76": "Sulawesi Barat",
    "81": "Maluku",
    "82": "Maluku Utara",
    "91": "Papua",
    "92": "Papua Barat",
    "93": "Papua Selatan",
    "94": "Papua Tengah",
    "95": "Papua Pegunungan",
    "96": "Papua Barat Daya",
}

_SEPARATED = re.compile(r"^\s*[0-9]+(?:\s*[ .\-]\s*[0-9]+)*\s*$")


class NikProblem(StrEnum):
    """Why a 16-digit string cannot be a NIK (the flows turn these into questions for the user)."""

    LENGTH = "length"  # not exactly 16 digits
    PROVINCE = "province"  # PP is not a province code
    REGENCY = "regency"  # KK is 00
    DISTRICT = "district"  # CC is 00
    BIRTH_DATE = "birth_date"  # DDMMYY is not a date (day 32-40 or 72+, month 13, 31 February...)
    SERIAL = "serial"  # SSSS is 0000


@dataclass(frozen=True)
class NikInfo:
    """What a valid NIK says about its holder."""

    nik: str
    province_code: str
    province: str
    regency_code: str  # PPKK, four digits
    regency_kind: Literal["kabupaten", "kota"] | None
    district_code: str  # PPKKCC, six digits
    birth_date: dt.date
    sex: Literal["L", "P"]  # laki-laki / perempuan, as on the KTP
    serial: str


def validate(nik: str, *, today: dt.date | None = None) -> NikInfo | NikProblem:
    """Check a NIK's digits (module docstring) and return what they say, or the first problem found."""
    today = today or dt.date.today()
    if len(nik) != 16 or not nik.isascii() or not nik.isdigit():
        return NikProblem.LENGTH
    pp, kk, cc = nik[0:2], nik[2:4], nik[4:6]
    day, month, yy, serial = int(nik[6:8]), int(nik[8:10]), int(nik[10:12]), nik[12:16]
    if pp not in PROVINCES:
        return NikProblem.PROVINCE
    if kk == "00":
        return NikProblem.REGENCY
    if cc == "00":
        return NikProblem.DISTRICT
    sex: Literal["L", "P"] = "P" if day > 40 else "L"
    if day > 40:
        day -= 40
    try:
        birth = dt.date(2000 + yy, month, day)
        if birth > today:
            birth = dt.date(1900 + yy, month, day)
    except ValueError:
        return NikProblem.BIRTH_DATE
    if serial == "0000":
        return NikProblem.SERIAL
    kind: Literal["kabupaten", "kota"] | None = (
        "kabupaten" if 1 <= int(kk) <= 69 else "kota" if int(kk) >= 71 else None
    )
    return NikInfo(nik, pp, PROVINCES[pp], pp + kk, kind, pp + kk + cc, birth, sex, serial)


def format_nik(nik: str) -> str:
    """ "3201014506900003" → "3201 0145 0690 0003" (how a KTP shows it)."""
    return " ".join(nik[i : i + 4] for i in range(0, len(nik), 4))


def parse_nik(text: str) -> str | None:
    """A user's answer → the 16 digits, if the whole answer is one NIK (separators allowed), else None."""
    if not _SEPARATED.match(text):
        return None
    only = re.sub(r"[^0-9]", "", text)
    return only if len(only) == 16 else None


def mask(nik: str) -> str:
    """Show a NIK without revealing it: "3201********0003"."""
    return nik[:4] + "*" * (len(nik) - 8) + nik[-4:] if len(nik) > 8 else "*" * len(nik)


def find(folded: str) -> list[Candidate]:
    """Every 16-digit NIK-shaped number in `folded` (see `nlu.entities.digits`)."""
    found = []
    for groups in digits.runs(folded):
        for i, j in digits.exact_spans(groups, 16):
            if groups[i].text.startswith("+"):
                continue
            value = "".join(g.digits for g in groups[i : j + 1])
            found.append(Candidate("nik", value, groups[i].start, groups[j].end))
    return found
