"""Status-check enumeration through the REST endpoint of the real app: guessing birth dates for many NIKs
from one chat, or for one NIK from many chats, is stopped by the limits of flows/status.py (5 failed tries
per chat per hour, or per NIK per day) with the Contact Center 175 message; once locked, even the right
pair gets nothing. Runs on the in-process counters and on Redis (where the limits hold across processes)."""

from __future__ import annotations

import secrets
from datetime import date

from storage.membership.sql import SqlMembershipBackend
from tests.hostile.app_support import LiveApp, random_sender
from tests.storage.factories import application, nik_for

LOCKED = "Contact Center 175"
MISMATCH = "Data tidak cocok"
FOUND = "Data ditemukan"


def _member(live: LiveApp) -> tuple[str, date]:
    """A real member (registered through the membership backend) with a NIK of this test's own."""
    born = date(1985, 3, 14)
    nik = nik_for(born, female=True, serial=secrets.randbelow(9000) + 1000)
    backend = SqlMembershipBackend(live.app.state.runtime.db)
    backend.register(application(nik=nik, birth_date=born), idempotency_key=secrets.token_hex(8))
    return nik, born


def _check(live: LiveApp, sender: str, nik: str, birth: str) -> str:
    """Everything the bot says to one status check (ask, NIK, birth date)."""
    texts = []
    for message in ("cek status kepesertaan", nik, birth):
        response = live.rest(sender, message)
        assert response.status_code == 200, response.text[:300]
        texts += [r["text"] for r in response.json()]
    return "\n".join(texts)


def test_many_niks_from_one_chat_are_stopped(app: LiveApp) -> None:
    nik, born = _member(app)
    sender = random_sender()
    answers = []
    for serial in range(5):  # five different NIKs, each with a guessed birth date
        other = nik_for(date(1990, 1, 1), serial=7000 + serial + secrets.randbelow(1000))
        answers.append(_check(app, sender, other, "01-01-1990"))
    assert all(MISMATCH in a and LOCKED not in a for a in answers[:4]), answers
    assert LOCKED in answers[4] and MISMATCH not in answers[4]
    # locked for this chat: even the right pair of a real member now reveals nothing
    after = _check(app, sender, nik, born.strftime("%d-%m-%Y"))
    assert LOCKED in after and FOUND not in after
    # another chat is not affected (the lock is per chat), and finds the member
    found = _check(app, random_sender(), nik, born.strftime("%d-%m-%Y"))
    assert LOCKED not in found and FOUND in found


def test_one_nik_from_many_chats_is_stopped(app: LiveApp) -> None:
    nik, born = _member(app)
    answers = [_check(app, random_sender(), nik, f"{day:02d}-01-1985") for day in range(1, 6)]
    assert all(MISMATCH in a and LOCKED not in a for a in answers[:4]), answers
    assert LOCKED in answers[4] and MISMATCH not in answers[4]
    # the NIK is locked for the day, whichever chat asks, even with the right birth date
    after = _check(app, random_sender(), nik, born.strftime("%d-%m-%Y"))
    assert LOCKED in after and FOUND not in after


def test_a_failed_check_never_says_which_half_was_wrong(app: LiveApp) -> None:
    nik, born = _member(app)
    wrong_date = _check(app, random_sender(), nik, "01-01-1985")
    unknown_nik = _check(app, random_sender(), nik_for(born, serial=9999), born.strftime("%d-%m-%Y"))
    assert wrong_date == unknown_nik  # the same words: no oracle for "this NIK exists"
    assert nik not in wrong_date
