"""The contribution arithmetic, table-driven over incomes x packages x sectors x contribution months,
checked against the worked figures of domain.md §3.3 (Rp16.800, Rp36.800, Rp8.400 at base Rp1 juta;
JKK Rp20.000 / Rp10.000 discounted at Rp2 juta)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from flows.contribution import (
    BelowMinimumIncome,
    default_table,
    first_contribution_month,
    load_table,
    monthly_contribution,
    period_total,
)

BASIC, FULL = ("jkk", "jkm"), ("jkk", "jkm", "jht")
TRANSPORT, OTHER = ("ojol",), ("pedagang pasar",)
BEFORE = date(2025, 12, 1)  # no discount anywhere
TRANSPORT_ONLY_2026 = date(2026, 2, 1)  # Jan-Mar 2026: transport discounted, others not yet
BOTH = date(2026, 7, 1)  # Apr-Dec 2026: both discounted
TRANSPORT_ONLY_2027 = date(2027, 3, 1)  # Jan-Mar 2027: only transport still discounted
AFTER = date(2027, 4, 1)  # all discounts over

# (income, programs, occupations, month, JKK, JKM, JHT-or-None, total)
CASES = [
    (1_000_000, BASIC, OTHER, BEFORE, 10_000, 6_800, None, 16_800),
    (1_000_000, FULL, OTHER, BEFORE, 10_000, 6_800, 20_000, 36_800),
    (1_000_000, BASIC, TRANSPORT, TRANSPORT_ONLY_2026, 5_000, 3_400, None, 8_400),
    (1_000_000, FULL, TRANSPORT, TRANSPORT_ONLY_2026, 5_000, 3_400, 20_000, 28_400),
    (1_000_000, BASIC, OTHER, TRANSPORT_ONLY_2026, 10_000, 6_800, None, 16_800),
    (1_000_000, BASIC, OTHER, BOTH, 5_000, 3_400, None, 8_400),
    (1_000_000, BASIC, TRANSPORT, BOTH, 5_000, 3_400, None, 8_400),
    (1_000_000, BASIC, TRANSPORT, TRANSPORT_ONLY_2027, 5_000, 3_400, None, 8_400),
    (1_000_000, BASIC, OTHER, TRANSPORT_ONLY_2027, 10_000, 6_800, None, 16_800),
    (1_000_000, BASIC, TRANSPORT, AFTER, 10_000, 6_800, None, 16_800),
    (2_000_000, BASIC, OTHER, BEFORE, 20_000, 6_800, None, 26_800),
    (2_000_000, FULL, OTHER, BEFORE, 20_000, 6_800, 40_000, 66_800),
    (2_000_000, BASIC, TRANSPORT, TRANSPORT_ONLY_2026, 10_000, 3_400, None, 13_400),
    (2_000_000, FULL, TRANSPORT, BOTH, 10_000, 3_400, 40_000, 53_400),  # JHT is never discounted
    (2_000_000, FULL, OTHER, AFTER, 20_000, 6_800, 40_000, 66_800),
    (3_500_000, FULL, OTHER, BOTH, 17_500, 3_400, 70_000, 90_900),
    (1_234_567, BASIC, OTHER, BEFORE, 12_346, 6_800, None, 19_146),  # 12.345,67 rounds half up
    (1_234_567, FULL, TRANSPORT, BOTH, 6_173, 3_400, 24_691, 34_264),  # 6.172,835 -> 6.173; 24.691,34
    (1_000_050, BASIC, OTHER, BOTH, 5_000, 3_400, None, 8_400),  # 5.000,25 -> 5.000
    (1_000_100, BASIC, OTHER, BOTH, 5_001, 3_400, None, 8_401),  # 5.000,50 -> 5.001 (half up)
]


@pytest.mark.parametrize(("income", "programs", "occupations", "month", "jkk", "jkm", "jht", "total"), CASES)
def test_monthly_contribution(
    income: int,
    programs: tuple[str, ...],
    occupations: tuple[str, ...],
    month: date,
    jkk: int,
    jkm: int,
    jht: int | None,
    total: int,
) -> None:
    b = monthly_contribution(income, programs, occupations, month)
    amounts = {i.program: i.net for i in b.items}
    assert amounts == {"jkk": jkk, "jkm": jkm, **({"jht": jht} if jht is not None else {})}
    assert b.total == total
    assert b.month == date(month.year, month.month, 1)
    assert all(i.gross - i.discount == i.net for i in b.items)


@pytest.mark.parametrize(
    ("month", "transport", "other"),
    [
        (date(2025, 12, 31), False, False),
        (date(2026, 1, 1), True, False),  # the transport window opens with January 2026
        (date(2026, 3, 31), True, False),
        (date(2026, 4, 1), True, True),  # others from April 2026
        (date(2026, 12, 31), True, True),
        (date(2027, 1, 1), True, False),  # others end with December 2026
        (date(2027, 3, 15), True, False),
        (date(2027, 4, 1), False, False),  # transport ends with March 2027
    ],
)
def test_discount_windows_are_contribution_months(month: date, transport: bool, other: bool) -> None:
    for occupation in ("ojol", "ojek pangkalan", "sopir", "kurir"):
        assert monthly_contribution(1_000_000, BASIC, (occupation,), month).discounted is transport
    for occupation in ("petani", "pedagang pasar", "nelayan", "asisten rumah tangga"):
        assert monthly_contribution(1_000_000, BASIC, (occupation,), month).discounted is other


def test_any_transport_occupation_gets_the_transport_window() -> None:
    b = monthly_contribution(1_000_000, BASIC, ("petani", "kurir"), date(2027, 2, 1))
    assert b.sector == "transport" and b.total == 8_400


def test_a_period_spanning_the_end_of_a_discount_is_computed_month_by_month() -> None:
    # Transport, 6 months from January 2027: Jan-Mar discounted, Apr-Jun normal.
    period = period_total(1_000_000, BASIC, TRANSPORT, date(2027, 1, 1), 6)
    assert [b.total for b in period.months] == [8_400] * 3 + [16_800] * 3
    assert period.total == 75_600
    # Others, 12 months from October 2026 with JHT: Oct-Dec discounted (28.400), then 9 x 36.800.
    year = period_total(1_000_000, FULL, OTHER, date(2026, 10, 1), 12)
    assert year.total == 3 * 28_400 + 9 * 36_800
    # Others, 3 months from February 2026: Feb-Mar normal, April discounted.
    assert period_total(2_000_000, BASIC, OTHER, date(2026, 2, 1), 3).total == 26_800 * 2 + 13_400


@pytest.mark.parametrize("months", [1, 2, 3, 6, 12])
def test_period_total_is_the_sum_of_its_months(months: int) -> None:
    p = period_total(1_500_000, FULL, TRANSPORT, date(2026, 11, 1), months)
    assert len(p.months) == months and p.total == sum(b.total for b in p.months)


def test_refusals() -> None:
    with pytest.raises(BelowMinimumIncome):
        monthly_contribution(999_999, BASIC, OTHER, BEFORE)
    with pytest.raises(ValueError, match="subset"):
        monthly_contribution(2_000_000, ("jkk", "jkm", "jp"), OTHER, BEFORE)  # JP is not open to BPU
    with pytest.raises(ValueError, match="subset"):
        monthly_contribution(2_000_000, (), OTHER, BEFORE)


@pytest.mark.parametrize(
    ("today", "first"),
    [
        (date(2026, 11, 1), date(2026, 11, 1)),
        (date(2026, 11, 15), date(2026, 11, 1)),  # due today: this month
        (date(2026, 11, 16), date(2026, 12, 1)),
        (date(2026, 12, 20), date(2027, 1, 1)),
    ],
)
def test_first_contribution_month_follows_the_due_day(today: date, first: date) -> None:
    assert first_contribution_month(today) == first


def _table_dir(tmp_path: Path, rates: str) -> Path:
    (tmp_path / "rates.yml").write_text(rates, encoding="utf-8")
    (tmp_path / "occupations.yml").write_text(
        "occupations:\n"
        "  - {value: ojol, sector: transport, title: Ojol}\n"
        "  - {value: petani, sector: other, title: Petani}\n",
        encoding="utf-8",
    )
    return tmp_path


RATES_HEAD = """version: t
minimum_base: 1000000
rates:
  - {program: jkk, percent: "1", from: "2015-07", until: null}
  - {program: jkm, flat: 6800, from: "2015-07", until: "2029-12"}
  - {program: jkm, flat: 7000, from: "2030-01", until: null}
  - {program: jht, percent: "2", from: "2015-07", until: null}
"""


def test_a_new_rate_is_a_new_row_not_a_code_change(tmp_path: Path) -> None:
    table = load_table(_table_dir(tmp_path, RATES_HEAD + "discounts: []\n"))
    assert monthly_contribution(1_000_000, BASIC, ("petani",), date(2029, 12, 1), table).total == 16_800
    assert monthly_contribution(1_000_000, BASIC, ("petani",), date(2030, 1, 1), table).total == 17_000


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('  - {program: jkm, flat: 1, from: "2020-01", until: null}\ndiscounts: []\n', "overlapping"),
        (
            "discounts:\n  - {id: x, programs: [jkk], percent_off: 50, sector: mars,"
            " from: 2026-01, until: 2026-02}\n",
            "sector",
        ),
        ('  - {program: jp, percent: "1", from: "2015-07", until: null}\ndiscounts: []\n', "unknown program"),
        (
            '  - {program: jkk, percent: "1", flat: 2, from: "2031-01", until: null}\ndiscounts: []\n',
            "exactly one",
        ),
        ('  - {program: jkk, percent: "1", from: "July 2031", until: null}\ndiscounts: []\n', "YYYY-MM"),
    ],
)
def test_a_bad_table_is_refused_at_load(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_table(_table_dir(tmp_path, RATES_HEAD + extra))


def test_the_packaged_table_loads_with_both_pp50_windows() -> None:
    table = default_table()
    assert table.minimum_base == 1_000_000
    windows = {d.sector: (d.start, d.end) for d in table.discounts}
    assert windows == {
        "transport": (date(2026, 1, 1), date(2027, 3, 1)),
        "other": (date(2026, 4, 1), date(2026, 12, 1)),
    }
