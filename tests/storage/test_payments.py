"""Protection period rules and `mark-paid`: awaiting_payment → active, extensions, lapse after 3 months."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from bot.clock import WIB, FixedClock
from storage.db import Database
from storage.membership.sql import SqlMembershipBackend
from storage.models import AuditEntry, Payment
from storage.ops.payments import PaymentError, mark_paid
from storage.repo.members import effective_status, first_due_date, protection_after_payment
from tests.storage.factories import SITI_BIRTH, SITI_NIK, application


@pytest.mark.parametrize(
    ("day", "due"),
    [
        (date(2026, 3, 1), date(2026, 3, 15)),
        (date(2026, 3, 15), date(2026, 3, 15)),
        (date(2026, 3, 16), date(2026, 4, 15)),
        (date(2026, 12, 31), date(2027, 1, 15)),
    ],
)
def test_first_due_date_is_the_15th(day: date, due: date) -> None:
    assert first_due_date(day) == due


def test_first_payment_protects_from_the_payment_day_through_the_paid_months() -> None:
    p = protection_after_payment(None, None, 3, date(2026, 1, 20))
    assert (p.protected_from, p.protected_until, p.next_due_date) == (
        date(2026, 1, 20),
        date(2026, 3, 31),
        date(2026, 4, 15),
    )


def test_a_registration_after_the_15th_is_paid_from_its_first_contribution_month() -> None:
    # registered 21 Nov: the chat said "mulai Desember", due 15 Dec; paid 22 Nov for one month
    p = protection_after_payment(None, None, 1, date(2026, 11, 22), first_due=date(2026, 12, 15))
    assert (p.protected_from, p.protected_until, p.next_due_date) == (
        date(2026, 11, 22),
        date(2026, 12, 31),
        date(2027, 1, 15),
    )
    # registered before the 15th: the first contribution month is the current one
    p = protection_after_payment(None, None, 1, date(2026, 11, 10), first_due=date(2026, 11, 15))
    assert (p.protected_until, p.next_due_date) == (date(2026, 11, 30), date(2026, 12, 15))


def test_a_later_payment_continues_after_the_last_paid_month() -> None:
    p = protection_after_payment(
        date(2025, 6, 2), date(2026, 1, 31), 1, date(2026, 3, 10)
    )  # Feb was in arrears
    assert (p.protected_from, p.protected_until, p.next_due_date) == (
        date(2025, 6, 2),
        date(2026, 2, 28),
        date(2026, 3, 15),
    )
    year = protection_after_payment(date(2025, 6, 2), date(2026, 2, 28), 12, date(2026, 2, 10))
    assert year.protected_until == date(2027, 2, 28)


def test_after_three_unpaid_months_the_membership_lapses_and_a_payment_starts_over() -> None:
    until = date(2026, 1, 31)
    assert effective_status("active", until, date(2026, 4, 30)) == "active"  # Feb, Mar, Apr in arrears
    assert effective_status("active", until, date(2026, 5, 1)) == "inactive"
    assert effective_status("awaiting_payment", None, date(2030, 1, 1)) == "awaiting_payment"
    p = protection_after_payment(date(2025, 1, 5), until, 2, date(2026, 6, 3))
    assert (p.protected_from, p.protected_until) == (date(2026, 6, 3), date(2026, 7, 31))


def test_mark_paid_activates_a_registration(storage_db: Database) -> None:
    clock = FixedClock(datetime(2026, 3, 10, 9, 0, tzinfo=WIB))
    backend = SqlMembershipBackend(storage_db, clock=clock)
    receipt = backend.register(application(), idempotency_key="k")
    result = mark_paid(
        storage_db, receipt.registration_number, 3, paid_on=date(2026, 3, 12), amount=80_400, actor="t"
    )
    assert (
        result.status_before == "awaiting_payment"
        and result.registration_number == receipt.registration_number
    )
    assert (result.protected_from, result.protected_until) == (date(2026, 3, 12), date(2026, 5, 31))
    status = backend.status(receipt.registration_number)
    assert status is not None and status.state == "active"
    record = backend.lookup(nik=SITI_NIK, birth_date=SITI_BIRTH)
    assert record is not None and record.status == "active" and record.next_due_date == date(2026, 6, 15)

    by_kpj = mark_paid(storage_db, receipt.kpj, 1, paid_on=date(2026, 5, 20))
    assert by_kpj.protected_until == date(2026, 6, 30)
    by_nik = mark_paid(storage_db, SITI_NIK, 1, paid_on=date(2026, 6, 10))
    assert by_nik.protected_until == date(2026, 7, 31)
    with storage_db.session() as s:
        assert [p.months for p in s.scalars(select(Payment).order_by(Payment.id))] == [3, 1, 1]
        assert s.scalars(select(AuditEntry.action)).all() == ["mark_paid"] * 3


@pytest.mark.parametrize(
    ("reference", "months", "message"),
    [
        ("BPU-2026-000999", 1, "no membership for that registration"),
        ("12345678901", 1, "no membership with that KPJ"),
        ("3201014506900099", 1, "no membership for that NIK"),
        ("hello", 1, "give a NIK"),
        ("12345678901", 0, "months must be"),
    ],
)
def test_mark_paid_refuses_what_it_cannot_find(
    storage_db: Database, reference: str, months: int, message: str
) -> None:
    with pytest.raises(PaymentError, match=message):
        mark_paid(storage_db, reference, months)
