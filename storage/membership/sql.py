"""The `sql` membership backend: membership kept in the project's own tables (storage.models).

- `lookup` finds members through the NIK or KPJ blind index and opens the birth date only to compare it,
  in constant time. A wrong NIK and a wrong birth date take the same path and both give None.
- `register` is idempotent on the key through the unique constraint on `registrations.idempotency_key`
  (insert first, and on a conflict answer with the row that won), and a partial unique index allows one
  live registration per NIK, so neither a retried nor a concurrent submission makes a second registration.
- Rejections are `ApplicationRejected` with a machine reason: invalid_nik, nik_birth_date_mismatch,
  age_limit, income_below_minimum, invalid_programs, invalid_occupations, invalid_payment_period,
  invalid_amount.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from bot.clock import WIB, now_wib
from storage.db import Database, insert_ignoring_duplicates
from storage.membership.base import (
    AlreadyRegistered,
    ApplicationRejected,
    BackendUnavailable,
    BpuApplication,
    MemberRecord,
    MemberStatus,
    PaymentInstructions,
    Program,
    RegistrationReceipt,
    RegistrationState,
    RegistrationStatus,
)
from storage.models import LIVE_STATES, Member, Registration
from storage.ops.identity import InvalidIdentity, age_on, digits, parse_nik
from storage.repo.members import (
    MemberIdentity,
    best_member,
    effective_status,
    first_due_date,
    members_by_nik,
    open_identity,
    seal_identity,
)

log = logging.getLogger(__name__)

AGE_LIMIT = 65  # BPU registration requires being younger than 65 (domain.md §12)
MIN_INCOME = 1_000_000
PAYMENT_PERIODS = (1, 2, 3, 6, 12)
PAYMENT_CHANNELS = (
    "ATM, m-banking atau teller: BNI, BRI, Mandiri, BTN, BJB, BSI, BCA, CIMB Niaga, Muamalat",
    "Kantor Pos / Pospay",
    "DANA, GoPay, OVO, ShopeePay, LinkAja, Tokopedia",
    "Autodebet di aplikasi JMO",
)
_KPJ_ATTEMPTS = 8


_LookupQuery = Select[bytes, str, list[str], list[str], date | None, date | None, date | None, str | None]


def _lookup_query(index: Any) -> _LookupQuery:
    # Core, built once: this runs on every status check (one round trip, the registration number joined)
    return (
        select(
            Member.identity_enc,
            Member.status,
            Member.programs,
            Member.occupations,
            Member.protected_from,
            Member.protected_until,
            Member.next_due_date,
            Registration.registration_number,
        )
        .outerjoin(Registration, Registration.id == Member.registration_id)
        .where(index.in_(bindparam("indexes", expanding=True)))
        .limit(20)
    )


_LOOKUP = {"nik": _lookup_query(Member.nik_bidx), "kpj": _lookup_query(Member.kpj_bidx)}


class SqlMembershipBackend:
    """MembershipBackend over a `Database`. Thread-safe; one instance per process."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = now_wib) -> None:
        self.db = db
        self.clock = clock
        # opened when nothing matched, so a miss costs what a hit costs
        self._dummy = seal_identity(db.vault, MemberIdentity("0" * 16, "0" * 11, "-", date(1970, 1, 1)))

    def _today(self) -> date:
        return self.clock().astimezone(WIB).date()

    # -- lookup ----------------------------------------------------------------------------------------

    def lookup(
        self, *, birth_date: date, nik: str | None = None, kpj: str | None = None
    ) -> MemberRecord | None:
        if (nik is None) == (kpj is None):
            raise ValueError("give exactly one of nik or kpj")
        vault = self.db.vault
        today = self._today()
        wanted = birth_date.isoformat().encode()
        by, value = ("nik", nik) if nik is not None else ("kpj", kpj or "")
        with _available(), self.db.reader() as conn:
            candidates = conn.execute(_LOOKUP[by], {"indexes": vault.blind_indexes(by, digits(value))}).all()
        matching = []
        for row in candidates:
            identity = open_identity(vault, row.identity_enc)
            if hmac.compare_digest(identity.birth_date.isoformat().encode(), wanted):
                matching.append((row, identity))
        if not candidates:
            dummy = open_identity(vault, self._dummy)
            hmac.compare_digest(dummy.birth_date.isoformat().encode(), wanted)
        chosen = best_member([row for row, _ in matching], today)
        log.debug(
            "member look-up by %s: %s", "nik" if nik is not None else "kpj", "found" if chosen else "none"
        )
        if chosen is None:
            return None
        identity = next(i for row, i in matching if row is chosen)
        return MemberRecord(
            kpj=identity.kpj,
            full_name=identity.full_name,
            status=_member_status(effective_status(chosen.status, chosen.protected_until, today)),
            programs=_programs(chosen.programs),
            protected_from=chosen.protected_from,
            protected_until=chosen.protected_until,
            next_due_date=chosen.next_due_date,
            registration_number=chosen.registration_number,
            occupations=tuple(chosen.occupations or ()),
        )

    # -- register --------------------------------------------------------------------------------------

    def register(self, application: BpuApplication, *, idempotency_key: str) -> RegistrationReceipt:
        if not idempotency_key or len(idempotency_key) > 200:
            raise ValueError("idempotency_key must be 1-200 characters")
        nik = digits(application.nik)
        today = self._today()
        self._validate(application, nik, today)
        vault = self.db.vault
        try:
            with _available(), self.db.session() as session, session.begin():
                existing = self._by_key(session, idempotency_key)
                if existing is not None:
                    log.info(
                        "registration %s answered again for a retried submission",
                        existing.registration_number,
                    )
                    return self._receipt(existing, replayed=True)
                live = self._live_status(session, nik, today)
                if live is not None:
                    # a twin with this key may have committed since the first read (READ COMMITTED)
                    existing = self._by_key(session, idempotency_key)
                    if existing is not None:
                        return self._receipt(existing, replayed=True)
                    log.info("application refused: a membership is already %s", live)
                    raise AlreadyRegistered(live)
                registration = self._insert_registration(session, application, nik, idempotency_key, today)
                log.info(
                    "registration %s created (%s)", registration.registration_number, application.channel
                )
                return self._receipt(registration)
        except IntegrityError:
            # Another submission won the race: the same key (answer with its receipt) or another live
            # registration for this NIK.
            with _available(), self.db.session() as session:
                existing = self._by_key(session, idempotency_key)
                if existing is not None:
                    return self._receipt(existing, replayed=True)
                winner = session.scalars(
                    select(Registration.state).where(
                        Registration.nik_bidx.in_(vault.blind_indexes("nik", nik)),
                        Registration.state.in_(LIVE_STATES),
                    )
                ).first()
            raise AlreadyRegistered("active" if winner == "active" else "awaiting_payment") from None

    def _validate(self, application: BpuApplication, nik: str, today: date) -> None:
        try:
            self._check(application, nik, today)
        except ApplicationRejected as exc:
            log.info("application rejected: %s", exc.reason)
            raise

    def _check(self, application: BpuApplication, nik: str, today: date) -> None:
        try:
            info = parse_nik(nik)
        except InvalidIdentity:
            raise ApplicationRejected("invalid_nik") from None
        if not info.matches(application.birth_date):
            raise ApplicationRejected("nik_birth_date_mismatch")
        if age_on(application.birth_date, today) >= AGE_LIMIT:
            raise ApplicationRejected("age_limit")
        if application.monthly_income < MIN_INCOME:
            raise ApplicationRejected("income_below_minimum")
        programs = set(application.programs)
        if not {"jkk", "jkm"} <= programs or not programs <= {"jkk", "jkm", "jht"}:
            raise ApplicationRejected("invalid_programs")
        if not 1 <= len(application.occupations) <= 2:
            raise ApplicationRejected("invalid_occupations")
        if application.payment_months not in PAYMENT_PERIODS:
            raise ApplicationRejected("invalid_payment_period")
        if application.monthly_contribution <= 0 or application.total_due <= 0:
            raise ApplicationRejected("invalid_amount")

    def _insert_registration(
        self, session: Session, app: BpuApplication, nik: str, key: str, today: date
    ) -> Registration:
        vault = self.db.vault
        kpj = _new_kpj()
        registration = Registration(
            idempotency_key=key,
            state="awaiting_payment",
            nik_enc=vault.encrypt_text("nik", nik),
            nik_bidx=vault.blind_index("nik", nik),
            full_name_enc=vault.encrypt_text("full_name", app.full_name.strip()),
            birth_date_enc=vault.encrypt_date("birth_date", app.birth_date),
            phone_enc=vault.encrypt_text("phone", app.phone),
            phone_bidx=vault.blind_index("phone", app.phone),
            address_enc=vault.encrypt_text("address", app.address),
            monthly_income_enc=vault.encrypt_int("monthly_income", app.monthly_income),
            email_enc=vault.encrypt_text("email", app.email),
            city=app.city,
            postal_code=app.postal_code,
            branch_office=app.branch_office,
            occupations=list(app.occupations),
            programs=list(app.programs),
            payment_months=app.payment_months,
            monthly_contribution=app.monthly_contribution,
            total_due=app.total_due,
            due_date=first_due_date(today),
            consent_ref=app.consent_id,
            channel=app.channel,
            kpj_enc=vault.encrypt_text("kpj", kpj),
        )
        session.add(registration)
        session.flush()  # the unique key is checked here: a concurrent twin fails now, not at commit
        registration.registration_number = f"BPU-{today.year}-{registration.id:06d}"
        self._insert_member(session, app, nik, registration, kpj)  # flushes the number with it
        return registration

    def _insert_member(
        self, session: Session, app: BpuApplication, nik: str, registration: Registration, kpj: str
    ) -> None:
        """The member row of a new registration, under `kpj` or, should that number be taken, another
        (the registration's copy of the KPJ follows). One INSERT … ON CONFLICT DO NOTHING per attempt: no
        savepoint round trips for a collision that almost never happens (1 in 9·10^10 per member)."""
        vault = self.db.vault
        dialect = session.get_bind().dialect.name
        for attempt in range(_KPJ_ATTEMPTS):
            if attempt:
                kpj = _new_kpj()
                registration.kpj_enc = vault.encrypt_text("kpj", kpj)
            identity = MemberIdentity(
                nik, kpj, app.full_name.strip(), app.birth_date, app.phone, app.address, app.monthly_income
            )
            values = {
                "kpj_bidx": vault.blind_index("kpj", kpj),
                "nik_bidx": vault.blind_index("nik", nik),
                "identity_enc": seal_identity(vault, identity),
                "status": "awaiting_payment",
                "programs": list(app.programs),
                "occupations": list(app.occupations),
                "next_due_date": registration.due_date,
                "registration_channel": app.channel,
                "registration_id": registration.id,
            }
            insert = insert_ignoring_duplicates(dialect, Member, ["kpj_bidx"]).values(**values)
            if session.execute(insert.returning(Member.id)).first() is not None:
                return
        raise RuntimeError("could not assign a free KPJ number")

    # -- status ----------------------------------------------------------------------------------------

    def status(self, registration_number: str) -> RegistrationStatus | None:
        with _available(), self.db.session() as session:
            row = session.scalars(
                select(Registration).where(Registration.registration_number == registration_number.strip())
            ).first()
            if row is None:
                return None
            return RegistrationStatus(
                registration_number=registration_number.strip(),
                state=_registration_state(row.state),
                kpj=self.db.vault.decrypt_text("kpj", row.kpj_enc),
                updated_at=row.updated_at,
            )

    def ping(self) -> bool:
        try:
            return self.db.ping()
        except (OperationalError, InterfaceError):
            return False

    # -- helpers ---------------------------------------------------------------------------------------

    def _live_status(self, session: Session, nik: str, today: date) -> MemberStatus | None:
        for member in members_by_nik(session, self.db.vault, nik):
            status = effective_status(member.status, member.protected_until, today)
            if status in ("active", "awaiting_payment"):
                return _member_status(status)
        return None

    @staticmethod
    def _by_key(session: Session, key: str) -> Registration | None:
        return session.scalars(select(Registration).where(Registration.idempotency_key == key)).first()

    def _receipt(self, row: Registration, *, replayed: bool = False) -> RegistrationReceipt:
        vault = self.db.vault
        return RegistrationReceipt(
            registration_number=row.registration_number or "",
            kpj=vault.decrypt_text("kpj", row.kpj_enc) or "",
            state=_registration_state(row.state),
            payment=PaymentInstructions(
                payment_code=vault.decrypt_text("nik", row.nik_enc) or "",
                amount=row.total_due,
                months=row.payment_months,
                due_date=row.due_date,
                channels=PAYMENT_CHANNELS,
            ),
            created_at=row.created_at,
            replayed=replayed,
        )


def _new_kpj() -> str:
    return str(secrets.randbelow(9 * 10**10) + 10**10)  # 11 digits, no leading zero


@contextmanager
def _available() -> Iterator[None]:
    """The database not answering is BackendUnavailable (safe to retry), like the http backend's outage."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        log.warning("membership database unavailable: %s", type(exc).__name__)
        raise BackendUnavailable("membership database unavailable") from exc


def _member_status(value: str) -> MemberStatus:
    if value not in ("active", "inactive", "awaiting_payment", "rejected"):
        raise ValueError(f"unknown member status {value!r}")
    return value  # type: ignore[return-value]


def _registration_state(value: str) -> RegistrationState:
    if value not in ("submitted", "awaiting_payment", "active", "rejected"):
        raise ValueError(f"unknown registration state {value!r}")
    return value  # type: ignore[return-value]


def _programs(values: list[str]) -> tuple[Program, ...]:
    return tuple(p for p in values if p in ("jkk", "jkm", "jht"))  # type: ignore[misc]
