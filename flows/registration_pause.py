"""A registration put aside and taken up again: parked when the user goes elsewhere (MENU, a question
answered by another flow, idle expiry), offered back ("Lanjut pendaftaran?"), resumed by "ya", by
"lanjutkan", or by simply answering the question it was waiting for; and the ways out of it (cancel, with
a question first when the cancel was only a guess; "ulang" from the first question).

The parked draft lives in the state as {"step", "data", "offer"} (flows.turn)."""

from __future__ import annotations

import copy

from flows.registration import NAME, ask, on_message, start
from flows.registration_slots import BY_NAME, SLOTS
from flows.turn import Turn
from flows.validators import Invalid

TEXTS = (
    "registration.cancelled",
    "registration.cancel_confirm",
    "registration.restarted",
    "registration.resume_later",
    "menu.welcome_back",
)
DATA = ("vocab.resume",)
BUTTONS = ("cancel_confirm", "menu")
# Messages that ask for nothing in particular (answered with the menu, or a resume offer when one is due).
SMALL_TALK = frozenset({"greet", "start", "affirm", "deny", "thanks", "out_of_scope"})


def before_routing(t: Turn) -> bool:
    """With a parked draft and no question open: "lanjutkan" resumes it; after a pause, small talk gets
    only the resume question (asked by the engine when the turn closes). True when the message is dealt
    with."""
    parked, msg = t.parked, t.msg
    if parked is None:
        return False
    if msg.norm in t.content.words("vocab.resume"):
        unpark(t)  # "lanjutkan" after MENU: the menu text promised the form is kept
        return True
    if parked.get("offer") == "returning" and (not msg.confident or msg.intent in SMALL_TALK):
        if msg.intent in ("greet", "start"):
            t.say("menu.welcome_back")  # a short welcome back, not a second question
        return True
    return False


def cancel(t: Turn) -> None:
    t.emit("registration.stopped", draft_id=t.data.get("draft_id"), reason="cancelled")
    t.end()
    t.say("registration.cancelled", "menu")


def confirm_cancel(t: Turn) -> None:
    """Ask before throwing the draft away (the message only looked like a cancel)."""
    t.set_pending("cancel")
    t.say("registration.cancel_confirm", "cancel_confirm")


def on_cancel_answer(t: Turn) -> bool:
    """The answer to "Batalkan pendaftaran?" (pending "cancel"); False for anything else, which the form
    then reads as an answer to its own question."""
    if t.msg_is_yes:
        cancel(t)
        return True
    if t.msg_is_no:
        ask(t)
        return True
    return False


def restart(t: Turn) -> None:
    """ "ulang": the same draft from its first question (consent already given is kept)."""
    keep = {k: v for k, v in t.data.items() if k in ("draft_id", "started", "rev") or k.startswith("consent")}
    keep["rev"] = int(keep.get("rev", 0)) + 1
    t.begin(NAME, "consent" if "consent_id" not in keep else SLOTS[0].name, keep)
    t.say("registration.restarted")
    ask(t)


def park(t: Turn, offer: str | None) -> None:
    """Put the draft aside (the user went elsewhere). `offer` asks to resume at the next natural point:
    "interrupted" ("Lanjut pendaftaran?") or "returning" (after idle expiry); None does not ask."""
    t.state["parked"] = {"step": t.step, "data": t.data, "offer": offer}
    t.end()


def unpark(t: Turn) -> None:
    parked = t.state.pop("parked")
    t.begin(NAME, parked["step"], parked["data"])
    ask(t)


def on_resume_answer(t: Turn) -> bool:
    """The answer to "Lanjut pendaftaran?" (pending "resume")."""
    if t.msg_is_yes:
        if t.parked is not None:
            unpark(t)
        else:
            ask(t)
        return True
    if t.msg.choice == "restart":
        t.state.pop("parked", None)
        t.end()
        start(t)
        return True
    if t.msg_is_no:
        if t.flow == NAME:
            park(t, offer=None)
        elif t.parked is not None:
            t.parked["offer"] = None
        t.say("registration.resume_later", "menu", days=t.draft_days)
        return True
    return _answers_parked(t)


def _answers_parked(t: Turn) -> bool:
    """Instead of "ya", the answer to the question the parked form was waiting for ("Berapa NIK Anda?" -
    "3201..."): that is a yes too, and the answer is taken. Only for slots whose answers cannot be
    mistaken for something else (not a name or a city)."""
    parked = t.parked
    slot = BY_NAME.get(str(parked["step"])) if parked is not None else None
    if parked is None or slot is None or slot.free_text:
        return False
    saved = copy.deepcopy(t.state)
    t.state.pop("parked")
    t.begin(NAME, parked["step"], parked["data"])
    value = slot.extract(t, t.msg)  # read against the draft's own answers (the NIK for a birth date)
    if value is None or isinstance(value, Invalid):
        t.state.clear()
        t.state.update(saved)
        return False
    return on_message(t)
