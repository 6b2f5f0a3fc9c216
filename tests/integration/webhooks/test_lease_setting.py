"""OPTIHUB_WEBHOOK_LEASE_SECONDS: how long a worker's claim on a delivery lasts.

The reliability suite (scripts/reliability.py --short) shortens it to see a killed node's
claims delivered by the other node within seconds; production keeps the 60 s default.
"""

from __future__ import annotations

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
        locked = s.scalar(
            select(WebhookDelivery.locked_until).where(WebhookDelivery.id == job.delivery_id)
        )
    assert locked is not None
    assert locked.replace(tzinfo=None) - clock().replace(tzinfo=None) == timedelta(seconds=7)
