"""Login rate limiting with the `limits` library: a moving window per (account, client address) and a
looser one per client address, both in Redis when REDIS_URL is set (so the limit holds across web workers
and restarts), in memory otherwise.

Only failed attempts are counted, so a staff member who types the password right is never held back by
their colleagues' typos behind the same office NAT beyond the per-address window.
"""

from __future__ import annotations

from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

PER_ACCOUNT = "5/15 minutes"  # failed logins for one username from one address
PER_ADDRESS = "30/15 minutes"  # failed logins from one address, any username


@dataclass
class LoginLimiter:
    storage: Storage
    per_account: RateLimitItem
    per_address: RateLimitItem

    def __post_init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(self.storage)

    @classmethod
    def build(
        cls,
        redis_url: str | None,
        *,
        key_prefix: str = "jamsosbot:login",
        per_account: str = PER_ACCOUNT,
        per_address: str = PER_ADDRESS,
    ) -> LoginLimiter:
        storage: Storage = RedisStorage(redis_url, key_prefix=key_prefix) if redis_url else MemoryStorage()
        return cls(storage, parse(per_account), parse(per_address))

    def allowed(self, username: str, address: str) -> bool:
        """False while either window is full: refuse the attempt without checking the password."""
        account = self._limiter.test(self.per_account, "account", username.lower(), address)
        return account and self._limiter.test(self.per_address, "address", address)

    def failed(self, username: str, address: str) -> None:
        self._limiter.hit(self.per_account, "account", username.lower(), address)
        self._limiter.hit(self.per_address, "address", address)

    def succeeded(self, username: str, address: str) -> None:
        # a right password clears this account's window (not the address's: that guards other accounts)
        self._limiter.clear(self.per_account, "account", username.lower(), address)

    def close(self) -> None:
        if isinstance(self.storage, RedisStorage):
            self.storage.storage.close()
