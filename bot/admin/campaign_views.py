"""Read-only campaign listings for the console and the API. The broadcast service (bot.broadcast.service)
owns every change to a campaign; listing rows needs no service, so it reads the table directly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import func, select

from bot.admin.context import runtime_of
from storage.db import Database
from storage.models import Campaign, StaffAccount

STATUS_LABELS = {
    "draft": "Draf",
    "scheduled": "Terjadwal",
    "running": "Berjalan",
    "paused": "Dijeda",
    "finished": "Selesai",
    "cancelled": "Dibatalkan",
}


@dataclass(frozen=True)
class CampaignRow:
    id: int
    name: str
    status: str
    audience: dict[str, Any]
    created_by: str | None
    created_at: datetime
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


def list_campaigns(db: Database, *, limit: int = 100, status: str | None = None) -> list[CampaignRow]:
    query = (
        select(Campaign, StaffAccount.username)
        .outerjoin(StaffAccount, StaffAccount.id == Campaign.created_by)
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(Campaign.status == status)
    with db.session() as session:
        return [
            CampaignRow(
                id=c.id,
                name=c.name,
                status=c.status,
                audience=dict(c.audience or {}),
                created_by=username,
                created_at=c.created_at,
                scheduled_at=c.scheduled_at,
                started_at=c.started_at,
                finished_at=c.finished_at,
            )
            for c, username in session.execute(query)
        ]


def recent_campaigns(request: Request, *, limit: int = 5) -> list[CampaignRow]:
    return list_campaigns(runtime_of(request).db, limit=limit)


def running_count(request: Request) -> int:
    with runtime_of(request).db.session() as session:
        query = select(func.count()).select_from(Campaign).where(Campaign.status == "running")
        return int(session.scalar(query) or 0)
