"""Property-based tests on every parser of user text: on any string, none raises, and what they return
has the contract's types (shared/contract.md §2) with offsets inside the text they were given.

Each test pairs the plain hypothesis strategies with `HOSTILE_TEXT` (control characters, NUL, RTL marks,
emoji, full-width and Arabic digits, injection strings, entity-shaped fragments), which reaches the digit
and date finders far more often than uniform unicode does.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import unicodedata
from decimal import Decimal
from unittest import mock

from hypothesis import example, given
from hypothesis import strategies as st

from flows.masking import mask_kpj, mask_name, mask_nik, mask_phone
from nlu.entities import date as dates
from nlu.entities import digits, extract, nik, numbers, occupation, phone
from nlu.entities.kpj import parse_kpj
from nlu.entities.phone import to_e164
from nlu.normalize import fold, normalize
from tests.hostile.strategies import HOSTILE, HOSTILE_TEXT

TODAY = dt.date(2026, 11, 21)
PROGRAMS = {"jkk", "jkm", "jht", "jp", "jkp"}
E164_ID = re.compile(r"^\+62[1-9][0-9]{6,12}$")


def _digits_of(surface: str) -> str:
    return re.sub(r"[^0-9]", "", unicodedata.normalize("NFKC", surface))


# -- normalization -------------------------------------------------------------------------------------
@HOSTILE
@given(HOSTILE_TEXT)
@example("İ" * 5 + " bisa2 ﬁ haloooo")
def test_normalize_keeps_offsets_inside_the_text(text: str) -> None:
    folded = fold(text)
    assert len(folded) == len(text)  # the extractors index the original through the folded text
    result = normalize(text)
    assert result.original == text
    assert result.text == " ".join(t.text for t in result.tokens)
    previous_end = 0
    for token in result.tokens:
        assert 0 <= token.start < token.end <= len(text)
        assert token.start >= previous_end  # in order, not overlapping
        assert token.text and token.text == token.text.lower()
        previous_end = token.end


# -- entity extraction ---------------------------------------------------------------------------------
def _check_entity(text: str, entity: dict[str, object]) -> None:
    start, end, value, name = entity["start"], entity["end"], entity["value"], entity["entity"]
    assert isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)
    assert entity["extractor"]
    surface = text[start:end]
    if name == "nik":
        assert isinstance(value, str) and re.fullmatch(r"[0-9]{16}", value)
        assert _digits_of(surface) == value
    elif name == "kpj":
        assert isinstance(value, str) and re.fullmatch(r"[0-9]{11}", value)
        assert _digits_of(surface) == value
    elif name == "phone":
        assert isinstance(value, str) and E164_ID.match(value)
        assert _digits_of(surface).lstrip("0").removeprefix("62") == value[3:]
    elif name == "date":
        assert isinstance(value, str)
        assert 1900 <= dt.date.fromisoformat(value).year <= 2100
    elif name == "amount":
        assert type(value) is int and value > 0
    elif name == "program":
        assert value in PROGRAMS
    elif name == "occupation":
        assert isinstance(value, str) and value in occupation.values() and value == value.lower()
    else:
        raise AssertionError(f"an entity the contract does not name: {name!r}")


@HOSTILE
@given(HOSTILE_TEXT)
@example("1" * 2000)
@example("Rp " + "9" * 60)
@example("999999999999999999999999999999 triliun")
@example("0 " * 300)
def test_extract_returns_contract_entities_inside_the_text(text: str) -> None:
    found = extract(text, today=TODAY)
    for entity in found:
        _check_entity(text, entity)
    spans = [(e["start"], e["end"]) for e in found]
    assert spans == sorted(spans)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))


@HOSTILE
@given(
    st.lists(st.from_regex(r"[0-9]{1,4}", fullmatch=True), min_size=1, max_size=400), st.sampled_from(" .-")
)
def test_long_runs_of_digit_groups_are_read_in_bounded_work(groups: list[str], sep: str) -> None:
    """A message of hundreds of short digit groups (a NIK typed badly, a copied table) must not cost the
    phone finder a search over every pair of groups: it is bounded by the longest phone number."""
    text = sep.join(groups)
    calls = 0
    real_accept = phone._accept

    def counting(span: tuple[digits.Group, ...]) -> bool:
        nonlocal calls
        calls += 1
        return real_accept(span)

    with mock.patch.object(phone, "_accept", counting):
        for entity in extract(text, today=TODAY):
            _check_entity(text, entity)
    assert calls <= 16 * len(groups)  # before the bound: len(groups)² / 2 (500,000 for "0 " * 1000)


# -- NIK -------------------------------------------------------------------------------------------------
@st.composite
def valid_niks(draw: st.DrawFn) -> tuple[str, dt.date, str]:
    province = draw(st.sampled_from(sorted(nik.PROVINCES)))
    regency = draw(st.integers(1, 99))
    district = draw(st.integers(1, 99))
    born = draw(st.dates(min_value=dt.date(1927, 1, 1), max_value=TODAY))
    sex = draw(st.sampled_from("LP"))
    serial = draw(st.integers(1, 9999))
    day = born.day + (40 if sex == "P" else 0)
    digits = (
        f"{province}{regency:02d}{district:02d}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"
    )
    return digits, born, sex


@HOSTILE
@given(valid_niks())
def test_a_well_formed_nik_validates_to_what_it_says(case: tuple[str, dt.date, str]) -> None:
    digits, born, sex = case
    info = nik.validate(digits, today=TODAY)
    assert isinstance(info, nik.NikInfo)
    assert info.sex == sex and info.nik == digits and info.province == nik.PROVINCES[digits[:2]]
    # two-digit years: the holder was born in the past, within the last hundred years
    assert info.birth_date <= TODAY and info.birth_date.year % 100 == born.year % 100
    assert (info.birth_date.month, info.birth_date.day) == (born.month, born.day)
    assert nik.parse_nik(nik.format_nik(digits)) == digits
    assert (
        nik.parse_nik(" " + ".".join([digits[:2], digits[2:4], digits[4:6], digits[6:12], digits[12:]]))
        == digits
    )


@HOSTILE
@given(HOSTILE_TEXT)
@example("３２０１０１４５０６９０００００３")
@example("٣٢٠١٠١٤٥٠٦٩٠٠٠٠٣")
def test_nik_parse_and_validate_never_raise(text: str) -> None:
    parsed = nik.parse_nik(text)
    assert parsed is None or re.fullmatch(r"[0-9]{16}", parsed)
    checked = nik.validate(text, today=TODAY)
    assert isinstance(checked, nik.NikInfo | nik.NikProblem)
    if isinstance(checked, nik.NikInfo):
        assert re.fullmatch(r"[0-9]{16}", text) and checked.birth_date <= TODAY


@HOSTILE
@given(st.from_regex(r"[0-9]{16}", fullmatch=True))
def test_masks_never_show_the_middle_digits(digits: str) -> None:
    for masked in (nik.mask(digits), mask_nik(digits)):
        assert digits[4:12] not in masked and len(masked) == 16


@HOSTILE
@given(HOSTILE_TEXT)
def test_masking_functions_take_any_text(text: str) -> None:
    for fn in (mask_nik, mask_kpj, mask_name, mask_phone, nik.mask):
        assert isinstance(fn(text), str)


# -- KPJ, phone, dates, numbers --------------------------------------------------------------------------
@HOSTILE
@given(HOSTILE_TEXT)
def test_kpj_parse(text: str) -> None:
    parsed = parse_kpj(text)
    assert parsed is None or re.fullmatch(r"[0-9]{11}", parsed)


@HOSTILE
@given(st.one_of(HOSTILE_TEXT, st.from_regex(r"(\+62|62|0)[ -]?8[0-9 -]{6,16}", fullmatch=True)))
def test_phone_numbers_are_e164_or_nothing(text: str) -> None:
    value = to_e164(text)
    if value is not None:
        assert E164_ID.match(value)
        assert to_e164(value) == value  # idempotent: a stored number reads back as itself


@HOSTILE
@given(st.integers(-(10**6), 10**6), st.integers(-(10**6), 10**6), st.integers(-(10**9), 10**9))
def test_to_iso_is_a_real_date_or_nothing(day: int, month: int, year: int) -> None:
    iso = dates.to_iso(day, month, year)
    if iso is not None:
        assert dt.date.fromisoformat(iso) == dt.date(year, month, day)


@HOSTILE
@given(st.from_regex(r"[0-9]{1,4}", fullmatch=True), st.integers(2000, 2100))
def test_two_digit_years_are_never_after_the_reference(year: str, reference: int) -> None:
    expanded = dates.expand_year(year, reference)
    if len(year) == 2:
        assert reference - 100 < expanded <= reference
    else:
        assert expanded == int(year)


@HOSTILE
@given(HOSTILE_TEXT)
@example("9" * 5000)
@example("1" + ",5" * 500)
def test_number_readers_never_raise(text: str) -> None:
    for reader in (numbers.parse_digits, numbers.parse_numeral):
        value = reader(text)
        assert value is None or isinstance(value, Decimal)
    normalized = normalize(text)
    tokens = [t.text for t in normalized.tokens]
    surfaces = [fold(text)[t.start : t.end] for t in normalized.tokens]
    for i in range(len(tokens)):
        span = numbers.read_number(tokens, surfaces, i)
        if span is not None:
            assert i <= span.first <= span.last < len(tokens)
