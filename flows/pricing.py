"""Contribution figures as users read them, shared by the calculator, the registration form and the
benefit answers: the entry price, the notes about a running discount, and period totals. Every number
comes from flows.contribution; every word from content (pricing.yml)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from flows.contribution import (
    Discount,
    PeriodTotal,
    first_contribution_month,
    monthly_contribution,
    period_total,
)
from flows.turn import Turn

TEXTS = (
    "pricing.discount_running",
    "pricing.discount_clause",
    "pricing.discount_included",
    "pricing.discount_partial",
    "pricing.bracket",
    "pricing.then",
)
HORIZON = 12  # months ahead in which a change of the monthly amount is announced
DATA = ("labels.sectors",)


def entry_price(t: Turn, with_jht: bool = False) -> int:
    """The normal (undiscounted) monthly price at the minimum income base: Rp16.800, or Rp36.800 with JHT."""
    programs = ("jkk", "jkm", "jht") if with_jht else ("jkk", "jkm")
    return monthly_contribution(t.table.minimum_base, programs, (), date(2015, 7, 1), t.table).total


def discount_running(t: Turn, month: date, sector: str | None = None) -> str:
    """The discounts running in `month` (for `sector` only, when given) in one line; "" when none."""
    running = [d for d in t.table.active_discounts(month) if sector is None or d.sector == sector]
    lines = []
    for percent in dict.fromkeys(_pct(d) for d in running):
        clauses = [
            t.text("pricing.discount_clause", who=_who(t, d), until=t.month_year(d.end))
            for d in running
            if _pct(d) == percent
        ]
        lines.append(t.text("pricing.discount_running", percent=percent, clauses="; ".join(clauses)))
    return "\n".join(lines)


def discount_note(t: Turn, period: PeriodTotal) -> str:
    """What a period's total includes: the whole period discounted, part of it, or "" for none."""
    used = [b for b in period.months if b.discounted]
    if not used:
        return ""
    discount = next(d for d in t.table.discounts if d.id == used[-1].discount_id)
    key = "pricing.discount_included" if len(used) == len(period.months) else "pricing.discount_partial"
    return t.text(
        key,
        since=t.month_year(discount.start),
        until=t.month_year(discount.end),
        percent=_pct(discount),
        who=_who(t, discount),
    )


def then(t: Turn, run: PeriodTotal) -> str:
    """When the monthly amount changes within `run` (a discount starts or ends), the month it changes and
    the new amount ("mulai April 2027: Rp26.800/bulan"); "" when it stays the same. Shown under the first
    month's figure, so nobody reads a discounted month as the price of every month."""
    first = run.months[0].total
    changed = next((b for b in run.months[1:] if b.total != first), None)
    if changed is None:
        return ""
    return t.text("pricing.then", month=t.month_year(changed.month), amount=t.rp(changed.total))


def first_month(t: Turn) -> date:
    """The first contribution month of someone joining today (flows.contribution)."""
    return first_contribution_month(t.today)


def totals(
    t: Turn, income: int, programs: Iterable[str], occupations: Iterable[str], months: int
) -> PeriodTotal:
    """`months` contribution months from the first one a person joining today pays for."""
    return period_total(income, tuple(programs), tuple(occupations), first_month(t), months, t.table)


def _who(t: Turn, discount: Discount) -> str:
    return t.content.labels("labels.sectors").get(discount.sector, discount.sector)


def _pct(discount: Discount) -> str:
    return f"{discount.percent_off.normalize():f}%"
