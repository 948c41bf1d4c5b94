"""Erasing one person's data on request (UU PDP; the bot's delete-my-data flow and `jamsosbot erase`).

Given any of NIK, phone, or the conversation, everything linked is found first (a conversation leads to its
consents, their registrations, and those registrations' NIK; a NIK leads to members and registrations),
then in one transaction:
- members of those NIKs are deleted (their payments with them);
- registrations keep their number, state and amounts for the accounts, but every personal field is
  cleared and `erased_at` set;
- conversations are deleted, which deletes their drafts and subscriptions and unlinks their consents
  (withdrawn, kept as proof of what was agreed) and events (kept, now anonymous);
- a `data_erased` event and an audit entry record the counts, never who.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select, update

from storage.db import Database
from storage.models import Consent, Conversation, Member, Registration, utcnow
from storage.repo.conversations import conversations_by_phone, find_conversation
from storage.repo.events import add_event
from storage.repo.staff import add_audit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErasureReport:
    members: int = 0
    registrations: int = 0
    conversations: int = 0

    @property
    def found_anything(self) -> bool:
        return bool(self.members or self.registrations or self.conversations)


def erase_person(
    db: Database,
    *,
    nik: str | None = None,
    phone: str | None = None,
    channel: str | None = None,
    chat_id: str | None = None,
    actor: str = "bot",
    at: datetime | None = None,
) -> ErasureReport:
    if not (nik or phone or (channel and chat_id)):
        raise ValueError("say whose data to erase: nik, phone, or channel and chat_id")
    vault, at = db.vault, at or utcnow()
    with db.transaction() as session:
        conversations: list[Conversation] = []
        if channel and chat_id:
            found = find_conversation(session, vault, channel, chat_id)
            conversations += [found] if found else []
        if phone:
            conversations += conversations_by_phone(session, vault, phone)
        conv_ids = sorted({c.id for c in conversations})

        registration_filters = []
        if conv_ids:
            refs = select(Consent.ref).where(Consent.conversation_id.in_(conv_ids))
            registration_filters.append(Registration.consent_ref.in_(refs))
        if nik:
            registration_filters.append(Registration.nik_bidx.in_(vault.blind_indexes("nik", nik)))
        if phone:
            registration_filters.append(Registration.phone_bidx.in_(vault.blind_indexes("phone", phone)))
        registrations = (
            list(session.scalars(select(Registration).where(or_(*registration_filters))))
            if registration_filters
            else []
        )

        niks = {nik} if nik else set()
        niks |= {vault.decrypt("nik", r.nik_enc).decode() for r in registrations if r.nik_enc is not None}
        nik_indexes = [b for n in niks for b in vault.blind_indexes("nik", n)]
        member_filter = [Member.nik_bidx.in_(nik_indexes)] if nik_indexes else []
        if registrations:
            member_filter.append(Member.registration_id.in_([r.id for r in registrations]))
        members = (
            session.execute(delete(Member).where(or_(*member_filter))).rowcount if member_filter else 0  # type: ignore[attr-defined]
        )

        for r in registrations:
            r.nik_enc = r.nik_bidx = r.full_name_enc = r.birth_date_enc = None
            r.phone_enc = r.phone_bidx = r.address_enc = r.monthly_income_enc = r.kpj_enc = r.email_enc = None
            r.city = r.postal_code = None
            r.erased_at = at

        if conv_ids:
            session.execute(
                update(Consent)
                .where(Consent.conversation_id.in_(conv_ids), Consent.withdrawn_at.is_(None))
                .values(withdrawn_at=at)
            )
            session.execute(delete(Conversation).where(Conversation.id.in_(conv_ids)))

        report = ErasureReport(members=members, registrations=len(registrations), conversations=len(conv_ids))
        add_event(session, db, "data_erased", data=asdict(report), at=at)
        add_audit(session, actor=actor, action="erase", details=asdict(report))
    log.info(
        "erasure by %s: %d memberships, %d registrations, %d conversations",
        actor,
        report.members,
        report.registrations,
        report.conversations,
    )
    return report
