"""The membership HTTP API's JSON bodies (docs/membership-api.md), shared by the server (api.py) and the
client (http.py), with conversions to and from the backend's dataclasses (base.py).

Request models check shape and types only; domain rules (a NIK's 16 digits, the age limit, the
income floor...) are the backend's, so a bad value gets the same answer over HTTP as in-process: an
`ApplicationRejected` reason (422), or no match (404). Unknown fields are ignored in both directions so
either side can add a field without breaking the other.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from storage.membership.base import (
    BpuApplication,
    MemberRecord,
    MemberStatus,
    PaymentInstructions,
    Program,
    RegistrationReceipt,
    RegistrationState,
    RegistrationStatus,
)

ErrorCode = Literal[
    "invalid_request",
    "unauthorized",
    "not_found",
    "already_registered",
    "application_rejected",
    "unavailable",
]

# The idempotency key the API accepts: 1-200 visible ASCII characters (a UUID is typical).
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,200}$"

_Short = Field(min_length=1, max_length=100)


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class LookupRequest(_Body):
    """Exactly one of `nik` and `kpj`, and the birth date as the second factor."""

    birth_date: date
    nik: str | None = Field(None, min_length=1, max_length=32)
    kpj: str | None = Field(None, min_length=1, max_length=32)

    @model_validator(mode="after")
    def _one_identifier(self) -> LookupRequest:
        if (self.nik is None) == (self.kpj is None):
            raise ValueError("give exactly one of nik and kpj")
        return self


class Member(_Body):
    kpj: str
    full_name: str
    status: MemberStatus
    programs: list[Program]
    protected_from: date | None
    protected_until: date | None
    next_due_date: date | None
    registration_number: str | None = None
    occupations: list[str] = Field(default_factory=list)

    @classmethod
    def from_domain(cls, record: MemberRecord) -> Member:
        return cls(
            kpj=record.kpj,
            full_name=record.full_name,
            status=record.status,
            programs=list(record.programs),
            protected_from=record.protected_from,
            protected_until=record.protected_until,
            next_due_date=record.next_due_date,
            registration_number=record.registration_number,
            occupations=list(record.occupations),
        )

    def to_domain(self) -> MemberRecord:
        return MemberRecord(
            kpj=self.kpj,
            full_name=self.full_name,
            status=self.status,
            programs=tuple(self.programs),
            protected_from=self.protected_from,
            protected_until=self.protected_until,
            next_due_date=self.next_due_date,
            registration_number=self.registration_number,
            occupations=tuple(self.occupations),
        )


class Application(_Body):
    """A BPU application: the fields of `BpuApplication`, one for one."""

    nik: str = Field(min_length=1, max_length=32)
    full_name: str = Field(min_length=1, max_length=200)
    birth_date: date
    phone: str = Field(min_length=1, max_length=32)
    city: str = _Short
    occupations: list[str] = Field(min_length=1, max_length=5)
    monthly_income: int
    programs: list[Program] = Field(min_length=1, max_length=5)
    payment_months: int
    monthly_contribution: int
    total_due: int
    channel: str = Field(min_length=1, max_length=20)
    consent_id: str = Field(min_length=1, max_length=64)
    address: str | None = Field(None, max_length=500)
    postal_code: str | None = Field(None, max_length=10)

    @classmethod
    def from_domain(cls, app: BpuApplication) -> Application:
        fields: dict[str, Any] = {name: getattr(app, name) for name in cls.model_fields}
        fields["occupations"] = list(app.occupations)
        fields["programs"] = list(app.programs)
        return cls(**fields)

    def to_domain(self) -> BpuApplication:
        fields: dict[str, Any] = dict(self)
        fields["occupations"] = tuple(self.occupations)
        fields["programs"] = tuple(self.programs)
        return BpuApplication(**fields)


class Payment(_Body):
    payment_code: str
    amount: int
    months: int
    due_date: date
    channels: list[str]


class Receipt(_Body):
    registration_number: str
    kpj: str
    state: RegistrationState
    payment: Payment
    created_at: datetime

    @classmethod
    def from_domain(cls, receipt: RegistrationReceipt) -> Receipt:
        p = receipt.payment
        return cls(
            registration_number=receipt.registration_number,
            kpj=receipt.kpj,
            state=receipt.state,
            payment=Payment(
                payment_code=p.payment_code,
                amount=p.amount,
                months=p.months,
                due_date=p.due_date,
                channels=list(p.channels),
            ),
            created_at=receipt.created_at,
        )

    def to_domain(self, *, replayed: bool) -> RegistrationReceipt:
        p = self.payment
        return RegistrationReceipt(
            registration_number=self.registration_number,
            kpj=self.kpj,
            state=self.state,
            payment=PaymentInstructions(
                payment_code=p.payment_code,
                amount=p.amount,
                months=p.months,
                due_date=p.due_date,
                channels=tuple(p.channels),
            ),
            created_at=self.created_at,
            replayed=replayed,
        )


class Status(_Body):
    registration_number: str
    state: RegistrationState
    kpj: str | None
    updated_at: datetime

    @classmethod
    def from_domain(cls, status: RegistrationStatus) -> Status:
        return cls(
            registration_number=status.registration_number,
            state=status.state,
            kpj=status.kpj,
            updated_at=status.updated_at,
        )

    def to_domain(self) -> RegistrationStatus:
        return RegistrationStatus(
            registration_number=self.registration_number,
            state=self.state,
            kpj=self.kpj,
            updated_at=self.updated_at,
        )


class Health(_Body):
    status: Literal["ok", "unavailable"]


class Error(_Body):
    """Every non-2xx body. `status` comes with already_registered, `reason` with application_rejected,
    `detail` (where and what, never the value sent) with invalid_request."""

    error: ErrorCode
    message: str
    status: MemberStatus | None = None
    reason: str | None = None
    detail: list[dict[str, Any]] | None = None
