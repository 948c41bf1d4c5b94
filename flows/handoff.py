"""Ways to a person (Contact Center 175, the branch offices) and the kind redirect to BPJS Kesehatan, the
other agency (health insurance: JKN/KIS, treatment, faskes; Care Center 165)."""

from __future__ import annotations

from flows.turn import Turn

TEXTS = ("handoff.human", "handoff.kesehatan")
BUTTONS = ("after_handoff", "after_kesehatan")


def human(t: Turn) -> None:
    t.emit("handoff.requested", channel=t.ctx.channel)
    t.say("handoff.human", "after_handoff")


def kesehatan(t: Turn) -> None:
    t.say("handoff.kesehatan", "after_kesehatan")
