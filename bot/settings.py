"""One typed settings object, read once from the environment (and `.env`) and passed explicitly.

The names are fixed by shared/contract.md §6. With nothing set, the bot runs on the embedded defaults:
a SQLite file, everything in-process, the built-in NLU, the project's own membership tables.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = {"changeme", "change-me", "secret", "xxx", "todo", "placeholder"}


class Settings(BaseSettings):
    """Everything the running system may be configured with. Construct once, pass down."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    environment: Literal["development", "test", "production"] = Field("development", alias="JAMSOSBOT_ENV")

    # storage
    database_url: str = Field("sqlite:///jamsosbot.db", alias="DATABASE_URL")
    redis_url: str | None = Field(None, alias="REDIS_URL")
    redis_prefix: str = Field("jb:", alias="REDIS_PREFIX", min_length=1)  # one Redis, several deployments
    inbox_workers: int = Field(4, alias="INBOX_WORKERS", ge=0)  # chats answered at once per process
    inbox_lease_seconds: float = Field(30.0, alias="INBOX_LEASE_SECONDS", gt=0)  # a claimed chat's lease
    data_key: SecretStr | None = Field(None, alias="DATA_KEY")
    data_key_file: Path = Field(Path(".jamsosbot/data.key"), alias="DATA_KEY_FILE")

    # web
    public_url: str | None = Field(None, alias="PUBLIC_URL")
    rest_channel_token: SecretStr | None = Field(None, alias="REST_CHANNEL_TOKEN")
    admin_secret: SecretStr | None = Field(None, alias="ADMIN_SECRET")

    # telegram
    telegram_bot_token: SecretStr | None = Field(None, alias="TELEGRAM_BOT_TOKEN")
    telegram_webhook_secret: SecretStr | None = Field(None, alias="TELEGRAM_WEBHOOK_SECRET")
    telegram_api_url: str = Field("https://api.telegram.org/bot", alias="TELEGRAM_API_URL")

    # whatsapp through twilio
    twilio_account_sid: str | None = Field(None, alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: SecretStr | None = Field(None, alias="TWILIO_AUTH_TOKEN")
    twilio_whatsapp_from: str | None = Field(None, alias="TWILIO_WHATSAPP_FROM")
    twilio_api_url: str = Field("https://api.twilio.com", alias="TWILIO_API_URL")
    # YAML: "payload|payload" of a reply's buttons -> ContentSid of an approved quick-reply template
    twilio_quick_replies: Path | None = Field(None, alias="TWILIO_QUICK_REPLIES")

    # nlu
    nlu_backend: Literal["builtin", "rasa"] = Field("builtin", alias="NLU_BACKEND")
    rasa_url: str = Field("http://localhost:5005", alias="RASA_URL")
    rasa_timeout: float = Field(2.0, alias="RASA_TIMEOUT")
    nlu_cache_dir: Path | None = Field(None, alias="NLU_CACHE_DIR")
    nlu_threshold: float = Field(0.15, alias="NLU_THRESHOLD", ge=0.0, le=1.0)  # below: out_of_scope
    nlu_margin: float = Field(0.1, alias="NLU_MARGIN", ge=0.0, le=1.0)  # top-2 gap under it: ambiguous

    # membership backend
    membership_backend: Literal["sql", "http"] = Field("sql", alias="MEMBERSHIP_BACKEND")
    membership_api_url: str | None = Field(None, alias="MEMBERSHIP_API_URL")
    membership_api_token: SecretStr | None = Field(None, alias="MEMBERSHIP_API_TOKEN")
    membership_api_timeout: float = Field(3.0, alias="MEMBERSHIP_API_TIMEOUT")

    # conversation
    # turns run at once per process for the REST channel (threads): enough to overlap the turns' waits on
    # PostgreSQL and Redis, few enough that they do not fight over the interpreter lock
    turn_threads: int = Field(4, alias="TURN_THREADS", ge=1)
    session_idle_minutes: int = Field(30, alias="SESSION_IDLE_MINUTES", ge=1)
    session_ttl_days: int = Field(7, alias="SESSION_TTL_DAYS", ge=1)
    # lease of a conversation's lock: longer than any turn; a turn that died holding it blocks its chat
    # this long
    conversation_lock_seconds: float = Field(30.0, alias="CONVERSATION_LOCK_SECONDS", gt=0)

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if self.environment != "production":
            return self
        for name in (
            "data_key",
            "rest_channel_token",
            "admin_secret",
            "telegram_webhook_secret",
            "twilio_auth_token",
            "membership_api_token",
        ):
            value = getattr(self, name)
            if value is not None and value.get_secret_value().strip().lower() in PLACEHOLDERS:
                raise ValueError(f"{name.upper()} is a placeholder; set a real secret in production")
        if self.data_key is None:
            raise ValueError("DATA_KEY must be set in production (personal data is encrypted with it)")
        return self

    @cached_property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None

    @cached_property
    def whatsapp_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_whatsapp_from)


def load_settings(**overrides: object) -> Settings:
    """Read the settings once; keyword overrides use the field names (for tests and the CLI)."""
    return Settings(**overrides)  # type: ignore[arg-type]
