"""The global escapes, honoured in any state before anything else: STOP (first: it must win over
everything), delete my data, batal, menu, bantuan, ulang. The exact words of the vocab lists win over the
model's reading, so "ulang" never becomes a cancel that throws a draft away; a cancel that is only the
model's guess asks first when a registration is in progress, and a guess below SURE_CANCEL never beats a
valid answer to the form's question (a short name like "darto" can read as cancel)."""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType

from flows import menu, privacy, registration, registration_pause, subscription
from flows.turn import Turn

DATA = ("vocab.stop", "vocab.erase", "vocab.cancel", "vocab.menu", "vocab.help", "vocab.restart")
# vocab list -> the intent that means the same (STOP first).
ESCAPES = {"stop": "unsubscribe", "cancel": "cancel", "menu": "menu", "help": "help", "restart": "restart"}
# A registration is cancelled at once on the exact words (vocab.cancel) or a model this sure; below, the
# user is asked first. Real cancels ("gak jadi daftar", "ora sido") score about 1.0.
SURE_CANCEL = 0.9


def handle(t: Turn, flows: Mapping[str, ModuleType]) -> bool | None:
    """Handle the message if it is a global escape: None when it is none, else whether it interrupted
    the registration form (the engine then offers to resume it). `flows` maps the flows that wait for
    answers by name ("ulang" restarts the one waiting)."""
    msg = t.msg
    in_form = t.flow == registration.NAME
    if msg.norm in t.content.words("vocab.erase") or msg.is_intent("delete_my_data"):
        exact = msg.norm in t.content.words("vocab.erase")
        if not exact and t.pending != "erase" and not privacy.asks_to_erase(t):
            privacy.about(t)  # "data sy aman ga?" is a question about the data, not a request
            return in_form
        privacy.start(t)  # asked again while its question is open: that is a yes
        return False
    # The exact words first, then the NLU: "ulang" is restart even when the model reads it as cancel
    # (which would throw the whole draft away).
    kind = next((k for k in ESCAPES if msg.norm in t.content.words(f"vocab.{k}")), None)
    guessed = kind is None
    kind = kind or next((k for k, intent in ESCAPES.items() if msg.is_intent(intent)), None)
    if kind is None:
        return None
    if guessed and in_form and msg.confidence < SURE_CANCEL and registration.answers_or_repeats(t):
        # "darto" to "Siapa nama lengkap Anda?" is a name, whatever the model guesses; the previous answer
        # sent twice is no cancel either
        return None
    if kind == "cancel" and guessed and in_form and msg.confidence < SURE_CANCEL:
        # Throwing a draft away on a guess ("yg tadi itu" reads as cancel at 0.65): ask first.
        registration_pause.confirm_cancel(t)
        return False
    open_question = t.pending
    t.set_pending(None)  # an escape closes any open yes/no question
    if kind == "stop":
        subscription.opt_out(t)
        return in_form
    if kind == "cancel" and open_question == "erase":
        privacy.keep(t)  # "gak jadi" to "hapus data?" is a no, not a cancel of something else
    elif kind == "cancel":
        _cancel(t)
    elif kind == "menu":
        if in_form:
            registration_pause.park(t, offer=None)
        t.end()
        menu.menu(t)
    elif kind == "help":
        menu.help_in_form(t) if in_form else menu.help_(t)
    else:
        _restart(t, flows)
    return False


def _cancel(t: Turn) -> None:
    t.set_pending(None)
    if t.flow == registration.NAME:
        registration_pause.cancel(t)
    elif t.flow is not None:
        t.end()
        menu.cancelled(t)
    elif t.parked is not None:
        t.emit("registration.stopped", draft_id=t.parked["data"].get("draft_id"), reason="cancelled")
        t.state.pop("parked")
        t.say("registration.cancelled", "menu")
    else:
        menu.nothing_to_cancel(t)


def _restart(t: Turn, flows: Mapping[str, ModuleType]) -> None:
    flow = t.flow
    t.set_pending(None)
    if flow == registration.NAME:
        registration_pause.restart(t)
    elif flow is not None and flow in flows:
        t.end()
        flows[flow].start(t)
    else:
        menu.menu(t)
