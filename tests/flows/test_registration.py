"""The BPU registration form, driven through Engine.run turn by turn with hand-written parses."""

from __future__ import annotations

from datetime import date, timedelta

from flows.engine import Engine
from storage.membership.base import MemberRecord
from tests.flows.fakes import Chat, FakeServices

NIK = "3201014506900003"  # a woman born 5 June 1990 (day 45 = 5 + 40), Jawa Barat
BORN = ("date", "1990-06-05")


def to_nik_step(chat: Chat) -> None:
    chat.say("mau daftar bpjs", "register")
    assert "izin" in chat.text and chat.buttons == ["Ya, saya setuju", "Tidak setuju"]
    chat.say("1")  # numbered answer: the first button
    chat.say("budi santoso", "out_of_scope", 0.3)
    assert "NIK" in chat.text


def fill_all(chat: Chat, *, package: str = "2", period: str = "3") -> None:
    to_nik_step(chat)
    chat.say(NIK, "out_of_scope", 0.4, entities=[("nik", NIK)])
    chat.say("5 juni 1990", "out_of_scope", 0.4, entities=[BORN])
    chat.say("0812-3456-7890", "out_of_scope", 0.4, entities=[("phone", "+6281234567890")])
    chat.say("kota bekasi", "out_of_scope", 0.3)
    assert "pekerjaan" in chat.text and len(chat.buttons) == 25
    chat.say("1")  # Ojol
    chat.say("2 juta", "ask_contribution", 0.6, entities=[("amount", 2_000_000)])
    assert "Rp13.400" in chat.text and "Rp53.400" in chat.text  # contribution shown before choosing
    chat.say(package)
    chat.say(period)


def test_full_registration_with_numbered_answers(chat: Chat, services: FakeServices) -> None:
    fill_all(chat)
    summary = chat.text
    assert "3201********0003" in summary and "5 Juni 1990" in summary and "Budi Santoso" in summary
    assert "JKK + JKM + JHT" in summary and "Rp53.400/bulan" in summary
    assert "Bayar 3 bulan: Rp160.200" in summary  # Nov, Dec 2026, Jan 2027: transport discount all three
    assert chat.buttons == ["Ya, daftarkan", "Ubah data", "Batal"]
    chat.say("ya", "affirm")
    app = services.membership.applications[0]
    assert (app.nik, app.full_name, app.birth_date) == (NIK, "Budi Santoso", date(1990, 6, 5))
    assert (app.phone, app.city, app.occupations) == ("+6281234567890", "Kota Bekasi", ("ojol",))
    assert (app.programs, app.payment_months, app.monthly_income) == (("jkk", "jkm", "jht"), 3, 2_000_000)
    assert (app.monthly_contribution, app.total_due) == (53_400, 160_200)
    assert app.consent_id == chat.event("consent.given").data["consent_id"]
    text = chat.text
    assert "BPU-000001" in text and "Rp160.200" in text and "15 Desember 2026" in text
    assert "Kode iuran: NIK Anda (3201********0003)" in text and "Kantor Pos" in text
    submitted = chat.event("registration.submitted").data
    assert submitted["registration_number"] == "BPU-000001" and submitted["amount"] == 160_200
    assert NIK not in str(submitted) and "Budi" not in str(submitted)  # no personal value in the event
    assert chat.state.get("flow") is None and not chat.state.get("data")


def test_consent_is_recorded_with_its_text_version(chat: Chat) -> None:
    chat.say("daftar", "register")
    chat.say("setuju", "affirm")
    given = chat.event("consent.given").data
    assert given["version"] and given["purpose"] == "bpu_registration" and given["channel"] == "rest"


def test_consent_declined_keeps_nothing(chat: Chat) -> None:
    chat.say("mau daftar, nik saya 3201014506900003", "register", entities=[("nik", NIK)])
    chat.say("tidak", "deny")
    assert "JMO" in chat.text and "consent.declined" in chat.event_types()
    assert chat.state.get("flow") is None and NIK not in str(chat.state)


def test_values_volunteered_early_are_used(chat: Chat) -> None:
    chat.say(
        "sy pedagang pasar mau daftar, nik 3201014506900003",
        "register",
        entities=[("occupation", "pedagang pasar"), ("nik", NIK)],
    )
    chat.say("ya", "affirm")
    assert "nama lengkap" in chat.text
    chat.say("Siti Aminah", "greet", 0.55)
    assert "Tanggal lahir" in chat.text  # the NIK was not asked again
    chat.say("05-06-1990", entities=[BORN])
    chat.say("081234567890", entities=[("phone", "+6281234567890")])
    chat.say("Bogor")
    assert "penghasilan" in chat.text  # occupation skipped too


def test_values_given_in_passing_fill_later_slots(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("3201014506900003 lahir 5 juni 1990", entities=[("nik", NIK), BORN])
    assert "Nomor HP" in chat.text


def test_fifteen_digit_nik(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("320101450690000", "out_of_scope", 0.3)
    assert "16 digit" in chat.text and "15 digit" in chat.text
    chat.say(NIK, entities=[("nik", NIK)])
    assert "Tanggal lahir" in chat.text


def test_nik_and_birth_date_must_agree_and_the_nik_can_be_fixed(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("6 mei 1990", entities=[("date", "1990-05-06")])
    assert "tidak cocok dengan NIK" in chat.text and chat.buttons == ["Ubah NIK"]
    chat.say("1")  # Ubah NIK
    assert "NIK" in chat.text
    man = "3174010605900001"  # a man born 6 May 1990
    chat.say(man, entities=[("nik", man)])
    assert "Tanggal lahir" in chat.text
    chat.say("6 mei 1990", entities=[("date", "1990-05-06")])
    assert "Nomor HP" in chat.text


def test_income_below_the_minimum_offers_the_minimum(chat: Chat) -> None:
    fill_all_until_income(chat)
    chat.say("800 ribu", entities=[("amount", 800_000)])
    assert "Rp1.000.000" in chat.text and chat.buttons == ["Pakai Rp1.000.000"]
    chat.say("1")
    # the ojol discount applies from November 2026 to March 2027; the full price comes back in April
    assert "JKK + JKM: Rp8.400" in chat.text and "JKK + JKM + JHT: Rp28.400" in chat.text
    assert "mulai April 2027: Rp16.800/bulan" in chat.text


def fill_all_until_income(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("5 juni 1990", entities=[BORN])
    chat.say("0812-3456-7890", entities=[("phone", "+6281234567890")])
    chat.say("Depok")
    chat.say("ojol", entities=[("occupation", "ojol")])
    assert "penghasilan" in chat.text


def test_age_65_or_more_is_refused_clearly(chat: Chat) -> None:
    to_nik_step(chat)
    old = "3201011011610001"  # a man born 10 Nov 1961: 65 on 10 Nov 2026
    chat.say(old, entities=[("nik", old)])
    chat.say("10-11-1961", entities=[("date", "1961-11-10")])
    assert "di bawah 65 tahun" in chat.text and "175" in chat.text
    assert chat.event("registration.stopped").data["reason"] == "age_limit"
    assert chat.state.get("flow") is None and old not in str(chat.state)


def test_an_existing_member_is_told_so(chat: Chat, services: FakeServices) -> None:
    record = MemberRecord("21034567890", "Budi Santoso", "active", ("jkk", "jkm"), None, None, None)
    services.membership.add(NIK, "21034567890", date(1990, 6, 5), record)
    to_nik_step(chat)
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("5 juni 1990", entities=[BORN])
    assert "sudah terdaftar" in chat.text and "aktif" in chat.text
    assert chat.event("registration.stopped").data["reason"] == "already_member"


def test_an_inactive_member_is_told_to_pay_to_reactivate(chat: Chat, services: FakeServices) -> None:
    record = MemberRecord("21034567890", "Budi Santoso", "inactive", ("jkk", "jkm"), None, None, None)
    services.membership.add(NIK, "21034567890", date(1990, 6, 5), record)
    to_nik_step(chat)
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("5 juni 1990", entities=[BORN])
    assert "tidak aktif" in chat.text and "mengaktifkan kembali" in chat.text


def test_a_question_mid_form_is_answered_and_the_form_resumes(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("jht itu apa sih?", "ask_jht", 0.93, entities=[("program", "jht")])
    assert "JHT (Jaminan Hari Tua)" in chat.text
    assert chat.replies[-1].text == "Lanjut pendaftaran?" and chat.buttons == ["Ya, lanjut", "Tidak"]
    chat.say("ya", "affirm")
    assert "NIK" in chat.text and "Lanjut" not in chat.text


def test_the_answer_can_come_instead_of_yes(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("bayarnya dimana?", "ask_payment", 0.9)
    chat.say(NIK, entities=[("nik", NIK)])
    assert "Tanggal lahir" in chat.text


def test_a_contribution_question_mid_form_then_resume(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("kalau gaji 3 juta iurannya brp?", "ask_contribution", 0.9, entities=[("amount", 3_000_000)])
    assert "Rp3.000.000" in chat.text and "Lanjut pendaftaran?" in chat.text
    chat.say("2")  # Tidak
    assert "tersimpan" in chat.text and chat.state["parked"]["step"] == "nik"
    chat.say("mau lanjut daftar", "register")
    assert "belum selesai" in chat.text
    chat.say("lanjutkan")
    assert "NIK" in chat.text and chat.state["flow"] == "registration"


def test_a_name_that_looks_like_a_question_is_a_question(chat: Chat) -> None:
    chat.say("daftar", "register")
    chat.say("ya", "affirm")
    chat.say("syaratnya apa aja?", "ask_requirements", 0.9)
    assert "Untuk daftar BPU, siapkan" in chat.text and "Lanjut pendaftaran?" in chat.text
    chat.say("Agus Salim", "out_of_scope", 0.2)  # the answer instead of "ya"
    assert "NIK" in chat.text


def test_cancel_mid_form_drops_the_draft(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("batal")
    assert "dibatalkan" in chat.text and chat.buttons[0] == "Info manfaat"
    assert chat.event("registration.stopped").data["reason"] == "cancelled"
    assert "Budi" not in str(chat.state)


def test_cancel_intent_from_the_nlu(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("gak jadi deh daftarnya", "cancel", 0.9)
    assert "dibatalkan" in chat.text and chat.state.get("flow") is None


def test_restart_keeps_consent_and_starts_over(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("ulang")
    assert "ulang dari awal" in chat.text and "nama lengkap" in chat.text
    assert "full_name" not in chat.state["data"] and chat.state["data"]["consent_id"]


def test_help_mid_form_explains_and_asks_again(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("bantuan")
    assert "BATAL" in chat.text and "NIK" in chat.text and chat.state["step"] == "nik"


def test_menu_mid_form_keeps_the_draft(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("menu")
    assert "tetap tersimpan" in chat.text and chat.state["parked"]["data"]["full_name"] == "Budi Santoso"
    chat.say("3")  # Daftar BPU
    chat.say("Mulai dari awal")
    assert "izin" in chat.text and "parked" not in chat.state


def test_resume_after_idle_expiry(services: FakeServices) -> None:
    chat = Chat(Engine(services, idle_minutes=30))
    to_nik_step(chat)
    chat.say(NIK, entities=[("nik", NIK)])
    chat.now += timedelta(minutes=31)
    chat.say("halo", "greet")
    assert "Halo" in chat.text and "belum selesai" in chat.text
    assert "session.expired" in chat.event_types()
    assert chat.buttons == ["Lanjutkan", "Mulai dari awal", "Nanti saja"]
    chat.say("1")
    assert "Tanggal lahir" in chat.text and chat.state["data"]["nik"] == NIK


def test_no_expiry_within_the_idle_time(services: FakeServices) -> None:
    chat = Chat(Engine(services, idle_minutes=30))
    to_nik_step(chat)
    chat.now += timedelta(minutes=29)
    chat.say(NIK, entities=[("nik", NIK)])
    assert "Tanggal lahir" in chat.text


def test_double_ya_creates_one_registration(chat: Chat, services: FakeServices) -> None:
    fill_all(chat)
    chat.say("ya", "affirm")
    chat.say("ya", "affirm")
    assert len(services.membership.applications) == 1
    assert "sudah kami terima" in chat.text and "BPU-000001" in chat.text


def test_the_same_turn_run_twice_reuses_the_idempotency_key(chat: Chat, services: FakeServices) -> None:
    """Two "ya" processed from the same saved state (no lock in between) get one registration."""
    fill_all(chat)
    saved = chat.state
    chat.say("ya", "affirm")
    chat.state = saved
    chat.say("ya", "affirm")
    assert len(services.membership.applications) == 1 and len(services.membership.receipts) == 1
    assert chat.event("registration.submitted").data["registration_number"] == "BPU-000001"
    assert chat.events[0].data["replayed"] is True


def test_backend_down_keeps_the_draft_and_retry_works(chat: Chat, services: FakeServices) -> None:
    fill_all(chat)
    services.membership.down = True
    chat.say("ya", "affirm")
    assert "gangguan" in chat.text and "aman tersimpan" in chat.text
    assert chat.state["step"] == "confirm" and chat.buttons == ["Coba kirim lagi", "Menu"]
    services.membership.down = False
    chat.say("1")
    assert "Pendaftaran terkirim" in chat.text


def test_rejected_by_the_backend(chat: Chat, services: FakeServices) -> None:
    fill_all(chat)
    services.membership.reject = "invalid_nik"
    chat.say("ya", "affirm")
    assert "belum bisa diterima" in chat.text and "NIK tidak dikenali" in chat.text


def test_changes_by_name_at_the_summary(chat: Chat, services: FakeServices) -> None:
    fill_all(chat)
    chat.say("ganti nama")
    assert "nama lengkap" in chat.text
    chat.say("Budi Santoso Putra")
    assert "Cek lagi data Anda" in chat.text and "Budi Santoso Putra" in chat.text
    chat.say("ubah nik")
    man = "3174011708850001"
    chat.say(man, entities=[("nik", man)])
    assert "Tanggal lahir" in chat.text  # no longer agrees with the old birth date
    chat.say("17-08-1985", entities=[("date", "1985-08-17")])
    assert "3174********0001" in chat.text and "17 Agustus 1985" in chat.text
    chat.say("Ubah data")
    chat.say("penghasilan")
    chat.say("3 juta", entities=[("amount", 3_000_000)])
    assert "Penghasilan: Rp3.000.000/bulan" in chat.text
    chat.say("ya", "affirm")
    assert services.membership.applications[0].nik == man
    assert services.membership.applications[0].monthly_income == 3_000_000


def test_edit_menu_by_number_and_back(chat: Chat) -> None:
    fill_all(chat)
    chat.say("tidak", "deny")
    assert "Bagian mana" in chat.text and len(chat.buttons) == 10
    chat.say("10")  # Tidak jadi ubah
    assert "Cek lagi data Anda" in chat.text


def test_whatsapp_offers_the_chat_number(services: FakeServices) -> None:
    chat = Chat(Engine(services), channel="whatsapp", chat_id="6281234567890", phone="+6281234567890")
    to_nik_step(chat)
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("5 juni 1990", entities=[BORN])
    assert chat.buttons == ["Pakai +62812****7890"]
    chat.say("1")
    assert "kota" in chat.text


def test_two_occupations_by_number_and_too_many(chat: Chat) -> None:
    fill_all_until_income_with(chat, None)
    chat.say("1, 5, 9")
    assert "Maksimal 2" in chat.text
    chat.say("4 dan 9")
    assert "penghasilan" in chat.text and chat.state["data"]["occupations"] == ["kurir", "petani"]


def fill_all_until_income_with(chat: Chat, occupation: str | None) -> None:
    to_nik_step(chat)
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("5 juni 1990", entities=[BORN])
    chat.say("0812-3456-7890", entities=[("phone", "+6281234567890")])
    chat.say("Kab. Bogor")
    assert "pekerjaan" in chat.text


def test_package_and_period_in_words(chat: Chat) -> None:
    fill_all_until_income(chat)
    chat.say("2 juta", entities=[("amount", 2_000_000)])
    chat.say("yang tanpa jht aja", entities=[("program", "jht")])
    assert "berapa bulan" in chat.text
    chat.say("setahun")
    assert "Bayar 12 bulan" in chat.text and "Program: JKK + JKM" in chat.text
    # 12 months of JKK+JKM for an ojol from Nov 2026: Nov-Mar discounted (5 x 13.400), Apr-Oct normal.
    assert f"Rp{5 * 13_400 + 7 * 26_800:,}".replace(",", ".") in chat.text
    assert "bulan per bulan" in chat.text and "sampai Maret 2027" in chat.text


def test_wrong_answers_are_explained(chat: Chat) -> None:
    fill_all_until_income(chat)
    chat.say("2", entities=[("amount", 2)])
    assert "satuannya" in chat.text
    chat.say("2 juta", entities=[("amount", 2_000_000)])
    chat.say("yang mana ya")
    assert "belum saya tangkap" in chat.text and len(chat.buttons) == 2
    chat.say("1")
    chat.say("4 bulan")
    assert "1, 2, 3, 6, atau 12" in chat.text


def test_stop_mid_form_unsubscribes_and_offers_to_resume(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("STOP")
    assert "opt_out" in chat.event_types() and "Lanjut pendaftaran?" in chat.text


def test_delete_my_data_mid_form(chat: Chat) -> None:
    to_nik_step(chat)
    chat.say("hapus data saya", "delete_my_data", 0.95)
    chat.say("ya", "affirm")
    assert "erase" in chat.event_types() and "Budi" not in str(chat.state)


def test_retype_a_field_with_ulangi(chat: Chat) -> None:
    fill_all(chat)
    chat.say("ulangi tanggal lahir")
    assert "Tanggal lahir" in chat.text and chat.state["step"] == "birth_date"
    chat.say("5 juni 1990", entities=[BORN])
    assert "Cek lagi data Anda" in chat.text


def test_a_second_daftar_never_starts_over(chat: Chat) -> None:
    chat.say("daftar", "register")
    chat.say("daftar", "register")
    assert "sedang mendaftar" in chat.text and "izin" in chat.text
    other = Chat(chat.engine, chat_id="third")
    fill_all(other)
    other.say("mau daftar bpjs", "register")
    assert "sedang mendaftar" in other.text and "Cek lagi data Anda" in other.text
