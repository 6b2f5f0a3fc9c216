"""Counters shared by every process (rate limits, sign-in throttles): in Redis when
``OPTIHUB_REDIS_URL`` is set, in this process's memory otherwise.

When Redis cannot be reached the policy is **a local limit**: each process counts in its
own memory for a while (``RETRY_SECONDS``), logs ``shared_counters_unreachable`` once per
outage, then tries Redis again, and logs ``shared_counters_back`` when it answers. So an
outage never turns a request into an error, and limits still hold per process (with N
processes a client may get up to N times its limit until Redis is back). Redis calls carry
a short socket timeout, so a hung Redis costs at most that per try.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Generic, TypeVar

import structlog
from limits import RateLimitItem
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

__all__ = ["LocalStorage", "MemoryStorage", "SharedCounters"]

log = structlog.get_logger("optihub.counters")

# How long a process counts locally after Redis failed before it tries Redis again.
RETRY_SECONDS = 5.0
# Socket timeouts of each Redis call (connect, then read), seconds.
CONNECT_TIMEOUT = 0.5
CALL_TIMEOUT = 0.5

Strategy = TypeVar("Strategy", FixedWindowRateLimiter, MovingWindowRateLimiter)


class LocalStorage(MemoryStorage):
    """``limits``' in-memory counters without their expiry thread.

    ``MemoryStorage`` drops expired counters from a ``threading.Timer`` it starts again
    10 ms after the last one ended, whenever a counter is hit: under load, a new thread
    every few requests (py-spy: 4–5 % of a create's interpreter time, on the event loop).
    Here an expired counter is dropped when it is read (``MemoryStorage.get`` does so), and
    the rest are swept on a hit at most once every ``SWEEP_SECONDS``, on the hitting
    thread: the memory stays bounded by the clients seen in a window, as before."""

    SWEEP_SECONDS = 1.0

    def __init__(self) -> None:
        super().__init__()
        self._sweep_at = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 (limits' private hook)
        now = time.monotonic()
        if now >= self._sweep_at:
            self._sweep_at = now + self.SWEEP_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


class SharedCounters(Generic[Strategy]):
    """One ``limits`` strategy over Redis, with the same strategy in memory as the fallback
    while Redis is unreachable (see the module's text)."""

    def __init__(self, strategy: type[Strategy], redis_url: str = "", name: str = "") -> None:
        self.name = name
        self.local: Strategy = strategy(LocalStorage())
        self.shared: Strategy | None = None
        if redis_url:
            storage = storage_from_string(
                redis_url,
                socket_connect_timeout=CONNECT_TIMEOUT,
                socket_timeout=CALL_TIMEOUT,
            )
            self.shared = strategy(storage)
        self._retry_at = 0.0
        self._lock = threading.Lock()

    @property
    def remote(self) -> bool:
        """True when the counters live in Redis (a call is a network round trip)."""
        return self.shared is not None

    @property
    def degraded(self) -> bool:
        """True while this process counts locally because Redis failed."""
        return self.shared is not None and time.monotonic() < self._retry_at

    def _call(self, method: str, *args: Any) -> Any:
        shared = self.shared
        if shared is None or time.monotonic() < self._retry_at:
            return getattr(self.local, method)(*args)
        try:
            answer = getattr(shared, method)(*args)
        except Exception as exc:
            with self._lock:
                first = self._retry_at == 0.0  # not already in an outage
                self._retry_at = time.monotonic() + RETRY_SECONDS
            if first:
                log.warning(
                    "shared_counters_unreachable",
                    counters=self.name,
                    error=type(exc).__name__,
                    policy=f"counting in this process; Redis tried again every {RETRY_SECONDS:g} s",
                )
            return getattr(self.local, method)(*args)
        if self._retry_at != 0.0:
            with self._lock:
                self._retry_at = 0.0  # back: the next failure is a new outage
            log.info("shared_counters_back", counters=self.name)
        return answer

    def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        return bool(self._call("hit", item, *identifiers))

    def test(self, item: RateLimitItem, *identifiers: str) -> bool:
        return bool(self._call("test", item, *identifiers))

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> tuple[float, int]:
        stats = self._call("get_window_stats", item, *identifiers)
        return float(stats[0]), int(stats[1])

    def clear(self, item: RateLimitItem, *identifiers: str) -> None:
        self._call("clear", item, *identifiers)
