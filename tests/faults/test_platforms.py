"""Telegram and Twilio answering 5xx and 429 while the bot replies: each message is answered exactly once,
a 429's retry_after is respected, and a send that fails beyond the sender's own retries is retried by the
inbox without running the turn again. The platforms are the local fake API servers (tests/fakes/)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.faults.support import TelegramUser, WhatsAppUser, fault_settings, running


def _turns(app: FastAPI) -> list[str]:
    """Record the text of every turn the dispatcher runs (to see that none runs twice)."""
    runtime = app.state.runtime
    seen: list[str] = []
    parse = runtime.dispatcher.nlu.parse

    def recording(text: str) -> object:
        seen.append(text)
        return parse(text)

    runtime.dispatcher.nlu = type("Recording", (), {"parse": staticmethod(recording)})()
    return seen


async def test_telegram_answering_5xx_and_429(
    tmp_path: Path, data_key: str, telegram_api: FakeTelegramAPI
) -> None:
    settings = fault_settings(
        database_url=f"sqlite:///{tmp_path / 'bot.db'}", data_key=data_key, telegram=telegram_api
    )
    async with running(settings) as (app, client):
        user = TelegramUser(client, telegram_api, app.state.inbox.waiting)
        turns = _turns(app)

        telegram_api.fail("sendMessage", status=502, times=2)
        assert "Mau dibantu apa?" in await user.say("halo")
        telegram_api.fail("sendMessage", status=429, retry_after=1)
        assert "Kecelakaan Kerja" in await user.say("apa itu jkk")

        assert len(user.received()) == 2 and turns == ["halo", "apa itu jkk"]
        sends = telegram_api.calls_of("sendMessage", ok_only=False)
        assert [c.status for c in sends] == [502, 502, 200, 429, 200]
        assert sends[4].at - sends[3].at >= 1.0  # nothing sent before the pause Telegram asked for


async def test_twilio_answering_5xx_and_429(tmp_path: Path, data_key: str, twilio_api: FakeTwilioAPI) -> None:
    settings = fault_settings(
        database_url=f"sqlite:///{tmp_path / 'bot.db'}", data_key=data_key, twilio=twilio_api
    )
    async with running(settings) as (app, client):
        user = WhatsAppUser(client, twilio_api, app.state.inbox.waiting)
        turns = _turns(app)

        # Five 500s: more than the sender's own 4 attempts, so the inbox retries the send (not the turn).
        twilio_api.fail(status=500, times=5)
        assert "Balas dengan angka" in await user.say("halo")
        twilio_api.fail(status=429, code=20429, times=2)
        assert "Kecelakaan Kerja" in await user.say("apa itu jkk")

        assert len(user.received()) == 2 and turns == ["halo", "apa itu jkk"]
        statuses = [r.status for r in twilio_api.requests if r.method == "POST"]
        assert statuses == [500] * 5 + [201, 429, 429, 201]
