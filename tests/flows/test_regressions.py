"""Bugs the golden conversations (tests/golden) revealed, pinned at the engine's unit level: each test
fails on the code before its fix."""

from __future__ import annotations

from datetime import datetime, timedelta

from flows.engine import Engine
from flows.fmt import WIB
from tests.flows.fakes import Chat, FakeServices
from tests.flows.test_registration import BORN, NIK, fill_all, fill_all_until_income, to_nik_step

OJOL_2JT = [("amount", 2_000_000), ("occupation", "ojol")]


def test_ulang_mid_form_restarts_even_when_the_model_reads_cancel(chat: Chat) -> None:
    """The model classifies a bare "ulang" as cancel; the exact escape word must win, or the draft is lost."""
    to_nik_step(chat)
    chat.say("ulang", "cancel", 0.99)
    assert "ulang dari awal" in chat.text and "dibatalkan" not in chat.text
    assert chat.state["flow"] == "registration" and "consent_id" in chat.state["data"]
    assert "registration.stopped" not in chat.event_types()


def test_gak_jadi_to_the_erase_question_keeps_the_data(chat: Chat) -> None:
    chat.say("hapus data sy", "delete_my_data")
    chat.say("gak jadi", "cancel")
    assert "tidak dihapus" in chat.text and "Tidak ada yang sedang berjalan" not in chat.text
    assert "erase" not in chat.event_types() and chat.state.get("pending") is None


def test_a_bare_nik_asks_what_it_is_for_instead_of_starting_a_registration(chat: Chat) -> None:
    """The model's confident-looking guess for a bare number is "register": no form starts on it."""
    chat.say(NIK, "register", 0.34, entities=[("nik", NIK)], low=False)
    assert chat.text == "Nomor ini untuk apa?" and chat.buttons == ["Cek status", "Daftar BPU"]
    assert chat.state.get("flow") is None and "registration.started" not in chat.event_types()
    chat.say("1")
    assert "Tanggal lahir" in chat.text and chat.state["flow"] == "status"


def test_a_nik_inside_a_sentence_still_follows_the_intent(chat: Chat) -> None:
    chat.say(f"mau daftar nik {NIK}", "register", entities=[("nik", NIK)])
    assert "izin" in chat.text and chat.state["data"]["nik"] == NIK


def test_yes_to_the_calculator_guess_computes_it(chat: Chat) -> None:
    chat.say("hitung iuran", "ask_contribution")
    chat.say("2", "out_of_scope", 0.2)
    assert "Maksud Anda Rp2.000.000?" in chat.text and chat.buttons == ["Ya, Rp2.000.000"]
    chat.say("iya", "affirm")
    assert "Iuran untuk penghasilan Rp2.000.000" in chat.text


def test_the_calculator_guess_button_by_number(chat: Chat) -> None:
    chat.say("hitung iuran", "ask_contribution")
    chat.say("3", "out_of_scope", 0.2)
    chat.say("1")
    assert "Iuran untuk penghasilan Rp3.000.000" in chat.text


def test_payment_channels_are_listed_one_per_line(chat: Chat, services: FakeServices) -> None:
    fill_all(chat)
    chat.say("ya", "affirm")
    assert "Bayar di:\n• Kantor Pos\n" in chat.text


def test_the_calculator_says_when_the_monthly_amount_changes(services: FakeServices) -> None:
    """Ojol, 2 juta, from February 2027: discounted in February and March, full price from April."""
    chat = Chat(Engine(services), now=datetime(2027, 2, 10, 10, 0, tzinfo=WIB))
    chat.say("iuran ojol 2jt brp", "ask_contribution", entities=OJOL_2JT)
    assert "• JKK + JKM: Rp13.400/bulan\n  mulai April 2027: Rp26.800/bulan\n" in chat.text
    assert "3 bulan Rp53.600" in chat.text and "12 bulan Rp294.800" in chat.text
    assert "Pekerjaan: Ojol (ojek online)" in chat.text


def test_no_change_line_when_the_amount_stays_the_same(services: FakeServices) -> None:
    chat = Chat(Engine(services), now=datetime(2027, 5, 10, 10, 0, tzinfo=WIB))
    chat.say("iuran ojol 2jt brp", "ask_contribution", entities=OJOL_2JT)
    assert "mulai " not in chat.text.split("\n", 1)[1] and "Rp26.800/bulan" in chat.text


def test_registration_summary_says_when_the_monthly_amount_changes(chat: Chat) -> None:
    """Ojol from November 2026: discounted until March 2027, full price from April 2027."""
    fill_all(chat, package="1", period="1")
    assert "Iuran: Rp13.400/bulan\nmulai April 2027: Rp26.800/bulan\n" in chat.text


def test_package_question_says_when_the_monthly_amount_changes(chat: Chat) -> None:
    fill_all_until_income(chat)
    chat.say("2 juta", entities=[("amount", 2_000_000)])
    assert "• JKK + JKM: Rp13.400\n  mulai April 2027: Rp26.800/bulan" in chat.text


def test_a_job_word_is_not_overridden_by_an_occupation_said_earlier(services: FakeServices) -> None:
    """A pedagang in February 2026 gets no discount (others' discount starts in April), even after the
    chat talked about an ojol before."""
    chat = Chat(Engine(services), now=datetime(2026, 2, 10, 10, 0, tzinfo=WIB))
    chat.say("iuran ojol 2jt", "ask_contribution", entities=[("amount", 2_000_000), ("occupation", "ojol")])
    assert "JKK + JKM: Rp13.400/bulan" in chat.text
    chat.say("kalo sy pedagang gaji 2 juta brp", "ask_contribution", entities=[("amount", 2_000_000)])
    assert "JKK + JKM: Rp26.800/bulan\n  mulai April 2026: Rp13.400/bulan" in chat.text
    assert "Khusus ojol" not in chat.text and "Pekerjaan:" not in chat.text


def test_a_transport_job_word_gets_the_transport_figures(services: FakeServices) -> None:
    chat = Chat(Engine(services), now=datetime(2026, 2, 10, 10, 0, tzinfo=WIB))
    chat.say("sy driver, iuran 2jt brp", "ask_contribution", entities=[("amount", 2_000_000)])
    assert "JKK + JKM: Rp13.400/bulan" in chat.text and "Khusus ojol" not in chat.text


def test_back_after_a_pause_a_greeting_gets_one_question(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("5 juni 1990", entities=[BORN])
    chat.now += timedelta(hours=2)
    chat.say("halo", "greet")
    assert chat.text == "Halo lagi! 👋\nPendaftaran Anda sebelumnya belum selesai. Mau dilanjutkan?"
    assert chat.buttons == ["Lanjutkan", "Mulai dari awal", "Nanti saja"]
    chat.say("1")
    assert "Nomor HP" in chat.text


def test_back_after_a_pause_small_talk_gets_only_the_resume_question(chat: Chat) -> None:
    to_nik_step(chat)
    chat.now += timedelta(hours=2)
    chat.say("eh", "affirm", 0.6)
    assert chat.text == "Pendaftaran Anda sebelumnya belum selesai. Mau dilanjutkan?"
    assert "Siap" not in chat.text


def test_the_transport_price_is_mentioned_when_only_later_months_differ(services: FakeServices) -> None:
    """December 2026: both discounts run, so the first month is the same; from January 2027 only transport
    workers keep theirs (until March 2027). 12 months for them: 4 x 8.400 + 8 x 16.800 = 168.000."""
    chat = Chat(Engine(services), now=datetime(2026, 11, 21, 10, 0, tzinfo=WIB))
    chat.say("iuran 1 juta", "ask_contribution", entities=[("amount", 1_000_000)])
    assert "12 bulan Rp193.200" in chat.text  # the others: 8.400 + 11 x 16.800
    assert (
        "Khusus ojol, ojek pangkalan, sopir, dan kurir (diskon Januari 2026 sampai Maret 2027)" in chat.text
    )
    assert "JKK + JKM Rp8.400/bulan, 12 bulan Rp168.000." in chat.text


def test_a_new_nik_that_undoes_the_birth_date_says_why_it_is_asked_again(chat: Chat) -> None:
    fill_all(chat, package="1", period="1")
    chat.say("ubah nik")
    other = "3201014507900003"  # born 5 July 1990: the 5 June birth date no longer fits
    chat.say(other, entities=[("nik", other)])
    assert chat.text.startswith("Tanggal lahir yang tadi tidak cocok dengan NIK ini")
    assert chat.text.endswith("Tanggal lahir Anda? Contoh: 17-08-1990")
    chat.say("5 juli 1990", entities=[("date", "1990-07-05")])
    assert "Cek lagi data Anda" in chat.text and "5 Juli 1990" in chat.text


def test_a_woman_typing_the_day_from_her_nik_is_told_about_the_40(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("45-06-1990")  # no date entity: day 45 does not exist
    assert "ditambah 40, jadi 45 di NIK berarti tanggal 5" in chat.text
    assert chat.state["step"] == "birth_date"


def test_two_drafts_started_at_the_same_instant_get_different_ids(chat: Chat) -> None:
    """A clock that does not move between turns gave the second draft the first one's id, hence the same
    consent id and idempotency key: the second registration replayed the first one's receipt."""
    chat.say("daftar", "register")
    chat.say("tidak setuju", "deny")
    first = chat.event("registration.started").data["draft_id"]
    chat.now -= timedelta(seconds=40)  # the same instant as the first "daftar"
    chat.say("daftar", "register")
    chat.say("ya", "affirm")
    assert chat.state["data"]["draft_id"] != first
    assert chat.event("consent.given").data["consent_id"] == chat.state["data"]["draft_id"] + "-c1"


def test_an_answer_sent_twice_gets_the_next_question_again_not_an_error(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say(NIK, entities=[("nik", NIK)])  # the same message again, while the birth date is asked
    assert chat.text == "Tanggal lahir Anda? Contoh: 17-08-1990"
    chat.say("5 juni 1990", entities=[BORN])
    assert "Nomor HP" in chat.text


def test_yes_to_the_consent_sent_twice(chat: Chat) -> None:
    chat.say("daftar", "register")
    chat.say("ya", "affirm")
    chat.say("ya", "affirm")
    assert chat.text == "Siapa nama lengkap Anda? Tulis sesuai KTP ya."


def test_a_wrong_answer_sent_twice_is_explained_twice(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("320101150590000")
    chat.say("320101150590000")
    assert "NIK harus 16 digit, yang Anda ketik 15 digit" in chat.text


def test_lanjutkan_after_menu_resumes_the_form(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("menu")
    assert "tetap tersimpan" in chat.text
    chat.say("lanjutkan", "affirm")
    assert chat.text == "Berapa NIK Anda? (16 digit, ada di KTP)" and chat.state["flow"] == "registration"


def test_a_birth_date_typed_without_separators(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("05061990")  # the NLU finds no date in eight bare digits
    assert "Nomor HP" in chat.text and chat.state["data"]["birth_date"] == "1990-06-05"


def test_a_status_check_with_a_birth_date_without_separators(chat: Chat, services: FakeServices) -> None:
    chat.say("cek status", "check_status")
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("050690")
    assert "Data tidak cocok" in chat.text and services.membership.lookups == 1


def test_a_volunteered_job_word_narrows_the_occupation_question(chat: Chat) -> None:
    """ "sy pedagang mau daftar, nik ...": the occupation question offers the kinds of pedagang only."""
    chat.say(f"sy pedagang mau daftar, nik {NIK}", "register", entities=[("nik", NIK)])
    chat.say("ya", "affirm")
    chat.say("Siti Aminah")
    chat.say("5 juni 1990", entities=[BORN])
    chat.say("0812 1234 5678", entities=[("phone", "+6281212345678")])
    chat.say("kab. garut")
    assert chat.text.startswith("Anda pedagang apa?")
    assert chat.buttons == [
        "Pedagang pasar",
        "Pedagang keliling / PKL",
        "Pedagang warung / toko",
        "Pedagang online",
        "Lainnya",
    ]
    chat.say("2")
    assert chat.state["data"]["occupations"] == ["pedagang keliling"]


def test_lainnya_shows_the_whole_occupation_list(chat: Chat) -> None:
    chat.say("daftar, sy driver", "register")
    chat.say("ya", "affirm")
    chat.say("Agus Salim")
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("5 juni 1990", entities=[BORN])
    chat.say("0812 1234 5678", entities=[("phone", "+6281212345678")])
    chat.say("bandung")
    assert chat.buttons == ["Ojol (ojek online)", "Ojek pangkalan", "Sopir", "Kurir", "Lainnya"]
    chat.say("5")
    assert len(chat.buttons) == 25 and chat.text.startswith("Ini semua pilihannya")
    chat.say("9")
    assert chat.state["data"]["occupations"] == ["petani"]


def test_daftarkan_under_the_summary_confirms(chat: Chat, services: FakeServices) -> None:
    fill_all(chat)
    chat.say("ok daftarkan", "register", 0.9)
    assert "Pendaftaran terkirim" in chat.text and len(services.membership.applications) == 1


def test_jangan_kirim_dulu_under_the_summary_does_not_confirm(chat: Chat, services: FakeServices) -> None:
    fill_all(chat)
    chat.say("jangan kirim dulu")
    assert "Pendaftaran terkirim" not in chat.text and not services.membership.applications


def test_a_second_change_before_the_first_is_answered_does_not_break_the_form(chat: Chat) -> None:
    """ "ubah penghasilan" then "ganti program": the package question needs the income (it shows the
    amounts), so the income is asked first. It crashed the turn (KeyError) before."""
    fill_all(chat)
    chat.say("ubah penghasilan")
    chat.say("ganti program")
    assert chat.text.startswith("Berapa rata-rata penghasilan")
    chat.say("3 juta", entities=[("amount", 3_000_000)])
    assert "Pilih program" in chat.text
    chat.say("1")
    assert "Cek lagi data Anda" in chat.text and "Rp3.000.000" in chat.text


def test_a_change_with_its_new_value_in_the_same_message(chat: Chat) -> None:
    fill_all(chat)
    chat.say("ubah penghasilan jadi 3 juta", entities=[("amount", 3_000_000)])
    assert "Cek lagi data Anda" in chat.text and "Penghasilan: Rp3.000.000/bulan" in chat.text


def test_a_name_change_never_takes_the_request_for_the_name(chat: Chat) -> None:
    fill_all(chat)
    chat.say("ganti nama jadi budi")
    assert chat.text == "Siapa nama lengkap Anda? Tulis sesuai KTP ya."


def test_a_guessed_cancel_mid_form_is_confirmed_before_the_draft_is_thrown_away(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("yg tadi itu", "cancel", 0.65, low=False)
    assert chat.text == "Mau membatalkan pendaftaran? Isian Anda akan dihapus."
    assert chat.buttons == ["Ya, batalkan", "Tidak, lanjut daftar"] and chat.state["flow"] == "registration"
    chat.say("2")
    assert chat.text == "Berapa NIK Anda? (16 digit, ada di KTP)"
    chat.say("gak jadi daftar", "cancel", 0.99)  # sure: at once
    assert "dibatalkan" in chat.text and chat.state.get("flow") is None


def test_yes_to_the_cancel_question_cancels(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("males ah ga jadi", "cancel", 0.72, low=False)
    chat.say("iya", "affirm")
    assert "dibatalkan" in chat.text and "registration.stopped" in chat.event_types()


def test_answering_the_parked_question_instead_of_ya_resumes_the_form(chat: Chat) -> None:
    """After a question that started another flow, "Lanjut pendaftaran?" is often ignored and the NIK
    typed straight away: it was asked "Nomor ini untuk apa?" before."""
    to_nik_step(chat)
    chat.say("cek status dulu", "check_status")
    chat.say("eh ga jadi", "cancel")
    assert chat.text.endswith("Lanjut pendaftaran?")
    chat.say(NIK, "register", 0.34, entities=[("nik", NIK)], low=False)
    assert chat.text == "Tanggal lahir Anda? Contoh: 17-08-1990"
    assert chat.state["flow"] == "registration" and chat.state["data"]["nik"] == NIK


def test_an_unrelated_message_after_the_resume_question_keeps_the_draft_parked(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("cek status dulu", "check_status")
    chat.say("eh ga jadi", "cancel")
    chat.say("makasih", "thanks")
    assert "Sama-sama" in chat.text and chat.state["parked"]["step"] == "nik"


def test_a_job_word_at_the_occupation_question_narrows_it(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("5 juni 1990", entities=[BORN])
    chat.say("0812 1234 5678", entities=[("phone", "+6281212345678")])
    chat.say("jakarta timur")
    chat.say("jualan sayur")  # no occupation entity, and no word that names the kind
    assert chat.text.startswith("Anda pedagang apa?") and chat.buttons[-1] == "Lainnya"
    chat.say("1")
    assert chat.state["data"]["occupations"] == ["pedagang pasar"]


def test_a_question_about_data_safety_is_answered_not_taken_for_an_erasure(chat: Chat) -> None:
    chat.say("data sy aman ga?", "delete_my_data", 0.85)
    assert "hanya dipakai untuk mendaftarkan" in chat.text and "HAPUS DATA" in chat.text
    assert chat.state.get("pending") is None
    chat.say("ya", "affirm")
    assert "erase" not in chat.event_types()


def test_a_data_safety_question_mid_form_offers_to_resume(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("aman ga kasih nik disini?", "delete_my_data", 0.61, low=False)
    assert "hanya dipakai" in chat.text and chat.text.endswith("Lanjut pendaftaran?")


def test_hapus_data_is_still_an_erasure_request(chat: Chat) -> None:
    chat.say("tolong hapus data pribadi sy", "delete_my_data")
    assert "Mau hapus data Anda" in chat.text and chat.state["pending"] == "erase"


def test_cancelling_a_status_check_mid_form_asks_only_whether_to_resume(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("cek status dulu", "check_status")
    chat.say("ga jadi", "cancel")
    assert chat.text == "Oke, sudah dibatalkan.\nLanjut pendaftaran?"


def test_a_nik_with_the_letter_o_for_a_zero_is_explained(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("3201O11505900003")
    assert "NIK hanya berisi angka" in chat.text and chat.state["step"] == "nik"


def test_a_city_with_its_province_after_a_comma(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("5 juni 1990", entities=[BORN])
    chat.say("0812 1234 5678", entities=[("phone", "+6281212345678")])
    chat.say("bekasi, jawa barat")
    assert chat.state["data"]["city"] == "Bekasi, Jawa Barat" and "pekerjaan" in chat.text


def test_a_name_after_two_leading_phrases(chat: Chat) -> None:
    chat.say("daftar", "register")
    chat.say("ya", "affirm")
    chat.say("Nama lengkap sy Siti Rahayu")
    assert chat.state["data"]["full_name"] == "Siti Rahayu"


def test_a_word_of_the_job_picks_the_kind_directly(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("5 juni 1990", entities=[BORN])
    chat.say("0812 1234 5678", entities=[("phone", "+6281212345678")])
    chat.say("kab. bandung barat")
    chat.say("dagang sayur keliling")
    assert chat.state["data"]["occupations"] == ["pedagang keliling"] and "penghasilan" in chat.text


def test_an_income_given_as_a_range_asks_for_the_average(chat: Chat) -> None:
    fill_all_until_income(chat)
    chat.say("kadang 1 juta kadang 3 juta", entities=[("amount", 1_000_000), ("amount", 3_000_000)])
    assert "rata-ratanya" in chat.text and "income" not in chat.state["data"]
    chat.say("rata2 2 juta lah", entities=[("amount", 2_000_000)])
    assert chat.state["data"]["income"] == 2_000_000
