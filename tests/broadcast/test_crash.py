"""The broadcast that matters: 10,000 subscribers on Telegram and WhatsApp, sent by two `jamsosbot worker`
processes, interrupted six times while sending (after a random number of further deliveries, at a random
moment, a random worker: five SIGKILLs, then one SIGTERM) and restarted each time, while both platforms
answer some sends with 429. JAMSOSBOT_CRASH_TEST_SIZE makes it smaller; JAMSOSBOT_CRASH_SEED replays a run.

What must hold, counted on the local servers:
- every opted-in recipient received exactly one message, except Telegram deliveries that a kill left in
  doubt (the request had left, no answer came back; Telegram cannot be asked afterwards): the database
  records each of those as failed/in_doubt, and each of those received at most one;
- every WhatsApp recipient received exactly one (a send left in doubt is settled from Twilio's list);
- nobody who opted out received anything, including those who opted out after planning;
- after a 429, the platform saw only the sends already on their way until the pause was over;
- the database agrees with the servers (sent rows carry the provider's id; every row is settled).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.broadcast.jobs import WorkerApp
from bot.broadcast.model import CampaignDraft
from bot.broadcast.service import BroadcastService
from bot.channels.whatsapp_sender import RetryPolicy
from bot.settings import Settings
from storage.db import Database
from storage.models import Delivery
from storage.repo.subscribers import opt_out
from tests.broadcast.fakes import BroadcastTelegramAPI, BroadcastTwilioAPI
from tests.broadcast.seed import seed
from tests.broadcast.workers import WorkerProcess, worker_env

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

SIZE = int(os.environ.get("JAMSOSBOT_CRASH_TEST_SIZE", "10000"))
TEMPLATE = "HX" + "b" * 32
WORKER_CONFIG = {
    "quiet_start": "00:00",
    "quiet_end": "00:00",
    "telegram_rate": 5000,  # the limiter runs, without slowing the test down
    "whatsapp_rate": 5000,
    "slice_seconds": 4,
    "claim_lease_seconds": 2,
    "lock_seconds": 3,
    "in_doubt_grace_seconds": 1,
    "backoff_base_seconds": 0.2,
    "backoff_cap_seconds": 1,
    "tend_seconds": 1,
    "poll_seconds": 0.1,
    "concurrency": 8,
    "batch_size": 100,
    "parallel": 2,
}
RETRY_AFTER = 2
KILLS = 5
IN_FLIGHT_PER_WORKER = 8 * 2  # concurrency × parallel: the sends one worker can have on the wire


async def test_ten_thousand_through_kills_and_429s(
    settings: Settings,
    app: WorkerApp,
    service: BroadcastService,
    db: Database,
    telegram: BroadcastTelegramAPI,
    twilio: BroadcastTwilioAPI,
    tmp_path: Path,
) -> None:
    seed_value = os.environ.get("JAMSOSBOT_CRASH_SEED", str(time.time_ns()))
    print(f"JAMSOSBOT_CRASH_SEED={seed_value}")  # shown with a failure, to replay the same interruptions
    rng = random.Random(seed_value)
    n_tg, n_wa = SIZE * 6 // 10, SIZE * 4 // 10
    tg = seed(db, "telegram", n_tg)
    wa_open = seed(db, "whatsapp", n_wa * 3 // 4)
    wa_closed = seed(
        db, "whatsapp", n_wa - len(wa_open), first=n_wa, last_inbound_at=datetime.now(UTC) - timedelta(days=3)
    )
    opted_out_before = seed(db, "telegram", 20, first=n_tg, status="opted_out") + seed(
        db, "whatsapp", 20, first=2 * n_wa, status="opted_out"
    )
    info = await service.create(
        CampaignDraft(
            name="Kerja Keras Bebas Cemas",
            text="Halo {nama}, kerja keras bebas cemas!",
            template_sid=TEMPLATE,
            template_variables={"1": "{nama}"},
        )
    )
    await service.start(info.id)
    await app.planner.plan(info.id)  # planned before any worker runs, so the next opt-outs come after it
    after_planning = rng.sample(tg, 10) + rng.sample(wa_open, 10)
    for s in after_planning:
        assert opt_out(db, channel=s.channel, chat_id=s.chat_id, source="stop")
    telegram.fail("sendMessage", status=429, retry_after=RETRY_AFTER, times=2)
    twilio.fail(status=429, code=20429, times=2)

    env = worker_env(settings, WORKER_CONFIG)
    workers = [WorkerProcess(env, tmp_path / f"worker{i}.log").start() for i in range(2)]
    plan = ["kill"] * KILLS + ["term"]  # SIGKILL five times, then one graceful stop
    try:
        deadline = time.monotonic() + 300
        settled = 0
        while time.monotonic() < deadline:
            progress = await service.progress(info.id)
            if progress.status == "finished":
                break
            # each interruption lands while sending is under way: once some more deliveries were settled
            # since the last one, at a random moment, on a worker that is up
            if plan and progress.settled >= settled + rng.randint(50, SIZE // 15):
                victim = rng.choice(workers)
                victim.wait_ready()  # (also: SIGTERM before its handlers exist would be a plain kill)
                await asyncio.sleep(rng.uniform(0, 0.5))
                if plan.pop(0) == "kill":
                    victim.kill()
                else:
                    assert victim.stop() == 0, "a graceful stop exits cleanly"
                victim.start()
                settled = (await service.progress(info.id)).settled
            await asyncio.sleep(0.2)
        progress = await service.progress(info.id)
    finally:
        for w in workers:
            w.stop()
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in tmp_path.glob("worker*.log"))
    assert progress.status == "finished", f"{progress}\n{logs}"
    assert not plan, "every interruption happened before the end"

    with db.session() as session:
        rows = {
            d.subscriber_id: d
            for d in session.scalars(select(Delivery).where(Delivery.campaign_id == info.id))
        }
    assert all(d.status in ("sent", "failed", "skipped") for d in rows.values())

    tg_counts = Counter(str(p["chat_id"]) for p in telegram.sent())
    wa_counts = Counter(str(p["To"]) for p in twilio.sent())
    stopped = {s.id for s in after_planning}
    in_doubt = {sid for sid, d in rows.items() if d.error_code == "in_doubt"}

    for s in opted_out_before:
        assert s.id not in rows
        assert (tg_counts if s.channel == "telegram" else wa_counts)[s.address] == 0
    for s in after_planning:
        assert rows[s.id].status == "skipped" and rows[s.id].error_code == "opted_out"
        assert (tg_counts if s.channel == "telegram" else wa_counts)[s.address] == 0
    for s in tg:
        if s.id in stopped:
            continue
        if s.id in in_doubt:
            assert tg_counts[s.chat_id] <= 1
        else:
            assert rows[s.id].status == "sent", rows[s.id].error_code
            assert tg_counts[s.chat_id] == 1, s
    for s in wa_open + wa_closed:
        if s.id in stopped:
            continue
        assert rows[s.id].status == "sent", rows[s.id].error_code
        assert wa_counts[s.address] == 1, s
    assert not [sid for sid in in_doubt if rows[sid].channel != "telegram"]
    arrived = sum(tg_counts[s.chat_id] for s in tg if s.id in in_doubt)
    print(f"{len(in_doubt)} Telegram deliveries left in doubt by the kills; {arrived} of them had arrived")
    assert len(in_doubt) <= KILLS * IN_FLIGHT_PER_WORKER

    # the database holds the provider's id of what it marks sent
    sids = {r.params["To"]: r.sid for r in twilio.requests if r.status == 201}
    for s in wa_open + wa_closed:
        if s.id not in stopped:
            assert rows[s.id].provider_message_id == sids[s.address]
    templates = [p for p in twilio.sent() if "ContentSid" in p]
    assert {p["To"] for p in templates} == {s.address for s in wa_closed}

    # 429s: during each pause only sends already started when the 429 came back may still arrive (at most
    # every sender job's in-flight sends); a bot ignoring the pause would keep its full rate
    in_flight = 2 * IN_FLIGHT_PER_WORKER
    _assert_paused(
        [(c.at, c.status) for c in telegram.calls if c.method == "sendMessage"], RETRY_AFTER, in_flight
    )
    # Twilio gives no retry-after: the pause is the sender's suggestion, at least BROADCAST_MIN_PAUSE_SECONDS
    pause = max(RetryPolicy().delay(0), app.engine.config.min_pause_seconds)
    _assert_paused([(r.at, r.status) for r in twilio.requests if r.method == "POST"], pause, in_flight)


def _assert_paused(calls: list[tuple[float, int]], pause: float, in_flight: int) -> None:
    refused = [at for at, status in calls if status == 429]
    assert len(refused) == 2, "the server was scripted to answer 429 twice"
    for at in refused:
        inside = [t for t, status in calls if at < t < at + pause - 0.05]
        assert len(inside) <= in_flight, f"{len(inside)} sends inside the {pause} s pause after a 429"
