"""Members: finding them by NIK, KPJ or registration number, and the rules of the protection period.

The rules (domain.md §3.3, §12), in calendar months because contributions are paid per month:
- a first payment starts protection on the day it is paid, through the end of the last paid month;
- a later payment extends protection by the paid months, continuing after the last paid month (arrears of
  up to 3 months are paid first, as the agency requires);
- the next contribution is due on the 15th of the month after the last paid month;
- after 3 whole unpaid months the membership is inactive; paying again re-activates it and older arrears
  are no longer counted (a new period starts in the month of payment).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.crypto import Vault
from storage.models import Member, Registration

ARREARS_MONTHS = 3
DUE_DAY = 15
# which membership a NIK look-up shows when a person holds several
_STATUS_RANK = {"active": 0, "awaiting_payment": 1, "inactive": 2, "rejected": 3}


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, _month_end(year, month).day))


def _month_end(year: int, month: int) -> date:
    first_next = date(year + month // 12, month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def month_end(day: date) -> date:
    return _month_end(day.year, day.month)


def first_due_date(registered_on: date) -> date:
    """The 15th of the month of registration, or of the next month when that is already past."""
    this_month = registered_on.replace(day=DUE_DAY)
    return this_month if registered_on <= this_month else add_months(this_month, 1)


def lapsed(protected_until: date | None, today: date) -> bool:
    """True after 3 whole months without a paid contribution."""
    return protected_until is not None and today > month_end(add_months(protected_until, ARREARS_MONTHS))


def effective_status(status: str, protected_until: date | None, today: date) -> str:
    """The status as of `today`: an active membership whose arrears passed 3 months is inactive, even
    before any batch job writes that down."""
    if status == "active" and lapsed(protected_until, today):
        return "inactive"
    return status


@dataclass(frozen=True)
class MemberIdentity:
    """The personal values of a membership, sealed as one blob (`members.identity_enc`)."""

    nik: str
    kpj: str
    full_name: str
    birth_date: date
    phone: str | None = None
    address: str | None = None
    income_base: int | None = None


_IDENTITY_FORMAT = 1  # a JSON list, positional (compact: no key names repeated on a million rows)
_JSON = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False
)  # built once: json.dumps(**opts) builds one per call


def seal_identity(vault: Vault, identity: MemberIdentity) -> bytes:
    payload = [
        _IDENTITY_FORMAT,
        identity.nik,
        identity.kpj,
        identity.full_name,
        identity.birth_date.isoformat(),
        identity.phone,
        identity.address,
        identity.income_base,
    ]
    return vault.encrypt("identity", _JSON.encode(payload).encode())


def open_identity(vault: Vault, blob: bytes) -> MemberIdentity:
    fmt, nik, kpj, full_name, birth_date, phone, address, income_base = json.loads(
        vault.decrypt("identity", blob)
    )
    if fmt != _IDENTITY_FORMAT:
        raise ValueError(f"unknown identity format {fmt}")
    return MemberIdentity(nik, kpj, full_name, date.fromisoformat(birth_date), phone, address, income_base)


@dataclass(frozen=True)
class Protection:
    protected_from: date
    protected_until: date
    next_due_date: date


def protection_after_payment(
    protected_from: date | None,
    protected_until: date | None,
    months: int,
    paid_on: date,
    *,
    first_due: date | None = None,
) -> Protection:
    """The protection period after `months` contributions paid on `paid_on` (see the module's rules).

    `first_due` is a new registration's first due date: one made after the 15th starts with the next
    month's contribution (what the chat told the person), so a first payment covers from the payment day
    through that month, not only the rest of the current one."""
    if months <= 0:
        raise ValueError("months must be positive")
    if protected_until is None or protected_from is None or lapsed(protected_until, paid_on):
        start, first_month = paid_on, paid_on
        if protected_until is None and first_due is not None and first_due.replace(day=1) > paid_on:
            first_month = first_due
    else:
        start, first_month = protected_from, add_months(month_end(protected_until), 1)
    until = month_end(add_months(first_month.replace(day=1), months - 1))
    return Protection(start, until, add_months(until.replace(day=DUE_DAY), 1))


class HasProtection(Protocol):
    """A Member, or a row of one with at least these columns."""

    @property
    def status(self) -> str: ...

    @property
    def protected_until(self) -> date | None: ...


Candidate = TypeVar("Candidate", bound=HasProtection)


def best_member(members: Sequence[Candidate], today: date) -> Candidate | None:
    """The membership to show for a person: active first, then pending, then the latest protection."""

    def rank(m: Candidate) -> tuple[int, int]:
        until = m.protected_until.toordinal() if m.protected_until else 0
        return _STATUS_RANK.get(effective_status(m.status, m.protected_until, today), 9), -until

    return min(members, key=rank, default=None)


def members_by_nik(session: Session, vault: Vault, nik: str) -> list[Member]:
    """Every membership of a NIK (matched under every key in the ring, so it works mid-rotation)."""
    query = select(Member).where(Member.nik_bidx.in_(vault.blind_indexes("nik", nik))).limit(20)
    return list(session.scalars(query))


def member_by_kpj(session: Session, vault: Vault, kpj: str) -> Member | None:
    query = select(Member).where(Member.kpj_bidx.in_(vault.blind_indexes("kpj", kpj)))
    return session.scalars(query).first()


def registration_by_number(session: Session, number: str) -> Registration | None:
    return session.scalars(select(Registration).where(Registration.registration_number == number)).first()
