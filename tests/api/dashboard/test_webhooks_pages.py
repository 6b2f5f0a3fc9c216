"""The webhooks page (/dashboard/webhooks): every dialect's subscriptions of the practice
with their latest deliveries; redeliver and re-enable (manager or owner); staff see it
read-only; another practice's subscription is a 404; CSRF."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from optihub.db.models import (
    AuditEntry,
    Event,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from optihub.services import webhooks
from optihub.services.context import Actor
from tests.api.dashboard.conftest import MANAGER, OWNER, STAFF, text_of

WEBHOOKS = "/dashboard/webhooks"
LONG_AGO = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)


@dataclass(frozen=True)
class Hooks:
    partner: uuid.UUID  # enabled, one failed and one delivered delivery
    fulfillment: uuid.UUID  # disabled after failing
    failed: uuid.UUID  # the partner subscription's failed delivery
    delivered: uuid.UUID
    foreign: uuid.UUID  # the other practice's subscription
    foreign_delivery: uuid.UUID


def _subscription(s, app, practice_id: int, surface: str, url: str, events: list[str]):
    subscription, _secret = webhooks.create_subscription(
        s,
        Actor(practice_id=practice_id, via=surface, client_id="app_feedfeedfeed"),
        surface=surface,
        url=url,
        events=events,
        enabled=True,
        description=None,
        key=app.state.instance_key,
        allowed_hosts=["localhost"],
        event_types=events if events != ["*"] else ["order.created"],
    )
    return subscription


def _delivery(s, subscription, status: str, code: int | None, attempts: int, event_type: str):
    event = Event(
        id="evt_" + uuid.uuid4().hex[:20],
        practice_id=subscription.practice_id,
        type=event_type,
        data={"order_id": "ord_1"},
        created_at=LONG_AGO,
    )
    s.add(event)
    s.flush()
    delivery = WebhookDelivery(
        practice_id=subscription.practice_id,
        subscription_id=subscription.id,
        event_id=event.id,
        event_code=event_type,
        payload="{}",
        status=status,
        attempt_count=attempts,
        last_response_code=code,
        last_error=None if code == 200 else f"HTTP {code}",
        created_at=LONG_AGO,
        delivered_at=LONG_AGO if status == "delivered" else None,
        next_attempt_at=LONG_AGO + timedelta(days=1),
    )
    s.add(delivery)
    s.flush()
    for n in range(attempts):
        s.add(
            WebhookAttempt(
                practice_id=subscription.practice_id,
                delivery_id=delivery.id,
                attempted_at=LONG_AGO + timedelta(minutes=n),
                response_code=code,
                duration_ms=120,
            )
        )
    return delivery


@pytest.fixture
def hooks(db, world, app) -> Hooks:
    with db.transaction() as s:
        partner = _subscription(
            s,
            app,
            world.practice_id,
            "partner",
            "https://localhost/partner-hook",
            ["order.created"],
        )
        failed = _delivery(s, partner, "failed", 503, 3, "order.created")
        delivered = _delivery(s, partner, "delivered", 200, 1, "order.created")
        fulfillment = _subscription(
            s, app, world.practice_id, "fulfillment", "https://localhost/blend-hook", ["*"]
        )
        fulfillment.enabled = False
        fulfillment.last_status = "disabled"
        fulfillment.consecutive_failures = 12
        fulfillment.disabled_at = LONG_AGO
        fulfillment.disabled_reason = "Disabled after failing for 24 hours (12 attempts in a row)"
        foreign = _subscription(
            s, app, world.other_practice_id, "partner", "https://localhost/hilltop", ["*"]
        )
        foreign.enabled = False
        foreign_delivery = _delivery(s, foreign, "failed", 500, 1, "order.created")
    return Hooks(
        partner.id, fulfillment.id, failed.id, delivered.id, foreign.id, foreign_delivery.id
    )


def delivery_of(db, delivery_id: uuid.UUID) -> WebhookDelivery:
    with db.transaction() as s:
        row = s.get(WebhookDelivery, delivery_id)
        assert row is not None
        s.expunge(row)
    return row


def subscription_of(db, subscription_id: uuid.UUID) -> WebhookSubscription:
    with db.transaction() as s:
        row = s.get(WebhookSubscription, subscription_id)
        assert row is not None
        s.expunge(row)
    return row


def test_the_page_lists_every_dialects_subscriptions_with_their_deliveries(hooks, agent):
    page = agent(MANAGER).get(WEBHOOKS)

    assert page.status_code == 200
    assert 'aria-current="page">Webhooks<' in page.text
    text = text_of(page.text)
    assert "Partner API" in text and "Fulfillment API" in text
    assert "https://localhost/partner-hook Active" in text
    assert "https://localhost/blend-hook Disabled" in text
    assert "Disabled after failing for 24 hours (12 attempts in a row)" in text
    assert "every event" in text  # the fulfillment subscription's "all"
    # The delivery log: event, when (the practice's zone, New York), status, attempts, answer.
    assert "order.created 2 Mar 2026, 09:05 Failed 3 HTTP 503" in text
    assert "Delivered" in text and "HTTP 200" in text
    assert "Attempt log" in text
    assert "https://localhost/hilltop" not in text  # another practice's
    assert page.text.count("/redeliver") == 2
    assert f'action="{WEBHOOKS}/{hooks.fulfillment}/enable"' in page.text
    assert f"{hooks.partner}/enable" not in page.text  # enabled: nothing to re-enable


def test_staff_see_the_deliveries_but_cannot_redeliver_or_re_enable(hooks, agent, db):
    staff = agent(STAFF)
    page = staff.get(WEBHOOKS)
    assert page.status_code == 200
    assert "order.created" in page.text
    assert "/redeliver" not in page.text and "/enable" not in page.text

    redeliver = staff.post(f"{WEBHOOKS}/{hooks.partner}/deliveries/{hooks.failed}/redeliver")
    enable = staff.post(f"{WEBHOOKS}/{hooks.fulfillment}/enable")

    assert redeliver.status_code == 403 and enable.status_code == 403
    assert delivery_of(db, hooks.failed).status == "failed"
    assert subscription_of(db, hooks.fulfillment).enabled is False


def test_redeliver_queues_the_delivery_again(hooks, agent, db):
    manager = agent(MANAGER)

    response = manager.post(f"{WEBHOOKS}/{hooks.partner}/deliveries/{hooks.failed}/redeliver")

    assert response.status_code == 303
    assert response.headers["location"] == f"{WEBHOOKS}#sub-{hooks.partner}"
    stored = delivery_of(db, hooks.failed)
    assert stored.status == "pending"
    assert stored.next_attempt_at.replace(tzinfo=UTC) > LONG_AGO + timedelta(days=30)
    assert stored.locked_until is None
    page = text_of(manager.get(WEBHOOKS).text)
    assert "order.created is queued to be sent again to https://localhost/partner-hook." in page
    assert "Retrying" in page  # pending after attempts


def test_redeliver_takes_a_held_delivery_from_its_worker(hooks, agent, db):
    with db.transaction() as s:
        held = s.get(WebhookDelivery, hooks.failed)
        held.locked_until = datetime.now(UTC) + timedelta(seconds=60)
        held.locked_by = "node-a.example:4242"

    response = agent(MANAGER).post(
        f"{WEBHOOKS}/{hooks.partner}/deliveries/{hooks.failed}/redeliver"
    )

    assert response.status_code == 303
    stored = delivery_of(db, hooks.failed)
    assert (stored.status, stored.locked_until, stored.locked_by) == ("pending", None, None)


def test_re_enable_turns_a_disabled_subscription_back_on(hooks, agent, db):
    owner = agent(OWNER)

    response = owner.post(f"{WEBHOOKS}/{hooks.fulfillment}/enable")

    assert response.status_code == 303
    stored = subscription_of(db, hooks.fulfillment)
    assert stored.enabled is True
    assert stored.consecutive_failures == 0
    assert stored.disabled_reason is None
    with db.reading() as r:
        actions = r.scalars(
            select(AuditEntry.action).where(AuditEntry.target_id == str(hooks.fulfillment))
        ).all()
    assert "webhook.updated" in actions
    text = text_of(owner.get(WEBHOOKS).text)
    assert "Deliveries to https://localhost/blend-hook are on again." in text
    assert "https://localhost/blend-hook Active" in text


def test_another_practices_subscription_and_delivery_are_not_found(hooks, agent, db):
    manager = agent(MANAGER)

    paths = (
        f"{WEBHOOKS}/{hooks.foreign}/enable",
        f"{WEBHOOKS}/{hooks.foreign}/deliveries/{hooks.foreign_delivery}/redeliver",
        # Its delivery under one of ours, an unknown id and a malformed one.
        f"{WEBHOOKS}/{hooks.partner}/deliveries/{hooks.foreign_delivery}/redeliver",
        f"{WEBHOOKS}/{uuid.uuid4()}/enable",
        f"{WEBHOOKS}/not-an-id/enable",
    )
    for path in paths:
        response = manager.post(path)
        assert response.status_code == 404, path
        assert "There is no such" in text_of(response.text)
    assert subscription_of(db, hooks.foreign).enabled is False
    assert delivery_of(db, hooks.foreign_delivery).status == "failed"


def test_forms_without_their_csrf_token_are_refused(hooks, agent, db):
    owner = agent(OWNER)
    for path in (
        f"{WEBHOOKS}/{hooks.fulfillment}/enable",
        f"{WEBHOOKS}/{hooks.partner}/deliveries/{hooks.failed}/redeliver",
    ):
        for token in (None, "forged"):
            response = owner.post(path, {"csrf_token": token} if token else {}, csrf=False)
            assert response.status_code == 403, path
    assert subscription_of(db, hooks.fulfillment).enabled is False
    assert delivery_of(db, hooks.failed).status == "failed"


def test_no_subscription_says_so(world, agent):
    page = agent(STAFF).get(WEBHOOKS)
    assert page.status_code == 200
    assert "No app has subscribed to this practice's events yet." in text_of(page.text)
