"""The `sql` membership backend beyond the shared contract: idempotency under retries and concurrency, the
rejections, the payment instructions, and the constant-behaviour look-up."""

from __future__ import annotations

import threading
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from bot.clock import WIB, FixedClock
from storage.db import Database
from storage.membership.base import AlreadyRegistered, ApplicationRejected, BackendUnavailable
from storage.membership.sql import PAYMENT_CHANNELS, SqlMembershipBackend
from storage.models import Member, Registration
from tests.storage.factories import SITI_BIRTH, SITI_NIK, application, nik_for

CLOCK = FixedClock(datetime(2026, 3, 10, 9, 0, tzinfo=WIB))


def backend(db: Database) -> SqlMembershipBackend:
    return SqlMembershipBackend(db, clock=CLOCK)


def count(db: Database, model: type[Member] | type[Registration]) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_register_gives_number_kpj_and_payment_instructions(storage_db: Database) -> None:
    receipt = backend(storage_db).register(application(), idempotency_key="k1")
    assert receipt.registration_number.startswith("BPU-2026-")
    assert len(receipt.kpj) == 11 and receipt.kpj.isdigit()
    assert receipt.state == "awaiting_payment"
    assert receipt.payment.payment_code == SITI_NIK
    assert receipt.payment.amount == 80_400 and receipt.payment.months == 3
    assert receipt.payment.due_date == date(2026, 3, 15)  # registered on the 10th: this month's 15th
    assert receipt.payment.channels == PAYMENT_CHANNELS
    assert receipt.created_at.tzinfo is not None


def test_due_date_moves_to_next_month_after_the_15th(storage_db: Database) -> None:
    late = SqlMembershipBackend(storage_db, clock=FixedClock(datetime(2026, 12, 20, tzinfo=WIB)))
    assert late.register(application(), idempotency_key="k").payment.due_date == date(2027, 1, 15)


def test_retried_register_returns_the_same_receipt_and_one_row(storage_db: Database) -> None:
    b = backend(storage_db)
    first = b.register(application(), idempotency_key="same-key")
    again = b.register(application(), idempotency_key="same-key")
    assert again == first and again.replayed and not first.replayed
    assert count(storage_db, Registration) == 1 and count(storage_db, Member) == 1


def test_concurrent_register_with_one_key_makes_one_registration(storage_db: Database) -> None:
    b = backend(storage_db)
    results: list[object] = []
    barrier = threading.Barrier(6)

    def submit() -> None:
        barrier.wait()
        try:
            results.append(b.register(application(), idempotency_key="twin"))
        except Exception as exc:  # collected, asserted below
            results.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    numbers = {getattr(r, "registration_number", repr(r)) for r in results}
    assert len(numbers) == 1 and len(results) == 6, results
    assert count(storage_db, Registration) == 1 and count(storage_db, Member) == 1


def test_concurrent_register_one_nik_two_keys_one_wins(storage_db: Database) -> None:
    b = backend(storage_db)
    results: list[object] = []
    barrier = threading.Barrier(4)

    def submit(key: str) -> None:
        barrier.wait()
        try:
            results.append(b.register(application(), idempotency_key=key))
        except AlreadyRegistered as exc:
            results.append(exc)

    threads = [threading.Thread(target=submit, args=(f"key-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(r, AlreadyRegistered) for r in results) == 3
    assert count(storage_db, Registration) == 1


def test_second_application_for_a_pending_nik_is_already_registered(storage_db: Database) -> None:
    b = backend(storage_db)
    b.register(application(), idempotency_key="a")
    with pytest.raises(AlreadyRegistered) as caught:
        b.register(application(), idempotency_key="b")
    assert caught.value.status == "awaiting_payment"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"birth_date": date(1960, 6, 5), "nik": nik_for(date(1960, 6, 5), female=True)}, "age_limit"),
        ({"nik": "32010145069000"}, "invalid_nik"),
        ({"nik": "9901014506900003"}, "invalid_nik"),
        ({"birth_date": date(1991, 6, 5)}, "nik_birth_date_mismatch"),
        ({"monthly_income": 900_000}, "income_below_minimum"),
        ({"programs": ("jkk",)}, "invalid_programs"),
        ({"occupations": ("petani", "nelayan", "sopir")}, "invalid_occupations"),
        ({"payment_months": 4}, "invalid_payment_period"),
        ({"total_due": 0}, "invalid_amount"),
        ({"monthly_contribution": -1}, "invalid_amount"),
    ],
)
def test_rejections(sqlite_db: Database, overrides: dict[str, object], reason: str) -> None:
    with pytest.raises(ApplicationRejected) as caught:
        backend(sqlite_db).register(application(**overrides), idempotency_key="r")
    assert caught.value.reason == reason
    assert count(sqlite_db, Registration) == 0


def test_age_limit_is_65_on_the_day_of_registration(sqlite_db: Database) -> None:
    born = date(1961, 3, 11)  # turns 65 the day after the pinned clock
    app = application(birth_date=born, nik=nik_for(born))
    assert backend(sqlite_db).register(app, idempotency_key="young").state == "awaiting_payment"


def test_lookup_needs_both_factors(storage_db: Database) -> None:
    b = backend(storage_db)
    receipt = b.register(application(), idempotency_key="k")
    record = b.lookup(nik=SITI_NIK, birth_date=SITI_BIRTH)
    assert record is not None
    assert record.kpj == receipt.kpj and record.full_name == "Siti Rahmawati Kusumadewi"
    assert record.status == "awaiting_payment" and record.registration_number == receipt.registration_number
    assert record.next_due_date == date(2026, 3, 15)
    assert b.lookup(kpj=receipt.kpj, birth_date=SITI_BIRTH) == record
    assert b.lookup(nik=SITI_NIK, birth_date=date(1990, 6, 6)) is None
    assert b.lookup(kpj=receipt.kpj, birth_date=date(1990, 5, 6)) is None
    assert b.lookup(nik=nik_for(SITI_BIRTH, female=True, serial=9), birth_date=SITI_BIRTH) is None
    assert b.lookup(nik="3201 0145 0690 0003", birth_date=SITI_BIRTH) == record  # typed with spaces


def test_lookup_needs_exactly_one_identifier(sqlite_db: Database) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        backend(sqlite_db).lookup(birth_date=SITI_BIRTH)


def test_status_of_a_registration(storage_db: Database) -> None:
    b = backend(storage_db)
    receipt = b.register(application(), idempotency_key="k")
    status = b.status(receipt.registration_number)
    assert status is not None and status.state == "awaiting_payment" and status.kpj == receipt.kpj
    assert b.status("BPU-2026-999999") is None
    assert b.ping()


def test_database_down_is_backend_unavailable(tmp_path, vault) -> None:  # type: ignore[no-untyped-def]
    from storage.db import make_engine

    down = Database(make_engine("postgresql+psycopg://root@127.0.0.1:1/nothing", pool_size=1), vault)
    b = SqlMembershipBackend(down, clock=CLOCK)
    assert b.ping() is False
    with pytest.raises(BackendUnavailable):
        b.lookup(nik=SITI_NIK, birth_date=SITI_BIRTH)
    with pytest.raises(BackendUnavailable):
        b.register(application(), idempotency_key="k")


def test_a_kpj_number_already_taken_is_replaced_by_a_free_one(
    storage_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new member's random KPJ that another member holds (1 in 9·10^10) gets another number, and the
    registration's own copy of the KPJ follows it."""
    from storage.membership import sql

    b = backend(storage_db)
    first = b.register(application(), idempotency_key="first")
    numbers = iter([first.kpj, "12345678901"])
    monkeypatch.setattr(sql, "_new_kpj", lambda: next(numbers))
    other = application(nik=nik_for(date(1991, 2, 3), serial=7), birth_date=date(1991, 2, 3))
    receipt = b.register(other, idempotency_key="second")
    assert receipt.kpj == "12345678901"
    assert b.status(receipt.registration_number).kpj == "12345678901"  # type: ignore[union-attr]
    assert b.lookup(kpj="12345678901", birth_date=date(1991, 2, 3)) is not None
    assert count(storage_db, Member) == 2
