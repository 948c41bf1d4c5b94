"""The flow engine: pure. `Engine.run(state, ctx)` takes the conversation state and the parsed message and
returns the new state, the replies and the events; the host does all I/O (shared/design.md, style.md §4).

A turn, in order:
1. idle expiry: a session idle longer than `idle_minutes` restarts; an unfinished registration is parked
   and offered for resumption;
2. the message: an offered button (by number, words or payload, flows.choices), a typed payload, or the
   NLU parse (flows.message);
3. global escapes, in any state: STOP, batal, menu, bantuan, ulang, delete my data (flows.escapes);
4. a pending yes/no question (resume the form? erase my data? cancel the form?);
5. the flow waiting for an answer; if the message is a question instead, it is answered below and the
   registration form offers to resume ("Lanjut pendaftaran?");
6. routing by intent; unclear messages get a clarifying question, then the menu;
7. no dead ends: a turn that ends with no question pending and no button gets the menu's buttons.
"""

from __future__ import annotations

import copy
import sys
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, get_args

from flows import (
    benefits,
    calculator,
    escapes,
    fallback,
    handoff,
    intents,
    menu,
    pricing,
    privacy,
    registration,
    registration_pause,
    registration_submit,
    registration_volunteered,
    status,
    subscription,
)
from flows.content import Content
from flows.context import FlowServices, TurnContext, TurnResult
from flows.contribution import CONTENT_DIR, load_table
from flows.message import build
from flows.registration_slots import job_family
from flows.replies import Reply
from flows.turn import STATE_VERSION, Turn
from storage.membership.base import MemberStatus

__all__ = ["Engine", "FlowServices", "TurnContext", "TurnResult"]

MODULES: tuple[ModuleType, ...] = (
    benefits,
    calculator,
    escapes,
    fallback,
    handoff,
    menu,
    pricing,
    privacy,
    registration,
    registration_pause,
    registration_submit,
    registration_volunteered,
    status,
    subscription,
)
TEXTS = ("engine.resume_ask",)
DATA = (
    "vocab.yes",
    "vocab.no",
    "vocab.question",
    "labels.months",
    "labels.intents",
    "labels.member_status",
    "labels.programs",
)
BUTTONS = ("resume",)
FLOWS = {registration.NAME: registration, status.NAME: status, calculator.NAME: calculator}
PENDING = {
    "resume": registration_pause.on_resume_answer,
    "erase": privacy.on_answer,
    "cancel": registration_pause.on_cancel_answer,
}


class Engine:
    """Runs turns. Thread-safe: `run` reads only the content and tables loaded at construction.

    Public attributes the host may read: `content` (flows.content.Content, e.g. the consent text to store
    with a consent), `table` (the contribution RateTable) and `draft_days`."""

    def __init__(
        self,
        services: FlowServices,
        content_dir: Path | None = None,
        *,
        idle_minutes: int = 30,
        draft_days: int = 7,
    ) -> None:
        """Load and check all content (texts, button sets, rates); a mistake raises here, not mid-chat.
        `draft_days` is how long the host keeps a session (SESSION_TTL_DAYS); the consent text states it."""
        directory = content_dir or CONTENT_DIR
        self.services = services
        self.idle = timedelta(minutes=idle_minutes)
        self.draft_days = draft_days
        self.content = Content.load(directory)
        self.table = load_table(directory)
        for module in (*MODULES, sys.modules[__name__]):
            self.content.require(
                getattr(module, "TEXTS", ()), getattr(module, "DATA", ()), getattr(module, "BUTTONS", ())
            )
        self._check_labels()

    def _check_labels(self) -> None:
        labels = self.content.labels("labels.intents")
        missing = sorted(i for i in intents.SUGGESTIBLE if i not in labels)
        statuses = self.content.labels("labels.member_status")
        missing += sorted(s for s in get_args(MemberStatus) if s not in statuses)
        if missing:
            raise ValueError(f"labels lack {missing}")

    def run(self, state: dict[str, Any], ctx: TurnContext) -> TurnResult:
        st = copy.deepcopy(state) if state.get("v") == STATE_VERSION else {}
        last = st.get("last_seen")
        expired = last is not None and ctx.now - datetime.fromisoformat(last) > self.idle
        msg = build(ctx.text, ctx.parse, [] if expired else st.get("offered", []))
        t = Turn(ctx, msg, st, self.content, self.services, self.table, self.draft_days)
        just_submitted = st.pop("just_submitted", False)
        clarified = bool(st.pop("clarified", False))
        if last is None:
            t.emit("conversation.started", channel=ctx.channel, source=ctx.start_param)
        if ctx.start_param:
            st["source"] = ctx.start_param
        if expired:
            self._expire(t)
        self._remember(t)
        interrupted = self._route(t, clarified, just_submitted)
        self._close(t, interrupted)
        st["v"] = STATE_VERSION
        st["last_seen"] = ctx.now.isoformat()
        return TurnResult(st, t.replies, t.events)

    # ---- the steps of a turn -----------------------------------------------------------------------
    def _expire(self, t: Turn) -> None:
        t.emit("session.expired", flow=t.flow)
        if t.flow == registration.NAME and "consent_id" in t.data:
            registration_pause.park(t, offer="returning")
        elif t.flow == registration.NAME:
            t.emit("registration.stopped", draft_id=t.data.get("draft_id"), reason="expired")
        t.end()
        if t.parked is not None:
            t.parked["offer"] = "returning"
        t.state.pop("offered", None)

    def _remember(self, t: Turn) -> None:
        known = list(
            dict.fromkeys(str(v) for v in t.msg.values("occupation") if str(v) in self.table.sectors)
        )
        family = None if known or t.flow == registration.NAME else job_family(t, t.msg)
        if known:
            t.known["occupations"] = known[:2]
            t.known.pop("job_family", None)
        elif family is not None:  # "sy jualan sayur": the registration offers the kinds of pedagang
            t.known["job_family"] = family
            t.known.pop("occupations", None)

    def _route(self, t: Turn, clarified: bool, just_submitted: object) -> bool:
        """Handle the message; True when it interrupted the registration form (a question mid-form)."""
        if just_submitted and registration_submit.sent_twice(t, just_submitted):
            registration_submit.already_sent(t)
            return False
        escaped = escapes.handle(t, FLOWS)
        if escaped is not None:
            return escaped
        pending = t.pending
        t.set_pending(None)
        if pending in PENDING and PENDING[pending](t):
            return False
        flow = FLOWS.get(str(t.flow))
        if flow is not None:
            if flow.on_message(t):
                return False
            if flow is not registration:
                t.end()
        in_form = t.flow == registration.NAME
        self._dispatch(t, clarified, just_submitted)
        return in_form and t.flow == registration.NAME

    def _dispatch(self, t: Turn, clarified: bool, just_submitted: object) -> None:
        msg = t.msg
        intent = msg.intent
        if fallback.only_identifier(t):
            # A bare NIK or KPJ says nothing about what it is for; the model's guess ("register") is no
            # reason to start a form with it. Ask, carrying the number along.
            fallback.by_entities(t)
            return
        if registration_pause.before_routing(t):
            return
        if not msg.confident:
            if not fallback.by_entities(t):
                fallback.clarify(t, clarified)
            return
        starts = {"ask_contribution": calculator, "register": registration, "check_status": status}
        if intent in starts:
            if t.flow == registration.NAME and intent != "register":
                registration_pause.park(t, offer="interrupted")
            starts[intent].start(t)
        elif intent in intents.INFO:
            benefits.answer(t, intent)
        elif intent == "subscribe":
            subscription.opt_in(t)
        elif intent == "human_handoff":
            handoff.human(t)
        elif intent == "bpjs_kesehatan":
            handoff.kesehatan(t)
        elif intent in ("greet", "start"):
            menu.welcome(t)
        elif intent == "thanks":
            menu.thanks(t)
        elif intent == "goodbye":
            menu.goodbye(t)
        elif intent == "affirm":
            registration_submit.already_sent(t) if just_submitted else menu.affirm_idle(t)
        elif intent == "deny":
            menu.deny_idle(t)
        elif not fallback.by_entities(t):
            fallback.out_of_scope(t) if intent == "out_of_scope" else fallback.clarify(t, True)

    def _close(self, t: Turn, interrupted: bool) -> None:
        """Offer to resume an interrupted or parked registration; make sure the user has a next step; keep
        the last buttons for numbered answers."""
        if t.pending is None:
            parked = t.parked
            offer = None
            if interrupted and t.flow == registration.NAME:
                offer = "interrupted"
            elif t.flow is None and parked is not None and parked.get("offer"):
                offer, parked["offer"] = parked["offer"], None
            if offer is not None:
                # The resume question is the one next step: earlier buttons of this turn would compete.
                t.replies[:] = [Reply(r.text, (), r.image) for r in t.replies]
                t.set_pending("resume")
                if offer == "returning":
                    t.say("registration.resume_returning", "resume_returning")
                else:
                    t.say("engine.resume_ask", "resume")
        if not t.replies:
            fallback.clarify(t, True)
        if t.flow is None and t.pending is None and not any(r.buttons for r in t.replies):
            last = t.replies[-1]
            t.replies[-1] = Reply(last.text, self.content.buttons("menu"), last.image)
        with_buttons = [r for r in t.replies if r.buttons]
        if with_buttons:
            t.state["offered"] = [[b.title, b.payload] for b in with_buttons[-1].buttons]
        else:
            t.state.pop("offered", None)
