"""Membership status: NIK or KPJ plus birth date, masked answers, one generic mismatch, locks."""

from __future__ import annotations

from datetime import date

import pytest

from flows.engine import Engine
from flows.status import FAIL_LIMIT
from storage.membership.base import MemberRecord
from tests.flows.fakes import Chat, FakeServices

NIK, KPJ, BORN = "3201014506900003", "21034567890", date(1990, 6, 5)
DATE = ("date", "1990-06-05")


@pytest.fixture
def member(services: FakeServices) -> MemberRecord:
    record = MemberRecord(
        KPJ,
        "Budi Santoso",
        "active",
        ("jkk", "jkm", "jht"),
        date(2026, 10, 1),
        date(2026, 11, 30),
        date(2026, 12, 15),
    )
    services.membership.add(NIK, KPJ, BORN, record)
    return record


def test_status_by_nik_then_birth_date_is_masked(chat: Chat, member: MemberRecord) -> None:
    chat.say("cek status kepesertaan saya", "check_status")
    assert "NIK" in chat.text and "KPJ" in chat.text
    chat.say(NIK, entities=[("nik", NIK)])
    assert "Tanggal lahir" in chat.text
    chat.say("5 juni 1990", entities=[DATE])
    text = chat.text
    assert "B**i S*****o" in text and "Budi" not in text and "Santoso" not in text
    assert "210*****890" in text and KPJ not in text
    assert "Status: aktif" in text and "JKK, JKM, JHT" in text
    assert "1 Oktober 2026 s.d. 30 November 2026" in text and "15 Desember 2026" in text
    checked = chat.event("status.checked").data
    assert (
        checked["outcome"] == "found" and checked["id_type"] == "nik" and checked["member_status"] == "active"
    )


def test_status_by_kpj_in_one_message(chat: Chat, member: MemberRecord) -> None:
    chat.say("cek status kpj 21034567890 lahir 5-6-1990", "check_status", entities=[("kpj", KPJ), DATE])
    assert "Data ditemukan" in chat.text


def test_awaiting_payment_in_plain_words(chat: Chat, services: FakeServices) -> None:
    record = MemberRecord(
        KPJ, "Siti Aminah", "awaiting_payment", ("jkk", "jkm"), None, None, date(2026, 11, 15)
    )
    services.membership.add(NIK, KPJ, BORN, record)
    chat.say("sudah terdaftar belum ya saya", "check_status", entities=[("nik", NIK)])
    chat.say("05/06/1990", entities=[DATE])
    assert (
        "menunggu pembayaran" in chat.text
        and "S**i A****h" in chat.text
        and "Masa perlindungan" not in chat.text
    )


def test_a_wrong_pair_gets_one_generic_answer(chat: Chat, member: MemberRecord) -> None:
    chat.say("cek status", "check_status")
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("6 juni 1990", entities=[("date", "1990-06-06")])
    wrong_date = chat.text
    chat.say("cek status", "check_status")
    other = "3201014506900004"
    chat.say(other, entities=[("nik", other)])
    chat.say("5 juni 1990", entities=[DATE])
    assert chat.text == wrong_date and "Data tidak cocok" in wrong_date
    assert "NIK" not in wrong_date.split("Coba")[0]  # never says which part was wrong
    assert chat.event("status.checked").data["outcome"] == "not_found"


def test_locks_after_five_misses_per_chat(chat: Chat, services: FakeServices, member: MemberRecord) -> None:
    for i in range(FAIL_LIMIT):
        chat.say("cek status", "check_status")
        nik = f"320101450690{i + 10:04d}"
        chat.say(nik, entities=[("nik", nik)])
        chat.say("1 januari 1980", entities=[("date", "1980-01-01")])
    assert "dikunci" in chat.text and "175" in chat.text
    lookups = services.membership.lookups
    chat.say("cek status", "check_status")  # even the right pair is not looked up now
    assert "dikunci" in chat.text and services.membership.lookups == lookups
    assert any(ttl == 3600 for key, ttl in services.ttls.items() if ":chat:" in key)


def test_locks_per_nik_per_day_across_chats(
    engine: Engine, services: FakeServices, member: MemberRecord
) -> None:
    for i in range(FAIL_LIMIT):
        chat = Chat(engine, chat_id=f"attacker{i}")
        chat.say("cek status", "check_status", entities=[("nik", NIK)])
        chat.say("1 januari 1980", entities=[("date", "1980-01-01")])
    owner = Chat(engine, chat_id="owner")
    owner.say("cek status", "check_status", entities=[("nik", NIK)])
    owner.say("5 juni 1990", entities=[DATE])
    assert "dikunci" in owner.text and "Budi" not in owner.text
    nik_keys = [k for k in services.ttls if ":nik:" in k]
    assert nik_keys and all(services.ttls[k] == 86_400 for k in nik_keys)
    assert all(NIK not in k for k in services.counters)  # counter keys never hold a clear NIK


def test_wrong_formats(chat: Chat) -> None:
    chat.say("cek status", "check_status")
    chat.say("12345")
    assert "16 digit" in chat.text and "11 digit" in chat.text
    chat.say("9901014506900003", entities=[("nik", "9901014506900003")])
    assert "salah ketik" in chat.text
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("tanggal 5")
    assert "tanggal lahir lengkap" in chat.text


def test_backend_down(chat: Chat, services: FakeServices) -> None:
    services.membership.down = True
    chat.say("cek status", "check_status", entities=[("nik", NIK), DATE])
    assert "gangguan" in chat.text and services.counters == {}  # an outage is not a failed try


def test_balance_question_gets_the_balance_channels(chat: Chat, member: MemberRecord) -> None:
    chat.say("saldo jht saya berapa", "check_status", entities=[("program", "jht")])
    chat.say(NIK, entities=[("nik", NIK)])
    chat.say("5 juni 1990", entities=[DATE])
    assert "Saldo JHT bisa dicek" in chat.text and "JMO" in chat.text


def test_a_question_instead_of_the_birth_date_leaves_the_check(chat: Chat, member: MemberRecord) -> None:
    chat.say("cek status", "check_status", entities=[("nik", NIK)])
    chat.say("iuran jkm berapa?", "ask_jkm", 0.9)
    assert "JKM (Jaminan Kematian)" in chat.text and chat.state.get("flow") is None


def test_a_bare_nik_asks_what_it_is_for_and_carries_it(chat: Chat, member: MemberRecord) -> None:
    chat.say(NIK, "out_of_scope", 0.3, entities=[("nik", NIK)])
    assert "untuk apa" in chat.text and chat.buttons == ["Cek status", "Daftar BPU"]
    chat.say("1")
    assert "Tanggal lahir" in chat.text
    chat.say("5 juni 1990", entities=[DATE])
    assert "Data ditemukan" in chat.text
