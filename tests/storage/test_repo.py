"""The data-access functions the bot calls: consents, drafts, subscribers, events, staff, erasure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from storage.db import Database
from storage.membership.sql import SqlMembershipBackend
from storage.models import AuditEntry, Consent, Event, Member, Registration
from storage.repo.consents import consents_of, get_consent, record_consent, text_hash, withdraw_consents
from storage.repo.drafts import delete_draft, load_draft, purge_expired_drafts, save_draft
from storage.repo.erase import erase_person
from storage.repo.events import append_event, event_counts
from storage.repo.staff import authenticate, create_staff, issue_api_token, set_active, staff_by_token
from storage.repo.subscribers import (
    count_audience,
    get_subscriber,
    is_opted_in,
    mark_unreachable,
    opt_in,
    opt_out,
    recipients,
    record_inbound,
)
from tests.storage.factories import SITI_BIRTH, SITI_NIK, application

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_consent_is_recorded_with_text_hash_and_withdrawn(storage_db: Database) -> None:
    ref = record_consent(
        storage_db,
        channel="telegram",
        chat_id="777",
        purpose="bpu_registration",
        text_version="v1",
        text="Setuju?",
    )
    record = get_consent(storage_db, ref)
    assert record is not None and record.text_hash == text_hash("Setuju?") and record.withdrawn_at is None
    record_consent(
        storage_db, channel="telegram", chat_id="777", purpose="broadcast", text_version="v1", text="x"
    )
    assert withdraw_consents(storage_db, channel="telegram", chat_id="777", purpose="broadcast") == 1
    mine = consents_of(storage_db, channel="telegram", chat_id="777")
    assert [c.purpose for c in mine] == ["bpu_registration", "broadcast"]
    assert mine[0].withdrawn_at is None and mine[1].withdrawn_at is not None
    assert consents_of(storage_db, channel="whatsapp", chat_id="777") == []


def test_draft_round_trip_and_expiry(storage_db: Database) -> None:
    data = {"nik": SITI_NIK, "full_name": "Siti", "birth_date": SITI_BIRTH.isoformat()}
    save_draft(storage_db, channel="rest", chat_id="u1", step="ask_name", data=data, now=T0)
    save_draft(storage_db, channel="rest", chat_id="u1", step="ask_birth", data=data, now=T0)
    draft = load_draft(storage_db, channel="rest", chat_id="u1", now=T0 + timedelta(days=1))
    assert draft is not None and draft.step == "ask_birth" and draft.data == data
    assert load_draft(storage_db, channel="rest", chat_id="u1", now=T0 + timedelta(days=8)) is None
    assert purge_expired_drafts(storage_db, now=T0 + timedelta(days=8)) == 1
    assert not delete_draft(storage_db, channel="rest", chat_id="u1")


def test_subscribe_unsubscribe_unreachable_and_audience(storage_db: Database) -> None:
    a = opt_in(storage_db, channel="whatsapp", chat_id="+6281200000001", source="chat", region="Bogor", at=T0)
    b = opt_in(
        storage_db, channel="telegram", chat_id="1001", source="campaign:kkbc", occupation="ojol", at=T0
    )
    c = opt_in(storage_db, channel="telegram", chat_id="1002", source="chat")
    assert len({a, b, c}) == 3
    assert opt_in(storage_db, channel="telegram", chat_id="1001", source="chat") == b  # same conversation
    assert get_subscriber(storage_db, channel="telegram", chat_id="1001").occupation == "ojol"  # type: ignore[union-attr]

    assert opt_out(storage_db, channel="telegram", chat_id="1002", source="STOP")
    assert not opt_out(storage_db, channel="telegram", chat_id="1002", source="STOP")
    assert not is_opted_in(storage_db, c)
    mark_unreachable(storage_db, a, reason="63016")
    assert [r.chat_id for r in recipients(storage_db, batch=1)] == ["1001"]
    record_inbound(storage_db, channel="whatsapp", chat_id="+6281200000001", at=T0 + timedelta(hours=1))
    got = list(recipients(storage_db, channel="whatsapp", region="bogor"))
    assert [(r.chat_id, r.last_inbound_at) for r in got] == [("+6281200000001", T0 + timedelta(hours=1))]
    assert count_audience(storage_db) == 2 and count_audience(storage_db, occupation="ojol") == 1


def test_events_are_appended_with_personal_values_masked(storage_db: Database) -> None:
    append_event(storage_db, "opt_in", channel="telegram", chat_id="5", data={"source": "chat"})
    append_event(storage_db, "status_checked", data={"note": f"nik {SITI_NIK}", "ok": True, "n": 2})
    with storage_db.session() as s:
        rows = s.scalars(select(Event).order_by(Event.id)).all()
        assert rows[0].conversation_id is not None and rows[1].conversation_id is None
        assert rows[1].data == {"note": "nik [NIK]", "ok": True, "n": 2}
    assert event_counts(storage_db) == {"opt_in": 1, "status_checked": 1}


def test_staff_login_and_token(storage_db: Database) -> None:
    create_staff(storage_db, username="Admin", password="kerja-keras-bebas-cemas", role="admin")
    assert authenticate(storage_db, "admin", "salah-password-nya") is None
    assert authenticate(storage_db, "nobody", "kerja-keras-bebas-cemas") is None
    who = authenticate(storage_db, "ADMIN", "kerja-keras-bebas-cemas")
    assert who is not None and who.role == "admin"
    token = issue_api_token(storage_db, "admin")
    assert staff_by_token(storage_db, token) == who
    set_active(storage_db, "admin", False)
    assert (
        staff_by_token(storage_db, token) is None
        and authenticate(storage_db, "admin", "kerja-keras-bebas-cemas") is None
    )
    with pytest.raises(ValueError, match="role"):
        create_staff(storage_db, username="x", password="long-enough-pw", role="root")


def test_erase_from_the_chat_reaches_the_registration_and_member(storage_db: Database) -> None:
    ref = record_consent(
        storage_db, channel="telegram", chat_id="42", purpose="bpu_registration", text_version="v1", text="ok"
    )
    opt_in(storage_db, channel="telegram", chat_id="42", source="chat")
    save_draft(storage_db, channel="telegram", chat_id="42", step="done", data={"x": 1})
    append_event(storage_db, "consent_given", channel="telegram", chat_id="42")
    backend = SqlMembershipBackend(storage_db)
    receipt = backend.register(application(consent_id=ref), idempotency_key="k")

    report = erase_person(storage_db, channel="telegram", chat_id="42")
    assert (report.members, report.registrations, report.conversations) == (1, 1, 1)
    assert backend.lookup(nik=SITI_NIK, birth_date=SITI_BIRTH) is None
    status = backend.status(receipt.registration_number)  # the accounting skeleton stays
    assert status is not None and status.kpj is None
    assert get_subscriber(storage_db, channel="telegram", chat_id="42") is None
    assert load_draft(storage_db, channel="telegram", chat_id="42") is None
    with storage_db.session() as s:
        reg = s.scalars(select(Registration)).one()
        assert reg.nik_enc is None and reg.full_name_enc is None and reg.email_enc is None
        assert reg.erased_at is not None and reg.registration_number == receipt.registration_number
        consent = s.scalars(select(Consent)).one()
        assert consent.conversation_id is None and consent.withdrawn_at is not None
        assert s.scalar(select(func.count()).select_from(Member)) == 0
        assert {e.type for e in s.scalars(select(Event))} == {"consent_given", "data_erased"}
        assert all(e.conversation_id is None for e in s.scalars(select(Event)))
        assert s.scalars(select(AuditEntry.action)).all() == ["erase"]
    # the NIK can register again after the erasure
    assert backend.register(application(), idempotency_key="k2").state == "awaiting_payment"


def test_erase_by_nik_and_nothing_found(storage_db: Database) -> None:
    SqlMembershipBackend(storage_db).register(application(), idempotency_key="k")
    assert not erase_person(storage_db, nik="3201014506900099").found_anything
    report = erase_person(storage_db, nik=SITI_NIK, actor="staff:admin")
    assert (report.members, report.registrations) == (1, 1)
    with pytest.raises(ValueError):
        erase_person(storage_db)


def test_export_registrations_decrypts_into_an_owner_only_file(storage_db: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import csv
    import stat

    from storage.ops.export import export_registrations

    receipt = SqlMembershipBackend(storage_db).register(application(), idempotency_key="k")
    path = tmp_path / "out.csv"
    path.write_text("old")
    path.chmod(0o644)
    assert export_registrations(storage_db, path, state="awaiting_payment") == 1
    assert export_registrations(storage_db, tmp_path / "none.csv", state="active") == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with path.open() as f:
        (row,) = list(csv.DictReader(f))
    assert row["registration_number"] == receipt.registration_number and row["kpj"] == receipt.kpj
    assert (row["nik"], row["birth_date"], row["email"]) == (
        SITI_NIK,
        SITI_BIRTH.isoformat(),
        "siti.rahma@example.com",
    )
    assert (row["branch_office"], row["programs"], row["monthly_income"]) == (
        "Cibinong",
        "jkk+jkm",
        "2000000",
    )
