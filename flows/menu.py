"""Welcome, menu and help, and the small talk around them (greet, thanks, goodbye, a bare yes or no)."""

from __future__ import annotations

import re

from flows import pricing, registration
from flows.turn import Turn

TEXTS = (
    "menu.welcome",
    "menu.welcome_name",
    "menu.menu",
    "menu.menu_parked",
    "menu.help",
    "menu.help_in_form",
    "menu.thanks",
    "menu.goodbye",
    "menu.goodbye_parked",
    "menu.affirm_idle",
    "menu.deny_idle",
    "menu.nothing_to_cancel",
    "menu.cancelled",
    "menu.cancelled_quiet",
)
BUTTONS = ("menu", "help")
DATA = ("vocab.honorifics",)


def _first_name(t: Turn) -> str | None:
    """The first word of the profile name that looks like a name, after honorifics ("Mama Rina" ->
    "Rina"); None for emoji or shop names (a greeting with a wrong name is worse than none)."""
    honorifics = t.content.words("vocab.honorifics")
    words = [w for w in (t.ctx.display_name or "").split() if w.lower().strip(".") not in honorifics]
    first = words[0] if words else ""
    return first if re.fullmatch(r"[^\W\d_]{2,20}", first) else None


def welcome(t: Turn) -> None:
    name = _first_name(t)
    price = t.rp(pricing.entry_price(t))
    if name:
        t.say("menu.welcome_name", "menu", name=name.capitalize(), price=price)
    else:
        t.say("menu.welcome", "menu", price=price)


def menu(t: Turn) -> None:
    t.say("menu.menu_parked" if t.parked else "menu.menu", "menu")


def help_(t: Turn) -> None:
    t.say("menu.help", "help")


def help_in_form(t: Turn) -> None:
    """ "bantuan" while a form waits: how to move around, then the form's question again."""
    registration.ask(t, t.text("menu.help_in_form"))


def thanks(t: Turn) -> None:
    t.say("menu.thanks", "menu")


def goodbye(t: Turn) -> None:
    t.say("menu.goodbye_parked" if t.parked else "menu.goodbye", "menu")


def affirm_idle(t: Turn) -> None:
    t.say("menu.affirm_idle", "menu")


def deny_idle(t: Turn) -> None:
    t.say("menu.deny_idle", "menu")


def nothing_to_cancel(t: Turn) -> None:
    t.say("menu.nothing_to_cancel", "menu")


def cancelled(t: Turn) -> None:
    """A flow other than the registration was cancelled; when a parked registration is about to be
    offered ("Lanjut pendaftaran?"), no second question before it."""
    offer_due = t.parked is not None and t.parked.get("offer")
    t.say("menu.cancelled_quiet" if offer_due else "menu.cancelled", "menu")
