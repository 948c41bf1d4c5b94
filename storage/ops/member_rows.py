"""One row of a members CSV (the data exchange format of docs/storage.md): checked, normalized, sealed.

`check_row` returns the clean values or the list of problems (column + reason, never the personal value
itself); `seal_row` turns clean values into the encrypted tuple the import writes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import phonenumbers

from storage.crypto import Vault
from storage.models import MEMBER_STATUSES
from storage.ops.identity import InvalidIdentity, check_kpj, digits, mask_nik, parse_nik

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
    programs: list[str]
    occupations: list[str]
    protected_from: date | None
    protected_until: date | None
    next_due_date: date | None
    income_base: int | None
    registration_channel: str | None
    phone: str | None
    address: str | None


# the staging/insert column order (storage.ops.import_members relies on it)
SEALED_COLUMNS = (
    "kpj_enc",
    "kpj_bidx",
    "nik_enc",
    "nik_bidx",
    "full_name_enc",
    "birth_date_enc",
    "phone_enc",
    "address_enc",
    "income_base_enc",
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


def _list(raw: str) -> list[str]:
    return [item.strip().lower() for item in _LIST_SPLIT.split(raw) if item.strip()]


def check_row(raw: Mapping[str, str | None], *, today: date) -> tuple[MemberRow | None, list[RowProblem]]:
    """Validate one CSV record (a DictReader row). Exactly one of the pair is meaningful."""
    problems: list[RowProblem] = []

    def get(name: str) -> str:
        return (raw.get(name) or "").strip()

    kpj = digits(get("kpj"))
    try:
        check_kpj(kpj)
    except InvalidIdentity:
        problems.append(RowProblem("kpj", "KPJ number must have exactly 11 digits"))

    nik = digits(get("nik"))
    nik_info = None
    try:
        nik_info = parse_nik(nik)
    except InvalidIdentity as exc:
        problems.append(RowProblem("nik", _NIK_REASONS[exc.reason]))

    full_name = " ".join(get("full_name").split())
    if not full_name:
        problems.append(RowProblem("full_name", "missing"))
    elif len(full_name) > 120:
        problems.append(RowProblem("full_name", "longer than 120 characters"))

    birth_date = _date(get("birth_date"), "birth_date", problems, required=True)
    if birth_date is not None:
        if birth_date > today:
            problems.append(RowProblem("birth_date", "in the future"))
        elif nik_info is not None and not nik_info.matches(birth_date):
            problems.append(RowProblem("birth_date", "does not match the date of birth in the NIK"))

    status = get("status").lower()
    if status not in MEMBER_STATUSES:
        problems.append(RowProblem("status", f"must be one of {', '.join(MEMBER_STATUSES)}"))

    programs = _list(get("programs"))
    if not programs or any(p not in PROGRAMS for p in programs):
        problems.append(RowProblem("programs", f"must be one or more of {', '.join(PROGRAMS)}"))

    occupations = _list(get("occupations"))
    if len(occupations) > 2:
        problems.append(RowProblem("occupations", "at most 2 occupations"))

    protected_from = _date(get("protected_from"), "protected_from", problems)
    protected_until = _date(get("protected_until"), "protected_until", problems)
    if protected_from and protected_until and protected_from > protected_until:
        problems.append(RowProblem("protected_until", "before protected_from"))
    next_due_date = _date(get("next_due_date"), "next_due_date", problems)

    income_base = None
    income_raw = get("income_base").replace(".", "").replace(",", "")
    if income_raw:
        if not income_raw.isdigit() or int(income_raw) <= 0:
            problems.append(RowProblem("income_base", "must be a positive whole number of rupiah"))
        else:
            income_base = int(income_raw)

    channel = get("registration_channel") or None
    if channel is not None and len(channel) > 20:
        problems.append(RowProblem("registration_channel", "longer than 20 characters"))

    phone = None
    if get("phone"):
        phone = _phone(get("phone"))
        if phone is None:
            problems.append(RowProblem("phone", "not a valid Indonesian phone number"))

    address = get("address") or None
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


def _phone(raw: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, "ID")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def seal_row(vault: Vault, row: MemberRow) -> SealedRow:
    """The row as stored, in SEALED_COLUMNS order (lists stay lists; the writer serializes them)."""
    return (
        vault.encrypt("kpj", row.kpj.encode()),
        vault.blind_index("kpj", row.kpj),
        vault.encrypt("nik", row.nik.encode()),
        vault.blind_index("nik", row.nik),
        vault.encrypt("full_name", row.full_name.encode()),
        vault.encrypt("birth_date", row.birth_date.isoformat().encode()),
        vault.encrypt_text("phone", row.phone),
        vault.encrypt_text("address", row.address),
        vault.encrypt_int("income_base", row.income_base),
        row.status,
        row.programs,
        row.occupations,
        row.protected_from,
        row.protected_until,
        row.next_due_date,
        row.registration_channel,
    )
