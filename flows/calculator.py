"""The contribution calculator: from an amount in the message ("iuran kalau gaji 2 juta?") or by asking the
income, the monthly contribution of both BPU packages and the 3/6/12-month totals, computed month by month
(flows.contribution), so a period that runs past the end of a discount is right."""

from __future__ import annotations

import re
from typing import Any

from flows import intents, pricing
from flows.turn import Turn

NAME = "calculator"
TEXTS = (
    "calculator.ask_income",
    "calculator.result",
    "calculator.below_minimum",
    "calculator.transport_note",
    "calculator.income_invalid",
    "calculator.income_unit",
)
PACKAGES = {"basic": ("jkk", "jkm"), "full": ("jkk", "jkm", "jht")}
PERIODS = (1, 3, 6, 12)


def start(t: Turn) -> None:
    amount = t.msg.value("amount")
    if amount is not None:
        answer(t, int(amount))
        return
    t.begin(NAME, "income")
    t.say("calculator.ask_income", entry=t.rp(pricing.entry_price(t)))


def on_message(t: Turn) -> bool:
    """The income answer; False when the message is something else (the engine handles it)."""
    msg = t.msg
    amount: Any = msg.value("amount")
    if amount is None and re.fullmatch(r"\s*\d+\s*", msg.text):
        amount = int(msg.text)
    if amount is None:
        if msg.is_intent(*intents.INTERRUPTING) or not re.search(r"\d", msg.text):
            return False
        t.say("calculator.income_invalid")
        return True
    answer(t, int(amount))
    return True


def answer(t: Turn, income: int) -> None:
    if income < 1000:
        t.begin(NAME, "income")
        t.say("calculator.income_unit", guess=t.rp(income * 1_000_000))
        return
    t.end()
    base = max(income, t.table.minimum_base)
    occupations = [str(o) for o in t.msg.values("occupation")] or list(t.known.get("occupations") or [])
    sector = t.table.sector_of(occupations) if occupations else None
    values: dict[str, Any] = {"income": t.rp(base), "month": t.month_year(pricing.first_month(t))}
    longest = {
        name: pricing.totals(t, base, programs, occupations, max(PERIODS))
        for name, programs in PACKAGES.items()
    }
    for name, year in longest.items():
        for months in PERIODS:  # each period is the first months of the longest one, month by month
            total = sum(b.total for b in year.months[:months])
            values[name if months == 1 else f"{name}{months}"] = t.rp(total)
    values["discount"] = pricing.discount_note(t, longest["basic"])
    values["below"] = t.text("calculator.below_minimum", minimum=t.rp(base)) if income < base else ""
    values["transport"] = _transport_note(t, base) if sector is None else ""
    values["bracket"] = t.text("pricing.bracket")
    t.say("calculator.result", **values)


def _transport_note(t: Turn, base: int) -> str:
    """Without a known occupation the figures are for most jobs; say what transport workers pay when their
    discount makes it different this month."""
    example = next(value for value, sector in t.table.sectors.items() if sector == "transport")
    transport = pricing.totals(t, base, PACKAGES["basic"], [example], 1).months[0]
    other = pricing.totals(t, base, PACKAGES["basic"], [], 1).months[0]
    if transport.total == other.total:
        return ""
    return t.text("calculator.transport_note", amount=t.rp(transport.total))
