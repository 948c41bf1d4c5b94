"""Slot validators: a normalized value, or a reason the user is told."""

from __future__ import annotations

from datetime import date

import pytest

from flows import validators as v
from flows.validators import Invalid
from nlu.entities.nik import NikInfo

TODAY = date(2026, 11, 10)
PREFIXES = frozenset({"nama saya", "nama", "saya"})
NOT_NAME = frozenset({"mau", "berapa", "halo", "iuran"})
CITY_PREFIXES = frozenset({"tinggal di", "di"})


def reason(result: object) -> str | None:
    return result.reason if isinstance(result, Invalid) else None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("budi santoso", "Budi Santoso"),
        ("BUDI SANTOSO", "Budi Santoso"),
        ("Nama saya Siti Aminah", "Siti Aminah"),
        ("saya Joko", "Joko"),
        ("Siti Nur'aini", "Siti Nur'aini"),  # mixed case kept as typed
        ("Muhammad Rizki Ananda Putra", "Muhammad Rizki Ananda Putra"),
        ("I Gusti Ngurah Rai", "I Gusti Ngurah Rai"),
    ],
)
def test_full_name_accepted(text: str, expected: str) -> None:
    assert v.full_name(text, PREFIXES, NOT_NAME) == expected


@pytest.mark.parametrize("text", ["Budi123", "mau tanya iuran", "halo", "!!", "ab", "a b c d e f g h"])
def test_full_name_refused(text: str) -> None:
    assert reason(v.full_name(text, PREFIXES, NOT_NAME)) == "name_invalid"


def test_nik_valid_from_entity_or_from_the_whole_answer() -> None:
    info = v.nik("", "3201014506900003", TODAY)
    assert isinstance(info, NikInfo) and info.nik == "3201014506900003" and info.sex == "P"
    typed = v.nik("3201 0145 0690 0003", None, TODAY)
    assert isinstance(typed, NikInfo) and typed.nik == "3201014506900003"


@pytest.mark.parametrize(
    ("text", "why", "digits"),
    [
        ("320101450690000", "nik_length", 15),  # 15 digits
        ("32010145069000031", "nik_length", 17),
        ("3201-0145-0690-000", "nik_length", 15),
    ],
)
def test_nik_wrong_length_says_how_many_digits(text: str, why: str, digits: int) -> None:
    result = v.nik(text, None, TODAY)
    assert isinstance(result, Invalid) and result.reason == why and result.values == {"digits": digits}


def test_nik_structure_problems() -> None:
    assert reason(v.nik("", "9901014506900003", TODAY)) == "nik_province"  # 99 is no province
    assert reason(v.nik("", "3201013506900003", TODAY)) == "nik_date"  # day 35
    assert reason(v.nik("", "3201014506900000", TODAY)) == "nik_invalid"  # serial 0000
    assert reason(v.nik("belum tahu", None, TODAY)) == "nik_missing"


def test_birth_date_must_agree_with_the_nik_date_part_women_plus_40() -> None:
    woman = "3201014506900003"  # 45-06-90: a woman born 5 June 1990
    assert v.birth_date("1990-06-05", woman, TODAY) == date(1990, 6, 5)
    assert reason(v.birth_date("1990-06-06", woman, TODAY)) == "date_mismatch"
    assert reason(v.birth_date("1990-05-06", woman, TODAY)) == "date_mismatch"  # month/day swapped
    assert reason(v.birth_date("1991-06-05", woman, TODAY)) == "date_mismatch"
    man = "3174011708850001"  # 17-08-85
    assert v.birth_date("1985-08-17", man, TODAY) == date(1985, 8, 17)
    assert v.agrees_with_nik(date(1985, 8, 17), man)
    assert not v.agrees_with_nik(date(1985, 8, 17), woman)


@pytest.mark.parametrize(
    ("born", "why"),
    [
        ("1961-11-11", None),  # 64 years old on 10 Nov 2026
        ("1961-11-10", "too_old"),  # 65 today
        ("1950-01-01", "too_old"),
        ("2008-11-10", None),  # 18 today
        ("2008-11-11", "too_young"),
        ("2027-01-01", "date_invalid"),  # future
        ("1990-02-30", "date_invalid"),
        (None, "date_invalid"),
    ],
)
def test_birth_date_age_rules(born: str | None, why: str | None) -> None:
    assert reason(v.birth_date(born, None, TODAY)) == why


@pytest.mark.parametrize(
    ("text", "entity", "expected"),
    [
        ("", "+6281234567890", "+6281234567890"),
        ("0812 3456 7890", None, "+6281234567890"),
        ("+62 813-1234-5678", None, "+6281312345678"),
        ("6281234567890", None, "+6281234567890"),
    ],
)
def test_phone_accepted(text: str, entity: str | None, expected: str) -> None:
    assert v.phone(text, entity) == expected


@pytest.mark.parametrize("text", ["021 555 1234", "12345", "0812", "nomor saya rahasia", "+1 202 555 0100"])
def test_phone_refused(text: str) -> None:
    assert reason(v.phone(text, None)) == "phone_invalid"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("bekasi", "Bekasi"), ("Kab. Bogor", "Kab. Bogor"), ("tinggal di kota tangerang", "Kota Tangerang")],
)
def test_city(text: str, expected: str) -> None:
    assert v.city(text, CITY_PREFIXES) == expected


@pytest.mark.parametrize("text", ["12345", "x", "a kota yang sangat panjang sekali namanya sampai", "<b>"])
def test_city_refused(text: str) -> None:
    assert reason(v.city(text, CITY_PREFIXES)) == "city_invalid"


def test_occupations_one_or_two_known_values() -> None:
    known = {"ojol", "petani", "kurir"}
    assert v.occupations(["ojol"], known) == ("ojol",)
    assert v.occupations(["ojol", "petani", "ojol"][:2], known) == ("ojol", "petani")
    assert v.occupations(["ojol", "ojol"], known) == ("ojol",)
    assert reason(v.occupations(["ojol", "petani", "kurir"], known)) == "occupation_too_many"
    assert reason(v.occupations(["pilot"], known)) == "occupation_invalid"
    assert reason(v.occupations([], known)) == "occupation_invalid"


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (1_000_000, 1_000_000),
        (2_500_000, 2_500_000),
        (999_999, "income_below"),
        (800_000, "income_below"),
        (2, "income_unit"),
        (0, "income_invalid"),
        ("x", "income_invalid"),
        (5_000_000_000, "income_too_high"),
    ],
)
def test_income(amount: object, expected: object) -> None:
    result = v.income(amount, 1_000_000)
    assert (reason(result) or result) == expected


@pytest.mark.parametrize(
    ("months", "ok"), [(1, True), (2, True), (3, True), (6, True), (12, True), (4, False), (0, False)]
)
def test_period(months: int, ok: bool) -> None:
    assert (v.period(months) == months) is ok
