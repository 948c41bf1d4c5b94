"""`jamsosbot inbox-worker`: a process that only answers the inbox (Redis), beside web processes that only
acknowledge webhooks (INBOX_WORKERS=0 there). Turns are CPU work; keeping them out of the web processes keeps
the webhook acknowledgement fast whatever the load."""

from __future__ import annotations

import asyncio
import signal

import click


@click.command("inbox-worker")
@click.option("--workers", type=int, default=None, help="Chats answered at once (default: INBOX_WORKERS).")
def inbox_worker(workers: int | None) -> None:
    """Answer the messages in the Redis inbox (Telegram, WhatsApp) until stopped (SIGINT/SIGTERM)."""
    from bot.inbox_service import ChannelService
    from bot.inbox_workers import WorkerPolicy
    from bot.runtime import Runtime
    from bot.settings import load_settings

    settings = load_settings()
    if not settings.redis_url:
        raise click.ClickException("the inbox is shared through Redis: set REDIS_URL")
    count = workers if workers is not None else max(1, settings.inbox_workers)
    if count < 1:
        raise click.ClickException("--workers must be at least 1")
    runtime = Runtime.build(settings)

    async def main() -> None:
        service = await ChannelService.start(settings, runtime, policy=WorkerPolicy(workers=count))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        click.echo(f"answering the inbox with {count} workers; Ctrl-C to stop", err=True)
        try:
            await stop.wait()
        finally:
            await service.stop()

    try:
        asyncio.run(main())
    finally:
        runtime.close()


commands = [inbox_worker]
