"""Sending in the test process, through the local Telegram and Twilio servers."""

from __future__ import annotations

from bot.broadcast.jobs import WorkerApp
from bot.broadcast.model import Audience, CampaignButton, CampaignDraft
from bot.broadcast.service import BroadcastService
from storage.db import Database
from tests.broadcast.fakes import BroadcastTelegramAPI, BroadcastTwilioAPI
from tests.broadcast.helpers import drain
from tests.broadcast.seed import seed

TEMPLATE = "HX" + "a" * 32


def draft(**changes: object) -> CampaignDraft:
    base = CampaignDraft(
        name="Pasar Minggu",
        text="Halo {nama}, lindungi kerja kerasmu mulai Rp16.800 sebulan.",
        button=CampaignButton("Daftar sekarang"),
        template_sid=TEMPLATE,
        template_variables={"1": "{nama}"},
    )
    return CampaignDraft(**{**base.__dict__, **changes})  # type: ignore[arg-type]


async def test_every_recipient_gets_one_message(
    app: WorkerApp,
    service: BroadcastService,
    db: Database,
    telegram: BroadcastTelegramAPI,
    twilio: BroadcastTwilioAPI,
) -> None:
    tg = seed(db, "telegram", 30)
    wa = seed(db, "whatsapp", 20)
    info = await service.create(draft())
    await service.start(info.id)
    await drain(app, info.id)
    sent_tg = [str(p["chat_id"]) for p in telegram.sent()]
    sent_wa = [p["To"] for p in twilio.sent()]
    assert sorted(sent_tg) == sorted(s.chat_id for s in tg)
    assert sorted(sent_wa) == sorted(s.address for s in wa)
    progress = await service.progress(info.id)
    assert progress.status == "finished"
    assert progress.sent == 50
