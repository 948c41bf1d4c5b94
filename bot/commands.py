"""`jamsosbot chat` and `jamsosbot serve`."""

from __future__ import annotations

import click


@click.command()
@click.option("--chat-id", default="console", show_default=True, help="Conversation id (one per person).")
@click.pass_context
def chat(ctx: click.Context, chat_id: str) -> None:
    """Talk to the bot in the terminal, on the embedded defaults (or whatever .env says)."""
    import logging

    from bot.channels.console import run_console

    if not (ctx.obj or {}).get("verbose"):
        logging.getLogger().setLevel(logging.WARNING)  # the chat is for the person, not for logs
    from bot.runtime import Runtime
    from bot.settings import load_settings

    runtime = Runtime.build(load_settings())
    try:
        run_console(runtime, chat_id=chat_id)
    finally:
        runtime.close()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5005, show_default=True, type=int)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="uvicorn worker processes [default: one per CPU core with REDIS_URL set, else 1].",
)
@click.option(
    "--access-log/--no-access-log", default=True, show_default=True, help="One log line per request."
)
def serve(host: str, port: int, workers: int | None, access_log: bool) -> None:
    """The HTTP server: webhooks, REST channel, parse API, health, staff console."""
    import os

    import uvicorn

    from bot.settings import load_settings

    shared = load_settings().redis_url is not None
    if workers is None:
        workers = (os.cpu_count() or 1) if shared else 1
    elif workers > 1 and not shared:
        # Without Redis the conversations live in the memory of one process; a second process would
        # not know what the first was asked.
        raise click.UsageError("several workers need REDIS_URL (conversations are shared through Redis)")
    uvicorn.run(
        "bot.asgi:app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=access_log,
    )


commands = [chat, serve]
