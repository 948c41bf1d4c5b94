"""Campaign news and payment reminders: opt-in on request, recorded with time and source; STOP in its many
forms honoured at once (the engine routes it before anything else) and confirmed; re-subscribing works the
same way as subscribing. The host keeps the subscriber list from the opt_in / opt_out events."""

from __future__ import annotations

from flows.turn import Turn

TEXTS = ("subscription.opted_in", "subscription.opted_out")
BUTTONS = ("after_opt_in", "after_opt_out")


def opt_in(t: Turn) -> None:
    t.emit("opt_in", channel=t.ctx.channel, source=t.state.get("source") or "chat")
    t.say("subscription.opted_in", "after_opt_in")


def opt_out(t: Turn, source: str = "stop") -> None:
    t.emit("opt_out", channel=t.ctx.channel, source=source)
    t.say("subscription.opted_out", "after_opt_out")
