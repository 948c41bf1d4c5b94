"""flows.choices: numbered answers, titles (case and small typos), payloads, all to the same payload."""

from __future__ import annotations

import pytest

from flows.choices import normalize, resolve, resolve_many

MENU = [
    ("Info manfaat", "/ask_programs"),
    ("Hitung iuran", "/ask_contribution"),
    ("Daftar BPU", "/register"),
    ("Cek status", "/check_status"),
    ("Bantuan", "/help"),
]
PERIODS = [(f"{m} bulan", f'/choose{{"value":"{m}"}}') for m in (1, 2, 3, 6, 12)]
YES_NO = [("Ya, lanjut", "/affirm"), ("Tidak", "/deny")]


@pytest.mark.parametrize(
    ("text", "payload"),
    [
        ("2", "/ask_contribution"),
        (" 2 ", "/ask_contribution"),
        ("2.", "/ask_contribution"),
        ("no 2", "/ask_contribution"),
        ("No. 2", "/ask_contribution"),
        ("nomor 4", "/check_status"),
        ("pilih 3", "/register"),
        ("Cek status", "/check_status"),
        ("CEK STATUS", "/check_status"),
        ("cek stauts", "/check_status"),  # typo
        ("hitung iuran!", "/ask_contribution"),
        ("status", "/check_status"),  # a unique part of a title
        ("daftr", "/register"),  # typo in a unique part
        ("/register", "/register"),  # the payload itself
        ("bantuan", "/help"),
    ],
)
def test_menu_answers_resolve_to_the_same_payload(text: str, payload: str) -> None:
    assert resolve(text, MENU) == payload


@pytest.mark.parametrize(
    "text",
    [
        "6",  # no sixth button, no title starting with 6
        "0",
        "saya mau tanya soal iuran yang harus saya bayar tiap bulan",  # a sentence is never a choice
        "halo",
        "",
        "2 juta",  # an amount, not button 2
    ],
)
def test_what_is_not_a_choice(text: str) -> None:
    assert resolve(text, MENU) is None


def test_numbers_beyond_the_buttons_match_a_title_starting_with_that_number() -> None:
    # The console numbers these 1-5; "6" and "12" can only mean the months.
    assert resolve("6", PERIODS) == '/choose{"value":"6"}'
    assert resolve("12", PERIODS) == '/choose{"value":"12"}'
    assert resolve("4", PERIODS) == '/choose{"value":"6"}'  # the fourth button
    assert resolve("3", PERIODS) == '/choose{"value":"3"}'


def test_digits_must_match_exactly_in_titles() -> None:
    assert resolve("4 bulan", PERIODS) is None  # never "6 bulan" by similarity
    assert resolve("6 bulan", PERIODS) == '/choose{"value":"6"}'


def test_an_answer_fitting_two_buttons_fits_none() -> None:
    both = [("JKK + JKM", '/choose{"value":"a"}'), ("JKK + JKM + JHT", '/choose{"value":"b"}')]
    assert resolve("jkk", both) is None
    assert resolve("jht", both) == '/choose{"value":"b"}'


def test_yes_and_no_by_words() -> None:
    assert resolve("ya", YES_NO) == "/affirm"
    assert resolve("tidak", YES_NO) == "/deny"
    assert resolve("1", YES_NO) == "/affirm"


def test_nothing_offered_means_no_choice() -> None:
    assert resolve("1", []) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 dan 5", ["/a", "/e"]),
        ("1,5", ["/a", "/e"]),
        ("1, 5", ["/a", "/e"]),
        ("1 5", ["/a", "/e"]),
        ("ojol dan kurir", ["/a", "/d"]),
        ("2", ["/b"]),
        ("1 dan 1", ["/a"]),
    ],
)
def test_several_choices_in_one_answer(text: str, expected: list[str]) -> None:
    offered = [("Ojol", "/a"), ("Sopir", "/b"), ("Petani", "/c"), ("Kurir", "/d"), ("Nelayan", "/e")]
    assert resolve_many(text, offered, limit=2) == expected


def test_several_choices_refused_beyond_the_limit_or_when_one_part_is_unknown() -> None:
    offered = [("Ojol", "/a"), ("Sopir", "/b"), ("Petani", "/c")]
    assert resolve_many("1, 2, 3", offered, limit=2) is None
    assert resolve_many("1 dan pilot", offered, limit=2) is None


def test_normalize() -> None:
    assert normalize("  Cek-STATUS!! ") == "cek status"
    assert normalize("no_2") == "no 2"
