"""The inbox, the channel senders and the inbox workers of one process, started and stopped together.

The web app mounts `router` (an APIRouter with only a lifespan): it runs inside the app's own lifespan,
after the runtime is built, and puts `app.state.inbox` (for the webhooks: `await inbox.submit(msg)`) and
`app.state.outbound` (the senders by channel) in place. `jamsosbot telegram-poll` and `jamsosbot
inbox-worker` use `ChannelService` directly. Settings: INBOX_WORKERS workers per process (0 in the web
processes = they only acknowledge, and `jamsosbot inbox-worker` processes answer: the lowest ack latency),
INBOX_LEASE_SECONDS the claim lease.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from typing import Any

from fastapi import APIRouter, FastAPI, Request

from bot.inbox import Inbox, make_inbox
from bot.inbox_workers import InboxWorkers, WorkerPolicy
from bot.outbound import Outbound, build_outbound
from bot.settings import Settings

log = logging.getLogger(__name__)


def record_unreachable(db: Any, channel: str, chat_id: str, reason: str, at: datetime) -> bool:
    """Mark the chat's subscriber unreachable and opted out (the user blocked the bot: broadcasts must
    stop). False when the chat never subscribed. Blocking; call it in a thread."""
    from storage.repo.subscribers import get_subscriber, mark_unreachable, opt_out

    subscriber = get_subscriber(db, channel=channel, chat_id=chat_id)
    if subscriber is None:
        return False
    mark_unreachable(db, subscriber.id, reason=reason, at=at)
    opt_out(db, channel=channel, chat_id=chat_id, source=f"{channel}_{reason}"[:60], at=at)
    return True


class ChannelService:
    """Everything between the webhooks and the dispatcher, for one process."""

    def __init__(self, inbox: Inbox, outbound: Outbound, workers: InboxWorkers) -> None:
        self.inbox = inbox
        self.outbound = outbound
        self.workers = workers

    @classmethod
    async def start(
        cls,
        settings: Settings,
        runtime: Any,
        *,
        policy: WorkerPolicy | None = None,
        outbound: Outbound | None = None,
    ) -> ChannelService:
        """Build the inbox (Redis when REDIS_URL is set, keys under REDIS_PREFIX), the senders of the
        configured channels and the workers, and start the workers. `runtime` is bot.runtime.Runtime
        (its dispatcher, db, clock); `outbound` replaces the senders built from the settings."""
        policy = policy or WorkerPolicy(workers=settings.inbox_workers)
        if policy.workers == 0 and not settings.redis_url:
            raise ValueError("INBOX_WORKERS=0 needs REDIS_URL (and `jamsosbot inbox-worker` processes)")
        sealer = getattr(runtime.dispatcher, "sealer", None)
        inbox = make_inbox(
            settings, sealer=sealer, lease_seconds=settings.inbox_lease_seconds, prefix=settings.redis_prefix
        )
        outbound = outbound if outbound is not None else await build_outbound(settings, runtime)
        clock: Callable[[], datetime] = getattr(runtime, "clock", None) or (lambda: datetime.now(UTC))
        db = getattr(runtime, "db", None)

        async def on_unreachable(channel: str, chat_id: str, reason: str) -> None:
            if db is not None:
                await asyncio.to_thread(record_unreachable, db, channel, chat_id, reason, clock())

        workers = InboxWorkers(
            inbox,
            outbound,
            # a conversation still locked (by a turn that died) is retried later, not answered 'busy'
            partial(runtime.dispatcher.handle, busy_reply=False),
            on_unreachable=on_unreachable,
            policy=policy,
        )
        workers.start()
        log.info("inbox: %s with %d workers", type(inbox).__name__, workers.policy.workers)
        return cls(inbox, outbound, workers)

    async def stop(self) -> None:
        try:
            await self.workers.stop()
        finally:
            await self.outbound.aclose()
            await self.inbox.aclose()


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    runtime = app.state.runtime  # built by the app's own lifespan, which runs around this one
    service = await ChannelService.start(runtime.settings, runtime)
    app.state.channels = service
    app.state.inbox = service.inbox
    app.state.outbound = service.outbound
    try:
        yield
    finally:
        await service.stop()


router = APIRouter(lifespan=_lifespan)


def inbox_of(request: Request) -> Inbox:
    """The inbox of the app serving `request` (for channel webhooks)."""
    inbox: Inbox = request.app.state.inbox
    return inbox
