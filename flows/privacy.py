"""Delete my data: a confirmation that says honestly what can and cannot be erased from here, then an
`erase` event for the host (flows/events.md) and a state that holds nothing about the person any more."""

from __future__ import annotations

from flows.turn import Turn

TEXTS = ("privacy.confirm", "privacy.done", "privacy.kept", "privacy.about")
DATA = ("vocab.erase_verbs",)
BUTTONS = ("erase_confirm", "menu")


def asks_to_erase(t: Turn) -> bool:
    """Whether a message the model reads as "delete my data" names the act (hapus, cabut, tarik...): a
    question about the data ("data sy aman ga?") must not lead to an erasure a careless "ya" confirms."""
    return bool(set(t.msg.norm.split()) & t.content.words("vocab.erase_verbs"))


def about(t: Turn) -> None:
    """What happens to the data, and how to have it erased (from the consent text's promises)."""
    t.say("privacy.about", "menu", days=t.draft_days)


def start(t: Turn) -> None:
    """Ask for confirmation; asking again while the question is open ("iya hapus") confirms."""
    if t.pending == "erase":
        _erase(t)
        return
    t.set_pending("erase")
    t.say("privacy.confirm", "erase_confirm")


def on_answer(t: Turn) -> bool:
    """The answer to the confirmation (pending "erase"); False for anything but yes / no."""
    if t.msg_is_yes:
        _erase(t)
        return True
    if t.msg_is_no:
        keep(t)
        return True
    return False


def keep(t: Turn) -> None:
    """The person decided not to erase: say so (the question is closed by the caller)."""
    t.say("privacy.kept", "menu")


def _erase(t: Turn) -> None:
    submitted = bool(t.state.get("done"))
    t.state.clear()
    t.emit("opt_out", channel=t.ctx.channel, source="erase")
    t.emit("erase", channel=t.ctx.channel, had_submitted_registration=submitted)
    t.say("privacy.done", "menu")
