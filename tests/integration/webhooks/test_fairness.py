"""One failing subscriber does not starve the others.

A subscriber whose host's lookup hangs, or whose receiver never answers, has older
deliveries due than a healthy one (so a claim in due order would take only the failing
one's). The claim goes round robin across subscriptions with a bounded share each, a
lookup has a deadline, and the healthy subscriber's deliveries arrive in the first claim;
the failing one's attempts are recorded with the reason.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from optihub.db.base import utcnow
from optihub.db.models import WebhookAttempt, WebhookDelivery
from optihub.events.relay import relay_events
from optihub.events.worker import DeliveryWorker
from optihub.services import webhooks
from optihub.surfaces.partner.webhooks import delivery_body

from .test_delivery_isolation import place_order, practice_with_subscription

STUCK_HOST = "stuck.test"
FAILING = 20  # the failing subscriber's deliveries, all older than the healthy one's
HEALTHY = 5
SHARE = 5  # of one subscription per claim
BATCH = 20  # one claim: without a share, the failing subscriber's 20 fill it


@pytest.fixture
def hanging_dns(monkeypatch):
    """``stuck.test`` resolves to 127.0.0.1 while its subscription is made; afterwards a
    lookup of it hangs until released (at the latest when the test ends). Lookups are
    counted."""
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["127.0.0.1"])
    released = threading.Event()
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        if host == STUCK_HOST:
            released.wait()
            raise OSError("gave up")
        return [host]

    yield resolver, asked, released.set
    released.set()


@pytest.fixture
def silent_receiver():
    """A loopback port whose connections are taken (by the kernel) and never answered."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    listener.close()


def make_worker(db, key, clock, **options: Any) -> DeliveryWorker:
    return DeliveryWorker(
        db,
        decrypt=key.decrypt,
        allowed_hosts=("127.0.0.0/8",),
        renderers={"partner": delivery_body},
        clock=clock,
        share=SHARE,
        **options,
    )


def failing_then_healthy(db, key, clock, failing_url: str, healthy_url: str):
    """The failing subscriber's deliveries relayed first, the healthy one's a second later."""
    failing = practice_with_subscription(db, key, failing_url)
    healthy = practice_with_subscription(db, key, healthy_url)
    for n in range(FAILING):
        place_order(db, failing, f"F-{n}")
    with db.transaction() as s:
        relay_events(s, clock(), {"partner": delivery_body})
    clock.advance(seconds=1)
    for n in range(HEALTHY):
        place_order(db, healthy, f"H-{n}")
    return failing, healthy


def deliveries_of(db, practice) -> list[WebhookDelivery]:
    with db.transaction() as s:
        return list(
            s.scalars(
                select(WebhookDelivery).where(
                    WebhookDelivery.subscription_id == practice["subscription"]
                )
            )
        )


def first_claim(worker: DeliveryWorker) -> int:
    """One claim of ``BATCH``, sent and recorded (on a thread: without a deadline on the
    lookup it would never end, and the test must fail rather than hang)."""
    attempted: list[int] = []
    run = threading.Thread(target=lambda: attempted.append(worker.run_once(batch=BATCH)))
    run.daemon = True
    run.start()
    run.join(timeout=60)
    assert attempted, "the first claim never finished"
    return attempted[0]


def test_a_hanging_lookup_does_not_hold_back_another_subscriber(
    db, key, clock, receiver, hanging_dns
):
    resolver, asked, release = hanging_dns
    failing, healthy = failing_then_healthy(
        db, key, clock, f"http://{STUCK_HOST}:8080/hook", receiver.url
    )
    worker = make_worker(db, key, clock, resolver=resolver, lookup_timeout=0.2)
    try:
        attempted = first_claim(worker)
    finally:
        release()  # a worker without a deadline would wait for the lookup as it closes
        worker.close()

    assert attempted == SHARE + HEALTHY
    assert len(receiver.requests) == HEALTHY
    assert {d.status for d in deliveries_of(db, healthy)} == {"delivered"}
    tried = [d for d in deliveries_of(db, failing) if d.attempt_count]
    assert len(tried) == SHARE  # its share of the claim, no more
    for delivery in tried:
        assert delivery.status == "pending"
        assert delivery.last_error == (
            f"refused: The host {STUCK_HOST} did not resolve within 0.2 s."
        )
        assert delivery.locked_until is None
    assert asked.count(STUCK_HOST) == 1  # one lookup per host per claim


def test_a_receiver_that_never_answers_does_not_hold_back_another_subscriber(
    db, key, clock, receiver, silent_receiver
):
    failing, healthy = failing_then_healthy(db, key, clock, silent_receiver, receiver.url)
    worker = make_worker(db, key, clock, timeout=0.5)
    try:
        attempted = first_claim(worker)
    finally:
        worker.close()

    assert attempted == SHARE + HEALTHY
    assert len(receiver.requests) == HEALTHY
    assert {d.status for d in deliveries_of(db, healthy)} == {"delivered"}
    tried = [d for d in deliveries_of(db, failing) if d.attempt_count]
    assert len(tried) == SHARE
    assert {d.last_error for d in tried} == {"timed out after 0.5 s"}
    with db.transaction() as s:
        logged = s.scalars(
            select(WebhookAttempt.error).where(
                WebhookAttempt.delivery_id.in_([d.id for d in tried])
            )
        ).all()
    assert logged == ["timed out after 0.5 s"] * SHARE


def test_a_delivery_that_cannot_start_within_half_its_lease_is_given_back_unsent(
    db, key, clock, silent_receiver
):
    """One request at a time to a receiver that never answers: those still waiting their
    turn at half the lease are returned unattempted (claimable again at once), so no
    other worker sends them while this one still holds them."""
    failing = practice_with_subscription(db, key, silent_receiver)
    for n in range(FAILING):
        place_order(db, failing, f"F-{n}")
    worker = make_worker(
        db, key, clock, timeout=0.4, per_subscription=1, lease=timedelta(seconds=2)
    )
    try:
        first_claim(worker)
    finally:
        worker.close()

    deliveries = deliveries_of(db, failing)
    tried = [d for d in deliveries if d.attempt_count]
    returned = [d for d in deliveries if not d.attempt_count]
    assert tried and returned
    assert len(tried) < SHARE
    assert {d.last_error for d in tried} == {"timed out after 0.4 s"}
    for delivery in returned:
        assert (delivery.status, delivery.locked_until, delivery.last_error) == (
            "pending",
            None,
            None,
        )


def wait_until(condition: Any, limit: float = 60.0) -> None:
    """Poll ``condition`` until it holds (the limit only ends a test that would hang)."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.02)


def test_while_a_failing_subscriber_waits_for_its_timeouts_the_running_worker_delivers_others(
    db, key, receiver, silent_receiver
):
    """The running worker holds the failing subscriber's share (and claims no more of it)
    while those requests wait for their timeout; deliveries for another subscriber made
    meanwhile are claimed and arrive before any of those timeouts ends."""
    failing = practice_with_subscription(db, key, silent_receiver)
    healthy = practice_with_subscription(db, key, receiver.url)
    for n in range(FAILING):
        place_order(db, failing, f"F-{n}")
    worker = make_worker(db, key, utcnow, timeout=8.0)
    running = threading.Thread(target=worker.run_forever, kwargs={"interval": 0.05}, daemon=True)
    running.start()
    try:
        wait_until(lambda: leased(db, failing) == SHARE)
        for n in range(HEALTHY):
            place_order(db, healthy, f"H-{n}")
        wait_until(lambda: len(receiver.requests) == HEALTHY)
        wait_until(lambda: {d.status for d in deliveries_of(db, healthy)} == {"delivered"})
        assert [d for d in deliveries_of(db, failing) if d.attempt_count] == []
        assert leased(db, failing) == SHARE
    finally:
        worker.stop()
        running.join(timeout=60)
        worker.close()
    assert {d.last_error for d in deliveries_of(db, failing) if d.attempt_count} == {
        "timed out after 8 s"
    }


def leased(db, practice) -> int:
    return sum(1 for d in deliveries_of(db, practice) if d.locked_until is not None)
