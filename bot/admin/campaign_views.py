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
from storage.models import Campaign, StaffAccount, Subscriber

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


# What a delivery's error code means, by its reason part ("403:blocked" -> "blocked").
REASON_LABELS = {
    "blocked": "Memblokir bot",
    "deactivated": "Akun Telegram dihapus",
    "kicked": "Bot dikeluarkan dari chat",
    "forbidden": "Tidak diizinkan",
    "chat_not_found": "Chat tidak ditemukan",
    "invalid_number": "Nomor tidak valid",
    "not_on_whatsapp": "Tidak memakai WhatsApp",
    "outside_window": "Di luar 24 jam, tanpa template",
    "unsubscribed": "Mengirim STOP di WhatsApp",
    "opted_out": "Berhenti berlangganan sebelum giliran",
    "unreachable": "Tidak bisa dihubungi",
    "in_doubt": "Tidak pasti terkirim (pekerja terhenti)",
    "in_doubt_requeued": "Dikirim ulang setelah ragu",
    "cancelled": "Kampanye dibatalkan",
    "network": "Gangguan jaringan",
    "parts": "Pesan terlalu panjang",
    "unknown": "Tidak diketahui",
}


def reason_label(code: str) -> str:
    reason = code.split(":", 1)[-1]
    return REASON_LABELS.get(reason, code)


def staff_name(db: Database, staff_id: int | None) -> str | None:
    if staff_id is None:
        return None
    with db.session() as session:
        return session.scalar(select(StaffAccount.username).where(StaffAccount.id == staff_id))


def known_values(db: Database, *, limit: int = 200) -> dict[str, list[str]]:
    """Regions and opt-in sources subscribers have, as suggestions for the audience builder."""
    with db.session() as session:
        regions = session.scalars(
            select(Subscriber.region)
            .where(Subscriber.region.is_not(None))
            .distinct()
            .order_by(Subscriber.region)
            .limit(limit)
        )
        sources = session.scalars(
            select(Subscriber.opted_in_source)
            .where(Subscriber.opted_in_source.is_not(None))
            .distinct()
            .order_by(Subscriber.opted_in_source)
            .limit(limit)
        )
        return {"regions": [r for r in regions if r], "sources": [s for s in sources if s]}
