"""When the bot is not sure: a short clarifying question with the top intents as buttons, the menu if the
next message is still unclear, and a polite answer with the menu for anything out of scope. Never silence."""

from __future__ import annotations

import json
import re

from flows import calculator
from flows.intents import SUGGESTIBLE
from flows.replies import Button
from flows.turn import Turn

TEXTS = (
    "fallback.menu_button",
    "fallback.clarify",
    "fallback.not_understood",
    "fallback.out_of_scope",
    "fallback.which_number",
)
DATA = ("labels.intents",)
BUTTONS = ("menu",)
MAX_SUGGESTIONS = 3


def clarify(t: Turn, again: bool) -> None:
    """Ask which of the likely intents the user meant; after a clarifying question, show the menu."""
    labels = t.content.labels("labels.intents")
    options = [name for name, _ in t.msg.ranking if name in SUGGESTIBLE and name in labels][:MAX_SUGGESTIONS]
    reason = "ambiguous" if t.msg.ambiguous else "low_confidence"
    t.emit("fallback", reason=reason, intent=t.msg.intent, confidence=round(t.msg.confidence, 3))
    if again or not options:
        t.say("fallback.not_understood", "menu")
        return
    t.state["clarified"] = True
    buttons = [Button(labels[o], f"/{o}") for o in options]
    buttons.append(Button(t.text("fallback.menu_button"), "/menu"))
    t.say("fallback.clarify", buttons)


def out_of_scope(t: Turn) -> None:
    t.emit("fallback", reason="out_of_scope", intent=t.msg.intent, confidence=round(t.msg.confidence, 3))
    t.say("fallback.out_of_scope", "menu")


def only_identifier(t: Turn) -> bool:
    """True when the message is a NIK or KPJ and nothing else (digits, spaces, dots, dashes)."""
    msg = t.msg
    if msg.payload is not None or not (msg.value("nik") or msg.value("kpj")):
        return False
    return not re.sub(r"[\d\s.\-]", "", msg.text)


def by_entities(t: Turn) -> bool:
    """A message that is only a number: a NIK or KPJ asks what it is for (carrying it along, so it is not
    typed twice); an amount gets the contribution for it."""
    nik, kpj = t.msg.value("nik"), t.msg.value("kpj")
    if nik or kpj:
        carry = json.dumps({"nik": str(nik)} if nik else {"kpj": str(kpj)}, separators=(",", ":"))
        labels = t.content.labels("labels.intents")
        buttons = [Button(labels["check_status"], f"/check_status{carry}")]
        if nik:
            buttons.append(Button(labels["register"], f"/register{carry}"))
        t.say("fallback.which_number", buttons)
        return True
    if t.msg.value("amount") is not None:
        calculator.start(t)
        return True
    return False
