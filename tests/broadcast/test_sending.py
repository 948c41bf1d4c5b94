"""Sending in the test process, through the local Telegram and Twilio servers: what each recipient gets,
STOP, the platforms' errors, 429s, retries, sends left in doubt, quiet hours, pause/resume/cancel."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.broadcast import claims, sending, settling
from bot.broadcast.jobs import WorkerApp
from bot.broadcast.model import Audience, CampaignButton, CampaignDraft
from bot.broadcast.service import BroadcastService
from storage.db import Database
from storage.models import Delivery, Event, Subscriber
from storage.repo.subscribers import opt_out
from tests.broadcast.fakes import BroadcastTelegramAPI, BroadcastTwilioAPI
from tests.broadcast.helpers import drain, holder
from tests.broadcast.seed import seed
from tests.broadcast.test_audience import register
from tests.fakes.twilio_api import BOT_NUMBER

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

TEMPLATE = "HX" + "a" * 32
OLD = datetime.now(UTC) - timedelta(days=3)


def draft(**changes: Any) -> CampaignDraft:
    base = CampaignDraft(
        name="Pasar Minggu",
        text="Halo {nama}, lindungi kerja kerasmu mulai Rp16.800 sebulan.",
        button=CampaignButton("Daftar sekarang"),
        template_sid=TEMPLATE,
        template_variables={"1": "{nama}"},
    )
    return replace(base, **changes)


def rows(db: Database, campaign_id: int) -> dict[int, Delivery]:
    with db.session() as session:
        found = session.scalars(select(Delivery).where(Delivery.campaign_id == campaign_id))
        return {d.subscriber_id: d for d in found}


async def started(service: BroadcastService, app: WorkerApp, **changes: Any) -> int:
    info = await service.create(draft(**changes))
    await service.start(info.id)
    await app.planner.plan(info.id)
    return info.id


async def test_each_recipient_gets_one_personal_message(
    app: WorkerApp,
    service: BroadcastService,
    db: Database,
    telegram: BroadcastTelegramAPI,
    twilio: BroadcastTwilioAPI,
) -> None:
    tg = seed(db, "telegram", 3)
    wa = seed(db, "whatsapp", 2)
    wa_old = seed(db, "whatsapp", 1, first=50, last_inbound_at=OLD)
    register(db, wa[0], state="active", name="SITI AMINAH")
    campaign = await started(service, app, image_url="https://example.org/kkbc.jpg")
    await drain(app, campaign)

    photos = telegram.calls_of("sendPhoto")
    assert sorted(str(c.params["chat_id"]) for c in photos) == sorted(s.chat_id for s in tg)
    first = photos[0].params
    assert first["caption"] == "Halo Sobat Pekerja, lindungi kerja kerasmu mulai Rp16.800 sebulan."
    assert first["photo"] == "https://example.org/kkbc.jpg"
    assert first["reply_markup"] == {
        "inline_keyboard": [[{"text": "Daftar sekarang", "callback_data": "/register"}]]
    }

    by_to = {p["To"]: p for p in twilio.sent()}
    assert set(by_to) == {s.address for s in wa + wa_old}
    siti = by_to[wa[0].address]
    assert siti["Body"] == (
        "Halo Siti Aminah, lindungi kerja kerasmu mulai Rp16.800 sebulan.\n\n"
        'Balas "Daftar sekarang" untuk mulai.'
    )
    assert siti["MediaUrl"] == "https://example.org/kkbc.jpg"
    outside = by_to[wa_old[0].address]  # outside the 24-hour window: the template, with its variables
    assert outside["ContentSid"] == TEMPLATE and "Body" not in outside
    assert json.loads(outside["ContentVariables"]) == {"1": "Sobat Pekerja"}

    progress = await service.progress(campaign)
    assert (progress.status, progress.sent, progress.total) == ("finished", 6, 6)
    recorded = rows(db, campaign)
    sids = {r.params["To"]: r.sid for r in twilio.requests if r.status == 201}
    assert all(recorded[s.id].provider_message_id == sids[s.address] for s in wa + wa_old)
    assert all(recorded[s.id].provider_message_id for s in tg)


async def test_stop_after_planning_and_during_the_batch(
    app: WorkerApp,
    service: BroadcastService,
    db: Database,
    telegram: BroadcastTelegramAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tg = seed(db, "telegram", 12)
    campaign = await started(service, app, image_url=None, button=None)
    opt_out(db, channel="telegram", chat_id=tg[3].chat_id, source="stop")  # between planning and sending
    # a STOP that arrives while the batch is being sent: checked again before each send
    monkeypatch.setattr(settling, "RECHECK_EVERY", 0.0)
    port = app.engine.ports["telegram"]
    real_send = port.send

    async def send_and_stop(chat_id: str, message: Any, mode: Any) -> str:
        if chat_id == tg[0].chat_id:
            opt_out(db, channel="telegram", chat_id=tg[10].chat_id, source="stop")
        return await real_send(chat_id, message, mode)

    monkeypatch.setattr(port, "send", send_and_stop)
    app.engine.config = app.engine.config.model_copy(update={"concurrency": 1})
    await drain(app, campaign, channels=("telegram",))
    got = Counter(str(p["chat_id"]) for p in telegram.sent())
    assert got[tg[3].chat_id] == 0 and got[tg[10].chat_id] == 0
    assert sum(got.values()) == 10 and set(got.values()) == {1}
    recorded = rows(db, campaign)
    assert (recorded[tg[3].id].status, recorded[tg[3].id].error_code) == ("skipped", "opted_out")
    assert (recorded[tg[10].id].status, recorded[tg[10].id].error_code) == ("skipped", "opted_out")


async def test_permanent_errors_are_recorded_and_mark_the_subscriber(
    app: WorkerApp,
    service: BroadcastService,
    db: Database,
    telegram: BroadcastTelegramAPI,
    twilio: BroadcastTwilioAPI,
) -> None:
    tg = seed(db, "telegram", 2)
    wa = seed(db, "whatsapp", 4)
    telegram.block(tg[0].chat_id)
    twilio.fail(code=21211, to=wa[0].address)
    twilio.unsubscribe(wa[1].address)
    twilio.fail(code=63016, to=wa[2].address)  # Twilio thinks the window is closed: the template goes instead
    campaign = await started(service, app)
    await drain(app, campaign)
    recorded = rows(db, campaign)
    assert (recorded[tg[0].id].status, recorded[tg[0].id].error_code) == ("failed", "403:blocked")
    assert (recorded[wa[0].id].status, recorded[wa[0].id].error_code) == ("failed", "21211:invalid_number")
    assert (recorded[wa[1].id].status, recorded[wa[1].id].error_code) == ("failed", "21610:unsubscribed")
    assert recorded[wa[2].id].status == "sent" and recorded[tg[1].id].status == "sent"
    assert [p.get("ContentSid") for p in twilio.sent(wa[2].address)] == [TEMPLATE]
    with db.session() as session:
        subs = {s.id: s for s in session.scalars(select(Subscriber))}
    assert subs[tg[0].id].unreachable and subs[tg[0].id].unreachable_reason == "blocked"
    assert subs[wa[0].id].unreachable and subs[wa[0].id].unreachable_reason == "invalid_number"
    assert subs[wa[1].id].status == "opted_out" and subs[wa[1].id].opted_out_source == "whatsapp_stop"
    assert not subs[wa[2].id].unreachable and not subs[tg[1].id].unreachable
    results = await service.results(campaign)
    assert results.failed_by_reason == {"403:blocked": 1, "21211:invalid_number": 1, "21610:unsubscribed": 1}


async def test_outside_the_window_without_a_template_nothing_is_sent(
    app: WorkerApp, service: BroadcastService, db: Database, twilio: BroadcastTwilioAPI
) -> None:
    wa = seed(db, "whatsapp", 2, last_inbound_at=OLD)
    campaign = await started(service, app, template_sid=None, template_variables={})
    await drain(app, campaign)
    assert twilio.requests == []
    assert {(d.status, d.error_code) for d in rows(db, campaign).values()} == {
        ("failed", "63016:outside_window")
    }
    assert len(wa) == 2


async def test_a_429_pauses_the_channel_for_its_retry_after(
    app: WorkerApp, service: BroadcastService, db: Database, telegram: BroadcastTelegramAPI
) -> None:
    tg = seed(db, "telegram", 40)
    telegram.fail("sendMessage", status=429, retry_after=1)
    # one send at a time, so none is already on its way when the 429 comes back
    app.engine.config = app.engine.config.model_copy(update={"concurrency": 1})
    campaign = await started(service, app, button=None)
    await drain(app, campaign, channels=("telegram",))
    calls = [(c.at, c.status) for c in telegram.calls if c.method == "sendMessage"]
    (refused,) = [at for at, status in calls if status == 429]
    assert not [at for at, status in calls if refused < at < refused + 1.0]
    assert Counter(str(p["chat_id"]) for p in telegram.sent()) == Counter(s.chat_id for s in tg)
    assert await app.engine.limiter.throttled("telegram") == 1


async def test_transient_errors_are_retried_with_backoff(
    app: WorkerApp,
    service: BroadcastService,
    db: Database,
    telegram: BroadcastTelegramAPI,
    twilio: BroadcastTwilioAPI,
) -> None:
    tg = seed(db, "telegram", 3)
    wa = seed(db, "whatsapp", 3)
    telegram.fail("sendMessage", status=502, times=2)
    twilio.fail(status=500, times=2)
    campaign = await started(service, app, button=None)
    await drain(app, campaign)
    assert Counter(str(p["chat_id"]) for p in telegram.sent()) == Counter(s.chat_id for s in tg)
    assert Counter(p["To"] for p in twilio.sent()) == Counter(s.address for s in wa)
    recorded = rows(db, campaign).values()
    assert {d.status for d in recorded} == {"sent"}
    assert sum(d.attempts for d in recorded) == 6 + 4  # every send, plus the four that failed once


async def test_a_dropped_connection_is_checked_at_twilio_before_resending(
    app: WorkerApp, service: BroadcastService, db: Database, twilio: BroadcastTwilioAPI
) -> None:
    wa = seed(db, "whatsapp", 3)
    twilio.fail(status=0, to=wa[1].address)  # the request arrives, the answer never does
    campaign = await started(service, app, button=None)
    await drain(app, campaign)
    assert Counter(p["To"] for p in twilio.sent()) == Counter(s.address for s in wa)
    assert rows(db, campaign)[wa[1].id].status == "sent"


async def _left_in_doubt(
    app: WorkerApp, db: Database, campaign: int, channel: str, subscriber_id: int
) -> int:
    """As if a worker claimed the delivery, started its send and died: a stale claim, a 'started' entry."""
    past = datetime.now(UTC) - timedelta(minutes=5)
    with db.transaction() as session:
        batch = claims.claim(
            session,
            db.vault,
            campaign_id=campaign,
            channel=channel,
            token="dead",
            limit=100,
            now=past,
            lease=1,
        )
        others = [c.delivery_id for c in batch if c.subscriber_id != subscriber_id]
        claims.settle(
            session,
            token="dead",
            outcomes=[claims.Outcome(d, "release", attempted=False) for d in others],
            now=past,
        )
    (delivery,) = [c.delivery_id for c in batch if c.subscriber_id == subscriber_id]
    started_ms = int(past.timestamp() * 1000)
    await app.engine.redis.hset(app.engine.keys.ledger(campaign), str(delivery), f"s|{started_ms}|dead|text")
    return delivery


async def test_a_send_in_doubt_that_reached_twilio_is_not_sent_again(
    app: WorkerApp, service: BroadcastService, db: Database, twilio: BroadcastTwilioAPI
) -> None:
    wa = seed(db, "whatsapp", 2)
    campaign = await started(service, app, button=None)
    await _left_in_doubt(app, db, campaign, "whatsapp", wa[0].id)
    body = "Halo Sobat Pekerja, lindungi kerja kerasmu mulai Rp16.800 sebulan."
    accepted = twilio._create(
        {"To": wa[0].address, "From": BOT_NUMBER, "Body": body}
    )  # what the dead worker sent
    await drain(app, campaign)
    assert twilio.sent(wa[0].address) == []  # nothing new was sent to them
    assert len(twilio.sent(wa[1].address)) == 1
    assert rows(db, campaign)[wa[0].id].provider_message_id == accepted["sid"]


@pytest.mark.parametrize("policy", ["skip", "resend"])
async def test_a_telegram_send_in_doubt_follows_the_policy(
    app: WorkerApp, service: BroadcastService, db: Database, telegram: BroadcastTelegramAPI, policy: str
) -> None:
    tg = seed(db, "telegram", 2)
    app.engine.config = app.engine.config.model_copy(update={"in_doubt": policy})
    campaign = await started(service, app, button=None)
    await _left_in_doubt(app, db, campaign, "telegram", tg[0].id)
    await drain(app, campaign)
    got = Counter(str(p["chat_id"]) for p in telegram.sent())
    recorded = rows(db, campaign)[tg[0].id]
    if policy == "skip":
        assert got[tg[0].chat_id] == 0 and (recorded.status, recorded.error_code) == ("failed", "in_doubt")
        assert await service.retry_in_doubt(campaign) == 1  # staff may decide to send it after all
    else:
        assert got[tg[0].chat_id] == 1 and recorded.status == "sent"
    assert got[tg[1].chat_id] == 1


async def test_a_send_the_ledger_saw_accepted_is_recorded_not_repeated(
    app: WorkerApp, service: BroadcastService, db: Database, telegram: BroadcastTelegramAPI
) -> None:
    tg = seed(db, "telegram", 2)
    campaign = await started(service, app, button=None)
    delivery = await _left_in_doubt(app, db, campaign, "telegram", tg[0].id)
    await app.engine.redis.hset(app.engine.keys.ledger(campaign), str(delivery), "d|1|dead|4242")
    await drain(app, campaign)
    assert [str(p["chat_id"]) for p in telegram.sent()] == [tg[1].chat_id]
    assert rows(db, campaign)[tg[0].id].provider_message_id == "4242"


async def test_quiet_hours_hold_the_campaign_until_morning(
    app: WorkerApp, service: BroadcastService, db: Database, telegram: BroadcastTelegramAPI
) -> None:
    seed(db, "telegram", 3)
    campaign = await started(service, app)
    night = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)  # 22:30 WIB
    app.engine.quiet = replace(
        app.engine.quiet, start=datetime(2000, 1, 1, 21).time(), end=datetime(2000, 1, 1, 7).time()
    )
    app.engine.clock = lambda: night
    end = await app.engine.run_slice(campaign, "telegram", holder())
    assert end.kind == "quiet" and end.resume_at == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)  # 07:00 WIB
    assert telegram.sent() == []


async def test_quiet_hours_beginning_mid_batch_hold_the_rest(
    app: WorkerApp,
    service: BroadcastService,
    db: Database,
    telegram: BroadcastTelegramAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tg = seed(db, "telegram", 6)
    campaign = await started(service, app, button=None)
    monkeypatch.setattr(settling, "RECHECK_EVERY", 0.0)
    zone = app.engine.quiet.zone
    evening = datetime.combine(datetime.now(zone).date(), datetime.min.time(), tzinfo=zone) + timedelta(
        hours=20
    )
    now = [evening + timedelta(minutes=59, seconds=59)]
    app.engine.quiet = replace(
        app.engine.quiet, start=datetime(2000, 1, 1, 21).time(), end=datetime(2000, 1, 1, 7).time()
    )
    app.engine.clock = lambda: now[0]
    port = app.engine.ports["telegram"]
    real_send = port.send

    async def send_then_nine(chat_id: str, message: Any, mode: Any) -> str:
        now[0] = evening + timedelta(hours=1)  # 21:00 strikes while the first message goes out
        return await real_send(chat_id, message, mode)

    monkeypatch.setattr(port, "send", send_then_nine)
    app.engine.config = app.engine.config.model_copy(update={"concurrency": 1})
    end = await app.engine.run_slice(campaign, "telegram", holder())
    assert end.kind == "quiet" and end.resume_at == evening + timedelta(hours=11)
    assert len(telegram.sent()) == 1
    progress = await service.progress(campaign)
    assert (progress.sent, progress.counts["pending"]) == (1, len(tg) - 1)


async def test_pause_resume_and_cancel(
    app: WorkerApp,
    service: BroadcastService,
    db: Database,
    telegram: BroadcastTelegramAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tg = seed(db, "telegram", 10)
    campaign = await started(service, app, button=None)
    monkeypatch.setattr(settling, "RECHECK_EVERY", 0.0)
    port = app.engine.ports["telegram"]
    real_send = port.send
    paused: list[object] = []

    async def send_then_pause(chat_id: str, message: Any, mode: Any) -> str:
        if not paused:  # a staff member presses "pause" while the batch is going out
            paused.append(await service.pause(campaign))
        return await real_send(chat_id, message, mode)

    monkeypatch.setattr(port, "send", send_then_pause)
    app.engine.config = app.engine.config.model_copy(update={"concurrency": 1})
    end = await app.engine.run_slice(campaign, "telegram", holder())
    assert end.kind == "stopped"
    progress = await service.progress(campaign)
    assert (progress.status, progress.sent, progress.counts["pending"]) == ("paused", 1, 9)
    await service.resume(campaign)
    await drain(app, campaign, channels=("telegram",))
    assert Counter(str(p["chat_id"]) for p in telegram.sent()) == Counter(s.chat_id for s in tg)
    assert (await service.progress(campaign)).status == "finished"

    more = seed(db, "telegram", 5, first=100)
    other = await started(service, app, button=None)
    await service.cancel(other)
    await drain(app, other)
    assert not [p for p in telegram.sent() if str(p["chat_id"]) in {s.chat_id for s in more}]
    result = await service.results(other)
    assert result.progress.status == "cancelled" and result.skipped_by_reason == {"cancelled": 15}


async def test_results_count_the_campaigns_effect(
    app: WorkerApp, service: BroadcastService, db: Database, telegram: BroadcastTelegramAPI
) -> None:
    tg = seed(db, "telegram", 4)
    campaign = await started(service, app)
    await drain(app, campaign)
    later = datetime.now(UTC) + timedelta(minutes=5)
    opt_out(db, channel="telegram", chat_id=tg[0].chat_id, source="stop", at=later)
    with db.transaction() as session:
        for s, kind in (
            (tg[1], "registration.started"),
            (tg[2], "registration.started"),
            (tg[2], "registration.submitted"),
        ):
            conv = session.scalar(select(Subscriber.conversation_id).where(Subscriber.id == s.id))
            session.add(Event(type=kind, channel="telegram", conversation_id=conv, data={}, created_at=later))
    result = await service.results(campaign)
    assert (
        result.opted_out_after,
        result.registrations_started_after,
        result.registrations_submitted_after,
    ) == (1, 2, 1)


async def test_preview_and_test_send(
    service: BroadcastService, db: Database, telegram: BroadcastTelegramAPI, twilio: BroadcastTwilioAPI
) -> None:
    info = await service.create(draft(audience=Audience(channels=("telegram", "whatsapp"))))
    views = await service.preview(info.id, name="budi")
    assert views["telegram"]["text"]["text"].startswith("Halo Budi,")
    assert views["whatsapp"]["template"] == {
        "kind": "template",
        "template": TEMPLATE,
        "variables": {"1": "Budi"},
    }
    message_id = await service.test_send(
        info.id, channel="telegram", chat_id="99887766", name="Rina", actor="admin"
    )
    assert message_id and telegram.sent_texts("99887766") == [
        "Halo Rina, lindungi kerja kerasmu mulai Rp16.800 sebulan."
    ]
    await service.test_send(info.id, channel="whatsapp", chat_id="+6281299990000")
    assert twilio.sent("whatsapp:+6281299990000")[0]["ContentSid"] == TEMPLATE  # not a subscriber: no window
    assert (await service.progress(info.id)).total == 0  # a test send is no delivery


def test_clock_used_for_timestamps_is_aware() -> None:
    assert sending.utcnow().tzinfo is not None and abs(time.time() - sending.utcnow().timestamp()) < 5
