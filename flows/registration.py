"""BPU self-registration as a form (Rasa-forms style): consent first, then the slots of
flows.registration_slots in order, skipping any already filled, then a summary to confirm
(flows.registration_submit).

Each answer is read by the slot's extractor: a value is stored, an `Invalid` gets its reason and the question
again, and a message that is no answer at all but a confident question ("JHT itu apa?") is left to the
engine, which answers it and offers to resume ("Lanjut pendaftaran?"). Values volunteered early or in passing
("sy pedagang mau daftar, nik 3201...") are taken from the entities. The draft lives in the state only
(the host encrypts it) until the user confirms.
"""

from __future__ import annotations

import hashlib
from datetime import date

from flows import intents, registration_submit, validators
from flows.registration_slots import BY_NAME, SLOTS, occupation_list
from flows.registration_volunteered import (
    early_values,
    harvest,
    harvested,
    name_before_values,
    recall,
    restates,
)
from flows.replies import Reply
from flows.turn import Turn
from flows.validators import Invalid
from storage.membership.base import MembershipError

NAME = "registration"
IDENTITY = frozenset({"nik", "birth_date", "phone"})
TERMINAL = {"too_old": "age_limit", "too_young": "under_age"}
TEXTS = (
    "consent.ask",
    "consent.again",
    "consent.declined",
    "registration.consent_thanks",
    "registration.not_understood",
    "registration.noted_early",
    "registration.occupation_unknown",
    "registration.waiting",
    "registration.thanked",
    "registration.in_progress",
    "registration.resume_returning",
    "registration.ask_phone_own",
    "registration.own_phone_button",
    "registration.date_recheck",
    "registration.other_jobs_button",
    *(s.question for s in SLOTS),
    *(
        f"registration.{r}"
        for r in (
            *(
                "name_invalid",
                "name_title",
                "nik_length",
                "nik_province",
                "nik_date",
                "nik_invalid",
                "date_invalid",
            ),
            "nik_letters",
            "income_range",
            "date_women",
            *("date_mismatch", "too_old", "too_young", "phone_invalid", "city_invalid", "occupation_invalid"),
            *("occupation_too_many", "income_invalid", "income_unit", "income_below", "income_too_high"),
            *("period_invalid", "package_invalid", "occupation_all", "ask_occupations_family"),
        )
    ),
)
DATA = (
    "vocab.name_prefixes",
    "vocab.not_name",
    "vocab.name_titles",
    "vocab.city_prefixes",
    "vocab.without",
    "vocab.packages",
    "vocab.period_phrases",
    "vocab.edit_verbs",
    "vocab.edit_fields",
    "vocab.job_families",
    "vocab.confirm",
    "vocab.resume",
    "vocab.wait",
    "occupations.occupations",
)
BUTTONS = ("consent", "resume_returning", "menu", "fix_nik", "minimum_income")


def start(t: Turn) -> None:
    """The user wants to register. An unfinished draft is offered first; else a new draft starts with
    whatever the message volunteered, and the consent question."""
    if t.flow == NAME:  # already registering: never start over by accident (a double-sent "daftar")
        ask(t, t.text("registration.in_progress"))
        return
    parked = t.parked
    if parked is not None:
        parked["offer"] = None
        t.set_pending("resume")
        t.say("registration.resume_returning", "resume_returning")
        return
    started = t.ctx.now.isoformat()
    # The chat's draft count is part of the id: two drafts started at the same instant (a clock that does
    # not move, as in tests, or a coarse one) must never share a consent id or an idempotency key, or the
    # second person's "ya" would replay the first person's registration.
    count = int(t.state.get("drafts", 0)) + 1
    t.state["drafts"] = count
    seed = f"{t.ctx.channel}:{t.ctx.chat_id}:{started}:{count}"
    draft_id = new_draft_id(seed)
    t.begin(NAME, "consent", {"draft_id": draft_id, "started": started, "rev": 0})
    harvest(t, t.msg)
    recall(t)
    t.emit("registration.started", draft_id=draft_id, channel=t.ctx.channel, source=t.ctx.start_param)
    ask(t)


def on_message(t: Turn) -> bool:
    """Handle a message while the form waits; False when it is a question for the engine to answer."""
    msg, step = t.msg, t.step
    words = set(msg.norm.split())
    if (
        step == "confirm"
        and words & t.content.words("vocab.confirm")
        and not words & t.content.words("vocab.without")  # "jangan kirim dulu"
        and not t.question_like()
    ):
        # "ok daftarkan" under the summary is the "Ya, daftarkan" button; a bare "daftar" is not (it is
        # more likely the first message sent twice).
        return _on_confirm(t, yes=True)
    if step in ("consent", "confirm", "edit") and msg.is_intent("register"):
        ask(t, t.text("registration.in_progress"))
        return True
    if step == "consent":
        return _consent(t)
    if step != "confirm" and msg.norm in t.content.words("vocab.resume"):
        ask(t)  # "lanjut" while the form already waits: its question again, no "not understood"
        return True
    field = registration_submit.edit_request(t)
    if field is not None and (step in ("confirm", "edit") or field in t.data):
        edit(t, field, with_value=msg.choice is None)
        return True
    if step == "confirm":
        return _on_confirm(t)
    if step == "edit":
        return _on_edit(t)
    slot = BY_NAME[str(step)]
    value = slot.extract(t, msg)  # the answer first: "3201..." may also read as intent register
    # Identity answers to later questions in the same message make it form input, not a question (an
    # amount does not: "kalau gaji 3 juta iurannya brp?" is a question).
    identity = any(msg.value(kind) for kind in ("nik", "date", "phone"))  # cheap test first
    early = identity and not t.question_like() and bool(early_values(t) & IDENTITY)
    if early and slot.name == "full_name" and isinstance(value, Invalid):
        value = name_before_values(t)  # "nama sy Budi Santoso nik 3201... lahir 17-08-1990"
    asking = msg.is_intent(*intents.INTERRUPTING) and not early
    # The previous answer sent twice, or an answer the form already has ("0815..." again at the city
    # question): no question for the engine, and no error
    repeated = (value is None or isinstance(value, Invalid)) and (
        msg.norm == t.data.get("echo") or restates(t)
    )
    if value is None and not early and not repeated and msg.is_intent("register"):
        ask(t, t.text("registration.in_progress"))
        return True
    if (
        asking
        and not repeated
        and (value is None or (slot.free_text and (isinstance(value, Invalid) or t.question_like())))
    ):
        return False
    if repeated:
        # The previous answer sent twice (a bad connection, an impatient thumb): no error for it, the
        # current question again is enough.
        ask(t)
    elif value is None and set(msg.norm.split()) & t.content.words("vocab.wait"):
        ask(t, t.text("registration.waiting"))  # "bentar ya ambil ktp dulu"
    elif value is None and msg.is_intent("thanks"):
        ask(t, t.text("registration.thanked"))
    elif value is None and harvested(t):
        ask(t, t.text("registration.noted_early"))  # "2 jt" to the occupation question: kept for later
    elif value is None and step == "occupations" and not (t.msg_is_yes or t.msg_is_no or t.question_like()):
        ask(t, t.text("registration.occupation_unknown"))  # "guru ngaji": the nearest one, please
    elif value is None and step == "package":
        _invalid(t, Invalid("package_invalid"))  # short, with the buttons: the figures are just above
    elif value is None:
        ask(t, t.text("registration.not_understood"))
    elif isinstance(value, Invalid):
        if early:
            harvest(t, msg)  # the current answer is wrong, the others are kept
        _invalid(t, value)
    else:
        remark = accept(t, slot.name, value)
        harvest(t, msg)
        t.data["echo"] = msg.norm
        advance(t, remark)
    return True


def answers_or_repeats(t: Turn) -> bool:
    """True when the message is a valid answer to the slot the form is asking for, or the previous answer
    sent again."""
    slot = BY_NAME.get(str(t.step))
    if t.msg.norm == t.data.get("echo"):
        return True
    if slot is None:
        return False
    value = slot.extract(t, t.msg)
    return value is not None and not isinstance(value, Invalid)


_LETTERS_FOR_DIGITS = str.maketrans("0123456789", "ghijklmnop")


def new_draft_id(seed: str) -> str:
    """16 letters from a hash of `seed`: hex with its digits spelled as letters g-p. The event log masks
    any run of 9+ digits as a possible NIK or phone, which cut a plain hex id (and the consent id made from
    it) about one draft in ten."""
    return hashlib.sha256(seed.encode()).hexdigest()[:16].translate(_LETTERS_FOR_DIGITS)


def _consent(t: Turn) -> bool:
    if t.msg_is_yes:
        consent_id = f"{t.data['draft_id']}-c1"
        version = str(t.content.meta("consent").get("version"))
        t.data.update(consent_id=consent_id, consent_version=version, consent_at=t.ctx.now.isoformat())
        t.data["echo"] = t.msg.norm
        t.emit(
            "consent.given",
            consent_id=consent_id,
            version=version,
            purpose="bpu_registration",
            channel=t.ctx.channel,
            draft_id=t.data["draft_id"],
        )
        t.say("registration.consent_thanks")
        advance(t)
    elif t.msg_is_no:
        t.emit("consent.declined", version=str(t.content.meta("consent").get("version")))
        t.emit("registration.stopped", draft_id=t.data["draft_id"], reason="consent_declined")
        t.end()
        t.say("consent.declined", "menu")
    elif t.msg.is_intent(*intents.INTERRUPTING):
        return False
    else:
        t.say("consent.again", "consent")
    return True


def _on_confirm(t: Turn, yes: bool = False) -> bool:
    if yes or t.msg_is_yes:
        registration_submit.submit(t)
    elif t.msg_is_no or t.msg.choice == "edit":
        t.goto("edit")
        ask(t)
    elif t.msg.is_intent(*intents.INTERRUPTING):
        return False
    else:
        t.say("registration.confirm_again", "confirm")
    return True


def _on_edit(t: Turn) -> bool:
    field = registration_submit.field_named(t)
    if t.msg.choice == "summary" or t.msg_is_no:
        registration_submit.summary(t)
    elif field is not None:
        edit(t, field, with_value=False)
    elif t.msg.is_intent(*intents.INTERRUPTING):
        return False
    else:
        ask(t)
    return True


# Fields whose new value may come in the same message as the request to change them ("ubah penghasilan
# jadi 3 juta"). Not the free-text ones: "ganti nama jadi Budi" is no name.
EDIT_WITH_VALUE = frozenset({"nik", "birth_date", "phone", "income", "package", "period"})


def edit(t: Turn, field: str, *, with_value: bool) -> None:
    """Change one answer: cleared, then taken from the same message when it carries the new value, else
    asked again. An answer the form still lacks from an earlier change comes first (the summary returns
    once every answer is there)."""
    registration_submit.clear_for_edit(t, field)
    value = None
    if with_value and field in EDIT_WITH_VALUE:
        value = BY_NAME[field].extract(t, t.msg)
    elif with_value and field == "occupations" and t.msg.values("occupation"):
        known = {o["value"] for o in occupation_list(t)}
        value = validators.occupations([str(v) for v in t.msg.values("occupation")], known)
        value = value if isinstance(value, Invalid) else list(value)
    if value is not None and not isinstance(value, Invalid):
        remark = accept(t, field, value)
        t.data["echo"] = t.msg.norm
        advance(t, remark)
        return
    t.goto(next(s.name for s in SLOTS if s.name not in t.data))
    if isinstance(value, Invalid) and t.step == field:
        _invalid(t, value)
    else:
        ask(t)


def _invalid(t: Turn, problem: Invalid) -> None:
    if problem.reason in TERMINAL:
        t.emit("registration.stopped", draft_id=t.data["draft_id"], reason=TERMINAL[problem.reason])
        t.end()
        t.say(f"registration.{problem.reason}", "menu", **problem.values)
        return
    values = dict(problem.values)
    if problem.reason == "income_below":
        values["minimum"] = t.rp(t.table.minimum_base)
    special = {"date_mismatch": "fix_nik", "income_below": "minimum_income"}.get(problem.reason)
    slot = BY_NAME.get(str(t.step))
    buttons = t.content.buttons(special) if special else slot.buttons(t) if slot and slot.buttons else ()
    t.say(f"registration.{problem.reason}", buttons, **values)


def accept(t: Turn, name: str, value: object) -> str | None:
    """Store an answer; returns a remark for the next question when the answer undid an earlier one."""
    t.data[name] = value
    t.data["rev"] = int(t.data.get("rev", 0)) + 1
    born = t.data.get("birth_date")
    if name == "nik" and born and not validators.agrees_with_nik(date.fromisoformat(born), str(value)):
        t.data.pop("birth_date")  # asked again, saying why (a silent repeat looks like a lost answer)
        return t.text("registration.date_recheck")
    return None


def advance(t: Turn, remark: str | None = None) -> None:
    """Ask the first empty slot, or show the summary when all are filled; stop for an existing member.
    `remark` goes before the question, in the same bubble."""
    if not _membership_ok(t):
        return
    for slot in SLOTS:
        if slot.name not in t.data:
            t.goto(slot.name)
            ask(t, remark)
            return
    if remark:
        t.add(Reply(remark))
    registration_submit.summary(t)


def ask(t: Turn, prefix: str | None = None) -> None:
    """(Re-)ask what the form waits for, optionally after a short remark in the same bubble."""
    step = str(t.step)
    if step == "consent":
        reply = t.content.reply("consent.ask", t.content.buttons("consent"), days=t.draft_days)
    elif step in ("confirm", "edit"):
        if prefix:
            t.add(Reply(prefix))  # the summary is long: the remark goes first, on its own
        registration_submit.ask(t)
        return
    else:
        slot = BY_NAME[step]
        key = "registration.ask_phone_own" if step == "phone" and t.ctx.phone else slot.question
        values = registration_submit.question_values(t, step)
        if step == "occupations" and t.data.get("job_family"):
            key, values = "registration.ask_occupations_family", {"family": t.data["job_family"]}
        reply = Reply(t.text(key, **values), slot.buttons(t) if slot.buttons else ())
    t.add(Reply(f"{prefix}\n\n{reply.text}" if prefix else reply.text, reply.buttons))


def _membership_ok(t: Turn) -> bool:
    """Once NIK and birth date are both known, look the pair up: an existing member is told so, not
    registered twice. A backend outage skips the check (the backend refuses duplicates at submission)."""
    nik, born = t.data.get("nik"), t.data.get("birth_date")
    if not nik or not born or t.data.get("checked") == [nik, born]:
        return True
    try:
        record = t.services.membership.lookup(birth_date=date.fromisoformat(born), nik=nik)
    except MembershipError:
        return True
    t.data["checked"] = [nik, born]
    if record is None or record.status == "rejected":
        return True
    registration_submit.already_member(t, record.status)
    return False
