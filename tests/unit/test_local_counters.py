"""The in-memory counters (no Redis): the limits hold, no thread is started per hit, and
counters of clients not seen again are swept once their window has passed."""

from __future__ import annotations

import threading
import time

from limits import parse
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from optihub import counters
from optihub.counters import LocalStorage


def test_fixed_and_moving_windows_hold_their_limit():
    item = parse("3/minute")
    for strategy in (FixedWindowRateLimiter, MovingWindowRateLimiter):
        limiter = strategy(LocalStorage())
        assert [limiter.hit(item, "client") for _ in range(4)] == [True, True, True, False]
        assert limiter.hit(item, "another client")


def test_hits_start_no_thread(monkeypatch):
    started: list[threading.Thread] = []
    original = threading.Thread.start

    def start(self):
        started.append(self)
        original(self)

    limiter = FixedWindowRateLimiter(LocalStorage())
    monkeypatch.setattr(threading.Thread, "start", start)
    for n in range(5):
        limiter.hit(parse("1000/minute"), "client", str(n))
        time.sleep(0.02)  # longer than limits' own expiry timer lives
    assert started == []


def test_counters_past_their_window_are_swept(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(counters.time, "monotonic", lambda: now[0])
    storage = LocalStorage()
    limiter = FixedWindowRateLimiter(storage)
    item = parse("5/second")
    for n in range(40):
        limiter.hit(item, "client", str(n))
    assert len(storage.storage) == 40
    expired = {key: at - 2 for key, at in storage.expirations.items()}
    storage.expirations.update(expired)  # their second is over
    now[0] += LocalStorage.SWEEP_SECONDS  # the next hit may sweep
    limiter.hit(item, "a new client")
    assert len(storage.storage) == 1
