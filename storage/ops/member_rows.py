"""One row of a members CSV (the data exchange format of docs/storage.md): checked and normalized.

`RowChecker(header, today).check(fields)` returns the clean values or the list of problems (column +
reason, never the personal value itself); storage.ops.member_codec seals clean rows for the database.
It runs once per imported row, so it works on the CSV record's list of fields by position, answers the
common case (a valid row) without exceptions and remembers values that repeat (dates, NIK date parts,
program lists).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from functools import lru_cache
from operator import itemgetter
from typing import NamedTuple

import phonenumbers

from storage.models import MEMBER_STATUSES
from storage.ops.identity import PROVINCE_CODES, InvalidIdentity, digits, mask_nik, parse_nik

REQUIRED = ("kpj", "nik", "full_name", "birth_date", "status", "programs")
OPTIONAL = (
    "protected_from",
    "protected_until",
    "next_due_date",
    "income_base",
    "registration_channel",
    "occupations",
    "phone",
    "address",
)
COLUMNS = REQUIRED + OPTIONAL
PERSONAL = frozenset({"nik", "kpj", "full_name", "birth_date", "phone", "address", "income_base"})
PROGRAMS = ("jkk", "jkm", "jht", "jp", "jkp")
_LIST_SPLIT = re.compile(r"[+;,/|]")
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
_MOBILE = re.compile(r"(?:\+62|62|0)(8[1-35-9]\d{7,10})")  # libphonenumber's ID mobile pattern
_NIK_REASONS = {
    "nik_length": "NIK must have exactly 16 digits",
    "nik_province": "NIK starts with an unknown province code",
    "nik_date": "NIK holds an impossible date of birth",
    "nik_serial": "NIK serial number cannot be 0000",
}


Problem = tuple[str, str]  # (column, reason)


class MemberRow(NamedTuple):
    kpj: str
    nik: str
    full_name: str
    birth_date: date
    status: str
    programs: tuple[str, ...]
    occupations: tuple[str, ...]
    protected_from: date | None
    protected_until: date | None
    next_due_date: date | None
    income_base: int | None
    registration_channel: str | None
    phone: str | None
    address: str | None


def shown_value(column: str, raw: str) -> str:
    """What an error report may show of a value: a masked NIK, nothing of other personal values."""
    if column == "nik":
        return mask_nik(digits(raw))
    return "" if column in PERSONAL else raw[:60]


_EARLIEST, _LATEST = date(1900, 1, 1), date(2100, 12, 31)
_dates: dict[str, date] = {}  # valid date texts seen (a few thousand distinct ones in a million rows)


def _date(raw: str, column: str, problems: list[Problem], *, required: bool = False) -> date | None:
    if (known := _dates.get(raw)) is not None:
        return known
    if not raw:
        if required:
            problems.append((column, "missing"))
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        problems.append((column, "not a real date in YYYY-MM-DD form"))
        return None
    if not _EARLIEST <= value <= _LATEST:
        problems.append((column, "date out of range"))
        return None
    if len(_dates) >= 100_000:  # bounded, whatever the file holds
        _dates.clear()
    _dates[raw] = value
    return value


@lru_cache(maxsize=4096)
def _list(raw: str) -> tuple[str, ...]:
    # the same few program/occupation strings repeat on every row: parse each once
    return tuple(item.strip().lower() for item in _LIST_SPLIT.split(raw) if item.strip())


@lru_cache(maxsize=4096)
def _known_programs(programs: tuple[str, ...]) -> bool:
    return bool(programs) and all(p in PROGRAMS for p in programs)


@lru_cache(maxsize=1 << 16)  # 71 days x 12 months x 100 years at most; in practice fewer
def _nik_birth(date_part: str) -> tuple[int, int, int] | None:
    """(day, month, two-digit year) of a NIK's digits 7-12, None when no real date: parse_nik's rule, asked
    once per distinct date part (a valid province and serial around it, so only the date can fail)."""
    try:
        info = parse_nik("11" + "0000" + date_part + "0001")
    except InvalidIdentity:
        return None
    return info.birth_day, info.birth_month, info.birth_yy


def _nik(raw: str, problems: list[Problem]) -> tuple[str, tuple[int, int, int] | None]:
    nik = raw if raw.isdigit() else digits(raw)
    if (
        len(nik) == 16
        and nik.isdigit()
        and nik[:2] in PROVINCE_CODES
        and nik[12:] != "0000"
        and (born := _nik_birth(nik[6:12])) is not None
    ):
        return nik, born
    try:  # not valid: parse_nik says why
        info = parse_nik(nik)
    except InvalidIdentity as exc:
        problems.append(("nik", _NIK_REASONS[exc.reason]))
        return nik, None
    return nik, (info.birth_day, info.birth_month, info.birth_yy)


class RowChecker:
    """Checks the records of one file (its header decides where each column is)."""

    def __init__(self, header: Sequence[str], today: date) -> None:
        self.today = today
        where = {name: i for i, name in enumerate(header)}  # a repeated column: the last one counts
        self._width = len(header)
        # a column the file lacks reads the empty field appended after the record's own
        self._pick = itemgetter(*(where.get(column, self._width) for column in COLUMNS))

    def check(self, fields: list[str]) -> tuple[MemberRow | None, list[Problem]]:
        """The clean row and no problems, or None and the problems (in column order). `fields` may be
        extended."""
        if len(fields) < self._width:  # a short record: the missing fields are empty
            fields.extend([""] * (self._width - len(fields)))
        fields.append("")
        (
            kpj,
            nik_raw,
            full_name,
            birth_raw,
            status,
            programs_raw,
            from_raw,
            until_raw,
            due_raw,
            income_raw,
            channel,
            occupations_raw,
            phone_raw,
            address,
        ) = map(str.strip, self._pick(fields))
        problems: list[Problem] = []

        if len(kpj) != 11 or not kpj.isdigit():
            kpj = digits(kpj)
            if len(kpj) != 11 or not kpj.isdigit():
                problems.append(("kpj", "KPJ number must have exactly 11 digits"))

        nik, nik_birth = _nik(nik_raw, problems)

        full_name = " ".join(full_name.split())
        if not full_name:
            problems.append(("full_name", "missing"))
        elif len(full_name) > 120:
            problems.append(("full_name", "longer than 120 characters"))

        dates = _dates  # a known date text is the common case: no call
        birth_date = dates.get(birth_raw) or _date(birth_raw, "birth_date", problems, required=True)
        if birth_date is not None:
            if birth_date > self.today:
                problems.append(("birth_date", "in the future"))
            elif nik_birth is not None and nik_birth != (
                birth_date.day,
                birth_date.month,
                birth_date.year % 100,
            ):
                problems.append(("birth_date", "does not match the date of birth in the NIK"))

        status = status.lower()
        if status not in MEMBER_STATUSES:
            problems.append(("status", f"must be one of {', '.join(MEMBER_STATUSES)}"))

        programs = _list(programs_raw)
        if not _known_programs(programs):
            problems.append(("programs", f"must be one or more of {', '.join(PROGRAMS)}"))

        occupations = _list(occupations_raw)
        if len(occupations) > 2:
            problems.append(("occupations", "at most 2 occupations"))

        protected_from = dates.get(from_raw) or _date(from_raw, "protected_from", problems)
        protected_until = dates.get(until_raw) or _date(until_raw, "protected_until", problems)
        if protected_from and protected_until and protected_from > protected_until:
            problems.append(("protected_until", "before protected_from"))
        next_due_date = dates.get(due_raw) or _date(due_raw, "next_due_date", problems)

        income_base = None
        income_raw = income_raw.replace(".", "").replace(",", "")
        if income_raw:
            if not income_raw.isdigit() or int(income_raw) <= 0:
                problems.append(("income_base", "must be a positive whole number of rupiah"))
            else:
                income_base = int(income_raw)

        if len(channel) > 20:
            problems.append(("registration_channel", "longer than 20 characters"))

        phone = None
        if phone_raw:
            mobile = _MOBILE.fullmatch(phone_raw)  # the common case, without a call
            phone = "+62" + mobile.group(1) if mobile else normalize_phone(phone_raw)
            if phone is None:
                problems.append(("phone", "not a valid Indonesian phone number"))

        if len(address) > 300:
            problems.append(("address", "longer than 300 characters"))

        if problems or birth_date is None:
            return None, problems
        row = MemberRow(
            kpj,
            nik,
            full_name,
            birth_date,
            status,
            programs,
            occupations,
            protected_from,
            protected_until,
            next_due_date,
            income_base,
            channel or None,
            phone,
            address or None,
        )
        return row, problems


def check_row(raw: Mapping[str, str | None], *, today: date) -> tuple[MemberRow | None, list[Problem]]:
    """One record given as a mapping (a DictReader row): `RowChecker.check` for callers without a file."""
    return RowChecker(COLUMNS, today).check([raw.get(c) or "" for c in COLUMNS])


def normalize_phone(raw: str) -> str | None:
    """E.164 for an Indonesian number, or None. Mobile numbers (domain.md §6.2) take a fast path; anything
    else goes through libphonenumber."""
    if match := _MOBILE.fullmatch(raw) or _MOBILE.fullmatch(_PHONE_SEPARATORS.sub("", raw)):
        return "+62" + match.group(1)
    try:
        number = phonenumbers.parse(raw, "ID")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
