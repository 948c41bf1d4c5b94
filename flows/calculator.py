"""The contribution calculator: from an amount in the message ("iuran kalau gaji 2 juta?") or by asking the
income, the monthly contribution of both BPU packages and the 3/6/12-month totals, computed month by month
(flows.contribution), so a period that runs past the end of a discount is right."""

from __future__ import annotations

import re
from typing import Any

from flows import intents, pricing
from flows.choices import choose
from flows.registration_slots import job_family
from flows.turn import Turn
from nlu.entities.amount import MAX_AMOUNT

NAME = "calculator"
TEXTS = (
    "calculator.ask_income",
    "calculator.result",
    "calculator.below_minimum",
    "calculator.transport_note",
    "calculator.income_invalid",
    "calculator.income_unit",
    "calculator.income_again",
    "calculator.guess_button",
    "calculator.job_line",
)
DATA = ("vocab.job_families", "occupations.occupations", "vocab.how_much")
PACKAGES = {"basic": ("jkk", "jkm"), "full": ("jkk", "jkm", "jht")}
PERIODS = (1, 3, 6, 12)
# A price question about the figures just shown ("klo yg ada jht brp" reads as ask_jht).
PRICE_QUESTIONS = frozenset({"ask_contribution", "ask_jht", "ask_jkk", "ask_jkm", "ask_payment"})
UNCLEAR = frozenset({"out_of_scope", "affirm", "deny"})  # read as no answer, like a low-confidence message
# What a follow-up naming another job is read as ("klo pedagang?" reads as a requirements question).
FOLLOW_UPS = frozenset({"ask_contribution", "ask_eligibility", "ask_requirements", "affirm", "out_of_scope"})


def _income(value: Any) -> int | None:
    """An income from an entity, a payload or typed digits; None when it is no usable number (a hand-typed
    `/ask_contribution{"amount": "abc"}`, 2,000 digits in a row)."""
    try:
        income = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return income if 0 < income <= MAX_AMOUNT else None


def start(t: Turn) -> None:
    amount = _income(t.msg.value("amount"))
    if amount is not None:
        answer(t, amount)
        return
    t.begin(NAME, "income")
    t.say("calculator.ask_income", entry=t.rp(pricing.entry_price(t)))


def on_message(t: Turn) -> bool:
    """The income answer, or a follow-up to the figures just shown; False when the message is something
    else (the engine handles it)."""
    if t.step == "answered":
        return _follow_up(t)
    msg = t.msg
    amount: Any = msg.value("amount")
    guess = t.data.get("guess")
    if msg.choice and msg.choice.isdigit():
        amount = msg.choice
    elif guess and t.msg_is_yes:  # "Maksud Anda Rp2.000.000?" - "iya"
        amount = guess
    if amount is None and re.fullmatch(r"\s*\d+\s*", msg.text):
        amount = msg.text
    if amount is None:
        if not re.search(r"\d", msg.text) and _unclear_once(t):
            t.say("calculator.income_again")  # "sajuta" before the lexicon knew it: ask again, once
            return True
        if msg.is_intent(*intents.INTERRUPTING) or not re.search(r"\d", msg.text):
            return False
        t.say("calculator.income_invalid")
        return True
    income = _income(amount)
    if income is None:
        t.say("calculator.income_invalid")
        return True
    answer(t, income)
    return True


def _follow_up(t: Turn) -> bool:
    """Right after the figures: "klo pedagang?", "klo sy petani brp" (the same income for that job), or
    "klo yg ada jht brp", "klo 6 bulan brp" (the figures again: they hold both packages and the periods,
    instead of asking the income once more)."""
    msg = t.msg
    if msg.payload is not None or msg.value("amount") is not None:
        return False
    named = [o for o in msg.values("occupation") if str(o) in t.table.sectors] or job_family(t, msg)
    words = set(msg.norm.split())
    how_much = bool(words & t.content.words("vocab.how_much")) and "lama" not in words  # not "brp lama"
    if not (named and msg.intent in FOLLOW_UPS) and not (how_much and msg.intent in PRICE_QUESTIONS):
        return False
    answer(t, int(t.data["income"]))
    return True


def _unclear_once(t: Turn) -> bool:
    """True the first time the income question gets a message that is no answer and no clear intent."""
    msg = t.msg
    if (msg.confident and msg.intent not in UNCLEAR) or t.data.get("asked_again") or t.parked is not None:
        return False  # with a form put aside, "lanjut" may mean the form: the engine decides
    t.data["asked_again"] = True
    return True


def answer(t: Turn, income: int) -> None:
    if income < 1000:
        # "2" is most likely "2 juta": ask, with the guess one tap (or one "ya") away.
        guess = income * 1_000_000
        t.begin(NAME, "income", {"guess": guess})
        button = t.button("calculator.guess_button", choose(str(guess)), amount=t.rp(guess))
        t.say("calculator.income_unit", (button,), guess=t.rp(guess))
        return
    t.end()
    if t.parked is None:  # else the form's "Lanjut pendaftaran?" comes next, not a follow-up
        t.begin(NAME, "answered", {"income": income})
    base = max(income, t.table.minimum_base)
    occupations, sector, job = _whose(t)
    values: dict[str, Any] = {
        "income": t.rp(base),
        "month": t.month_year(pricing.first_month(t)),
        "job": t.text("calculator.job_line", job=job) if job else "",
    }
    longest = {
        name: pricing.totals(t, base, programs, occupations, max(PERIODS))
        for name, programs in PACKAGES.items()
    }
    for name, year in longest.items():
        values[f"{name}_then"] = pricing.then(t, year)
        for months in PERIODS:  # each period is the first months of the longest one, month by month
            total = sum(b.total for b in year.months[:months])
            values[name if months == 1 else f"{name}{months}"] = t.rp(total)
    values["discount"] = pricing.discount_note(t, longest["basic"])
    values["below"] = t.text("calculator.below_minimum", minimum=t.rp(base)) if income < base else ""
    values["transport"] = _transport_note(t, base) if sector is None else ""
    values["bracket"] = t.text("pricing.bracket")
    t.say("calculator.result", **values)


def _whose(t: Turn) -> tuple[list[str], str | None, str]:
    """The occupations the figures are for, their discount sector (None: unknown, show both) and the job
    named back to the user. An occupation in this message wins; a job word the list cannot pin down
    ("pedagang", "driver") still tells the sector, and keeps an occupation said earlier from being used for
    somebody else's job; otherwise an occupation said earlier in the chat."""
    occupations = [str(o) for o in t.msg.values("occupation") if str(o) in t.table.sectors]
    if not occupations:
        family = job_family(t, t.msg)
        if family is None and not t.known.get("occupations"):
            family = t.known.get("job_family")  # "aye dagang ketoprak, iuranye berape" - "sejute"
        if family is not None:
            kinds = t.content.data("vocab.job_families")[family]["options"]
            sectors = {t.table.sectors.get(str(k), "other") for k in kinds}
            if len(sectors) == 1:
                sector = sectors.pop()
                return [_example(t, sector)], sector, ""
            return [], None, ""
        occupations = [str(o) for o in t.known.get("occupations") or [] if str(o) in t.table.sectors]
    if not occupations:
        return [], None, ""
    titles = {str(o["value"]): str(o["title"]) for o in t.content.data("occupations.occupations")}
    return occupations, t.table.sector_of(occupations), ", ".join(titles.get(o, o) for o in occupations)


def _example(t: Turn, sector: str) -> str:
    """An occupation of `sector`: the amounts depend on the sector only."""
    return next(value for value, s in t.table.sectors.items() if s == sector)


def _transport_note(t: Turn, base: int) -> str:
    """Without a known occupation the figures are for most jobs; say what transport workers pay when their
    longer discount makes their next 12 months different (their first month may well be the same)."""
    months = max(PERIODS)
    transport = pricing.totals(t, base, PACKAGES["basic"], [_example(t, "transport")], months)
    other = pricing.totals(t, base, PACKAGES["basic"], [], months)
    if [b.total for b in transport.months] == [b.total for b in other.months]:
        return ""
    used = next(b.discount_id for b in transport.months if b.discount_id)
    discount = next(d for d in t.table.discounts if d.id == used)
    return t.text(
        "calculator.transport_note",
        since=t.month_year(discount.start),
        until=t.month_year(discount.end),
        amount=t.rp(transport.months[0].total),
        year=t.rp(transport.total),
    )
