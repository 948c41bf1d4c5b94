"""One contract suite for every membership backend (storage/membership/base.py):

- `sql` on SQLite (the embedded default),
- `sql` on the real PostgreSQL (a database of this session's own),
- `http` against the project's own membership API (uvicorn on 127.0.0.1) served from `sql` on SQLite.

Each variant also exposes the database behind it, so "one registration, not two" is checked where it
lives and not only through the interface.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.db import Database
from storage.membership.base import (
    AlreadyRegistered,
    ApplicationRejected,
    MembershipBackend,
)
from storage.membership.http import HttpMembership
from storage.membership.sql import SqlMembershipBackend
from storage.models import Registration
from tests.storage.membership_support import (
    TOKEN,
    application,
    new_key,
    postgres_database,
    serve,
    sqlite_database,
)


@dataclass
class Variant:
    backend: MembershipBackend
    db: Database

    def registrations_for(self, nik: str) -> int:
        """How many registration rows hold this NIK (through its blind index: the NIK is encrypted)."""
        bidx = self.db.vault.blind_index("nik", nik)
        with self.db.session() as session:
            found = session.scalar(
                select(func.count()).select_from(Registration).where(Registration.nik_bidx == bidx)
            )
            return int(found or 0)


@pytest.fixture(scope="module")
def contract_sqlite_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    path: Path = tmp_path_factory.mktemp("membership") / "jamsosbot.db"
    with sqlite_database(str(path)) as db:
        yield db


@pytest.fixture(scope="module")
def contract_pg_db() -> Iterator[Database]:
    with postgres_database() as db:
        yield db


@pytest.fixture(scope="module")
def http_backend(contract_sqlite_db: Database) -> Iterator[HttpMembership]:
    with (
        serve(SqlMembershipBackend(contract_sqlite_db)) as url,
        HttpMembership(url, TOKEN, timeout=10) as client,
    ):
        yield client


@pytest.fixture(
    params=["sql-sqlite", pytest.param("sql-postgres", marks=pytest.mark.postgres), "http"],
)
def variant(request: pytest.FixtureRequest) -> Variant:
    if request.param == "sql-sqlite":
        db = request.getfixturevalue("contract_sqlite_db")
        return Variant(SqlMembershipBackend(db), db)
    if request.param == "sql-postgres":
        db = request.getfixturevalue("contract_pg_db")
        return Variant(SqlMembershipBackend(db), db)
    return Variant(request.getfixturevalue("http_backend"), request.getfixturevalue("contract_sqlite_db"))


# -- register -------------------------------------------------------------------------------------------


def test_register_returns_a_receipt_with_payment_instructions(variant: Variant) -> None:
    app = application()
    receipt = variant.backend.register(app, idempotency_key=new_key())
    assert receipt.registration_number
    assert len(receipt.kpj) == 11 and receipt.kpj.isdigit()
    assert receipt.state in ("submitted", "awaiting_payment")
    assert receipt.replayed is False
    assert receipt.payment.payment_code == app.nik  # the NIK is the kode iuran for individual BPU
    assert receipt.payment.amount == app.total_due
    assert receipt.payment.months == app.payment_months
    assert receipt.payment.due_date >= receipt.created_at.date().replace(day=1)
    assert receipt.payment.channels and all(receipt.payment.channels)
    assert variant.registrations_for(app.nik) == 1


def test_a_retried_register_with_the_same_key_returns_the_same_receipt(variant: Variant) -> None:
    app = application()
    key = new_key()
    first = variant.backend.register(app, idempotency_key=key)
    again = variant.backend.register(app, idempotency_key=key)
    assert again == first
    assert again.replayed is True
    assert variant.registrations_for(app.nik) == 1


def test_concurrent_registers_with_one_key_make_one_registration(variant: Variant) -> None:
    """A double-sent message handled by two workers at once: one registration, one receipt for both."""
    app = application()
    key = new_key()
    barrier = threading.Barrier(4)

    def submit(_: int) -> object:
        barrier.wait()
        return variant.backend.register(app, idempotency_key=key)

    with ThreadPoolExecutor(4) as pool:
        receipts = list(pool.map(submit, range(4)))
    assert all(r == receipts[0] for r in receipts)
    assert variant.registrations_for(app.nik) == 1


def test_a_second_application_for_a_registered_nik_is_already_registered(variant: Variant) -> None:
    app = application()
    variant.backend.register(app, idempotency_key=new_key())
    with pytest.raises(AlreadyRegistered) as caught:
        variant.backend.register(replace(app, consent_id="another"), idempotency_key=new_key())
    assert caught.value.status == "awaiting_payment"
    assert variant.registrations_for(app.nik) == 1


def test_an_applicant_aged_65_or_more_is_rejected(variant: Variant) -> None:
    today = date.today()
    born = date(today.year - 66, 3, 10)
    app = application(birth_date=born)
    with pytest.raises(ApplicationRejected) as caught:
        variant.backend.register(app, idempotency_key=new_key())
    assert caught.value.reason == "age_limit"
    assert variant.registrations_for(app.nik) == 0


def test_an_invalid_nik_is_rejected_with_a_reason(variant: Variant) -> None:
    app = replace(application(), nik="1234")
    with pytest.raises(ApplicationRejected) as caught:
        variant.backend.register(app, idempotency_key=new_key())
    assert caught.value.reason == "invalid_nik"


# -- lookup ---------------------------------------------------------------------------------------------


def test_lookup_by_nik_with_the_right_birth_date_finds_the_member(variant: Variant) -> None:
    app = application(occupations=("ojol", "pedagang"), programs=("jkk", "jkm", "jht"))
    receipt = variant.backend.register(app, idempotency_key=new_key())
    record = variant.backend.lookup(nik=app.nik, birth_date=app.birth_date)
    assert record is not None
    assert record.kpj == receipt.kpj
    assert record.full_name == app.full_name
    assert record.status == "awaiting_payment"
    assert set(record.programs) == {"jkk", "jkm", "jht"}
    assert set(record.occupations) == {"ojol", "pedagang"}
    assert record.registration_number == receipt.registration_number


def test_lookup_by_kpj_with_the_right_birth_date_finds_the_member(variant: Variant) -> None:
    app = application()
    receipt = variant.backend.register(app, idempotency_key=new_key())
    by_kpj = variant.backend.lookup(kpj=receipt.kpj, birth_date=app.birth_date)
    by_nik = variant.backend.lookup(nik=app.nik, birth_date=app.birth_date)
    assert by_kpj is not None
    assert by_kpj == by_nik


def test_lookup_with_a_wrong_birth_date_finds_nothing(variant: Variant) -> None:
    app = application()
    receipt = variant.backend.register(app, idempotency_key=new_key())
    wrong = app.birth_date.replace(year=app.birth_date.year - 1)
    assert variant.backend.lookup(nik=app.nik, birth_date=wrong) is None
    assert variant.backend.lookup(kpj=receipt.kpj, birth_date=wrong) is None


def test_lookup_of_an_unknown_member_finds_nothing(variant: Variant) -> None:
    app = application()  # never registered
    assert variant.backend.lookup(nik=app.nik, birth_date=app.birth_date) is None
    assert variant.backend.lookup(kpj="19999999999", birth_date=app.birth_date) is None


def test_lookup_needs_exactly_one_identifier(variant: Variant) -> None:
    with pytest.raises(ValueError):
        variant.backend.lookup(birth_date=date(1990, 1, 1))
    with pytest.raises(ValueError):
        variant.backend.lookup(nik="3204014501900001", kpj="12345678901", birth_date=date(1990, 1, 1))


# -- status and health ----------------------------------------------------------------------------------


def test_status_of_a_registration(variant: Variant) -> None:
    receipt = variant.backend.register(application(), idempotency_key=new_key())
    status = variant.backend.status(receipt.registration_number)
    assert status is not None
    assert status.registration_number == receipt.registration_number
    assert status.state == receipt.state
    assert status.kpj == receipt.kpj
    assert status.updated_at is not None


def test_status_of_an_unknown_number_is_none(variant: Variant) -> None:
    assert variant.backend.status("BPU-1999-999999") is None


def test_ping(variant: Variant) -> None:
    assert variant.backend.ping() is True
