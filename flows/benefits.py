"""Answers about the programs and the practical questions around them, one content text per intent, right
for BPU (informal workers): JP and JKP are not open to them, and those answers say so and point to what is.
Figures that change with the date (the running discount, the pension age) are filled in per turn."""

from __future__ import annotations

from datetime import date
from typing import Any

from flows import pricing
from flows.intents import INFO
from flows.turn import Turn

TEXTS = tuple(f"benefits.{intent}" for intent in sorted(INFO))
DATA = ("benefits.pension_age",)
PROGRAM_INTENT = {"jkk": "ask_jkk", "jkm": "ask_jkm", "jht": "ask_jht", "jp": "ask_jp", "jkp": "ask_jkp"}


def answer(t: Turn, intent: str) -> None:
    """Answer an INFO intent; "ask_programs" about one named program answers that program."""
    program = t.msg.value("program")
    if intent == "ask_programs" and program in PROGRAM_INTENT and len(set(t.msg.values("program"))) == 1:
        intent = PROGRAM_INTENT[str(program)]
    t.say(f"benefits.{intent}", **_values(t))


def pension_age(t: Turn) -> int:
    """The JP retirement age in force today (59 from 2025, +1 every 3 years; benefits.pension_age)."""
    table = t.content.data("benefits.pension_age")
    steps = sorted((date.fromisoformat(str(s["from"])), int(s["age"])) for s in table)
    current = [age for start, age in steps if start <= t.today]
    return current[-1] if current else steps[0][1]


def _values(t: Turn) -> dict[str, Any]:
    return {
        "entry_price": t.rp(pricing.entry_price(t)),
        "entry_price_jht": t.rp(pricing.entry_price(t, with_jht=True)),
        "discount": pricing.discount_running(t, t.today),
        "pension_age": pension_age(t),
    }
