"""`jamsosbot chat`: talk to the bot in the terminal, through the same dispatcher as every channel.
Buttons are shown as numbered choices; answer with the number or the words."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.messages import InboundMessage
from bot.render import numbered
from bot.runtime import Runtime

PROMPT = "Anda> "
QUIT = {"/quit", "/exit", "/keluar"}


def run_console(
    runtime: Runtime, *, chat_id: str = "console", stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout
) -> None:
    interactive = stdin.isatty()
    stdout.write("jamsosbot — ketik pesan Anda (/keluar untuk selesai)\n\n")
    while True:
        if interactive:
            stdout.write(PROMPT)
            stdout.flush()
        line = stdin.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        if text.lower() in QUIT:
            break
        if not interactive:
            stdout.write(f"{PROMPT}{text}\n")
        for reply in runtime.dispatcher.handle(InboundMessage(channel="console", chat_id=chat_id, text=text)):
            stdout.write(f"Bot> {numbered(reply)}\n\n")
        stdout.flush()
