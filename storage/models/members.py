"""Members (the project's own copy of membership, imported from the core system or created by a BPU
registration), their contribution payments, and the import runs that loaded them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, one_of, utcnow

MEMBER_STATUSES = ("active", "inactive", "awaiting_payment", "rejected")


class Member(Base):
    """One membership (one KPJ number). A person (NIK) may hold several, e.g. from old jobs.

    The personal values (NIK, KPJ, name, birth date, phone, address, income base) are sealed together in
    `identity_enc` (storage.repo.members.MemberIdentity): members are loaded in bulk and looked up on every
    status check, and one seal per row instead of seven is what keeps a million-row import fast and a
    look-up to one decryption. `kpj_bidx` and `nik_bidx` find the row."""

    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint(one_of("status", MEMBER_STATUSES), name="status"),
        Index(None, "nik_bidx"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kpj_bidx: Mapped[bytes] = mapped_column(unique=True)
    nik_bidx: Mapped[bytes]
    identity_enc: Mapped[bytes]
    status: Mapped[str] = mapped_column(String(20))
    programs: Mapped[list[str]] = mapped_column(JSON)
    occupations: Mapped[list[str]] = mapped_column(JSON, default=list)
    protected_from: Mapped[date | None] = mapped_column(Date)
    protected_until: Mapped[date | None] = mapped_column(Date)
    next_due_date: Mapped[date | None] = mapped_column(Date)
    registration_channel: Mapped[str | None] = mapped_column(String(20))
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registrations.id", ondelete="SET NULL"))
    import_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Payment(Base):
    """A contribution payment recorded by staff (`jamsosbot mark-paid`): the audit trail of the protection
    period."""

    __tablename__ = "payments"
    __table_args__ = (CheckConstraint("months > 0", name="months_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    months: Mapped[int]
    paid_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[int | None]
    protected_until: Mapped[date] = mapped_column(Date)  # the end of protection after this payment
    recorded_by: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImportRun(Base):
    """One `jamsosbot import-members` run: its counts, and the tag that tells a re-import (update) from a
    duplicate row inside the same file."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_name: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    rows_read: Mapped[int] = mapped_column(default=0)
    rows_written: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
