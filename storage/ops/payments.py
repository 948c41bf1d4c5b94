"""`jamsosbot mark-paid`: record a contribution payment. It activates a registration that awaited its first
payment and extends the protection period by the paid months (rules in storage.repo.members)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import now_wib
from storage.db import Database
from storage.models import Member, Payment, Registration, utcnow
from storage.ops.identity import digits
from storage.repo.members import (
    member_by_kpj,
    members_by_nik,
    protection_after_payment,
    registration_by_number,
)
from storage.repo.staff import add_audit

log = logging.getLogger(__name__)
REGISTRATION_NUMBER = re.compile(r"BPU-\d{4}-\d{6,}")
MAX_MONTHS = 24


class PaymentError(ValueError):
    """The payment cannot be recorded (unknown member, ambiguous NIK, bad month count)."""


@dataclass(frozen=True)
class PaymentResult:
    member_id: int
    registration_number: str | None
    status_before: str
    protected_from: date
    protected_until: date
    next_due_date: date


def _member_for(session: Session, db: Database, reference: str) -> Member:
    reference = reference.strip()
    if REGISTRATION_NUMBER.fullmatch(reference.upper()):
        registration = registration_by_number(session, reference.upper())
        member = None
        if registration is not None:
            member = session.scalars(select(Member).where(Member.registration_id == registration.id)).first()
        if member is None:
            raise PaymentError("no membership for that registration number")
        return member
    number = digits(reference)
    if len(number) == 11 and number.isdigit():
        found = member_by_kpj(session, db.vault, number)
        if found is None:
            raise PaymentError("no membership with that KPJ number")
        return found
    if len(number) == 16 and number.isdigit():
        members = members_by_nik(session, db.vault, number)
        pending = [m for m in members if m.status == "awaiting_payment"]
        if len(pending) == 1 or len(members) == 1:
            return (pending or members)[0]
        if not members:
            raise PaymentError("no membership for that NIK")
        raise PaymentError(f"that NIK holds {len(members)} memberships: give the KPJ or registration number")
    raise PaymentError("give a NIK (16 digits), a KPJ number (11 digits) or a registration number (BPU-…)")


def mark_paid(
    db: Database,
    reference: str,
    months: int,
    *,
    paid_on: date | None = None,
    amount: int | None = None,
    actor: str = "cli",
) -> PaymentResult:
    """Record `months` of contributions paid for the membership `reference` (NIK, KPJ or registration
    number). One transaction: the member, its registration, the payment row and the audit entry."""
    if not 1 <= months <= MAX_MONTHS:
        raise PaymentError(f"months must be between 1 and {MAX_MONTHS}")
    if amount is not None and amount <= 0:
        raise PaymentError("amount must be positive")
    paid_on = paid_on or now_wib().date()
    with db.transaction() as session:
        member = _member_for(session, db, reference)
        before = member.status
        first_due = member.next_due_date if member.status == "awaiting_payment" else None
        period = protection_after_payment(
            member.protected_from, member.protected_until, months, paid_on, first_due=first_due
        )
        member.status = "active"
        member.protected_from = period.protected_from
        member.protected_until = period.protected_until
        member.next_due_date = period.next_due_date
        number = None
        if member.registration_id is not None:
            registration = session.get(Registration, member.registration_id)
            if registration is not None:
                number = registration.registration_number
                if registration.state in ("submitted", "awaiting_payment"):
                    registration.state, registration.paid_at = "active", utcnow()
        session.add(
            Payment(
                member_id=member.id,
                months=months,
                paid_on=paid_on,
                amount=amount,
                protected_until=period.protected_until,
                recorded_by=actor[:60],
            )
        )
        details = {
            "months": months,
            "status_before": before,
            "protected_until": period.protected_until.isoformat(),
        }
        add_audit(session, actor=actor, action="mark_paid", target=f"member:{member.id}", details=details)
        session.flush()
        log.info("payment of %d months recorded for membership #%d by %s", months, member.id, actor)
        return PaymentResult(
            member.id, number, before, period.protected_from, period.protected_until, period.next_due_date
        )
