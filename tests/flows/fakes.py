"""In-memory stand-ins for the services the engine is given (the pure engine's unit level; the real
backends are exercised end to end elsewhere), and a chat driver with hand-written Rasa parse dicts."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flows.engine import Engine, TurnContext
from flows.fmt import WIB
from flows.replies import Event, Reply
from storage.membership.base import (
    AlreadyRegistered,
    ApplicationRejected,
    BackendUnavailable,
    BpuApplication,
    MemberRecord,
    PaymentInstructions,
    RegistrationReceipt,
    RegistrationStatus,
)


@dataclass
class FakeMembership:
    members: list[tuple[str, str, date, MemberRecord]] = field(default_factory=list)  # (nik, kpj, born, rec)
    down: bool = False
    reject: str | None = None
    receipts: dict[str, RegistrationReceipt] = field(default_factory=dict)
    applications: list[BpuApplication] = field(default_factory=list)
    lookups: int = 0

    def add(self, nik: str, kpj: str, born: date, record: MemberRecord) -> None:
        self.members.append((nik, kpj, born, record))

    def lookup(
        self, *, birth_date: date, nik: str | None = None, kpj: str | None = None
    ) -> MemberRecord | None:
        self.lookups += 1
        if self.down:
            raise BackendUnavailable("down")
        for m_nik, m_kpj, born, record in self.members:
            if born == birth_date and ((nik and nik == m_nik) or (kpj and kpj == m_kpj)):
                return record
        return None

    def register(self, application: BpuApplication, *, idempotency_key: str) -> RegistrationReceipt:
        if self.down:
            raise BackendUnavailable("down")
        if idempotency_key in self.receipts:
            first = self.receipts[idempotency_key]
            return RegistrationReceipt(
                first.registration_number,
                first.kpj,
                first.state,
                first.payment,
                first.created_at,
                replayed=True,
            )
        if self.reject:
            raise ApplicationRejected(self.reject)
        if any(m[0] == application.nik for m in self.members):
            raise AlreadyRegistered("awaiting_payment")
        number = f"BPU-{len(self.receipts) + 1:06d}"
        kpj = f"2100000{len(self.receipts) + 1:04d}"
        receipt = RegistrationReceipt(
            number,
            kpj,
            "awaiting_payment",
            PaymentInstructions(
                application.nik,
                application.total_due,
                application.payment_months,
                date(2026, 12, 15),
                ("Kantor Pos",),
            ),
            datetime(2026, 11, 21, tzinfo=WIB),
        )
        self.receipts[idempotency_key] = receipt
        self.applications.append(application)
        record = MemberRecord(
            kpj,
            application.full_name,
            "awaiting_payment",
            application.programs,
            None,
            None,
            date(2026, 12, 15),
            number,
            application.occupations,
        )
        self.add(application.nik, kpj, application.birth_date, record)
        return receipt

    def status(self, registration_number: str) -> RegistrationStatus | None:
        return None

    def ping(self) -> bool:
        return not self.down


@dataclass
class FakeServices:
    membership: FakeMembership = field(default_factory=FakeMembership)
    counters: dict[str, int] = field(default_factory=dict)
    ttls: dict[str, int] = field(default_factory=dict)

    def incr(self, key: str, ttl_seconds: int) -> int:
        self.counters[key] = self.counters.get(key, 0) + 1
        self.ttls.setdefault(key, ttl_seconds)
        return self.counters[key]

    def count(self, key: str) -> int:
        return self.counters.get(key, 0)


def parse(
    text: str,
    intent: str = "out_of_scope",
    confidence: float = 0.95,
    *,
    entities: list[tuple[str, Any]] | None = None,
    ranking: list[tuple[str, float]] | None = None,
    low: bool | None = None,
    ambiguous: bool = False,
) -> dict[str, Any]:
    """A Rasa parse dict as the NLU returns it (contract §3), written by hand."""
    ranking = ranking or [(intent, confidence)]
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": [
            {"entity": e, "value": v, "start": 0, "end": len(text), "extractor": "test"}
            for e, v in (entities or [])
        ],
        "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
        "fallback": {"low_confidence": confidence < 0.5 if low is None else low, "ambiguous": ambiguous},
    }


class Chat:
    """One conversation driven through Engine.run, keeping the state between turns like the host does."""

    def __init__(
        self,
        engine: Engine,
        *,
        channel: str = "rest",
        chat_id: str = "u1",
        now: datetime | None = None,
        phone: str | None = None,
        display_name: str | None = None,
        start_param: str | None = None,
    ) -> None:
        self.engine = engine
        self.channel, self.chat_id, self.phone = channel, chat_id, phone
        self.display_name, self.start_param = display_name, start_param
        self.now = now or datetime(2026, 11, 10, 9, 0, tzinfo=WIB)
        self.state: dict[str, Any] = {}
        self.replies: list[Reply] = []
        self.events: list[Event] = []
        self.all_events: list[Event] = []

    def say(
        self, text: str, intent: str = "out_of_scope", confidence: float = 0.95, **kw: Any
    ) -> list[Reply]:
        ctx = TurnContext(
            self.channel,
            self.chat_id,
            text,
            parse(text, intent, confidence, **kw),
            self.now,
            phone=self.phone,
            start_param=self.start_param,
            display_name=self.display_name,
        )
        before = json.dumps(self.state, sort_keys=True)
        result = self.engine.run(self.state, ctx)
        assert json.dumps(self.state, sort_keys=True) == before, "run() must not modify the state it is given"
        json.dumps(result.state)  # JSON-serialisable, as the host stores it
        self.state, self.replies, self.events = result.state, result.replies, result.events
        self._check_invariants()
        self.all_events += result.events
        self.start_param = None
        self.now += timedelta(seconds=20)
        return result.replies

    def _check_invariants(self) -> None:
        """Never silence, never a dead end, never a full NIK echoed back."""
        assert self.replies, "a turn without a reply"
        waiting = self.state.get("flow") is not None or self.state.get("pending") is not None
        assert waiting or any(r.buttons for r in self.replies), f"dead end: {self.text!r}"
        for r in self.replies:
            assert not re.search(r"\d{16}", r.text), f"a full NIK in {r.text!r}"
            assert r.text.strip() and "{" not in r.text, f"unfilled text {r.text!r}"

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.replies)

    @property
    def buttons(self) -> list[str]:
        return [b.title for r in self.replies for b in r.buttons]

    @property
    def payloads(self) -> list[str]:
        return [b.payload for r in self.replies for b in r.buttons]

    def event_types(self) -> list[str]:
        return [e.type for e in self.events]

    def event(self, type_: str) -> Event:
        return next(e for e in self.all_events if e.type == type_)
