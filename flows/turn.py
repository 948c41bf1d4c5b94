"""One turn in progress: what a flow reads (context, message, state, services) and writes (replies, events).

The conversation state is a plain JSON-serialisable dict that the host stores as is (encrypted at rest):

    v            state layout version
    last_seen    ISO time of the previous turn (idle expiry)
    flow, step   the flow waiting for an answer and what it asked (None when the bot waits for nothing)
    data         that flow's answers so far
    pending      what a yes/no answers right now ("resume", "erase"), owned by one flow
    parked       an unfinished registration put aside: {"step", "data", "offer"}; offer "interrupted" or
                 "returning" asks the user whether to continue it at the next natural point, None does not
    offered      [[title, payload], ...] the buttons of the last reply that had buttons (flows.choices)
    clarified    True right after a clarifying question (a second unclear message gets the menu)
    known        facts the user volunteered that later flows reuse: occupations, or a job family ("pedagang")
    done         {"registration_number", "at"} of the last registration submitted in this chat (no PII)
    drafts       how many registration drafts this chat has started (part of each draft's id)
    just_submitted  the confirming message (normalized) for the one turn after a submission: the same
                 message again, a "ya" or "ya daftarkan" is a double-send
    source       the deep-link / campaign source of the conversation (opt-in events carry it)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from flows.content import Content
from flows.context import FlowServices, TurnContext
from flows.contribution import RateTable
from flows.fmt import local_date, long_date, month_year, rupiah
from flows.message import Msg
from flows.replies import Button, Event, Reply

STATE_VERSION = 1


class Turn:
    def __init__(
        self,
        ctx: TurnContext,
        msg: Msg,
        state: dict[str, Any],
        content: Content,
        services: FlowServices,
        table: RateTable,
        draft_days: int,
    ) -> None:
        self.ctx = ctx
        self.msg = msg
        self.state = state
        self.content = content
        self.services = services
        self.table = table
        self.draft_days = draft_days
        self.today: date = local_date(ctx.now)
        self.replies: list[Reply] = []
        self.events: list[Event] = []

    # ---- output ----------------------------------------------------------------------------------
    def text(self, key: str, **values: Any) -> str:
        return self.content.text(key, **values)

    def say(self, key: str, buttons: Sequence[Button] | str | None = None, **values: Any) -> None:
        """Add the content text `key`; `buttons` is a button set name, explicit buttons, or None for the
        entry's own buttons."""
        chosen = self.content.buttons(buttons) if isinstance(buttons, str) else buttons
        self.replies.append(self.content.reply(key, chosen, **values))

    def add(self, reply: Reply) -> None:
        self.replies.append(reply)

    def emit(self, type_: str, **data: Any) -> None:
        self.events.append(Event(type_, {"at": self.ctx.now.isoformat(), **data}))

    def button(self, title_key: str, payload: str, **values: Any) -> Button:
        """A button whose title is a content text (for titles that carry an amount or a name)."""
        return Button(self.text(title_key, **values), payload)

    # ---- formatting ------------------------------------------------------------------------------
    @property
    def month_names(self) -> list[str]:
        return [str(m) for m in self.content.data("labels.months")]

    def rp(self, amount: int) -> str:
        return rupiah(amount)

    def long_date(self, day: date) -> str:
        return long_date(day, self.month_names)

    def month_year(self, day: date) -> str:
        return month_year(day, self.month_names)

    # ---- state -----------------------------------------------------------------------------------
    @property
    def flow(self) -> str | None:
        return self.state.get("flow")

    @property
    def step(self) -> str | None:
        return self.state.get("step")

    @property
    def data(self) -> dict[str, Any]:
        return self.state.setdefault("data", {})

    def begin(self, flow: str, step: str | None = None, data: dict[str, Any] | None = None) -> None:
        self.state.update(flow=flow, step=step, data=data or {}, pending=None)

    def goto(self, step: str | None) -> None:
        self.state["step"] = step

    def end(self) -> None:
        self.state.update(flow=None, step=None, data={}, pending=None)

    @property
    def pending(self) -> str | None:
        return self.state.get("pending")

    def set_pending(self, what: str | None) -> None:
        self.state["pending"] = what

    @property
    def parked(self) -> dict[str, Any] | None:
        return self.state.get("parked")

    @property
    def known(self) -> dict[str, Any]:
        return self.state.setdefault("known", {})

    # ---- the message -----------------------------------------------------------------------------
    @property
    def msg_is_yes(self) -> bool:
        m = self.msg
        if m.payload is not None:
            return m.intent == "affirm"
        return m.norm in self.content.words("vocab.yes") or m.is_intent("affirm")

    @property
    def msg_is_no(self) -> bool:
        m = self.msg
        if m.payload is not None:
            return m.intent == "deny"
        return m.norm in self.content.words("vocab.no") or m.is_intent("deny")

    def question_like(self) -> bool:
        """A "?" or a question word: the user is asking, not answering."""
        return "?" in self.msg.text or bool(set(self.msg.norm.split()) & self.content.words("vocab.question"))
