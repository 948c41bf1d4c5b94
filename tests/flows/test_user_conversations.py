"""Bugs found by talking to the bot as informal workers do (the golden files `daftar_*_pengguna_*` and the
like), pinned at the engine's unit level: each test fails on the code before its fix."""

from __future__ import annotations

import pytest

from flows import validators
from tests.flows.fakes import Chat
from tests.flows.test_registration import (
    BORN,
    NIK,
    fill_all,
    fill_all_until_income,
    fill_all_until_income_with,
    to_nik_step,
)


def test_a_short_name_the_model_reads_as_cancel_is_the_name(chat: Chat) -> None:
    """ "darto" to "Siapa nama lengkap Anda?" parsed as cancel (0.25): the form asked whether to cancel."""
    chat.say("mau daftar", "register")
    chat.say("ya", "affirm")
    chat.say("darto", "cancel", 0.25)
    assert "NIK" in chat.text and "batal" not in chat.text.lower()
    assert chat.state["data"]["full_name"] == "Darto" and chat.state.get("pending") is None


def test_a_real_cancel_at_the_name_question_still_cancels_or_asks(chat: Chat) -> None:
    chat.say("mau daftar", "register")
    chat.say("ya", "affirm")
    chat.say("berhenti dulu", "cancel", 0.55)  # no name: the guessed cancel is asked about
    assert chat.state.get("pending") == "cancel"


@pytest.mark.parametrize(
    ("package", "entities", "period", "expected"),
    [
        ("yg murah aja", [], "3bln", "Program: JKK + JKM\n"),  # slang around the phrase "yang murah"
        ("yg 53rb", [("amount", 53_000)], "setaun", "Program: JKK + JKM + JHT\n"),  # the price, rounded
    ],
)
def test_package_and_period_as_people_type_them(
    chat: Chat, package: str, entities: list[tuple[str, object]], period: str, expected: str
) -> None:
    fill_all_until_income(chat)
    chat.say("2 juta", entities=[("amount", 2_000_000)])
    chat.say(package, entities=entities)
    assert "berapa bulan" in chat.text
    chat.say(period)
    assert expected in chat.text and "Sudah benar?" in chat.text


def test_a_change_with_a_spaced_phone_number_at_the_summary(chat: Chat) -> None:
    """ "ganti no hp jd 0811 2222 4444" counted the digit groups as words (7 > 6): no change was seen."""
    fill_all(chat)
    chat.say("ganti no hp jd 0811 2222 4444", entities=[("phone", "+6281122224444")])
    assert "Nomor HP: 0811-2222-4444" in chat.text and "Sudah benar?" in chat.text


def test_ya_daftarkan_sent_again_after_the_receipt_is_no_new_registration(chat: Chat) -> None:
    fill_all(chat)
    chat.say("ya daftarkan", "register")
    assert "Pendaftaran terkirim" in chat.text
    chat.say("ya daftarkan", "register")
    assert "sudah kami terima" in chat.text and chat.state.get("flow") is None
    assert "registration.started" not in chat.event_types()


def test_the_receipt_buttons_still_work_by_number_after_confirming_with_a_number(chat: Chat) -> None:
    fill_all(chat)
    chat.say("1")  # Ya, daftarkan
    chat.say("1")  # Ingatkan saya tiap bulan
    assert "opt_in" in chat.event_types()


def test_the_job_told_to_the_calculator_is_not_asked_again(chat: Chat) -> None:
    chat.say("sy ojek pangkalan iuran brp", "ask_contribution", entities=[("occupation", "ojek pangkalan")])
    chat.say("2 juta", entities=[("amount", 2_000_000)])
    chat.say("daftar", "register")
    chat.say("ya", "affirm")
    chat.say("Joko Susilo")
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("5 juni 1990", entities=[BORN])
    chat.say("0812-3456-7890", entities=[("phone", "+6281234567890")])
    chat.say("Depok")
    assert "penghasilan" in chat.text and "pekerjaan" not in chat.text.lower()
    assert chat.state["data"]["occupations"] == ["ojek pangkalan"]


def test_a_job_word_told_earlier_narrows_the_occupation_question(chat: Chat) -> None:
    chat.say(
        "sy jualan sayur di pasar, iuran brp klo 1,5 juta",
        "ask_contribution",
        entities=[("amount", 1_500_000)],
    )
    chat.say("daftar", "register")
    assert chat.state["data"].get("job_family") == "pedagang"


def test_an_answer_to_a_later_question_is_kept_and_the_question_asked_again(chat: Chat) -> None:
    fill_all_until_income_with(chat, None)  # at the occupation question
    chat.say("2 jt", entities=[("amount", 2_000_000)])
    assert "saya catat" in chat.text and "pekerjaan" in chat.text and "belum saya tangkap" not in chat.text
    chat.say("ojol", entities=[("occupation", "ojol")])
    assert "Rp13.400" in chat.text  # straight to the packages: the income was kept


def test_lanjut_while_the_form_waits_repeats_the_question_without_an_error(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("lanjut", "affirm")
    assert chat.text.startswith("Berapa NIK") and "belum saya tangkap" not in chat.text


def test_birth_date_with_spaces_and_a_two_digit_year(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("5 6 90")
    assert "Nomor HP" in chat.text and chat.state["data"]["birth_date"] == "1990-06-05"


def test_compact_date_forms() -> None:
    from datetime import date

    today = date(2026, 11, 21)
    assert validators.compact_date("17 8 90", today) == "1990-08-17"
    assert validators.compact_date("1 1 05", today) == "2005-01-01"
    assert validators.compact_date("31 2 90", today) is None
    assert validators.compact_date("1 2 3", today) is None


@pytest.mark.parametrize("question", ["jht itu apa", "kalau tanpa jht brp?"])
def test_a_question_about_a_program_at_the_package_question_chooses_nothing(
    chat: Chat, question: str
) -> None:
    """ "jht itu apa" to "Pilih program" chose the package with JHT (and did so as the answer to "Lanjut
    pendaftaran?" too)."""
    fill_all_until_income(chat)
    chat.say("2 juta", entities=[("amount", 2_000_000)])
    chat.say(question, "ask_jht", entities=[("program", "jht")])
    assert "package" not in chat.state.get("data", {}) and "package" not in str(chat.state.get("parked"))
    assert "Lanjut pendaftaran?" in chat.text
    chat.say(question, "ask_jht", entities=[("program", "jht")])  # as the answer to "Lanjut pendaftaran?"
    assert "package" not in str(chat.state.get("parked")) and "package" not in chat.state.get("data", {})


def test_a_follow_up_naming_another_job_reuses_the_income(chat: Chat) -> None:
    """ "klo pedagang?" right after the figures for an ojol got the requirements text."""
    chat.say(
        "iuran ojol klo 2jt brp", "ask_contribution", entities=[("amount", 2_000_000), ("occupation", "ojol")]
    )
    chat.say("klo petani?", "ask_requirements", 0.48, entities=[("occupation", "petani")])
    assert "Iuran untuk penghasilan Rp2.000.000" in chat.text and "Pekerjaan: Petani" in chat.text
    chat.say("daftar", "register")  # anything else leaves the calculator
    assert "izin" in chat.text and chat.state["flow"] == "registration"


def test_a_calculator_answer_mid_form_still_offers_to_resume(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("iurannya brp sih?", "ask_contribution")
    chat.say("2jt", entities=[("amount", 2_000_000)])
    assert "Lanjut pendaftaran?" in chat.text


def test_an_unclear_message_during_a_status_check_asks_again(chat: Chat) -> None:
    """ "kapan ya sy lahir" at the birth-date question ended the check; the date sent next was lost."""
    chat.say("cek status", "check_status")
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("kapan ya sy lahir", "check_status", 0.39, low=True)
    assert (
        "belum saya tangkap" in chat.text and "Tanggal lahir" in chat.text and chat.state["flow"] == "status"
    )
    chat.say("5 juni 1990", entities=[BORN])
    assert chat.state.get("flow") is None and "status.checked" in chat.event_types()


def test_a_name_with_a_form_of_address_says_why() -> None:
    assert validators.full_name(
        "Pak Karto", frozenset(), frozenset(), frozenset({"pak"})
    ) == validators.Invalid("name_title")
    assert (
        validators.full_name("Karto Wiyono", frozenset(), frozenset(), frozenset({"pak"})) == "Karto Wiyono"
    )


def test_name_nik_and_birth_date_in_one_answer(chat: Chat) -> None:
    """They started a status check ("Data tidak cocok") and parked the form."""
    chat.say("daftar", "register")
    chat.say("ya", "affirm")
    chat.say(f"nama sy Budi Santoso nik {NIK} lahir 5-6-1990", "check_status", entities=[("nik", NIK), BORN])
    assert chat.text.startswith("Nomor HP") and chat.state["flow"] == "registration"
    data = chat.state["data"]
    assert (data["full_name"], data["nik"], data["birth_date"]) == ("Budi Santoso", NIK, "1990-06-05")
    assert "status.checked" not in chat.event_types()


def test_a_wrong_name_with_other_answers_keeps_the_other_answers(chat: Chat) -> None:
    chat.say("daftar", "register")
    chat.say("ya", "affirm")
    chat.say(f"Pak Budi, nik {NIK}", "check_status", entities=[("nik", NIK)])
    assert "tanpa sapaan" in chat.text and chat.state["data"]["nik"] == NIK
    chat.say("Budi Santoso")
    assert chat.text.startswith("Tanggal lahir")


def test_an_answer_the_form_already_has_repeats_the_question_without_an_error(chat: Chat) -> None:
    fill_all_until_income(chat)  # ojol given at the occupation question
    chat.say("sy kan ojol", entities=[("occupation", "ojol")])
    assert chat.text.startswith("Berapa rata-rata penghasilan") and "belum saya tangkap" not in chat.text


def test_a_name_sent_twice_is_no_cancel(chat: Chat) -> None:
    """The second "Dedi Mulyadi" (at the NIK question) read as cancel 0.4: "Mau membatalkan pendaftaran?"."""
    to_nik_step(chat)  # name "budi santoso"
    chat.say("budi santoso", "cancel", 0.4)
    assert chat.text.startswith("Berapa NIK") and chat.state.get("pending") is None


def test_a_phone_number_sent_twice_at_the_city_question_is_no_handoff(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("5 juni 1990", entities=[BORN])
    chat.say("081211112222", entities=[("phone", "+6281211112222")])
    chat.say("081211112222", "human_handoff", 0.6, entities=[("phone", "+6281211112222")])
    assert chat.text.startswith("Anda tinggal di") and "175" not in chat.text


def test_wait_and_thanks_mid_form(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("wkwk bentar ya ambil ktp dulu")
    assert chat.text.startswith("Siap, saya tunggu ya.") and "Berapa NIK" in chat.text
    chat.say("makasih", "thanks")
    assert chat.text.startswith("Sama-sama") and "Berapa NIK" in chat.text


def test_job_kind_package_and_period_told_with_the_wish_to_register(chat: Chat) -> None:
    chat.say(
        "sy pedagang bakso keliling, penghasilan 3jt, mau daftar yg ada jht, bayar 3 bulan",
        "register",
        entities=[("amount", 3_000_000), ("program", "jht")],
    )
    data = chat.state["data"]
    assert data["occupations"] == ["pedagang keliling"] and data["income"] == 3_000_000
    assert (data["package"], data["period"]) == ("jkk_jkm_jht", 3)


def test_months_or_words_said_in_passing_choose_no_period_or_package(chat: Chat) -> None:
    chat.say("sy udah 3 bulan jadi ojol, mau daftar", "register", entities=[("occupation", "ojol")])
    chat.say("ya", "affirm")
    chat.say("nama lengkap sy Budi Santoso")
    assert "period" not in chat.state["data"] and "package" not in chat.state["data"]
    assert chat.state["data"]["full_name"] == "Budi Santoso"


def test_a_phone_number_at_the_birth_date_question_is_kept_for_later(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("0815 7777 8888", entities=[("phone", "+6281577778888")])
    assert "saya catat" in chat.text and "Tanggal lahir" in chat.text and "lengkap" not in chat.text
    chat.say("5 juni 1990", entities=[BORN])
    assert chat.text.startswith("Anda tinggal di")


def test_a_woman_typing_the_nik_day_at_the_status_check_is_told_why(chat: Chat) -> None:
    woman = "3201014506900003"  # day 45 = 5 + 40
    chat.say("cek status", "check_status")
    chat.say(woman, entities=[("nik", woman)])
    chat.say("45-06-1990")
    assert "ditambah 40" in chat.text and "tanggal 5" in chat.text and chat.state["flow"] == "status"


def test_a_job_not_on_the_list_asks_for_the_nearest_one(chat: Chat) -> None:
    fill_all_until_income_with(chat, None)
    chat.say("guru ngaji")
    assert chat.text.startswith("Pekerjaan itu belum ada di daftar") and len(chat.buttons) == 25


def test_an_unclear_package_answer_gets_a_short_reminder_not_the_figures_again(chat: Chat) -> None:
    fill_all_until_income(chat)
    chat.say("2 juta", entities=[("amount", 2_000_000)])
    chat.say("the complete one")
    assert chat.text.startswith("Maaf, belum saya tangkap. Pilih salah satu program") and len(chat.text) < 150
    assert chat.buttons == ["JKK + JKM (Rp13.400)", "JKK + JKM + JHT (Rp53.400)"]


def test_the_city_told_in_passing_is_not_asked_again(chat: Chat) -> None:
    chat.say("sy ojol tinggal di kab. bogor, mau daftar", "register", entities=[("occupation", "ojol")])
    assert chat.state["data"]["city"] == "Kab. Bogor"
    chat.say("sy tinggal di bekasi tapi mau nanya dulu ya", "out_of_scope")  # no second city over the first
    assert chat.state["data"]["city"] == "Kab. Bogor"


def test_an_unclear_answer_to_the_calculator_income_question_asks_once_more(chat: Chat) -> None:
    chat.say("iuran brp", "ask_contribution")
    chat.say("hmm gatau", "out_of_scope", 0.6)
    assert chat.text.startswith("Maaf, belum saya tangkap. Berapa rata-rata penghasilan")
    chat.say("pinjol dong", "out_of_scope", 0.9)  # a second one: the engine answers it
    assert "Berapa rata-rata penghasilan" not in chat.text and chat.state.get("flow") is None


@pytest.mark.parametrize(
    ("question", "intent"), [("iurannya brp sih?", "ask_contribution"), ("cek status", "check_status")]
)
def test_lanjut_during_a_side_question_returns_to_the_form(chat: Chat, question: str, intent: str) -> None:
    """ "lanjut" to the calculator's (or the status check's) question during a registration went back to the
    form; the once-more question must not swallow it."""
    to_nik_step(chat)
    chat.say(question, intent)
    chat.say("lanjut", "affirm", 0.7)
    assert "Berapa NIK" in chat.text and chat.state["flow"] == "registration"


@pytest.mark.parametrize(
    ("text", "intent", "again"),
    [
        ("klo yg ada jht brp", "ask_jht", True),
        ("klo 6 bulan brp", "ask_contribution", True),
        ("jht itu apa", "ask_jht", False),
        ("brp lama jht bisa cair", "ask_jht", False),
    ],
)
def test_a_price_question_right_after_the_figures_shows_them_again(
    chat: Chat, text: str, intent: str, again: bool
) -> None:
    """ "klo 6 bulan brp" asked the income again; "klo yg ada jht brp" got the JHT text, a generic price."""
    chat.say("iuran ojol brp", "ask_contribution", entities=[("occupation", "ojol")])
    chat.say("4,5jt", entities=[("amount", 4_500_000)])
    chat.say(text, intent, entities=[("program", "jht")] if "jht" in text else [])
    assert chat.text.startswith("Iuran untuk penghasilan Rp4.500.000") is again


def test_one_job_named_twice_is_one_occupation(chat: Chat) -> None:
    """ "pengasuh anak (babysitter)" is two mentions of one job: the summary said it twice."""
    job = [("occupation", "asisten rumah tangga"), ("occupation", "asisten rumah tangga")]
    chat.say("sy pengasuh anak (babysitter), iuran brp", "ask_contribution", entities=job)
    assert chat.state["known"]["occupations"] == ["asisten rumah tangga"]
    chat.say("daftar", "register")
    assert chat.state["data"]["occupations"] == ["asisten rumah tangga"]


def test_draft_and_consent_ids_survive_the_event_logs_masking() -> None:
    """The event log masks runs of 9+ digits (a NIK, a phone); a draft id must never look like one, or the
    funnel loses the link between a registration's events (it did for about one draft in ten)."""
    from bot.logs import redact
    from flows.registration import new_draft_id

    ids = {new_draft_id(f"rest:u{n}:2026-05-04T09:00:00+07:00:1") for n in range(2000)}
    assert len(ids) == 2000 and all(len(i) == 16 for i in ids)
    for draft_id in ids:
        assert redact(draft_id) == draft_id and redact(f"{draft_id}-c1") == f"{draft_id}-c1"
