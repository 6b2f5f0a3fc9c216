"""Webhook delivery against a real HTTP receiver on loopback."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from optihub.db.models import Event, WebhookDelivery, WebhookSubscription
from optihub.domain.orders import OrderStatus
from optihub.events.worker import LEASE, RETRY_WINDOW
from optihub.services import orders, webhooks
from tests import factories

DOCS = Path(__file__).resolve().parents[3] / "docs" / "webhooks.md"


def documented_verifier():
    """The receiver recipe exactly as docs/webhooks.md prints it."""
    text = DOCS.read_text()
    code = re.search(r"## Verifying a delivery.*?```python\n(.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102  (our own documentation)
    return namespace["verify_optihub_webhook"]


def place_order(db, hooked, external_id="PMS-1"):
    with db.transaction() as s:
        return orders.place_order(
            s,
            factories.actor(hooked["practice"]),
            orders.NewOrder(
                patient_id=hooked["patient"],
                location_id=hooked["location"],
                frame_id=hooked["frame"],
                external_id=external_id,
                lines=[orders.LineItem("Frame", 1, Decimal("189.00"))],
            ),
        ).id


def test_delivery_is_signed_as_documented(db, hooked, worker, receiver):
    order_id = place_order(db, hooked)
    assert worker.run_once() == 1
    [request] = receiver.requests
    headers = request["headers"]
    verify = documented_verifier()
    assert verify(hooked["secret"], headers, request["body"])
    assert not verify("whsec_wrong", headers, request["body"])
    assert not verify(hooked["secret"], headers, request["body"] + b" ")
    old = dict(headers, **{"X-Webhook-Timestamp": str(int(time.time()) - 3600)})
    assert not verify(hooked["secret"], old, request["body"])
    payload = json.loads(request["body"])
    assert payload["type"] == "order.created"
    assert payload["id"] == headers["X-Webhook-Id"]
    assert payload["practice_id"] == hooked["practice"]
    assert payload["data"]["id"] == str(order_id)
    assert payload["data"]["status"] == "pending"
    assert payload["data"]["items"][0]["unit_price"] == "189.00"


def test_failing_receiver_gets_the_same_event_id_after_three_failures(
    db, hooked, worker, receiver, clock
):
    receiver.statuses = [500, 503, 429]
    place_order(db, hooked)
    for _ in range(4):
        worker.run_once()
        clock.advance(hours=2)
    ids = {r["headers"]["X-Webhook-Id"] for r in receiver.requests}
    bodies = {r["body"] for r in receiver.requests}
    assert len(receiver.requests) == 4
    assert len(ids) == 1 and len(bodies) == 1
    with db.transaction() as s:
        delivery = s.scalars(select(WebhookDelivery)).one()
        subscription = s.get(WebhookSubscription, hooked["subscription"])
        assert (delivery.status, delivery.attempt_count) == ("delivered", 4)
        assert subscription.last_status == "delivered"
        assert subscription.consecutive_failures == 0
        records = webhooks.list_deliveries(s, hooked["practice"], "partner", hooked["subscription"])
    assert [a.response_code for a in records[0].attempts] == [500, 503, 429, 200]


def test_backoff_waits_before_retrying(db, hooked, worker, receiver, clock):
    receiver.statuses = [500]
    place_order(db, hooked)
    worker.run_once()
    worker.run_once()  # not due yet
    assert len(receiver.requests) == 1
    clock.advance(seconds=31)
    worker.run_once()
    assert len(receiver.requests) == 2


def test_persistent_failure_disables_the_subscription(db, hooked, worker, receiver, clock):
    receiver.statuses = [500] * 100
    place_order(db, hooked)
    elapsed = 0.0
    while elapsed < RETRY_WINDOW.total_seconds() + 7200:
        worker.run_once()
        clock.advance(hours=1)
        elapsed += 3600
    with db.transaction() as s:
        delivery = s.scalars(select(WebhookDelivery)).one()
        subscription = s.get(WebhookSubscription, hooked["subscription"])
        assert delivery.status == "failed"
        assert subscription.enabled is False
        assert subscription.last_status == "disabled"
        assert "24 hours" in subscription.disabled_reason
    before = len(receiver.requests)
    place_order(db, hooked, "PMS-2")
    worker.run_once()
    assert len(receiver.requests) == before  # a disabled subscription gets nothing new


def test_rolled_back_change_emits_nothing(db, hooked, worker, receiver):
    with pytest.raises(RuntimeError), db.transaction() as s:
        orders.place_order(
            s,
            factories.actor(hooked["practice"]),
            orders.NewOrder(
                patient_id=hooked["patient"],
                external_id="X",
                lines=[orders.LineItem("Frame", 1, Decimal("1"))],
            ),
        )
        raise RuntimeError("the request failed after the order was written")
    worker.run_once()
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 0
    assert receiver.requests == []


def test_status_change_and_completion_events_reach_subscribers(db, hooked, worker, receiver):
    order_id = place_order(db, hooked)
    for status in (OrderStatus.IN_PROGRESS, OrderStatus.COMPLETED):
        with db.transaction() as s:
            orders.change_order_status(s, factories.actor(hooked["practice"]), order_id, status)
    worker.run_once()
    types = [json.loads(r["body"])["type"] for r in receiver.requests]
    assert sorted(types) == sorted(
        ["order.created", "order.status_changed", "order.status_changed", "order.completed"]
    )
    changed = [json.loads(r["body"]) for r in receiver.requests if b"status_changed" in r["body"]]
    assert {c["data"]["previous_status"] for c in changed} == {"pending", "in_progress"}


def test_subscription_filters_event_types(db, hooked, worker, receiver, key):
    with db.transaction() as s:
        s.get(WebhookSubscription, hooked["subscription"]).events = ["inventory.updated"]
    place_order(db, hooked)
    worker.run_once()
    assert receiver.requests == []


def test_address_turned_private_is_refused_at_delivery(db, hooked, key, clock, receiver):
    from optihub.events.worker import DeliveryWorker
    from optihub.surfaces.partner.webhooks import delivery_body

    strict = DeliveryWorker(
        db, decrypt=key.decrypt, allowed_hosts=(), renderers={"partner": delivery_body}, clock=clock
    )
    try:
        place_order(db, hooked)
        strict.run_once()
    finally:
        strict.close()
    assert receiver.requests == []
    with db.transaction() as s:
        delivery = s.scalars(select(WebhookDelivery)).one()
        assert delivery.status == "pending"
        assert "refused" in delivery.last_error


def test_killed_worker_loses_nothing(db, hooked, receiver, tmp_path, worker, clock):
    """A worker process killed while the receiver holds its request: after the lease, the
    next worker delivers the same event again."""
    receiver.hold_seconds = 5
    place_order(db, hooked)
    env = dict(
        os.environ,
        OPTIHUB_DATABASE_URL=db.url,
        OPTIHUB_DATA_DIR=str(tmp_path),
        OPTIHUB_SECRET_KEY="webhook-tests-instance-key",
        OPTIHUB_WEBHOOK_ALLOWED_HOSTS="127.0.0.0/8",
        OPTIHUB_LOG_JSON="true",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "optihub", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.1)
        assert receiver.requests, "the worker process never delivered"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    receiver.hold_seconds = 0
    worker.run_once()  # the lease still holds: nothing is sent twice at once
    assert len(receiver.requests) == 1
    clock.now = clock.now.__class__.now(clock.now.tzinfo) + LEASE + timedelta(seconds=5)
    worker.run_once()
    assert len(receiver.requests) == 2
    assert (
        receiver.requests[0]["headers"]["X-Webhook-Id"]
        == receiver.requests[1]["headers"]["X-Webhook-Id"]
    )
    with db.transaction() as s:
        assert s.scalars(select(WebhookDelivery.status)).one() == "delivered"
