import pytest
from pydantic import ValidationError

from bot.settings import Settings


def test_embedded_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "REDIS_URL", "NLU_BACKEND", "MEMBERSHIP_BACKEND", "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    s = Settings()
    assert s.database_url == "sqlite:///jamsosbot.db"
    assert s.redis_url is None
    assert s.nlu_backend == "builtin"
    assert s.membership_backend == "sql"
    assert not s.telegram_enabled and not s.whatsapp_enabled


def test_reads_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("REDIS_URL=redis://127.0.0.1:6379/3\nNLU_BACKEND=rasa\n")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://127.0.0.1/test")
    s = Settings()
    assert s.redis_url == "redis://127.0.0.1:6379/3"
    assert s.nlu_backend == "rasa"
    assert s.database_url.startswith("postgresql")


def test_production_refuses_placeholder_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JAMSOSBOT_ENV", "production")
    monkeypatch.setenv("DATA_KEY", "changeme")
    with pytest.raises(ValidationError, match="placeholder"):
        Settings()
    monkeypatch.delenv("DATA_KEY")
    with pytest.raises(ValidationError, match="DATA_KEY"):
        Settings()


def test_unknown_backend_is_rejected(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NLU_BACKEND", "gpt")
    with pytest.raises(ValidationError):
        Settings()
