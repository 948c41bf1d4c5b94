"""Every other flow: welcome/menu, benefits, calculator, subscribe/unsubscribe, delete my data, handoff,
BPJS Kesehatan, small talk, fallback."""

from __future__ import annotations

from datetime import datetime

import pytest

from flows.engine import Engine
from flows.fmt import WIB
from tests.flows.fakes import Chat, FakeServices


def test_welcome_has_the_campaign_line_and_the_menu(chat: Chat) -> None:
    chat.say("halo min", "greet")
    assert "Kerja Keras Bebas Cemas" in chat.text and "Rp16.800" in chat.text
    assert chat.buttons == ["Info manfaat", "Hitung iuran", "Daftar BPU", "Cek status", "Bantuan"]
    assert chat.event_types()[0] == "conversation.started"


def test_welcome_uses_a_plausible_profile_name_only(services: FakeServices) -> None:
    named = Chat(Engine(services), display_name="budi ojol 🛵")
    named.say("p", "greet")
    assert named.text.startswith("Halo, Budi!")
    shop = Chat(Engine(services), display_name="🛵🛵 Toko-99")
    shop.say("p", "greet")
    assert shop.text.startswith("Halo! ")
    mama = Chat(Engine(services), display_name="Mama Rina")
    mama.say("p", "greet")
    assert mama.text.startswith("Halo, Rina!")


def test_telegram_start_with_a_campaign_source(services: FakeServices) -> None:
    chat = Chat(Engine(services), channel="telegram", start_param="kkbc_tanahabang")
    chat.say("/start kkbc_tanahabang", "out_of_scope", 0.1)
    assert "Kerja Keras Bebas Cemas" in chat.text
    assert chat.event("conversation.started").data["source"] == "kkbc_tanahabang"
    chat.say("mau dapat info terbaru", "subscribe")
    assert chat.event("opt_in").data["source"] == "kkbc_tanahabang"


@pytest.mark.parametrize(
    ("intent", "expected"),
    [
        ("ask_programs", "5 program"),
        ("ask_jkk", "tanpa batas biaya"),
        ("ask_jkm", "Rp42 juta"),
        ("ask_jht", "tabungan"),
        ("ask_jp", "belum bisa ikut JP"),
        ("ask_jkp", "tidak termasuk JKP"),
        ("ask_eligibility", "di bawah 65 tahun"),
        ("ask_requirements", "NIK"),
        ("ask_payment", "tanggal 15"),
        ("ask_claim", "Lapak Asik"),
        ("ask_office", "Contact Center 175"),
    ],
)
def test_one_answer_per_info_intent_with_follow_ups(chat: Chat, intent: str, expected: str) -> None:
    chat.say("pertanyaan", intent)
    assert expected in chat.text and len(chat.buttons) >= 2


def test_jp_and_jkp_point_bpu_to_what_is_open(chat: Chat) -> None:
    chat.say("ojol bisa ikut pensiun?", "ask_jp")
    assert "JHT" in chat.text and "59 tahun" in chat.text and "Info JHT" in chat.buttons
    chat.say("kalau kena phk dapat apa", "ask_jkp")
    assert "JKK, JKM, dan JHT" in chat.text


def test_pension_age_follows_the_date(services: FakeServices) -> None:
    chat = Chat(Engine(services), now=datetime(2028, 3, 1, tzinfo=WIB))
    chat.say("usia pensiun", "ask_jp")
    assert "60 tahun" in chat.text


def test_ask_programs_about_one_program_answers_that_program(chat: Chat) -> None:
    chat.say("program jkm itu apa", "ask_programs", entities=[("program", "jkm")])
    assert "JKM (Jaminan Kematian)" in chat.text


def test_discount_mentioned_only_while_it_runs(services: FakeServices) -> None:
    during = Chat(Engine(services), now=datetime(2026, 11, 10, tzinfo=WIB))
    during.say("programnya apa aja", "ask_programs")
    assert "diskon 50%" in during.text and "Maret 2027" in during.text and "Desember 2026" in during.text
    after = Chat(Engine(services), now=datetime(2027, 6, 1, tzinfo=WIB))
    after.say("programnya apa aja", "ask_programs")
    assert "diskon" not in after.text


def test_follow_up_button_by_number(chat: Chat) -> None:
    chat.say("program apa aja", "ask_programs")
    chat.say("2")  # JKM
    assert "JKM (Jaminan Kematian)" in chat.text


def test_calculator_from_an_amount_in_the_message(chat: Chat) -> None:
    chat.say("iuran kalau gaji 2 juta berapa", "ask_contribution", entities=[("amount", 2_000_000)])
    text = chat.text
    # 10 Nov 2026: non-transport discount runs to Dec 2026; figures are for most jobs.
    assert (
        "Rp2.000.000" in text and "JKK + JKM: Rp13.400/bulan" in text and "JKK + JKM + JHT: Rp53.400" in text
    )
    assert "3 bulan Rp53.600" in text  # Nov and Dec discounted (13.400), January normal (26.800)
    assert "Daftar BPU" in chat.buttons


def test_calculator_asks_the_income(chat: Chat) -> None:
    chat.say("iurannya berapa sih", "ask_contribution")
    assert "penghasilan" in chat.text and "Rp16.800" in chat.text
    chat.say("1,5jt", entities=[("amount", 1_500_000)])
    assert "Rp1.500.000" in chat.text and chat.state.get("step") == "answered"  # open for "klo ojol?"


def test_calculator_below_minimum_uses_the_minimum(chat: Chat) -> None:
    chat.say("penghasilan saya 800rb iurannya?", "ask_contribution", entities=[("amount", 800_000)])
    assert "Rp1.000.000" in chat.text and "terendah" in chat.text


def test_calculator_for_a_transport_worker(services: FakeServices) -> None:
    chat = Chat(Engine(services), now=datetime(2027, 2, 3, tzinfo=WIB))
    chat.say(
        "iuran ojol 1 juta", "ask_contribution", entities=[("amount", 1_000_000), ("occupation", "ojol")]
    )
    assert "JKK + JKM: Rp8.400/bulan" in chat.text and "Khusus ojol" not in chat.text
    # Feb, Mar discounted, then Apr... normal: 8.400 x 2 + 16.800 x 4 for 6 months.
    assert f"6 bulan Rp{(8_400 * 2 + 16_800 * 4):,}".replace(",", ".") in chat.text


def test_calculator_without_occupation_mentions_the_transport_price(services: FakeServices) -> None:
    chat = Chat(Engine(services), now=datetime(2027, 2, 3, tzinfo=WIB))
    chat.say("iuran 1 juta", "ask_contribution", entities=[("amount", 1_000_000)])
    assert "JKK + JKM: Rp16.800/bulan" in chat.text and "Khusus ojol" in chat.text and "Rp8.400" in chat.text


def test_calculator_remembers_an_occupation_said_earlier(services: FakeServices) -> None:
    chat = Chat(Engine(services), now=datetime(2027, 2, 3, tzinfo=WIB))
    chat.say("saya kurir, bisa ikut?", "ask_eligibility", entities=[("occupation", "kurir")])
    chat.say("iuran 1 juta", "ask_contribution", entities=[("amount", 1_000_000)])
    assert "JKK + JKM: Rp8.400/bulan" in chat.text


def test_calculator_amount_without_unit(chat: Chat) -> None:
    chat.say("iuran", "ask_contribution")
    chat.say("2", entities=[("amount", 2)])
    assert "Rp2.000.000" in chat.text and "Maksud Anda" in chat.text


@pytest.mark.parametrize("text", ["STOP", "stop", "Stop.", "berhenti", "unsubscribe", "jangan kirim lagi"])
def test_stop_in_its_many_forms(chat: Chat, text: str) -> None:
    chat.say(text, "out_of_scope", 0.2)
    assert chat.event_types() == ["conversation.started", "opt_out"]
    assert "tidak akan dapat kabar" in chat.text and "Langganan lagi" in chat.buttons


def test_unsubscribe_intent_and_resubscribe(chat: Chat) -> None:
    chat.say("tolong jangan kirimi saya promo lagi", "unsubscribe", 0.9)
    opt_out = chat.event("opt_out").data
    assert opt_out["source"] == "stop" and opt_out["at"].startswith("2026-11-10")
    chat.say("1")  # Langganan lagi
    assert "opt_in" in chat.event_types() and "STOP" in chat.text


def test_subscribe_records_time_and_source(chat: Chat) -> None:
    chat.say("mau dapat kabar kampanye", "subscribe")
    data = chat.event("opt_in").data
    assert data["source"] == "chat" and data["channel"] == "rest" and data["at"]


def test_delete_my_data_confirmation_then_erase(chat: Chat) -> None:
    chat.say("hapus data saya", "delete_my_data")
    assert "tidak bisa dihapus dari sini" in chat.text  # honest about what went to the backend
    assert chat.buttons == ["Ya, hapus data saya", "Tidak jadi"]
    chat.say("1")
    assert chat.event_types() == ["opt_out", "erase"]
    assert set(chat.state) <= {"v", "last_seen", "offered"}


def test_delete_my_data_asked_twice_is_a_confirmation(chat: Chat) -> None:
    chat.say("hapus data saya dong", "delete_my_data")
    chat.say("iya hapus", "delete_my_data")
    assert chat.event_types() == ["opt_out", "erase"] and "sudah dihapus" in chat.text


def test_delete_my_data_declined(chat: Chat) -> None:
    chat.say("hapus data", "out_of_scope", 0.3)
    chat.say("tidak", "deny")
    assert "tidak dihapus" in chat.text and "erase" not in chat.event_types()


def test_human_handoff(chat: Chat) -> None:
    chat.say("mau ngomong sama cs", "human_handoff")
    assert "175" in chat.text and "handoff.requested" in chat.event_types()


def test_bpjs_kesehatan_redirect(chat: Chat) -> None:
    chat.say("kartu kis saya gak bisa dipakai berobat", "bpjs_kesehatan")
    assert "BPJS Kesehatan" in chat.text and "165" in chat.text


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [
        ("makasih ya", "thanks", "Sama-sama"),
        ("dadah", "goodbye", "Sampai jumpa"),
        ("iya", "affirm", "Siap"),
        ("gak", "deny", "Baik"),
        ("bantuan", "out_of_scope", "Saya bisa bantu"),
        ("menu", "out_of_scope", "Silakan pilih"),
        ("batal", "out_of_scope", "Tidak ada yang sedang berjalan"),
    ],
)
def test_small_talk_and_escapes_at_the_top(chat: Chat, text: str, intent: str, expected: str) -> None:
    chat.say(text, intent, 0.9)
    assert expected in chat.text and chat.buttons


def test_out_of_scope_is_polite_and_shows_the_menu(chat: Chat) -> None:
    chat.say("harga cabai hari ini berapa", "out_of_scope", 0.9)
    assert "hanya bisa membantu soal BPJS Ketenagakerjaan" in chat.text and "Info manfaat" in chat.buttons
    assert chat.event("fallback").data["reason"] == "out_of_scope"
