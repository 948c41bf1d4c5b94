"""`jamsosbot telegram-set-webhook` and `jamsosbot telegram-poll` against the local Bot API server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from storage.crypto import generate_key
from tests.channels.telegram_factories import Updates
from tests.fakes.telegram_api import FakeTelegramAPI

ROOT = Path(__file__).resolve().parents[2]
SECRET = "kkbc-Webhook_secret-2026"


def env_for(api: FakeTelegramAPI, **extra: str) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_URL": api.base_url,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "PUBLIC_URL": "https://bot.example.org/",
        **extra,
    }


def test_set_webhook_registers_the_public_url_with_the_secret(telegram_api: FakeTelegramAPI) -> None:
    result = CliRunner().invoke(cli, ["telegram-set-webhook"], env=env_for(telegram_api))
    assert result.exit_code == 0, result.output
    assert "https://bot.example.org/webhooks/telegram/webhook" in result.output
    hook = telegram_api.webhook
    assert hook is not None
    assert hook["url"] == "https://bot.example.org/webhooks/telegram/webhook"
    assert hook["secret_token"] == SECRET
    assert hook["allowed_updates"] == ["message", "callback_query", "my_chat_member"]
    assert telegram_api.token not in result.output


def test_set_webhook_refuses_a_missing_secret_or_a_plain_http_url(telegram_api: FakeTelegramAPI) -> None:
    no_secret = CliRunner().invoke(
        cli, ["telegram-set-webhook"], env=env_for(telegram_api, TELEGRAM_WEBHOOK_SECRET="")
    )
    assert no_secret.exit_code != 0 and "TELEGRAM_WEBHOOK_SECRET" in no_secret.output
    plain = CliRunner().invoke(
        cli, ["telegram-set-webhook", "--url", "http://bot.example.org/hook"], env=env_for(telegram_api)
    )
    assert plain.exit_code != 0 and "https" in plain.output
    assert telegram_api.webhook is None


def test_set_webhook_delete(telegram_api: FakeTelegramAPI) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["telegram-set-webhook"], env=env_for(telegram_api)).exit_code == 0
    result = runner.invoke(cli, ["telegram-set-webhook", "--delete"], env=env_for(telegram_api))
    assert result.exit_code == 0 and telegram_api.webhook is None


def test_telegram_commands_need_a_token() -> None:
    result = CliRunner().invoke(cli, ["telegram-poll"], env={"TELEGRAM_BOT_TOKEN": ""})
    assert result.exit_code != 0


def test_telegram_poll_answers_and_stops_cleanly(telegram_api: FakeTelegramAPI, tmp_path: Path) -> None:
    """The real command in its own process: removes the webhook, answers /start, exits 0 on Ctrl-C."""
    telegram_api._m_setWebhook({"url": "https://old.example.org/hook"})
    env = {
        **os.environ,
        **env_for(telegram_api),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'poll.db'}",
        "DATA_KEY": generate_key(),
        "REDIS_URL": "",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("REDIS_URL")
    chat = 1_234_567_890
    telegram_api.push_update(Updates().command(chat, "start", "kkbc_tanahabang"))
    process = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "telegram-poll"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180  # a first run may train the NLU model
        while not telegram_api.sent(chat) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert telegram_api.sent(chat), "no answer to /start"
        assert "/register" in str(telegram_api.sent(chat)[-1].get("reply_markup"))
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, stderr
    assert telegram_api.webhook is None
    assert telegram_api.token.split(":", 1)[1] not in stderr  # the token never reaches the logs


@pytest.fixture(autouse=True)
def _no_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env, no jamsosbot.db in the checkout


def test_inbox_worker_needs_the_shared_inbox() -> None:
    result = CliRunner().invoke(cli, ["inbox-worker"], env={"REDIS_URL": ""})
    assert result.exit_code != 0 and "REDIS_URL" in result.output


async def test_web_processes_may_only_acknowledge_when_the_inbox_is_shared() -> None:
    from bot.inbox_service import ChannelService
    from bot.settings import load_settings

    with pytest.raises(ValueError, match="REDIS_URL"):
        await ChannelService.start(load_settings(inbox_workers=0), runtime=None)
