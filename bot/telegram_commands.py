"""`jamsosbot telegram-poll` (development) and `jamsosbot telegram-set-webhook` (production)."""

from __future__ import annotations

import asyncio
import signal
import sys

import click
from telegram.error import InvalidToken


@click.command("telegram-poll")
def telegram_poll() -> None:
    """Answer Telegram by long polling (no public URL needed): removes any webhook, then feeds
    getUpdates into the inbox, answered by this process's inbox workers."""
    from bot.channels.telegram_poll import TelegramPoller
    from bot.channels.telegram_sender import make_bot
    from bot.inbox_service import ChannelService
    from bot.runtime import Runtime
    from bot.settings import load_settings

    settings = load_settings()
    if not settings.telegram_enabled:
        raise click.ClickException("TELEGRAM_BOT_TOKEN is not set")
    runtime = Runtime.build(settings)

    async def main() -> None:
        service = await ChannelService.start(settings, runtime)
        bot = make_bot(settings, pool_size=1)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            async with bot:
                me = bot.bot
                click.echo(f"polling as @{me.username}; Ctrl-C to stop", err=True)
                await TelegramPoller(bot, service.inbox).run(stop)
        finally:
            await service.stop()

    try:
        asyncio.run(main())
    finally:
        runtime.close()


@click.command("telegram-set-webhook")
@click.option("--url", default=None, help="Webhook URL (default: PUBLIC_URL + /webhooks/telegram/webhook).")
@click.option("--drop-pending", is_flag=True, help="Discard updates Telegram queued meanwhile.")
@click.option("--delete", is_flag=True, help="Remove the webhook instead (back to polling).")
def telegram_set_webhook(url: str | None, drop_pending: bool, delete: bool) -> None:
    """Register the webhook with Telegram, with TELEGRAM_WEBHOOK_SECRET as its secret token."""
    from bot.channels.telegram_poll import set_webhook
    from bot.channels.telegram_sender import make_bot
    from bot.settings import load_settings

    settings = load_settings()
    if not settings.telegram_enabled:
        raise click.ClickException("TELEGRAM_BOT_TOKEN is not set")

    async def main() -> str:
        async with make_bot(settings, pool_size=1) as bot:
            if delete:
                await bot.delete_webhook(drop_pending_updates=drop_pending)
                return "webhook removed"
            return "webhook set: " + await set_webhook(bot, settings, url=url, drop_pending=drop_pending)

    try:
        click.echo(asyncio.run(main()))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    except (
        Exception
    ) as exc:  # a Telegram error: say which, without a traceback (InvalidToken's holds the token)
        detail = "" if isinstance(exc, InvalidToken) else f": {exc}"
        click.echo(f"Telegram refused: {type(exc).__name__}{detail}", err=True)
        sys.exit(1)


commands = [telegram_poll, telegram_set_webhook]
