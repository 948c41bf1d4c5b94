"""Read-only figures for the console and the API: subscribers per channel, the registrations funnel, and
the NLU's unrecognised messages. Every figure is a count or a masked text, never a personal value.

The funnel follows one registration attempt (a draft) through the event log:
started (`registration.started`) → consented (`consent.given` for `bpu_registration`) → submitted
(`registration.submitted`) → paid (the submitted registration number has `paid_at` set). Each step counts
distinct drafts, so a retried submission or a replayed event is counted once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, distinct, func, select

from bot.logs import redact
from storage.db import Database
from storage.models import Event, Registration, Subscriber


@dataclass(frozen=True)
class FunnelStep:
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class Unrecognised:
    text: str
    count: int
    last_seen: datetime
    reason: str | None


FUNNEL_LABELS = {
    "started": "Mulai daftar",
    "consented": "Setuju data diproses",
    "submitted": "Pendaftaran terkirim",
    "paid": "Sudah bayar iuran",
}


def _window(query: Select[Any], since: datetime | None, until: datetime | None) -> Select[Any]:
    if since is not None:
        query = query.where(Event.created_at >= since)
    if until is not None:
        query = query.where(Event.created_at < until)
    return query


def funnel(db: Database, *, since: datetime | None = None, until: datetime | None = None) -> list[FunnelStep]:
    """The four steps for drafts whose events fall in [since, until)."""
    draft = Event.data["draft_id"].as_string()
    started = _window(
        select(func.count(distinct(draft))).where(Event.type == "registration.started"), since, until
    )
    consented = _window(
        select(func.count(distinct(draft))).where(
            Event.type == "consent.given", Event.data["purpose"].as_string() == "bpu_registration"
        ),
        since,
        until,
    )
    submitted = _window(
        select(func.count(distinct(draft))).where(Event.type == "registration.submitted"), since, until
    )
    number = Event.data["registration_number"].as_string()
    paid = _window(
        select(func.count(distinct(Registration.id)))
        .select_from(Event)
        .join(Registration, Registration.registration_number == number)
        .where(Event.type == "registration.submitted", Registration.paid_at.is_not(None)),
        since,
        until,
    )
    with db.session() as session:
        counts = {
            key: int(session.scalar(query) or 0)
            for key, query in (
                ("started", started),
                ("consented", consented),
                ("submitted", submitted),
                ("paid", paid),
            )
        }
    return [FunnelStep(key, FUNNEL_LABELS[key], counts[key]) for key in FUNNEL_LABELS]


def unrecognised(db: Database, *, since: datetime | None = None, limit: int = 100) -> list[Unrecognised]:
    """Messages the NLU could not place (`fallback` events), grouped by their masked text, most frequent
    first. The text was redacted when stored; it is redacted again here in case an older row was not."""
    text = Event.data["text"].as_string()
    reason = Event.data["reason"].as_string()
    query = (
        select(text, func.count(), func.max(Event.created_at), func.max(reason))
        .where(Event.type == "fallback", text.is_not(None))
        .group_by(text)
        .order_by(func.count().desc(), func.max(Event.created_at).desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(Event.created_at >= since)
    with db.session() as session:
        rows = session.execute(query).all()
    return [
        Unrecognised(text=redact(str(t)), count=int(n), last_seen=last, reason=r)
        for t, n, last, r in rows
        if t
    ]


def subscriber_counts(db: Database) -> dict[str, dict[str, int]]:
    """{channel: {"opted_in": n, "opted_out": n, "unreachable": n}} (unreachable counts opted-in ones)."""
    query = select(Subscriber.channel, Subscriber.status, Subscriber.unreachable, func.count()).group_by(
        Subscriber.channel, Subscriber.status, Subscriber.unreachable
    )
    out: dict[str, dict[str, int]] = {}
    with db.session() as session:
        for channel, status, unreachable, n in session.execute(query):
            row = out.setdefault(channel, {"opted_in": 0, "opted_out": 0, "unreachable": 0})
            if status == "opted_in" and unreachable:
                row["unreachable"] += int(n)
            else:
                row[status] = row.get(status, 0) + int(n)
    return out
