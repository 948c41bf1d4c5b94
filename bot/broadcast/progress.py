"""How far a campaign is, and what it achieved, from SQL counts.

Progress is one GROUP BY over the campaign's deliveries (served by the (campaign, channel, status, id)
index), cheap enough for a live progress bar polled every second. Results add the reasons of failures and
skips, and the campaign's effect: recipients who opted out after it, and who started or submitted a
registration after receiving it (events logged by their conversation since the message reached them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from bot.broadcast import campaigns
from storage.models import Delivery, Event, Subscriber

STATUSES = ("pending", "claimed", "sent", "delivered", "read", "failed", "skipped")
REACHED = ("sent", "delivered", "read")


@dataclass(frozen=True)
class Progress:
    campaign_id: int
    status: str
    planned: bool  # every recipient has a delivery row (before that, `total` still grows)
    counts: dict[str, int]  # delivery status -> count, every status present
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def sent(self) -> int:
        """Accepted by the platform (including those since delivered or read)."""
        return sum(self.counts[s] for s in REACHED)

    @property
    def settled(self) -> int:
        return self.total - self.counts["pending"] - self.counts["claimed"]

    @property
    def fraction(self) -> float:
        return self.settled / self.total if self.total else (1.0 if self.planned else 0.0)


@dataclass(frozen=True)
class Results:
    progress: Progress
    failed_by_reason: dict[str, int]
    skipped_by_reason: dict[str, int]
    opted_out_after: int
    registrations_started_after: int
    registrations_submitted_after: int


def progress(session: Session, campaign_id: int) -> Progress:
    row = campaigns.load(session, campaign_id)
    query = (
        select(Delivery.channel, Delivery.status, func.count())
        .where(Delivery.campaign_id == campaign_id)
        .group_by(Delivery.channel, Delivery.status)
    )
    counts = dict.fromkeys(STATUSES, 0)
    by_channel: dict[str, dict[str, int]] = {}
    for channel, status, n in session.execute(query):
        counts[status] += int(n)
        by_channel.setdefault(channel, dict.fromkeys(STATUSES, 0))[status] = int(n)
    return Progress(campaign_id, row.status, row.planned_at is not None, counts, by_channel)


def results(session: Session, campaign_id: int) -> Results:
    current = progress(session, campaign_id)
    reasons = select(Delivery.status, Delivery.error_code, func.count()).where(
        Delivery.campaign_id == campaign_id, Delivery.status.in_(("failed", "skipped"))
    )
    failed: dict[str, int] = {}
    skipped: dict[str, int] = {}
    for status, code, n in session.execute(reasons.group_by(Delivery.status, Delivery.error_code)):
        (failed if status == "failed" else skipped)[code or "unknown"] = int(n)
    reached = and_(Delivery.campaign_id == campaign_id, Delivery.status.in_(REACHED))
    opted_out = (
        select(func.count()).select_from(Delivery).join(Subscriber, Subscriber.id == Delivery.subscriber_id)
    )
    opted_out = opted_out.where(
        reached, Subscriber.status == "opted_out", Subscriber.opted_out_at >= Delivery.sent_at
    )
    return Results(
        progress=current,
        failed_by_reason=failed,
        skipped_by_reason=skipped,
        opted_out_after=int(session.scalar(opted_out) or 0),
        registrations_started_after=_after(session, campaign_id, "registration.started"),
        registrations_submitted_after=_after(session, campaign_id, "registration.submitted"),
    )


def _after(session: Session, campaign_id: int, event_type: str) -> int:
    """Recipients whose conversation logged `event_type` after the campaign reached them."""
    query = (
        select(func.count(func.distinct(Delivery.subscriber_id)))
        .select_from(Delivery)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .join(Event, Event.conversation_id == Subscriber.conversation_id)
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.status.in_(REACHED),
            Event.type == event_type,
            Event.created_at >= Delivery.sent_at,
        )
    )
    return int(session.scalar(query) or 0)
