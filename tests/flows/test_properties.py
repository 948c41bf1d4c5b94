"""Properties that hold for every income, month and answer, checked with hypothesis."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.choices import resolve
from flows.contribution import default_table, monthly_contribution, period_total
from flows.masking import mask_name, mask_nik

incomes = st.integers(min_value=1_000_000, max_value=100_000_000)
months = st.dates(min_value=date(2024, 1, 1), max_value=date(2029, 12, 31))
occupations = st.sampled_from([("ojol",), ("kurir",), ("petani",), ("nelayan", "sopir"), ()])


@settings(max_examples=100, deadline=None)
@given(incomes, months, occupations)
def test_contribution_invariants(income: int, month: date, occ: tuple[str, ...]) -> None:
    basic = monthly_contribution(income, ("jkk", "jkm"), occ, month)
    full = monthly_contribution(income, ("jkk", "jkm", "jht"), occ, month)
    jht = next(i for i in full.items if i.program == "jht")
    assert full.total == basic.total + jht.net and jht.discount == 0  # JHT is never discounted
    assert all(0 <= i.net <= i.gross for i in full.items)
    in_window = default_table().discount(default_table().sector_of(occ), date(month.year, month.month, 1))
    assert basic.discounted is (in_window is not None)
    jkk = int((Decimal(income) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert basic.gross_total == jkk + 6_800


@settings(max_examples=30, deadline=None)
@given(incomes, months, occupations, st.sampled_from([1, 2, 3, 6, 12]))
def test_a_period_is_its_months(income: int, month: date, occ: tuple[str, ...], n: int) -> None:
    period = period_total(income, ("jkk", "jkm", "jht"), occ, month, n)
    assert period.total == sum(
        monthly_contribution(income, ("jkk", "jkm", "jht"), occ, b.month).total for b in period.months
    )


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_resolve_never_invents_a_payload(text: str) -> None:
    offered = [("Ya, lanjut", "/affirm"), ("Tidak", "/deny")]
    assert resolve(text, offered) in (None, "/affirm", "/deny")


@settings(max_examples=50)
@given(st.from_regex(r"[1-9][0-9]{15}", fullmatch=True))
def test_masked_nik_hides_the_middle(nik: str) -> None:
    masked = mask_nik(nik)
    assert len(masked) == 16 and masked[4:12] == "*" * 8 and masked[:4] == nik[:4]


@settings(max_examples=50)
@given(st.lists(st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True), min_size=1, max_size=5))
def test_masked_name_keeps_shape(words: list[str]) -> None:
    masked = mask_name(" ".join(words))
    assert [len(w) for w in masked.split()] == [len(w) for w in words]
    assert all(m[0] == w[0] for m, w in zip(masked.split(), words, strict=True))
