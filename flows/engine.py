"""The flow engine: pure. `Engine.run(state, ctx)` takes the conversation state and the parsed message and
returns the new state, the replies and the events; the host does all I/O (shared/design.md, style.md §4).

A turn, in order:
1. idle expiry: a session idle longer than `idle_minutes` restarts; an unfinished registration is parked
   and offered for resumption;
2. the message: an offered button (by number, words or payload, flows.choices), a typed payload, or the
   NLU parse (flows.message);
3. global escapes, in any state: STOP, batal, menu, bantuan, ulang, delete my data;
4. a pending yes/no question (resume the form? erase my data?);
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
    fallback,
    handoff,
    intents,
    menu,
    pricing,
    privacy,
    registration,
    registration_submit,
    status,
    subscription,
)
from flows.content import Content
from flows.context import FlowServices, TurnContext, TurnResult
from flows.contribution import CONTENT_DIR, load_table
from flows.message import build
from flows.replies import Reply
from flows.turn import STATE_VERSION, Turn
from storage.membership.base import MemberStatus

__all__ = ["Engine", "FlowServices", "TurnContext", "TurnResult"]

MODULES: tuple[ModuleType, ...] = (
    benefits,
    calculator,
    fallback,
    handoff,
    menu,
    pricing,
    privacy,
    registration,
    registration_submit,
    status,
    subscription,
)
TEXTS = ("engine.resume_ask",)
DATA = (
    "vocab.stop",
    "vocab.erase",
    "vocab.cancel",
    "vocab.menu",
    "vocab.help",
    "vocab.restart",
    "vocab.resume",
    "vocab.yes",
    "vocab.no",
    "vocab.question",
    "labels.months",
    "labels.intents",
    "labels.member_status",
    "labels.programs",
)
BUTTONS = ("resume",)
# Escapes honoured in any state: vocab list -> intent (STOP first: it must win over everything).
ESCAPES = {"stop": "unsubscribe", "cancel": "cancel", "menu": "menu", "help": "help", "restart": "restart"}
FLOWS = {registration.NAME: registration, status.NAME: status, calculator.NAME: calculator}
PENDING = {
    "resume": registration.on_resume_answer,
    "erase": privacy.on_answer,
    "cancel": registration.on_cancel_answer,
}
# A registration is cancelled at once on the exact words (vocab.cancel) or a model this sure; below, the
# user is asked first. Real cancels ("gak jadi daftar", "ora sido") score about 1.0.
SURE_CANCEL = 0.9
# Messages that ask for nothing in particular (answered with the menu, or a resume offer when one is due).
SMALL_TALK = frozenset({"greet", "start", "affirm", "deny", "thanks", "out_of_scope"})


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
        just_submitted = bool(st.pop("just_submitted", False))
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
            registration.park(t, offer="returning")
        elif t.flow == registration.NAME:
            t.emit("registration.stopped", draft_id=t.data.get("draft_id"), reason="expired")
        t.end()
        if t.parked is not None:
            t.parked["offer"] = "returning"
        t.state.pop("offered", None)

    def _remember(self, t: Turn) -> None:
        known = [str(v) for v in t.msg.values("occupation") if str(v) in self.table.sectors]
        if known:
            t.known["occupations"] = known[:2]

    def _route(self, t: Turn, clarified: bool, just_submitted: bool) -> bool:
        """Handle the message; True when it interrupted the registration form (a question mid-form)."""
        escaped = self._escape(t)
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

    def _escape(self, t: Turn) -> bool | None:
        """The global escapes: None when the message is none, else whether it interrupted the form."""
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
        if kind == "cancel" and guessed and in_form and msg.confidence < SURE_CANCEL:
            # Throwing a draft away on a guess ("yg tadi itu" reads as cancel at 0.65): ask first.
            registration.confirm_cancel(t)
            return False
        open_question = t.pending
        t.set_pending(None)  # an escape closes any open yes/no question
        if kind == "stop":
            subscription.opt_out(t)
            return in_form
        if kind == "cancel" and open_question == "erase":
            privacy.keep(t)  # "gak jadi" to "hapus data?" is a no, not a cancel of something else
        elif kind == "cancel":
            self._cancel(t)
        elif kind == "menu":
            if in_form:
                registration.park(t, offer=None)
            t.end()
            menu.menu(t)
        elif kind == "help":
            menu.help_in_form(t) if in_form else menu.help_(t)
        else:
            self._restart(t)
        return False

    def _cancel(self, t: Turn) -> None:
        t.set_pending(None)
        if t.flow == registration.NAME:
            registration.cancel(t)
        elif t.flow is not None:
            t.end()
            menu.cancelled(t)
        elif t.parked is not None:
            t.emit("registration.stopped", draft_id=t.parked["data"].get("draft_id"), reason="cancelled")
            t.state.pop("parked")
            t.say("registration.cancelled", "menu")
        else:
            menu.nothing_to_cancel(t)

    def _restart(self, t: Turn) -> None:
        flow = t.flow
        t.set_pending(None)
        if flow == registration.NAME:
            registration.restart(t)
        elif flow in FLOWS:
            t.end()
            FLOWS[flow].start(t)
        else:
            menu.menu(t)

    def _dispatch(self, t: Turn, clarified: bool, just_submitted: bool) -> None:
        msg = t.msg
        intent = msg.intent
        if fallback.only_identifier(t):
            # A bare NIK or KPJ says nothing about what it is for; the model's guess ("register") is no
            # reason to start a form with it. Ask, carrying the number along.
            fallback.by_entities(t)
            return
        if t.parked is not None and msg.norm in t.content.words("vocab.resume"):
            registration.unpark(t)  # "lanjutkan" after MENU: the menu text promised the form is kept
            return
        returning = t.parked is not None and t.parked.get("offer") == "returning"
        if returning and (not msg.confident or intent in SMALL_TALK):
            # Back after a pause: the one thing to ask is whether to go on with the unfinished form
            # (asked by _close); a greeting gets a short welcome back, not a second question.
            if intent in ("greet", "start"):
                menu.welcome_back(t)
            return
        if not msg.confident:
            if not fallback.by_entities(t):
                fallback.clarify(t, clarified)
            return
        starts = {"ask_contribution": calculator, "register": registration, "check_status": status}
        if intent in starts:
            if t.flow == registration.NAME and intent != "register":
                registration.park(t, offer="interrupted")
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
