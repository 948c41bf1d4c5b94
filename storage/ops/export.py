"""`jamsosbot export-registrations FILE.csv`: the chat's BPU registrations, decrypted, for the staff who
enter them into the core system. The file holds personal data: it is created owner-only (0600) and the
export is recorded in the audit log (who, how many rows; not whose)."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from storage.db import Database
from storage.models import REGISTRATION_STATES, Registration
from storage.repo.staff import record_audit

EXPORT_COLUMNS = (
    "registration_number",
    "state",
    "created_at",
    "kpj",
    "nik",
    "full_name",
    "birth_date",
    "phone",
    "email",
    "address",
    "postal_code",
    "city",
    "branch_office",
    "occupations",
    "programs",
    "monthly_income",
    "payment_months",
    "monthly_contribution",
    "total_due",
    "due_date",
    "paid_at",
    "channel",
    "consent_ref",
    "erased",
)


def _row(db: Database, r: Registration) -> list[object]:
    v = db.vault
    return [
        r.registration_number,
        r.state,
        r.created_at.isoformat(),
        v.decrypt_text("kpj", r.kpj_enc) or "",
        v.decrypt_text("nik", r.nik_enc) or "",
        v.decrypt_text("full_name", r.full_name_enc) or "",
        (d.isoformat() if (d := v.decrypt_date("birth_date", r.birth_date_enc)) else ""),
        v.decrypt_text("phone", r.phone_enc) or "",
        v.decrypt_text("email", r.email_enc) or "",
        v.decrypt_text("address", r.address_enc) or "",
        r.postal_code or "",
        r.city or "",
        r.branch_office or "",
        "+".join(r.occupations),
        "+".join(r.programs),
        v.decrypt_int("monthly_income", r.monthly_income_enc) or "",
        r.payment_months,
        r.monthly_contribution,
        r.total_due,
        r.due_date.isoformat(),
        r.paid_at.isoformat() if r.paid_at else "",
        r.channel,
        r.consent_ref,
        "yes" if r.erased_at else "",
    ]


def export_registrations(
    db: Database,
    path: Path,
    *,
    state: str | None = None,
    since: datetime | None = None,
    actor: str = "cli",
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write the registrations (optionally one state, created since a time) to `path`; returns the count."""
    if state is not None and state not in REGISTRATION_STATES:
        raise ValueError(f"state must be one of {', '.join(REGISTRATION_STATES)}")
    query = select(Registration).order_by(Registration.id)
    if state:
        query = query.where(Registration.state == state)
    if since:
        query = query.where(Registration.created_at >= since)
    count = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode on open: personal data must not stay readable
    with db.session() as session, os.fdopen(fd, "w", newline="", encoding="utf-8") as out:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        for registration in session.scalars(query.execution_options(yield_per=1000)):
            writer.writerow(_row(db, registration))
            count += 1
            if on_progress and count % 1000 == 0:
                on_progress(count, total)
    if on_progress:
        on_progress(count, count)
    record_audit(db, actor=actor, action="export_registrations", details={"rows": count, "state": state})
    return count
