"""`jamsosbot worker`: an arq worker process for campaign broadcasts.

Start as many as the load needs, on as many machines (they share PostgreSQL and Redis). SIGTERM (or
Ctrl-C) is a graceful stop: sender jobs stop taking new deliveries, finish the sends in flight, record
them, and hand their slot to a successor that another worker picks up; SIGKILL loses nothing either (the
claims' leases and the ledger take care of it, see docs/broadcast.md) but may leave a send in doubt.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from arq import cron, func
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker

from bot.broadcast.bulk_telegram import BulkTelegramSender
from bot.broadcast.bulk_whatsapp import BulkWhatsAppSender
from bot.broadcast.channels import ChannelPort, TelegramPort, WhatsAppPort
from bot.broadcast.config import BroadcastConfig
from bot.broadcast.jobs import WorkerApp, broadcast_plan, broadcast_slice, broadcast_tend
from bot.broadcast.keys import Keys
from bot.broadcast.planner import Planner
from bot.broadcast.queue import BroadcastQueue
from bot.broadcast.sending import Engine
from bot.broadcast.twilio_lookup import TwilioLookup
from bot.channels.telegram_sender import make_bot
from bot.outbound import Outbound
from bot.settings import Settings
from storage.db import Database, open_database

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 20  # seconds a stopping worker gives its jobs to record what is in flight


def utcnow() -> datetime:
    return datetime.now(UTC)


async def build_ports(
    settings: Settings,
    config: BroadcastConfig,
    db: Database,
    clock: Callable[[], datetime],
    *,
    outbound: Outbound | None = None,
) -> tuple[dict[str, ChannelPort], Outbound]:
    """The channel ports over the channel senders (only configured channels). Unless `outbound` is given,
    the senders are the bulk ones (bot/broadcast/bulk_http.py): the bot's senders with a lean HTTP path."""
    if outbound is None:
        outbound = bulk_outbound(settings, db, clock)
    ports: dict[str, ChannelPort] = {}
    if "telegram" in outbound:
        ports["telegram"] = TelegramPort(outbound["telegram"])
    if "whatsapp" in outbound:
        assert settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_whatsapp_from
        lookup = TwilioLookup(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            sender=settings.twilio_whatsapp_from,
            api_url=settings.twilio_api_url,
        )
        sender: Any = outbound["whatsapp"]
        ports["whatsapp"] = WhatsAppPort(sender, lookup=lookup, button_hint=config.whatsapp_button_hint)
    return ports, outbound


def bulk_outbound(settings: Settings, db: Database, clock: Callable[[], datetime]) -> Outbound:
    outbound = Outbound()
    if settings.telegram_enabled:
        outbound.register(BulkTelegramSender(make_bot(settings)))
    if settings.whatsapp_enabled:
        outbound.register(BulkWhatsAppSender.from_settings(settings, db=db, clock=clock))
    return outbound


async def build_app(
    settings: Settings,
    config: BroadcastConfig,
    redis: ArqRedis,
    *,
    db: Database | None = None,
    ports: dict[str, ChannelPort] | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> WorkerApp:
    """The worker's shared state. Tests pass their own database and ports."""
    closers: list[Any] = []
    if db is None:
        db = open_database(settings, pool_size=max(4, config.max_jobs))
        closers.append(db.dispose)
    if ports is None:
        ports, outbound = await build_ports(settings, config, db, clock)
        closers.append(outbound.aclose)
    keys = Keys(settings.redis_prefix)
    engine = Engine(db=db, redis=redis, keys=keys, config=config, ports=ports, clock=clock)
    planner = Planner(db, redis, keys, batch=config.plan_batch, clock=clock)
    return WorkerApp(engine=engine, queue=BroadcastQueue(redis, keys), planner=planner, closers=closers)


async def _startup(ctx: dict[str, Any]) -> None:
    app = await build_app(ctx["settings"], ctx["config"], ctx["redis"])
    app.stop = ctx["stop"]
    for port in app.engine.ports.values():
        await port.warm_up()
    ctx["broadcast"] = app
    log.info("broadcast worker %s ready (channels: %s)", app.name, ", ".join(app.engine.ports) or "none")


async def _shutdown(ctx: dict[str, Any]) -> None:
    app: WorkerApp | None = ctx.get("broadcast")
    if app is None:
        return
    log.info("broadcast worker stopping; stats: %s", app.engine.stats)
    for close in reversed(app.closers):
        result = close()
        if asyncio.iscoroutine(result):
            await result


def make_worker(settings: Settings, config: BroadcastConfig, *, burst: bool = False) -> Worker:
    """An arq Worker for the broadcast queue of `settings` (REDIS_URL, REDIS_PREFIX)."""
    if not settings.redis_url:
        raise ValueError("the broadcast worker needs REDIS_URL (its job queue and rate limits live in Redis)")
    keys = Keys(settings.redis_prefix)
    stop = asyncio.Event()
    slice_timeout = config.slice_seconds + config.claim_lease_seconds + SHUTDOWN_GRACE
    worker = Worker(
        functions=[
            func(broadcast_slice, timeout=slice_timeout, max_tries=3, keep_result=0),
            func(broadcast_plan, timeout=24 * 3600, max_tries=3, keep_result=0),
        ],
        cron_jobs=[
            cron(
                broadcast_tend,
                name=keys.tend_job,
                second=set(range(0, 60, config.tend_seconds)),
                run_at_startup=True,
                timeout=120,
            )
        ],
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        queue_name=keys.queue,
        on_startup=_startup,
        on_shutdown=_shutdown,
        ctx={"settings": settings, "config": config, "stop": stop},
        max_jobs=config.max_jobs,
        poll_delay=config.poll_seconds,
        keep_result=0,
        burst=burst,
        handle_signals=True,
        job_completion_wait=SHUTDOWN_GRACE,
        health_check_interval=60,
        log_results=False,
    )

    def graceful(signum: signal.Signals) -> None:
        stop.set()  # sender jobs notice between sends and hand over
        worker.handle_sig_wait_for_completion(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        worker.loop.add_signal_handler(signum, partial(graceful, signum))
    return worker


def run_worker(settings: Settings, config: BroadcastConfig, *, burst: bool = False) -> None:
    """Run a worker in this process, on uvloop where it is installed (uvicorn[standard] brings it along):
    10–15 % less CPU per message sent than asyncio's own loop (docs/broadcast.md, "Measured")."""
    try:
        import uvloop
    except ImportError:
        log.info("uvloop is not installed; the broadcast worker runs on asyncio's own event loop")
    else:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    make_worker(settings, config, burst=burst).run()
