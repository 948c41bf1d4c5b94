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
@click.option("--workers", default=1, show_default=True, type=int, help="uvicorn worker processes.")
def serve(host: str, port: int, workers: int) -> None:
    """The HTTP server: webhooks, REST channel, parse API, health, staff console."""
    import uvicorn

    uvicorn.run("bot.asgi:app", factory=True, host=host, port=port, workers=workers, log_level="info")


commands = [chat, serve]
