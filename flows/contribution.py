"""BPU contribution (iuran) arithmetic from the rates table (flows/content/rates.yml).

`monthly_contribution(income, programs, occupations, month)` is the one function everybody uses: the
calculator flow, the registration form, and storage/the dispatcher when they need the amount of a month.

Rules (domain.md §3.3, §12):
- The income base is the declared monthly income, at least Rp1.000.000. The official bracket table
  (PP 44/2015 Lampiran II) was not retrieved, so the declared income itself is used as the base; the users
  are told that the branch confirms the exact bracket. Below the minimum is an error here: callers decide
  whether to refuse (registration) or to compute on the minimum (calculator).
- JKK = 1% of the base, JHT = 2% of the base, JKM = Rp6.800 flat (each from the row valid in that month).
- A discount (PP 50/2025: 50% of JKK and JKM) applies when the contribution month lies in its window and the
  participant has an occupation in its sector; the month that matters is the contribution month.

Rounding, in whole rupiah, per program per month: the exact amount after the discount is rounded half up
(`net`); the undiscounted amount is rounded half up the same way (`gross`); `discount = gross - net`. A
month's total is the sum of its rounded program amounts; a period's total is the sum of its months. With
the sourced figures no rounding happens at all (Rp10.000, Rp5.000, Rp3.400, ...).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from flows.fmt import add_months

CONTENT_DIR = Path(__file__).with_name("content")
BPU_PROGRAMS = ("jkk", "jkm", "jht")
DUE_DAY = 15  # a month's contribution is due by the 15th of that month (domain.md §3.3)


class BelowMinimumIncome(ValueError):
    """The declared income is below the minimum income base."""


@dataclass(frozen=True)
class Rate:
    program: str
    start: date  # first contribution month (day 1)
    end: date | None  # last contribution month (day 1), inclusive; None = open
    percent: Decimal | None = None
    flat: int | None = None

    def exact(self, base: int) -> Decimal:
        """The unrounded monthly amount on an income base."""
        if self.flat is not None:
            return Decimal(self.flat)
        if self.percent is None:
            raise ValueError(f"{self.program} rate has neither flat nor percent")
        return Decimal(base) * self.percent / 100


@dataclass(frozen=True)
class Discount:
    id: str
    programs: frozenset[str]
    percent_off: Decimal
    sector: str
    start: date
    end: date


@dataclass(frozen=True)
class RateTable:
    version: str
    minimum_base: int
    rates: tuple[Rate, ...]
    discounts: tuple[Discount, ...]
    sectors: dict[str, str]  # occupation value -> sector

    def rate(self, program: str, month: date) -> Rate:
        for rate in self.rates:
            if rate.program == program and _within(month, rate.start, rate.end):
                return rate
        raise ValueError(f"no {program} rate for {month:%Y-%m}")

    def sector_of(self, occupations: Iterable[str]) -> str:
        """ "transport" when any occupation is in the transport sector (the longer PP 50/2025 window),
        else "other". Unknown values count as "other"."""
        sectors = {self.sectors.get(o, "other") for o in occupations}
        return "transport" if "transport" in sectors else "other"

    def discount(self, sector: str, month: date) -> Discount | None:
        for d in self.discounts:
            if d.sector == sector and _within(month, d.start, d.end):
                return d
        return None

    def active_discounts(self, month: date) -> list[Discount]:
        return [d for d in self.discounts if _within(month, d.start, d.end)]


@dataclass(frozen=True)
class ProgramAmount:
    program: str
    gross: int  # before any discount
    discount: int
    net: int  # what is paid


@dataclass(frozen=True)
class Breakdown:
    """The contribution of one month."""

    month: date  # first day of the contribution month
    income_base: int
    sector: str
    items: tuple[ProgramAmount, ...]
    discount_id: str | None

    @property
    def total(self) -> int:
        return sum(i.net for i in self.items)

    @property
    def gross_total(self) -> int:
        return sum(i.gross for i in self.items)

    @property
    def discounted(self) -> bool:
        return any(i.discount for i in self.items)


@dataclass(frozen=True)
class PeriodTotal:
    months: tuple[Breakdown, ...]

    @property
    def total(self) -> int:
        return sum(b.total for b in self.months)


def monthly_contribution(
    income: int,
    programs: Iterable[str],
    occupations: Iterable[str],
    month: date,
    table: RateTable | None = None,
) -> Breakdown:
    """The contribution for the contribution month containing `month`.

    `programs` is a subset of ("jkk", "jkm", "jht") (JP and JKP are not open to BPU: ValueError);
    `occupations` are values of the occupation list (they decide the discount sector).
    Raises BelowMinimumIncome when `income` is below the table's minimum base."""
    table = table or default_table()
    chosen = tuple(p for p in BPU_PROGRAMS if p in set(programs))
    unknown = set(programs) - set(BPU_PROGRAMS)
    if unknown or not chosen:
        raise ValueError(f"programs must be a non-empty subset of {BPU_PROGRAMS}, got {sorted(programs)}")
    if income < table.minimum_base:
        raise BelowMinimumIncome(f"income below the minimum base {table.minimum_base}")
    first = date(month.year, month.month, 1)
    sector = table.sector_of(occupations)
    discount = table.discount(sector, first)
    items = []
    for program in chosen:
        exact = table.rate(program, first).exact(income)
        net_exact = exact
        if discount is not None and program in discount.programs:
            net_exact = exact * (100 - discount.percent_off) / 100
        gross, net = _round(exact), _round(net_exact)
        items.append(ProgramAmount(program, gross, gross - net, net))
    used = discount.id if discount is not None and any(i.discount for i in items) else None
    return Breakdown(first, income, sector, tuple(items), used)


def period_total(
    income: int,
    programs: Iterable[str],
    occupations: Iterable[str],
    first_month: date,
    months: int,
    table: RateTable | None = None,
) -> PeriodTotal:
    """`months` consecutive contribution months from `first_month`, each computed on its own rules (so a
    period that spans the end of a discount is right month by month)."""
    programs, occupations = tuple(programs), tuple(occupations)
    start = date(first_month.year, first_month.month, 1)
    return PeriodTotal(
        tuple(
            monthly_contribution(income, programs, occupations, add_months(start, i), table)
            for i in range(months)
        )
    )


def first_contribution_month(today: date) -> date:
    """The first month a person who joins `today` pays for: this month while its due day (the 15th) has
    not passed, else the next month (the membership backend sets the first due date the same way)."""
    first = date(today.year, today.month, 1)
    return first if today.day <= DUE_DAY else add_months(first, 1)


def _round(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _within(month: date, start: date, end: date | None) -> bool:
    return start <= month and (end is None or month <= end)


def _month(value: Any, field: str) -> date:
    try:
        year, month = str(value).split("-")
        return date(int(year), int(month), 1)
    except ValueError as exc:
        raise ValueError(f"rates.yml: {field} must be 'YYYY-MM', got {value!r}") from exc


def load_table(content_dir: Path = CONTENT_DIR) -> RateTable:
    """Read and check rates.yml and occupations.yml. Raises ValueError on anything malformed, so a bad
    table stops the engine at construction rather than giving a wrong amount mid-chat."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    raw = yaml.load((content_dir / "rates.yml").read_text(encoding="utf-8"), Loader=loader)
    occ = yaml.load((content_dir / "occupations.yml").read_text(encoding="utf-8"), Loader=loader)
    rates = []
    for row in raw["rates"]:
        if (row.get("percent") is None) == (row.get("flat") is None):
            raise ValueError(f"rates.yml: {row.get('program')} needs exactly one of percent / flat")
        if row["program"] not in BPU_PROGRAMS:
            raise ValueError(f"rates.yml: unknown program {row['program']!r}")
        rates.append(
            Rate(
                program=row["program"],
                start=_month(row["from"], "from"),
                end=_month(row["until"], "until") if row.get("until") else None,
                percent=Decimal(str(row["percent"])) if row.get("percent") is not None else None,
                flat=int(row["flat"]) if row.get("flat") is not None else None,
            )
        )
    sectors = {str(o["value"]): str(o["sector"]) for o in occ["occupations"]}
    discounts = []
    for row in raw.get("discounts") or []:
        if row["sector"] not in set(sectors.values()):
            raise ValueError(f"rates.yml: discount {row['id']} names unknown sector {row['sector']!r}")
        discounts.append(
            Discount(
                id=str(row["id"]),
                programs=frozenset(row["programs"]),
                percent_off=Decimal(str(row["percent_off"])),
                sector=str(row["sector"]),
                start=_month(row["from"], "from"),
                end=_month(row["until"], "until"),
            )
        )
    table = RateTable(str(raw["version"]), int(raw["minimum_base"]), tuple(rates), tuple(discounts), sectors)
    _check_overlaps(table)
    return table


def _check_overlaps(table: RateTable) -> None:
    """Two rows valid in the same month for the same program (or sector) would make the answer depend on
    row order: refuse the table."""
    for group in (
        [(r.program, r.start, r.end) for r in table.rates],
        [(d.sector, d.start, d.end) for d in table.discounts],
    ):
        for i, (key, start, end) in enumerate(group):
            for key2, start2, end2 in group[i + 1 :]:
                if key == key2 and (_within(start2, start, end) or _within(start, start2, end2)):
                    raise ValueError(f"rates.yml: overlapping rows for {key}")


@cache
def default_table() -> RateTable:
    return load_table(CONTENT_DIR)
