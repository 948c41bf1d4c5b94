"""Membership status: NIK or KPJ, plus the birth date as a second factor, looked up in the membership
backend. A wrong pair gets one generic "data tidak cocok" that never says which part was wrong; after
FAIL_LIMIT misses per chat per hour, or per NIK/KPJ per day, the check locks and points to Contact Center 175.
The answer is masked (name "B**i S*****o", KPJ "210*****890"): whoever knows a NIK learns little."""

from __future__ import annotations

import hashlib
import re
from datetime import date

from flows import intents, validators
from flows.masking import mask_kpj, mask_name
from flows.registration_slots import nik_style_day
from flows.replies import Reply
from flows.turn import Turn
from nlu.entities.kpj import parse_kpj
from nlu.entities.nik import NikProblem, parse_nik
from nlu.entities.nik import validate as validate_nik
from storage.membership.base import MemberRecord, MembershipError

NAME = "status"
FAIL_LIMIT = 5
CHAT_WINDOW, ID_WINDOW = 3600, 86_400  # seconds
UNCLEAR = frozenset({"out_of_scope", "affirm", "deny"})  # "sebentar ya", "gak tau": no answer yet
TEXTS = (
    "status.ask_id",
    "status.ask_birth_date",
    "status.id_invalid",
    "status.nik_invalid",
    "status.date_invalid",
    "status.not_understood",
    "registration.date_women",
    "status.mismatch",
    "status.locked",
    "status.down",
    "status.result",
    "status.period_line",
    "status.due_line",
    "status.hint_awaiting_payment",
    "status.hint_inactive",
    "status.hint_rejected",
    "status.hint_active",
    "status.balance_note",
)
DATA = ("labels.member_status", "labels.programs", "vocab.balance")


def _hash(value: str) -> str:
    # Counter keys live in Redis where operators can list them: never a clear NIK or chat id there.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def chat_key(t: Turn) -> str:
    return f"jb:status:fail:chat:{_hash(f'{t.ctx.channel}:{t.ctx.chat_id}')}"


def id_key(kind: str, value: str) -> str:
    return f"jb:status:fail:{kind}:{_hash(value)}"


def start(t: Turn) -> None:
    balance = bool(set(t.msg.norm.split()) & t.content.words("vocab.balance"))
    if t.services.count(chat_key(t)) >= FAIL_LIMIT:
        _locked(t, None)
        return
    t.begin(NAME, "id", {"balance": balance})
    if _take_id(t) == "invalid":
        return
    _take_date(t)
    _advance(t)


def on_message(t: Turn) -> bool:
    """The answer to the question asked; False when the message is something else."""
    msg = t.msg
    if t.step == "id":
        found = _take_id(t)
        if found is None:
            if re.search(r"\d", msg.text) and not msg.is_intent(*intents.INTERRUPTING):
                t.say("status.id_invalid")
                return True
            return _again(t)
        if found == "invalid":
            return True
        _take_date(t)
    elif t.step == "birth_date" and not _take_date(t):
        if re.search(r"\d", msg.text) and not msg.is_intent(*intents.INTERRUPTING):
            kind, value = t.data["id"]
            women = nik_style_day(value if kind == "nik" else "", msg.text)  # "52-03-1985": the NIK's day
            t.say("registration.date_women", **women.values) if women else t.say("status.date_invalid")
            return True
        return _again(t)
    _advance(t)
    return True


def _again(t: Turn) -> bool:
    """A message that is no answer: an unclear one ("kapan ya sy lahir", "bentar sy cari ktp") gets the
    question again instead of losing the check; anything the NLU is sure of goes to the engine."""
    msg = t.msg
    if (msg.confident and msg.intent not in UNCLEAR) or t.parked is not None:
        return False  # with a form put aside, "lanjut" may mean the form: the engine decides
    question = t.text("status.ask_id" if t.step == "id" else "status.ask_birth_date")
    t.add(Reply(f"{t.text('status.not_understood')}\n\n{question}"))
    return True


def _take_id(t: Turn) -> str | None:
    """Read a NIK or KPJ from the message: "ok", "invalid" (explained to the user), or None if absent."""
    msg = t.msg
    nik = msg.value("nik") or parse_nik(msg.text)
    kpj = msg.value("kpj") or parse_kpj(msg.text)
    if nik:
        if isinstance(validate_nik(str(nik), today=t.today), NikProblem):
            t.say("status.nik_invalid")
            return "invalid"
        t.data["id"] = ["nik", str(nik)]
        return "ok"
    if kpj:
        t.data["id"] = ["kpj", str(kpj)]
        return "ok"
    return None


def _take_date(t: Turn) -> bool:
    value = t.msg.value("date") or validators.compact_date(t.msg.text, t.today)
    if not value:
        return False
    try:
        t.data["birth_date"] = date.fromisoformat(str(value)).isoformat()
    except ValueError:
        return False
    return True


def _advance(t: Turn) -> None:
    d = t.data
    if "id" not in d:
        t.goto("id")
        t.say("status.ask_id")
        return
    if "birth_date" not in d:
        t.goto("birth_date")
        t.say("status.ask_birth_date")
        return
    _check(t)


def _check(t: Turn) -> None:
    kind, value = t.data["id"]
    born = date.fromisoformat(t.data["birth_date"])
    balance = bool(t.data.get("balance"))
    t.end()
    if t.services.count(id_key(kind, value)) >= FAIL_LIMIT:
        _locked(t, (kind, value))
        return
    try:
        if kind == "nik":
            record = t.services.membership.lookup(birth_date=born, nik=value)
        else:
            record = t.services.membership.lookup(birth_date=born, kpj=value)
    except MembershipError:
        t.emit("status.checked", outcome="unavailable", id_type=kind, subject=value)
        t.say("status.down")
        return
    if record is None:
        by_chat = t.services.incr(chat_key(t), CHAT_WINDOW)
        by_id = t.services.incr(id_key(kind, value), ID_WINDOW)
        t.emit("status.checked", outcome="not_found", id_type=kind, subject=value)
        if max(by_chat, by_id) >= FAIL_LIMIT:
            t.say("status.locked")
        else:
            t.say("status.mismatch")
        return
    t.emit("status.checked", outcome="found", id_type=kind, subject=value, member_status=record.status)
    _result(t, record, balance)


def _locked(t: Turn, identifier: tuple[str, str] | None) -> None:
    t.end()
    kind, value = identifier or (None, None)
    t.emit("status.checked", outcome="locked", id_type=kind, subject=value)
    t.say("status.locked")


def _result(t: Turn, r: MemberRecord, balance: bool) -> None:
    programs = t.content.labels("labels.programs")
    period = ""
    if r.protected_from and r.protected_until:
        start, end = t.long_date(r.protected_from), t.long_date(r.protected_until)
        period = t.text("status.period_line", start=start, end=end)
    due = t.text("status.due_line", due=t.long_date(r.next_due_date)) if r.next_due_date else ""
    t.say(
        "status.result",
        name=mask_name(r.full_name),
        kpj=mask_kpj(r.kpj),
        status=t.content.labels("labels.member_status").get(r.status, r.status),
        programs=", ".join(programs.get(p, p.upper()) for p in r.programs),
        period=period,
        due=due,
        hint=t.text(f"status.hint_{r.status}"),
        balance=t.text("status.balance_note") if balance else "",
    )
