"""Redis unreachable: rate limits and sign-in throttles count in the process's own memory
(the documented policy, ``optihub.counters``), never fail the request, log the outage once
and go back to Redis by themselves."""

from __future__ import annotations

import dataclasses
import socket

import pytest
from limits import parse
from limits.strategies import FixedWindowRateLimiter
from structlog.testing import capture_logs

from optihub import counters
from optihub.auth.throttle import LoginThrottle
from optihub.counters import SharedCounters
from optihub.errors import RateLimited
from optihub.surfaces.kit.limits import RateLimiter
from tests import factories


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def down_url() -> str:
    return f"redis://127.0.0.1:{closed_port()}/0"


def events(logs: list[dict]) -> list[str]:
    return [entry["event"] for entry in logs]


def test_a_rate_limit_holds_in_the_process_while_redis_is_down(down_url):
    limiter = RateLimiter(down_url)
    with capture_logs() as logs:
        for _ in range(3):
            limiter.hit("3/minute", "practice", "patients", "client:a")
        with pytest.raises(RateLimited) as refused:
            limiter.hit("3/minute", "practice", "patients", "client:a")
        limiter.hit("3/minute", "practice", "patients", "client:b")  # its own budget
    assert 1 <= refused.value.retry_after_seconds <= 61
    assert events(logs) == ["shared_counters_unreachable"]
    assert logs[0]["log_level"] == "warning" and logs[0]["counters"] == "rate_limits"


def test_the_sign_in_throttle_keeps_counting_while_redis_is_down(down_url):
    throttle = LoginThrottle(down_url)
    assert throttle.retry_after("ann@example.com", "10.0.0.1") == 0
    for _ in range(10):
        throttle.failed("ann@example.com", "10.0.0.1")
    assert throttle.retry_after("ann@example.com", "10.0.0.1") > 0


class Flaky:
    """A strategy that fails while ``down`` is set (as a stopped Redis does)."""

    def __init__(self) -> None:
        self.down = False
        self.inner = FixedWindowRateLimiter(counters.MemoryStorage())
        self.calls = 0

    def hit(self, *args):
        self.calls += 1
        if self.down:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        return self.inner.hit(*args)


def test_redis_is_tried_again_and_used_once_it_is_back(monkeypatch):
    monkeypatch.setattr(counters, "RETRY_SECONDS", 0.0)
    shared = SharedCounters(FixedWindowRateLimiter, "", "rate_limits")
    flaky = Flaky()
    shared.shared = flaky  # type: ignore[assignment]
    item = parse("100/minute")
    with capture_logs() as logs:
        assert shared.hit(item, "k")
        flaky.down = True
        assert shared.hit(item, "k")  # counted locally, no error
        assert shared.hit(item, "k")
        flaky.down = False
        before = flaky.calls
        assert shared.hit(item, "k")
        assert flaky.calls == before + 1  # Redis again
    assert events(logs) == ["shared_counters_unreachable", "shared_counters_back"]
    assert not shared.degraded


def test_no_redis_configured_counts_in_memory_without_warnings():
    shared = SharedCounters(FixedWindowRateLimiter, "", "rate_limits")
    assert not shared.remote and not shared.degraded
    with capture_logs() as logs:
        assert shared.hit(parse("1/minute"), "k")
        assert not shared.hit(parse("1/minute"), "k")
    assert logs == []


@pytest.fixture
def settings(settings, down_url):
    """The application's settings with ``OPTIHUB_REDIS_URL`` pointing at a stopped Redis."""
    return dataclasses.replace(settings, redis_url=down_url)


def test_the_dialects_answer_while_redis_is_down(client, db, issue_token):
    with db.transaction() as s:
        practice = factories.practice(s, "Lakeside Eye Care")
    # The practice API is the dialect with a rate limit (counted in Redis when it is set).
    token = issue_token(practice.id, "read:orders read:patients", client_id="practice-app")
    auth = {"Authorization": f"Bearer {token}"}
    fast = client.get(f"/v2/{practice.id}/orders", headers=auth)
    routed = client.get(f"/v2/{practice.id}/patients", headers=auth)
    assert (fast.status_code, routed.status_code) == (200, 200), (fast.text, routed.text)
    assert fast.json()["data"] == routed.json()["data"] == []
    assert client.app.state.surfaces.limiter._limiter.degraded
