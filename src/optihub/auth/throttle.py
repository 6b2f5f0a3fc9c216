"""Sign-in throttling: repeated failures per account and per address are slowed down.

Counters live in memory, or in Redis when ``OPTIHUB_REDIS_URL`` is set so every process
shares them.
"""

from __future__ import annotations

import time

from limits import parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

PER_ACCOUNT = parse("5/15 minutes")
PER_ADDRESS = parse("30/15 minutes")


class LoginThrottle:
    def __init__(self, redis_url: str = "") -> None:
        storage = storage_from_string(redis_url) if redis_url else MemoryStorage()
        self._limiter = MovingWindowRateLimiter(storage)

    def retry_after(self, email: str, address: str) -> int:
        """Seconds until another attempt is allowed; 0 when one is allowed now."""
        waits = []
        for limit, key in ((PER_ACCOUNT, email.lower()), (PER_ADDRESS, address)):
            if not self._limiter.test(limit, "login", key):
                reset, _remaining = self._limiter.get_window_stats(limit, "login", key)
                waits.append(max(1, int(reset - time.time())))
        return max(waits, default=0)

    def failed(self, email: str, address: str) -> None:
        self._limiter.hit(PER_ACCOUNT, "login", email.lower())
        self._limiter.hit(PER_ADDRESS, "login", address)

    def succeeded(self, email: str) -> None:
        self._limiter.clear(PER_ACCOUNT, "login", email.lower())
