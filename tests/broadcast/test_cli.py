"""`jamsosbot broadcast …` and `jamsosbot worker` from the command line (click's runner, in this process),
on the test database and Redis prefix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.broadcast_commands import broadcast, worker
from bot.settings import Settings
from storage.db import Database
from storage.models import AuditEntry
from tests.broadcast.fakes import BroadcastTelegramAPI
from tests.broadcast.seed import seed

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

CAMPAIGN = """
name: Kerja Keras Bebas Cemas — Pasar Minggu
text: "Halo {nama}, mulai Rp16.800 sebulan kerja kerasmu terlindungi."
image: https://example.org/kkbc.jpg
button: {title: Daftar sekarang}
template: {sid: HXaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, variables: {"1": "{nama}"}}
audience: {channels: [telegram], regions: [Kabupaten Bogor]}
"""


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    env = {
        "JAMSOSBOT_ENV": "test",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url or "",
        "REDIS_PREFIX": settings.redis_prefix,
        "DATA_KEY": settings.data_key.get_secret_value() if settings.data_key else "",
        "TELEGRAM_BOT_TOKEN": settings.telegram_bot_token.get_secret_value()
        if settings.telegram_bot_token
        else "",
        "TELEGRAM_API_URL": settings.telegram_api_url,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return CliRunner()


def test_compose_count_show_start_and_read_results(cli: CliRunner, db: Database, tmp_path: Path) -> None:
    seed(db, "telegram", 4)
    seed(db, "telegram", 2, first=10, region="Gresik")
    seed(db, "whatsapp", 3)
    path = tmp_path / "kampanye.yml"
    path.write_text(CAMPAIGN, encoding="utf-8")

    created = cli.invoke(broadcast, ["create", "--file", str(path), "--as", "rina"])
    assert created.exit_code == 0, created.output
    assert "campaign 1 created (draft); audience now: telegram 4" in created.output

    counted = cli.invoke(broadcast, ["count", "--channel", "whatsapp"])
    assert counted.output.strip() == "3 recipients (whatsapp 3)"
    assert "6 recipients" in cli.invoke(broadcast, ["count", "--channel", "telegram"]).output
    assert "4 recipients" in cli.invoke(broadcast, ["count", "1"]).output

    shown = json.loads(cli.invoke(broadcast, ["show", "1", "--name", "budi"]).output)
    assert shown["campaign"]["status"] == "draft"
    assert shown["preview"]["telegram"]["text"]["text"].startswith("Halo Budi, mulai")

    for action, status in (("start", "running"), ("pause", "paused"), ("resume", "running")):
        result = cli.invoke(broadcast, [action, "1", "--as", "rina"])
        assert result.exit_code == 0 and f"campaign 1 is now {status}" in result.output

    with db.session() as session:
        audit = [
            (a.actor, a.action, a.target, a.details)
            for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    assert audit[0][:3] == ("rina", "campaign.create", "campaign:1")
    assert audit[1] == ("rina", "campaign.start", "campaign:1", {"from": "draft", "audience": 4})
    assert [a[1] for a in audit[2:]] == ["campaign.pause", "campaign.resume"]

    results = json.loads(cli.invoke(broadcast, ["results", "1", "--json"]).output)
    assert results["progress"]["status"] == "running"
    assert cli.invoke(broadcast, ["cancel", "1"]).output.strip() == "campaign 1 is now cancelled"
    watched = cli.invoke(broadcast, ["watch", "1"])  # the progress bar stops at once on a cancelled campaign
    assert watched.exit_code == 0 and "campaign 1" in watched.output and "sent 0" in watched.output
    # no worker ran, so nothing was planned before the cancel: no deliveries at all
    assert "campaign 1 [cancelled]: 0 recipients" in cli.invoke(broadcast, ["results", "1"]).output
    again = cli.invoke(broadcast, ["start", "1"])
    assert again.exit_code == 1 and "campaign 1 is cancelled; cannot start" in again.output


def test_flags_and_what_is_wrong_with_a_draft(cli: CliRunner, db: Database) -> None:
    bad = cli.invoke(broadcast, ["create", "--name", "x", "--text", "Halo {alamat}", "--template", "HX1"])
    assert bad.exit_code == 1
    assert "unknown field {alamat}" in bad.output and "ContentSid" in bad.output
    good = cli.invoke(
        broadcast,
        [
            "create",
            "--name",
            "Desa",
            "--text",
            "Halo {nama}",
            "--button",
            "Daftar sekarang",
            "--region",
            "Gresik",
            "--registration",
            "none",
            "--since",
            "2026-01-01",
        ],
    )
    assert good.exit_code == 0, good.output
    shown = json.loads(cli.invoke(broadcast, ["show", "1"]).output)
    assert shown["campaign"]["draft"]["audience"] == {
        "regions": ["Gresik"],
        "registration": ["none"],
        "subscribed_since": "2026-01-01T00:00:00+07:00",
    }
    assert shown["campaign"]["draft"]["button"] == {"title": "Daftar sekarang", "payload": "/register"}
    when = cli.invoke(broadcast, ["schedule", "1", "--at", "2030-01-02 09:00"])
    assert when.exit_code == 0 and "2030-01-02 09:00:00+07:00" in when.output  # WIB unless a zone is given


def test_a_test_send_reaches_the_chat(cli: CliRunner, db: Database, telegram: BroadcastTelegramAPI) -> None:
    assert cli.invoke(broadcast, ["create", "--name", "uji", "--text", "Halo {nama}!"]).exit_code == 0
    result = cli.invoke(
        broadcast, ["test-send", "1", "--channel", "telegram", "--chat-id", "5550001", "--name", "Dewi"]
    )
    assert result.exit_code == 0, result.output
    assert telegram.sent_texts("5550001") == ["Halo Dewi!"]


def test_the_worker_needs_redis(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL")
    result = cli.invoke(worker, [])
    assert result.exit_code == 1 and "needs REDIS_URL" in result.output
