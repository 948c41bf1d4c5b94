"""Engine behaviour across flows: clarification, numbered answers, escapes, expiry, state handling."""

from __future__ import annotations

from datetime import timedelta

from flows.engine import Engine
from tests.flows.fakes import Chat, FakeServices


def test_low_confidence_gets_a_clarifying_question_with_the_top_intents(chat: Chat) -> None:
    ranking = [("ask_jht", 0.41), ("ask_claim", 0.38), ("ask_jp", 0.12), ("greet", 0.05)]
    chat.say("duit tua gmn", "ask_jht", 0.41, ranking=ranking)
    assert chat.text == "Maaf, maksud Anda yang mana?"
    assert chat.buttons == ["JHT (hari tua)", "Cara klaim", "JP (pensiun)", "Menu"]
    assert chat.event("fallback").data["reason"] == "low_confidence"
    chat.say("2")
    assert "Cara klaim" in chat.text


def test_ambiguous_parse_is_clarified_too(chat: Chat) -> None:
    ranking = [("ask_payment", 0.48), ("ask_contribution", 0.46)]
    chat.say("bayar brp", "ask_payment", 0.48, ranking=ranking, low=False, ambiguous=True)
    assert chat.buttons == ["Cara bayar iuran", "Hitung iuran", "Menu"]
    assert chat.event("fallback").data["reason"] == "ambiguous"


def test_still_unclear_after_clarifying_gets_the_menu(chat: Chat) -> None:
    ranking = [("ask_jht", 0.3), ("ask_claim", 0.28)]
    chat.say("hmm", "ask_jht", 0.3, ranking=ranking)
    chat.say("anu itu lho", "ask_claim", 0.2, ranking=ranking)
    assert "belum paham" in chat.text and chat.buttons[0] == "Info manfaat"
    chat.say("ehm", "ask_jht", 0.3, ranking=ranking)  # a new round starts with a question again
    assert "maksud Anda" in chat.text


def test_button_title_typed_in_words_is_the_same_as_the_number(engine: Engine) -> None:
    by_number, by_title, by_payload = Chat(engine), Chat(engine, chat_id="b"), Chat(engine, chat_id="c")
    for c in (by_number, by_title, by_payload):
        c.say("halo", "greet")
    by_number.say("4")
    by_title.say("cek status")
    by_payload.say("/check_status")
    assert by_number.text == by_title.text == by_payload.text and "NIK" in by_number.text


def test_a_payload_typed_as_text_works_without_the_nlu(chat: Chat) -> None:
    chat.say('/choose{"value":"x"}', "out_of_scope", 0.0)  # stale button: no question waits for it
    assert "belum paham" in chat.text
    chat.say("/ask_jkk", "out_of_scope", 0.0)
    assert "JKK (Jaminan Kecelakaan Kerja)" in chat.text


def test_numbers_without_buttons_are_not_choices(chat: Chat) -> None:
    chat.say("makasih", "thanks")
    chat.say("9", "out_of_scope", 0.2)
    assert "maksud" in chat.text.lower() or "belum paham" in chat.text


def test_run_does_not_mutate_the_given_state_and_returns_json(chat: Chat) -> None:
    chat.say("halo", "greet")  # Chat checks both on every turn
    assert chat.state["v"] == 1 and chat.state["offered"][0] == ["Info manfaat", "/ask_programs"]


def test_an_unknown_state_version_starts_fresh(chat: Chat) -> None:
    chat.state = {"v": 999, "flow": "registration", "step": "nik"}
    chat.say("halo", "greet")
    assert "Kerja Keras" in chat.text and chat.state.get("flow") is None


def test_expiry_ends_a_short_flow_quietly(services: FakeServices) -> None:
    chat = Chat(Engine(services, idle_minutes=30))
    chat.say("iuran berapa", "ask_contribution")
    chat.now += timedelta(hours=2)
    chat.say("jkk itu apa", "ask_jkk")
    assert "JKK (Jaminan Kecelakaan Kerja)" in chat.text and chat.state.get("flow") is None
    assert "session.expired" in chat.event_types() and "belum selesai" not in chat.text


def test_expired_buttons_are_not_numbered_answers(services: FakeServices) -> None:
    chat = Chat(Engine(services, idle_minutes=30))
    chat.say("halo", "greet")
    chat.now += timedelta(hours=3)
    chat.say("3", "out_of_scope", 0.1)
    assert "izin" not in chat.text  # "3" no longer means "Daftar BPU" from yesterday's menu


def test_a_registration_abandoned_before_consent_is_not_kept(services: FakeServices) -> None:
    chat = Chat(Engine(services, idle_minutes=30))
    chat.say("daftar", "register")
    chat.now += timedelta(hours=1)
    chat.say("halo", "greet")
    assert "belum selesai" not in chat.text and "parked" not in chat.state


def test_goodbye_with_a_parked_draft(chat: Chat) -> None:
    chat.say("daftar", "register")
    chat.say("ya", "affirm")
    chat.say("Budi")
    chat.say("menu")
    chat.say("dadah", "goodbye")
    assert "tersimpan" in chat.text


def test_cancel_a_parked_draft(chat: Chat) -> None:
    chat.say("daftar", "register")
    chat.say("ya", "affirm")
    chat.say("Budi Santoso")
    chat.say("menu")
    chat.say("batal")
    assert "dibatalkan" in chat.text and "parked" not in chat.state


def test_restart_the_status_check(chat: Chat) -> None:
    chat.say("cek status", "check_status")
    chat.say("ulang")
    assert "NIK" in chat.text and chat.state["flow"] == "status"


def test_affirm_after_a_question_mid_form_answered_with_a_new_flow(chat: Chat) -> None:
    chat.say("daftar", "register")
    chat.say("ya", "affirm")
    chat.say("cek status dulu deh", "check_status")
    assert "NIK" in chat.text and chat.state["parked"]["offer"] == "interrupted"
    chat.say("batal")
    assert "Lanjut pendaftaran?" in chat.text
    chat.say("ya", "affirm")
    assert "nama lengkap" in chat.text


def test_an_escape_closes_an_open_yes_no_question(chat: Chat) -> None:
    chat.say("hapus data saya", "delete_my_data")
    chat.say("bantuan")
    chat.say("ya", "affirm")
    assert "erase" not in chat.event_types() and "Siap" in chat.text


def test_stop_wins_over_everything_even_a_pending_question(chat: Chat) -> None:
    chat.say("hapus data saya", "delete_my_data")
    chat.say("stop")
    assert chat.event_types() == ["opt_out"] and chat.state.get("pending") is None
