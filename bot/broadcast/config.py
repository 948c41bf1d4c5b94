"""Broadcast settings: channel rate limits, quiet hours, batch sizes, leases and retries.

Read from the environment (and `.env`) like bot.settings.Settings, with the prefix BROADCAST_; build once
with `load_broadcast_config()` and pass it down. Everything has a production-ready default, so an operator
only sets what differs (usually BROADCAST_WHATSAPP_RATE, the account's messages per second).
"""

from __future__ import annotations

from datetime import time
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class BroadcastConfig(BaseSettings):
    """How campaigns are sent. Rates are messages per second; 0 means "no limit" (benchmarks only)."""

    model_config = SettingsConfigDict(
        env_prefix="BROADCAST_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # rate limits, global across every worker (Redis)
    rate_limits: bool = True  # off: only the platforms' own 429s slow the send down (benchmarks)
    telegram_rate: float = Field(30.0, ge=0)  # Telegram: about 30 messages/s per bot
    telegram_chat_rate: float = Field(1.0, ge=0)  # and about 1 message/s in one chat
    whatsapp_rate: float = Field(80.0, ge=0)  # the WhatsApp sender's messages/s (Twilio: 80 by default)
    whatsapp_chat_rate: float = Field(1.0, ge=0)
    max_reserve_seconds: float = Field(2.0, gt=0)  # how far ahead a sender may book a slot
    min_pause_seconds: float = Field(1.0, ge=0)  # after a 429, at least this long (Twilio gives no time)

    # quiet hours: no sends from quiet_start to quiet_end (local time); equal times switch them off
    quiet_start: time = time(21, 0)
    quiet_end: time = time(7, 0)
    timezone: str = "Asia/Jakarta"

    # work units
    batch_size: int = Field(200, ge=1, le=5000)  # deliveries claimed at once (smaller when rate-limited)
    concurrency: int = Field(16, ge=1, le=512)  # sends in flight per sender job
    parallel: int = Field(2, ge=1, le=64)  # sender jobs per campaign and channel (spread over workers)
    slice_seconds: float = Field(30.0, gt=0)  # a sender job hands over to its successor after this
    plan_batch: int = Field(5000, ge=100)  # subscribers planned per transaction

    # crash recovery
    claim_lease_seconds: float = Field(120.0, gt=0)  # an unrenewed claim is taken over after this
    lock_seconds: float = Field(15.0, gt=0)  # a sender job's slot lock lives this long unrenewed
    in_doubt_grace_seconds: float = Field(60.0, gt=0)  # a send older than this is no longer in flight
    in_doubt: Literal["skip", "resend"] = "skip"  # unverifiable in-doubt sends (Telegram): see docs
    tend_seconds: int = Field(5, ge=1, le=30)  # the supervisor's period

    # retries of transient failures
    max_attempts: int = Field(5, ge=1)
    backoff_base_seconds: float = Field(5.0, gt=0)
    backoff_cap_seconds: float = Field(600.0, gt=0)

    # wording users see (short, warm, plain Indonesian)
    greeting_fallback: str = "Sobat Pekerja"  # {nama} when the name is not known
    whatsapp_button_hint: str = 'Balas "{title}" untuk mulai.'  # a button on WhatsApp text

    # the worker
    max_jobs: int = Field(10, ge=1)  # arq jobs at once per worker process
    poll_seconds: float = Field(0.5, gt=0)  # arq's queue poll delay

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone name
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def channel_rate(self, channel: str) -> float:
        """Messages per second for `channel` across all workers; 0 = unlimited."""
        if not self.rate_limits:
            return 0.0
        return float(getattr(self, f"{channel}_rate", 0.0))

    def chat_rate(self, channel: str) -> float:
        if not self.rate_limits:
            return 0.0
        return float(getattr(self, f"{channel}_chat_rate", 0.0))

    def claim_size(self, channel: str) -> int:
        """Deliveries to claim at once: a batch, but no more than about lease/4 seconds of sending at the
        channel's rate, so a claim never outlives its lease while it waits for the limiter."""
        rate = self.channel_rate(channel)
        if rate <= 0:
            return self.batch_size
        return max(1, min(self.batch_size, int(rate * self.claim_lease_seconds / 4)))


def load_broadcast_config(**overrides: object) -> BroadcastConfig:
    """Read the config once; keyword overrides use the field names (tests, the CLI, the benchmark)."""
    return BroadcastConfig(**overrides)  # type: ignore[arg-type]
