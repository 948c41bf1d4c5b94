"""Every Redis key and arq name the broadcast uses, under REDIS_PREFIX (several deployments, or test runs,
can share one Redis: each only ever touches its own prefix)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str  # REDIS_PREFIX, e.g. "jb:"

    @property
    def base(self) -> str:
        return f"{self.prefix}bc:"

    @property
    def queue(self) -> str:
        """The arq queue the broadcast workers read."""
        return f"{self.base}queue"

    @property
    def tend_job(self) -> str:
        """The name of the supervisor cron job (arq cron ids are global: the prefix keeps them apart)."""
        return f"{self.base}tend"

    @property
    def generation(self) -> str:
        return f"{self.base}gen"

    def ledger(self, campaign_id: int) -> str:
        return f"{self.base}ledger:{campaign_id}"

    def slot(self, campaign_id: int, channel: str, slot: int) -> str:
        return f"{self.base}slot:{campaign_id}:{channel}:{slot}"

    def plan_lock(self, campaign_id: int) -> str:
        return f"{self.base}planlock:{campaign_id}"

    def plan_cursor(self, campaign_id: int) -> str:
        return f"{self.base}plancursor:{campaign_id}"

    def job_id(self, kind: str, *parts: object, generation: int) -> str:
        return ":".join([f"{self.base}{kind}", *(str(p) for p in parts), str(generation)])

    def pause(self, channel: str) -> str:
        return f"{self.base}rl:{channel}:pause"

    def rate(self, channel: str) -> str:
        return f"{self.base}rl:{channel}:tat"

    def chat_rate(self, channel: str, subscriber_id: int) -> str:
        # the subscriber id, not the chat id: a phone number must not appear in a key name
        return f"{self.base}rl:{channel}:chat:{subscriber_id}"

    def throttled(self, channel: str) -> str:
        """A counter of the 429s the platform answered (for the benchmark and the logs)."""
        return f"{self.base}rl:{channel}:429"

    def progress(self, campaign_id: int) -> str:
        return f"{self.base}progress:{campaign_id}"

    def arq_patterns(self) -> list[str]:
        """Patterns matching everything arq and the broadcast keep under this prefix (tests clean up)."""
        return [f"{self.base}*", f"arq:*:{self.base}*", f"arq:*{self.base}*"]
