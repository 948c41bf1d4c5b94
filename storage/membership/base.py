"""The membership backend: where membership lives (the project's own tables, or the agency's core system).

One interface, two implementations (`sql` in storage/membership/sql.py, `http` in
storage/membership/http.py), one contract test suite (tests/storage/test_membership_contract.py).
All methods are synchronous; async callers run them in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, Protocol

Program = Literal["jkk", "jkm", "jht"]
MemberStatus = Literal["active", "inactive", "awaiting_payment", "rejected"]
RegistrationState = Literal["submitted", "awaiting_payment", "active", "rejected"]


class MembershipError(Exception):
    """Base of the backend's errors."""


class BackendUnavailable(MembershipError):
    """The backend did not answer (down, timed out, circuit open). Safe to retry later."""


class AlreadyRegistered(MembershipError):
    """An active or pending membership already exists for this NIK."""

    def __init__(self, status: MemberStatus) -> None:
        super().__init__(f"already registered ({status})")
        self.status = status


class ApplicationRejected(MembershipError):
    """The backend refused the application; `reason` is a machine code (e.g. age_limit, invalid_nik)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class BpuApplication:
    """A BPU (informal worker) self-registration, as collected in the chat (domain.md §5.1)."""

    nik: str
    full_name: str
    birth_date: date
    phone: str  # E.164
    city: str  # city/regency of domicile
    occupations: tuple[str, ...]  # 1 or 2 occupation values from the project's list
    monthly_income: int  # rupiah, declared; >= 1_000_000
    programs: tuple[Program, ...]  # ("jkk", "jkm") or ("jkk", "jkm", "jht")
    payment_months: int  # 1, 2, 3, 6 or 12
    monthly_contribution: int  # rupiah, computed by the caller (flows.contribution) for the first month
    total_due: int  # rupiah for the whole first payment period (discounts applied month by month)
    channel: str  # telegram / whatsapp / rest / console
    consent_id: str  # reference of the recorded consent
    address: str | None = None
    postal_code: str | None = None
    branch_office: str | None = None  # the BPJS branch the member chose (domain.md §5.1), when asked
    email: str | None = None


@dataclass(frozen=True)
class PaymentInstructions:
    payment_code: str  # the 16-digit NIK is the kode iuran for individual BPU
    amount: int  # rupiah, for the whole chosen period
    months: int
    due_date: date
    channels: tuple[str, ...]  # where to pay, user-facing names


@dataclass(frozen=True)
class RegistrationReceipt:
    registration_number: str
    kpj: str  # 11 digits
    state: RegistrationState
    payment: PaymentInstructions
    created_at: datetime
    # True when this receipt answers an idempotency key seen before (no new registration was made); the
    # HTTP API then answers 200 instead of 201. Not part of equality: a replay equals the original.
    replayed: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class MemberRecord:
    """What a successful lookup returns. The caller masks it before showing it."""

    kpj: str
    full_name: str
    status: MemberStatus
    programs: tuple[Program, ...]
    protected_from: date | None
    protected_until: date | None
    next_due_date: date | None
    registration_number: str | None = None
    occupations: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class RegistrationStatus:
    registration_number: str
    state: RegistrationState
    kpj: str | None
    updated_at: datetime


class MembershipBackend(Protocol):
    def lookup(
        self, *, birth_date: date, nik: str | None = None, kpj: str | None = None
    ) -> MemberRecord | None:
        """The member whose NIK (or KPJ) *and* birth date match, else None (never says which part failed)."""
        ...

    def register(self, application: BpuApplication, *, idempotency_key: str) -> RegistrationReceipt:
        """Submit an application. The same idempotency key always returns the same receipt, never a second
        registration. Raises AlreadyRegistered, ApplicationRejected or BackendUnavailable."""
        ...

    def status(self, registration_number: str) -> RegistrationStatus | None:
        """The state of one registration, or None if the number is unknown."""
        ...

    def ping(self) -> bool:
        """True when the backend answers (for /health)."""
        ...
