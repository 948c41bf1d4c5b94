"""The broadcast service: the one API the staff console, the admin API and `jamsosbot broadcast` call.

    service = await BroadcastService.open(settings, db)          # or BroadcastService(settings, db, redis=…)
    info = await service.create(CampaignDraft(...), actor="budi", created_by=staff_id)
    await service.update(info.id, draft, actor=…)                 # drafts and scheduled campaigns only
    await service.get(campaign_id) -> CampaignInfo
    await service.count_audience(Audience(...)) -> AudienceCount  # live, before sending
    await service.preview(campaign_id_or_draft, name=None) -> {channel: {mode: view}}
    await service.test_send(campaign_id, channel=…, chat_id=…, actor=…) -> message id
    await service.schedule(campaign_id, at, actor=…)              # quiet hours still apply when it runs
    await service.unschedule(campaign_id, actor=…)                # back to a draft
    await service.start / pause / resume / cancel(campaign_id, actor=…) -> CampaignInfo
    await service.progress(campaign_id) -> Progress               # cheap: poll it for a progress bar
    await service.results(campaign_id) -> Results
    await service.retry_in_doubt(campaign_id, actor=…) -> int     # re-send deliveries left in doubt
    await service.aclose()

Every method is a coroutine (database work runs in a thread). Errors: CampaignNotFound, CampaignInvalid
(with `problems`), InvalidTransition, ChannelUnavailable (bot/broadcast/model.py). With `actor` (the staff
username) a state-changing call also writes the audit log entry — who, what, when, audience size — in the
same transaction; callers should not write their own for these actions.

Starting, resuming and scheduling enqueue the arq jobs at once when REDIS_URL is set; the workers'
supervisor (`jamsosbot worker`) also picks up anything due within BROADCAST_TEND_SECONDS.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, TypeVar

from arq.connections import ArqRedis, RedisSettings, create_pool
from sqlalchemy.orm import Session

from bot.broadcast import audience as audience_sql
from bot.broadcast import campaigns
from bot.broadcast import claims as sql
from bot.broadcast import progress as progress_sql
from bot.broadcast.channels import Content, Mode, telegram_preview, whatsapp_preview
from bot.broadcast.config import BroadcastConfig, load_broadcast_config
from bot.broadcast.keys import Keys
from bot.broadcast.model import (
    CHANNELS,
    Audience,
    CampaignDraft,
    CampaignInfo,
    ChannelUnavailable,
)
from bot.broadcast.progress import Progress, Results
from bot.broadcast.queue import BroadcastQueue
from bot.outbound import Outbound, build_outbound
from bot.settings import Settings
from storage.db import Database
from storage.repo.staff import add_audit
from storage.repo.subscribers import get_subscriber

T = TypeVar("T")


@dataclass(frozen=True)
class AudienceCount:
    total: int
    by_channel: dict[str, int]


def utcnow() -> datetime:
    return datetime.now(UTC)


class BroadcastService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        config: BroadcastConfig | None = None,
        redis: ArqRedis | None = None,
        outbound: Outbound | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.db = db
        self.config = config or load_broadcast_config()
        self.keys = Keys(settings.redis_prefix)
        self.queue = BroadcastQueue(redis, self.keys) if redis is not None else None
        self.clock = clock
        self._outbound = outbound
        self._outbound_owned = False  # built here (for test sends): closed here
        self._owned: list[Any] = []

    @classmethod
    async def open(
        cls, settings: Settings, db: Database, *, config: BroadcastConfig | None = None, **kwargs: Any
    ) -> BroadcastService:
        """A service with its own connection to the job queue (when REDIS_URL is set)."""
        redis = await create_pool(RedisSettings.from_dsn(settings.redis_url)) if settings.redis_url else None
        service = cls(settings, db, config=config, redis=redis, **kwargs)
        if redis is not None:
            service._owned.append(redis.aclose)  # type: ignore[attr-defined]  # redis 5 has it; stubs lag
        return service

    async def aclose(self) -> None:
        if self._outbound is not None and self._outbound_owned:
            await self._outbound.aclose()
        for close in reversed(self._owned):
            await close()

    # -- composing -----------------------------------------------------------------------------------------
    async def create(
        self, draft: CampaignDraft, *, actor: str | None = None, created_by: int | None = None
    ) -> CampaignInfo:
        def work(session: Session) -> CampaignInfo:
            row = campaigns.create(session, draft, created_by=created_by, now=self.clock())
            self._audit(session, actor, "campaign.create", row.id, name=row.name)
            return campaigns.info(row)

        return await self._write(work)

    async def update(
        self, campaign_id: int, draft: CampaignDraft, *, actor: str | None = None
    ) -> CampaignInfo:
        def work(session: Session) -> CampaignInfo:
            row = campaigns.edit(session, campaign_id, draft, now=self.clock())
            self._audit(session, actor, "campaign.update", campaign_id, name=row.name)
            return campaigns.info(row)

        return await self._write(work)

    async def get(self, campaign_id: int) -> CampaignInfo:
        return await self._read(lambda s: campaigns.info(campaigns.load(s, campaign_id)))

    async def count_audience(self, audience: Audience) -> AudienceCount:
        counts = await self._read(lambda s: audience_sql.count(s, audience))
        return AudienceCount(sum(counts.values()), counts)

    async def preview(
        self, campaign: int | CampaignDraft, *, name: str | None = None
    ) -> dict[str, dict[str, dict[str, Any]]]:
        """How the message looks on each channel of its audience: {"telegram": {"text": view},
        "whatsapp": {"text": view inside the 24-hour window, "template": view outside it}}."""
        draft = campaign if isinstance(campaign, CampaignDraft) else (await self.get(campaign)).draft
        message = Content.of(draft).personal(name, self.config.greeting_fallback)
        quick = _quick_replies(self.settings)
        hint = self.config.whatsapp_button_hint
        views: dict[str, dict[str, dict[str, Any]]] = {}
        for channel in draft.audience.channels or CHANNELS:
            if channel == "telegram":
                views[channel] = {"text": telegram_preview(message)}
            else:
                outside: Mode = "template" if message.template_sid else "none"
                views[channel] = {
                    "text": whatsapp_preview(message, "text", quick, hint),
                    outside: whatsapp_preview(message, outside, quick, hint),
                }
        return views

    async def test_send(
        self,
        campaign_id: int,
        *,
        channel: str,
        chat_id: str,
        name: str | None = None,
        actor: str | None = None,
    ) -> str:
        """Send the campaign's message to one chat now (the staff member's own), outside the campaign:
        no delivery row, no rate limit. Returns the platform's message id; raises SendError on failure."""
        from bot.broadcast.worker import build_ports

        info = await self.get(campaign_id)
        outbound = await self._senders()
        ports, _ = await build_ports(self.settings, self.config, self.db, self.clock, outbound=outbound)
        port = ports.get(channel)
        if port is None:
            raise ChannelUnavailable(f"{channel} is not configured")
        message = Content.of(info.draft).personal(name, self.config.greeting_fallback)
        known = await asyncio.to_thread(get_subscriber, self.db, channel=channel, chat_id=chat_id)
        mode = port.mode(known.last_inbound_at if known else None, message, self.clock())
        if mode == "none":
            mode = "text"  # a test goes out as text; Twilio says whether the window allows it
        message_id = await port.send(chat_id, message, mode)
        await self._write(lambda s: self._audit(s, actor, "campaign.test_send", campaign_id, channel=channel))
        return message_id

    # -- the lifecycle -------------------------------------------------------------------------------------
    async def schedule(self, campaign_id: int, at: datetime, *, actor: str | None = None) -> CampaignInfo:
        if at.tzinfo is None:
            raise ValueError("schedule with an aware datetime (e.g. in Asia/Jakarta)")
        # the supervisor starts it when it is due (BROADCAST_TEND_SECONDS); nothing is enqueued now
        return await self._transition(campaign_id, "schedule", actor, at=at)

    async def unschedule(self, campaign_id: int, *, actor: str | None = None) -> CampaignInfo:
        """Back to a draft (it can be edited, scheduled again or started)."""
        return await self._transition(campaign_id, "unschedule", actor)

    async def start(self, campaign_id: int, *, actor: str | None = None) -> CampaignInfo:
        info = await self._transition(campaign_id, "start", actor, count=True)
        await self.kick(campaign_id)
        return info

    async def pause(self, campaign_id: int, *, actor: str | None = None) -> CampaignInfo:
        """Sending stops within about a second; what is in flight is recorded."""
        return await self._transition(campaign_id, "pause", actor)

    async def resume(self, campaign_id: int, *, actor: str | None = None) -> CampaignInfo:
        info = await self._transition(campaign_id, "resume", actor)
        await self.kick(campaign_id)
        return info

    async def cancel(self, campaign_id: int, *, actor: str | None = None) -> CampaignInfo:
        """Nothing more is sent; deliveries not yet sent are recorded as skipped (cancelled)."""
        return await self._transition(campaign_id, "cancel", actor)

    async def kick(self, campaign_id: int) -> None:
        """Enqueue the planner and the sender jobs of a running campaign now (else the supervisor does)."""
        if self.queue is None:
            return
        await self.queue.plan(campaign_id)
        channels = (await self.get(campaign_id)).draft.audience.channels or CHANNELS
        await self.queue.fill_slots(campaign_id, channels, self.config.parallel)

    async def retry_in_doubt(self, campaign_id: int, *, actor: str | None = None) -> int:
        """Queue again the deliveries recorded as in doubt (they may then arrive twice: a staff decision)."""

        def work(session: Session) -> int:
            campaigns.load(session, campaign_id, lock=True)
            count = sql.requeue_in_doubt(session, campaign_id, now=self.clock())
            self._audit(session, actor, "campaign.retry_in_doubt", campaign_id, deliveries=count)
            return count

        count = await self._write(work)
        if count and (await self.get(campaign_id)).status == "running":
            await self.kick(campaign_id)
        return count

    # -- watching ------------------------------------------------------------------------------------------
    async def progress(self, campaign_id: int) -> Progress:
        return await self._read(lambda s: progress_sql.progress(s, campaign_id))

    async def results(self, campaign_id: int) -> Results:
        return await self._read(lambda s: progress_sql.results(s, campaign_id))

    # -- helpers -------------------------------------------------------------------------------------------
    async def _transition(
        self,
        campaign_id: int,
        action: str,
        actor: str | None,
        *,
        at: datetime | None = None,
        count: bool = False,
    ) -> CampaignInfo:
        def work(session: Session) -> CampaignInfo:
            now = self.clock()
            row, before = campaigns.transition(session, campaign_id, action, now=now, at=at)
            details: dict[str, Any] = {"from": before}
            if at is not None:
                details["at"] = at.isoformat()
            if count:
                details["audience"] = sum(
                    audience_sql.count(session, Audience.from_json(row.audience)).values()
                )
            if action == "cancel":
                details["skipped"] = sql.skip_pending(session, campaign_id, reason="cancelled", now=now)
            self._audit(session, actor, f"campaign.{action}", campaign_id, **details)
            return campaigns.info(row)

        return await self._write(work)

    @staticmethod
    def _audit(session: Session, actor: str | None, action: str, campaign_id: int, **details: Any) -> None:
        if actor is not None:
            add_audit(session, actor=actor, action=action, target=f"campaign:{campaign_id}", details=details)

    async def _senders(self) -> Outbound:
        if self._outbound is None:
            self._outbound = await build_outbound(
                self.settings, SimpleNamespace(db=self.db, clock=self.clock)
            )
            self._outbound_owned = True
        return self._outbound

    async def _read(self, work: Callable[[Session], T]) -> T:
        def run() -> T:
            with self.db.session() as session:
                return work(session)

        return await asyncio.to_thread(run)

    async def _write(self, work: Callable[[Session], T]) -> T:
        def run() -> T:
            with self.db.transaction() as session:
                return work(session)

        return await asyncio.to_thread(run)


def _quick_replies(settings: Settings) -> dict[tuple[str, ...], str]:
    from bot.channels.whatsapp_render import load_quick_replies

    return load_quick_replies(settings.twilio_quick_replies)


__all__ = ["AudienceCount", "BroadcastService", "CampaignDraft", "CampaignInfo", "Progress", "Results"]
