"""BPU self-registrations made in the chat (domain.md §5.1) and the conversation-level drafts that keep a
half-filled form across restarts."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, one_of, utcnow

REGISTRATION_STATES = ("submitted", "awaiting_payment", "active", "rejected")
# A NIK may have at most one registration in these states (enforced by a partial unique index, so two
# concurrent applications for one NIK cannot both get through).
LIVE_STATES = ("submitted", "awaiting_payment", "active")


class Registration(Base):
    __tablename__ = "registrations"
    __table_args__ = (
        CheckConstraint(one_of("state", REGISTRATION_STATES), name="state"),
        CheckConstraint("payment_months IN (1, 2, 3, 6, 12)", name="payment_months"),
        CheckConstraint("monthly_contribution > 0 AND total_due > 0", name="amounts_positive"),
        Index(None, "nik_bidx"),
        Index(
            "uq_registrations_live_nik",
            "nik_bidx",
            unique=True,
            sqlite_where=text(one_of("state", LIVE_STATES)),
            postgresql_where=text(one_of("state", LIVE_STATES)),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_number: Mapped[str | None] = mapped_column(String(32), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(20))
    # personal data, encrypted; all nullable so an erasure can clear them and keep the accounting skeleton
    nik_enc: Mapped[bytes | None]
    nik_bidx: Mapped[bytes | None]
    full_name_enc: Mapped[bytes | None]
    birth_date_enc: Mapped[bytes | None]
    phone_enc: Mapped[bytes | None]
    phone_bidx: Mapped[bytes | None] = mapped_column(index=True)
    address_enc: Mapped[bytes | None]
    monthly_income_enc: Mapped[bytes | None]
    kpj_enc: Mapped[bytes | None]
    email_enc: Mapped[bytes | None]
    # not personal on their own
    city: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    branch_office: Mapped[str | None] = mapped_column(String(100))
    occupations: Mapped[list[str]] = mapped_column(JSON)
    programs: Mapped[list[str]] = mapped_column(JSON)
    payment_months: Mapped[int]
    monthly_contribution: Mapped[int]
    total_due: Mapped[int]
    due_date: Mapped[date] = mapped_column(Date)
    consent_ref: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(20))
    rejected_reason: Mapped[str | None] = mapped_column(String(60))
    paid_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RegistrationDraft(Base):
    """A registration form in progress, per conversation (the session store may expire or be flushed;
    the draft survives). `data_enc` is the collected fields as encrypted JSON."""

    __tablename__ = "registration_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), unique=True
    )
    step: Mapped[str] = mapped_column(String(60))
    data_enc: Mapped[bytes]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
