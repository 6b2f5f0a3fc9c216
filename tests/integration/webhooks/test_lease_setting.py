"""OPTIHUB_WEBHOOK_LEASE_SECONDS: how long a worker's claim on a delivery lasts.

The reliability suite (scripts/reliability.py --short) shortens it to see a killed node's
claims delivered by the other node within seconds; production keeps the 60 s default.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

import pytest
from sqlalchemy import select

from optihub.app import build_worker, create_app
from optihub.db.models import WebhookDelivery
from optihub.events.relay import relay_events
from optihub.events.worker import LEASE
from optihub.settings import Settings

from .test_delivery import place_order


def test_lease_defaults_to_sixty_seconds():
    assert Settings.from_env({}).webhook_lease_seconds == 60 == LEASE.total_seconds()


def test_lease_is_read_from_the_environment():
    settings = Settings.from_env({"OPTIHUB_WEBHOOK_LEASE_SECONDS": "12"})
    assert settings.webhook_lease_seconds == 12
    with pytest.raises(ValueError, match="OPTIHUB_WEBHOOK_LEASE_SECONDS"):
        Settings.from_env({"OPTIHUB_WEBHOOK_LEASE_SECONDS": "0"})


def test_the_server_worker_claims_for_the_configured_lease(db):
    settings = Settings.from_env(
        {
            "OPTIHUB_DATABASE_URL": db.url,
            "OPTIHUB_SECRET_KEY": "lease-test-key",
            "OPTIHUB_WEBHOOK_LEASE_SECONDS": "7",
        }
    )
    worker = build_worker(create_app(settings, database=db))
    try:
        assert worker.lease == timedelta(seconds=7)
    finally:
        worker.close()


def test_a_claim_lasts_the_lease(db, hooked, worker, clock):
    worker.lease = timedelta(seconds=7)
    place_order(db, hooked)
    with db.transaction() as s:
        relay_events(s, clock(), worker.renderers)
    [job] = worker._claim(clock(), 10)
    with db.transaction() as s:
        locked, holder = s.execute(
            select(WebhookDelivery.locked_until, WebhookDelivery.locked_by).where(
                WebhookDelivery.id == job.delivery_id
            )
        ).one()
    assert locked is not None
    assert locked.replace(tzinfo=None) - clock().replace(tzinfo=None) == timedelta(seconds=7)
    # Who holds it: this worker's host and process, for an operator and the reliability run.
    assert holder == worker.holder == f"{socket.gethostname()}:{os.getpid()}"


def test_the_holder_is_cleared_with_the_lease_when_the_attempt_is_recorded(
    db, hooked, worker, clock
):
    place_order(db, hooked)
    with db.transaction() as s:
        relay_events(s, clock(), worker.renderers)
    worker.holder = "node-a.example:4242"
    [job] = worker._claim(clock(), 10)
    with db.transaction() as s:
        assert (
            s.scalar(select(WebhookDelivery.locked_by).where(WebhookDelivery.id == job.delivery_id))
            == "node-a.example:4242"
        )
    # Node A's lease runs out unsent; node B claims it, sends it and records the answer.
    clock.advance(seconds=61)
    worker.holder = "node-b.example:77"
    assert worker.run_once() == 1
    with db.transaction() as s:
        row = s.execute(
            select(
                WebhookDelivery.attempt_count,
                WebhookDelivery.locked_until,
                WebhookDelivery.locked_by,
            ).where(WebhookDelivery.id == job.delivery_id)
        ).one()
    assert tuple(row) == (1, None, None)  # sent once, by B; no one holds it now
