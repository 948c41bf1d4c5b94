"""Broadcast campaigns and their per-recipient deliveries.

A delivery row is the unit of work of the broadcast workers: unique per (campaign, subscriber) so a
recipient is never queued twice; `claimed_by`/`claimed_at` let a worker take a batch and another worker
reclaim it after a crash; `attempts`, `provider_message_id` and `error_code` record what the channel said.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, one_of, utcnow

CAMPAIGN_STATUSES = ("draft", "scheduled", "running", "paused", "finished", "cancelled")
DELIVERY_STATUSES = ("pending", "claimed", "sent", "delivered", "read", "failed", "skipped")


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (CheckConstraint(one_of("status", CAMPAIGN_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    template_sid: Mapped[str | None] = mapped_column(String(64))  # WhatsApp template outside 24 h
    # filters: channel, region, occupation
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id", ondelete="SET NULL"))
    scheduled_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # added by migration 0004 (bot/broadcast): the optional image and button, the template's variables
    # ("1" -> "{nama}"), and when planning wrote a delivery row for every recipient
    image_url: Mapped[str | None] = mapped_column(String(500))
    button_title: Mapped[str | None] = mapped_column(String(40))
    button_payload: Mapped[str | None] = mapped_column(String(64))
    template_variables: Mapped[dict[str, str] | None] = mapped_column(JSON)
    planned_at: Mapped[datetime | None]


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("campaign_id", "subscriber_id"),
        CheckConstraint(one_of("status", DELIVERY_STATUSES), name="status"),
        Index(None, "campaign_id", "status"),
        Index(None, "campaign_id", "channel", "status", "id"),  # claiming in id order, per channel
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))  # the subscriber's, copied at planning
    next_attempt_at: Mapped[datetime | None]  # after a transient failure: not before then
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_at: Mapped[datetime | None]
    provider_message_id: Mapped[str | None] = mapped_column(String(80), index=True)
    error_code: Mapped[str | None] = mapped_column(String(40))
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
