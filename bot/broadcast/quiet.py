"""Quiet hours: no campaign message is sent between `start` and `end` local time (21:00–07:00 WIB by
default). A window may wrap past midnight; start == end means there are no quiet hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.broadcast.config import BroadcastConfig


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    zone: ZoneInfo

    @classmethod
    def from_config(cls, config: BroadcastConfig) -> QuietHours:
        return cls(config.quiet_start, config.quiet_end, config.zone)

    @property
    def enabled(self) -> bool:
        return self.start != self.end

    def is_quiet(self, now: datetime) -> bool:
        """Whether `now` (an aware datetime) falls in the quiet hours."""
        if not self.enabled:
            return False
        local = now.astimezone(self.zone).time().replace(tzinfo=None)
        if self.start < self.end:  # e.g. 13:00–14:00, same day
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # wraps past midnight

    def ends_at(self, now: datetime) -> datetime:
        """When the quiet period containing `now` ends (an aware datetime in the configured zone);
        `now` itself when it is not quiet."""
        if not self.is_quiet(now):
            return now
        local = now.astimezone(self.zone)
        end = datetime.combine(local.date(), self.end, tzinfo=self.zone)
        if end <= local:
            end += timedelta(days=1)
        return end
