"""One row of a members CSV (the data exchange format of docs/storage.md): checked, normalized, sealed.

`check_row` returns the clean values or the list of problems (column + reason, never the personal value
itself); `seal_row` turns clean values into the encrypted tuple the import writes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import phonenumbers

from storage.crypto import Vault
from storage.models import MEMBER_STATUSES
from storage.ops.identity import InvalidIdentity, digits, mask_nik, parse_nik
from storage.repo.members import MemberIdentity, seal_identity

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


@dataclass(frozen=True)
class RowProblem:
    column: str
    reason: str


@dataclass(frozen=True)
class MemberRow:
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


# the staging/insert column order (storage.ops.member_writers relies on it)
SEALED_COLUMNS = (
    "kpj_bidx",
    "nik_bidx",
    "identity_enc",
    "status",
    "programs",
    "occupations",
    "protected_from",
    "protected_until",
    "next_due_date",
    "registration_channel",
)
SealedRow = tuple[object, ...]


def shown_value(column: str, raw: str) -> str:
    """What an error report may show of a value: a masked NIK, nothing of other personal values."""
    if column == "nik":
        return mask_nik(digits(raw))
    return "" if column in PERSONAL else raw[:60]


def _date(raw: str, column: str, problems: list[RowProblem], *, required: bool = False) -> date | None:
    raw = raw.strip()
    if not raw:
        if required:
            problems.append(RowProblem(column, "missing"))
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        problems.append(RowProblem(column, "not a real date in YYYY-MM-DD form"))
        return None
    if not date(1900, 1, 1) <= value <= date(2100, 12, 31):
        problems.append(RowProblem(column, "date out of range"))
        return None
    return value


@lru_cache(maxsize=4096)
def _list(raw: str) -> tuple[str, ...]:
    # the same few program/occupation strings repeat on every row: parse each once
    return tuple(item.strip().lower() for item in _LIST_SPLIT.split(raw) if item.strip())


@lru_cache(maxsize=4096)
def _known_programs(programs: tuple[str, ...]) -> bool:
    return bool(programs) and all(p in PROGRAMS for p in programs)


@lru_cache(maxsize=4096)
def as_json(values: tuple[str, ...]) -> str:
    return json.dumps(list(values))


def _text(raw: Mapping[str, str | None], name: str) -> str:
    value = raw.get(name)
    return value.strip() if value else ""


def check_row(raw: Mapping[str, str | None], *, today: date) -> tuple[MemberRow | None, list[RowProblem]]:
    """Validate one CSV record (a DictReader row): the clean row and no problems, or None and the problems.

    This runs once per imported row, so it avoids work where it can (the import's rate depends on it)."""
    problems: list[RowProblem] = []

    kpj = _text(raw, "kpj")
    if len(kpj) != 11 or not kpj.isdigit():
        kpj = digits(kpj)
        if len(kpj) != 11 or not kpj.isdigit():
            problems.append(RowProblem("kpj", "KPJ number must have exactly 11 digits"))

    nik = _text(raw, "nik")
    if not nik.isdigit():
        nik = digits(nik)
    nik_info = None
    try:
        nik_info = parse_nik(nik)
    except InvalidIdentity as exc:
        problems.append(RowProblem("nik", _NIK_REASONS[exc.reason]))

    full_name = " ".join(_text(raw, "full_name").split())
    if not full_name:
        problems.append(RowProblem("full_name", "missing"))
    elif len(full_name) > 120:
        problems.append(RowProblem("full_name", "longer than 120 characters"))

    birth_date = _date(_text(raw, "birth_date"), "birth_date", problems, required=True)
    if birth_date is not None:
        if birth_date > today:
            problems.append(RowProblem("birth_date", "in the future"))
        elif nik_info is not None and not nik_info.matches(birth_date):
            problems.append(RowProblem("birth_date", "does not match the date of birth in the NIK"))

    status = _text(raw, "status").lower()
    if status not in MEMBER_STATUSES:
        problems.append(RowProblem("status", f"must be one of {', '.join(MEMBER_STATUSES)}"))

    programs = _list(_text(raw, "programs"))
    if not _known_programs(programs):
        problems.append(RowProblem("programs", f"must be one or more of {', '.join(PROGRAMS)}"))

    occupations = _list(_text(raw, "occupations"))
    if len(occupations) > 2:
        problems.append(RowProblem("occupations", "at most 2 occupations"))

    protected_from = _date(_text(raw, "protected_from"), "protected_from", problems)
    protected_until = _date(_text(raw, "protected_until"), "protected_until", problems)
    if protected_from and protected_until and protected_from > protected_until:
        problems.append(RowProblem("protected_until", "before protected_from"))
    next_due_date = _date(_text(raw, "next_due_date"), "next_due_date", problems)

    income_base = None
    income_raw = _text(raw, "income_base").replace(".", "").replace(",", "")
    if income_raw:
        if not income_raw.isdigit() or int(income_raw) <= 0:
            problems.append(RowProblem("income_base", "must be a positive whole number of rupiah"))
        else:
            income_base = int(income_raw)

    channel = _text(raw, "registration_channel") or None
    if channel is not None and len(channel) > 20:
        problems.append(RowProblem("registration_channel", "longer than 20 characters"))

    phone = None
    if phone_raw := _text(raw, "phone"):
        phone = normalize_phone(phone_raw)
        if phone is None:
            problems.append(RowProblem("phone", "not a valid Indonesian phone number"))

    address = _text(raw, "address") or None
    if address is not None and len(address) > 300:
        problems.append(RowProblem("address", "longer than 300 characters"))

    if problems:
        return None, problems
    assert birth_date is not None  # no problems means every required value parsed
    return (
        MemberRow(
            kpj=kpj,
            nik=nik,
            full_name=full_name,
            birth_date=birth_date,
            status=status,
            programs=programs,
            occupations=occupations,
            protected_from=protected_from,
            protected_until=protected_until,
            next_due_date=next_due_date,
            income_base=income_base,
            registration_channel=channel,
            phone=phone,
            address=address,
        ),
        [],
    )


def normalize_phone(raw: str) -> str | None:
    """E.164 for an Indonesian number, or None. Mobile numbers (domain.md §6.2) take a fast path; anything
    else goes through libphonenumber."""
    compact = _PHONE_SEPARATORS.sub("", raw)
    if match := _MOBILE.fullmatch(compact):
        return "+62" + match.group(1)
    try:
        number = phonenumbers.parse(raw, "ID")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def seal_row(vault: Vault, row: MemberRow) -> SealedRow:
    """The row as stored, in SEALED_COLUMNS order (programs and occupations as JSON text)."""
    identity = MemberIdentity(
        row.nik, row.kpj, row.full_name, row.birth_date, row.phone, row.address, row.income_base
    )
    return (
        vault.blind_index("kpj", row.kpj),
        vault.blind_index("nik", row.nik),
        seal_identity(vault, identity),
        row.status,
        as_json(row.programs),
        as_json(row.occupations),
        row.protected_from,
        row.protected_until,
        row.next_due_date,
        row.registration_channel,
    )
