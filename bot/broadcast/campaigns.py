"""Campaign rows: creating and editing drafts, and the status machine, in SQL.

    draft ──schedule──▶ scheduled ──(due, or start)──▶ running ──pause──▶ paused ──resume──▶ running
      └─────────────────────start─────────────────────────┘   └──(every delivery settled)──▶ finished
    draft, scheduled, running, paused ──cancel──▶ cancelled (pending deliveries become skipped)

A transition locks the campaign row (SELECT … FOR UPDATE) so two staff members, or a staff member and the
supervisor, cannot both move it. Functions here run in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.broadcast.channels import Content
from bot.broadcast.model import (
    Audience,
    CampaignButton,
    CampaignDraft,
    CampaignInfo,
    CampaignNotFound,
    InvalidTransition,
)
from storage.models import Campaign

# action -> (statuses it applies to, the status it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "schedule": (("draft", "scheduled"), "scheduled"),
    "unschedule": (("scheduled",), "draft"),
    "start": (("draft", "scheduled"), "running"),
    "pause": (("running",), "paused"),
    "resume": (("paused",), "running"),
    "cancel": (("draft", "scheduled", "running", "paused"), "cancelled"),
    "finish": (("running",), "finished"),
}
EDITABLE = ("draft", "scheduled")


def create(session: Session, draft: CampaignDraft, *, created_by: int | None, now: datetime) -> Campaign:
    row = Campaign(status="draft", created_by=created_by, created_at=now, updated_at=now)
    _write(row, draft.check())
    session.add(row)
    session.flush()
    return row


def edit(session: Session, campaign_id: int, draft: CampaignDraft, *, now: datetime) -> Campaign:
    row = load(session, campaign_id, lock=True)
    if row.status not in EDITABLE:
        raise InvalidTransition(campaign_id, row.status, "edit")
    _write(row, draft.check())
    row.updated_at = now
    return row


def _write(row: Campaign, draft: CampaignDraft) -> None:
    row.name = draft.name.strip()
    row.body = draft.text
    row.audience = draft.audience.to_json()
    row.image_url = draft.image_url
    row.button_title = draft.button.title if draft.button else None
    row.button_payload = draft.button.payload if draft.button else None
    row.template_sid = draft.template_sid
    row.template_variables = dict(draft.template_variables) or None


def load(session: Session, campaign_id: int, *, lock: bool = False) -> Campaign:
    query = select(Campaign).where(Campaign.id == campaign_id)
    row = session.scalars(query.with_for_update() if lock else query).first()
    if row is None:
        raise CampaignNotFound(campaign_id)
    return row


def transition(
    session: Session, campaign_id: int, action: str, *, now: datetime, at: datetime | None = None
) -> tuple[Campaign, str]:
    """Apply `action`; returns the row and the status it had. Raises InvalidTransition."""
    allowed, target = TRANSITIONS[action]
    row = load(session, campaign_id, lock=True)
    before = row.status
    if before not in allowed:
        raise InvalidTransition(campaign_id, before, action)
    row.status = target
    row.updated_at = now
    if action == "schedule":
        row.scheduled_at = at
    elif action == "unschedule":
        row.scheduled_at = None
    elif action == "start":
        row.started_at = now
    elif action in ("cancel", "finish"):
        row.finished_at = now
    return row, before


def due(session: Session, now: datetime) -> list[int]:
    """Scheduled campaigns whose time has come."""
    query = select(Campaign.id).where(Campaign.status == "scheduled", Campaign.scheduled_at <= now)
    return list(session.scalars(query.order_by(Campaign.scheduled_at)))


def with_status(session: Session, *statuses: str, since: datetime | None = None) -> list[Campaign]:
    """Campaigns in these statuses (changed at or after `since`, if given), oldest first."""
    query = select(Campaign).where(Campaign.status.in_(statuses))
    if since is not None:
        query = query.where(Campaign.updated_at >= since)
    return list(session.scalars(query.order_by(Campaign.id)))


def draft_of(row: Campaign) -> CampaignDraft:
    return CampaignDraft(
        name=row.name,
        text=row.body,
        audience=Audience.from_json(row.audience),
        image_url=row.image_url,
        button=CampaignButton(row.button_title, row.button_payload or "/register")
        if row.button_title
        else None,
        template_sid=row.template_sid,
        template_variables=dict(row.template_variables or {}),
    )


def content_of(row: Campaign) -> Content:
    return Content.of(draft_of(row))


def info(row: Campaign) -> CampaignInfo:
    return CampaignInfo(
        id=row.id,
        status=row.status,
        draft=draft_of(row),
        created_by=row.created_by,
        created_at=row.created_at,
        scheduled_at=row.scheduled_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        planned_at=row.planned_at,
    )
