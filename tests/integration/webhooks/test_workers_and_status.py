"""Several workers share deliveries; delivery status and redelivery through the partner API."""

from __future__ import annotations

import threading
from decimal import Decimal

from sqlalchemy import select

from optihub.db.models import WebhookDelivery
from optihub.events.worker import DeliveryWorker
from optihub.services import orders
from optihub.surfaces.partner.webhooks import delivery_body
from tests import factories


def test_two_workers_deliver_each_event_exactly_once(db, hooked, key, clock, receiver):
    with db.transaction() as s:
        for n in range(12):
            orders.place_order(
                s,
                factories.actor(hooked["practice"]),
                orders.NewOrder(
                    patient_id=hooked["patient"],
                    external_id=f"P-{n}",
                    lines=[orders.LineItem("Frame", 1, Decimal("10"))],
                ),
            )
    workers = [
        DeliveryWorker(
            db,
            decrypt=key.decrypt,
            allowed_hosts=("127.0.0.0/8",),
            renderers={"partner": delivery_body},
            clock=clock,
        )
        for _ in range(2)
    ]
    try:
        threads = [threading.Thread(target=w.run_once, kwargs={"batch": 5}) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for w in workers:
            while w.run_once(batch=5):
                pass
    finally:
        for w in workers:
            w.close()
    ids = [r["headers"]["X-Webhook-Id"] for r in receiver.requests]
    assert len(ids) == 12
    assert len(set(ids)) == 12
    with db.transaction() as s:
        assert set(s.scalars(select(WebhookDelivery.status))) == {"delivered"}


def test_status_and_redelivery_through_the_partner_api(
    db, hooked, worker, receiver, client, issue_token, clock
):
    receiver.statuses = [500]
    with db.transaction() as s:
        orders.place_order(
            s,
            factories.actor(hooked["practice"]),
            orders.NewOrder(
                patient_id=hooked["patient"],
                external_id="P-1",
                lines=[orders.LineItem("Frame", 1, Decimal("10"))],
            ),
        )
    worker.run_once()
    headers = {
        "Authorization": "Bearer " + issue_token(hooked["practice"], "webhooks:read webhooks:write")
    }
    listed = client.get("/api/v1/partner/webhooks", headers=headers).json()["data"][0]
    assert listed["last_status"] == "failing"
    assert listed["consecutive_failures"] == 1
    assert listed["pending_deliveries"] == 1
    url = f"/api/v1/partner/webhooks/{hooked['subscription']}/deliveries"
    [delivery] = client.get(url, headers=headers).json()["data"]
    assert delivery["status"] == "pending"
    assert delivery["attempt_log"][0]["response_code"] == 500
    again = client.post(f"{url}/{delivery['id']}/redeliver", headers=headers)
    assert again.status_code == 200
    clock.advance(seconds=5)  # the test clock catches up with the wall clock, not the backoff
    worker.run_once()
    assert len(receiver.requests) == 2
    listed = client.get("/api/v1/partner/webhooks", headers=headers).json()["data"][0]
    assert listed["last_status"] == "delivered"
    assert listed["pending_deliveries"] == 0
    [delivery] = client.get(url, headers=headers).json()["data"]
    assert [a["response_code"] for a in delivery["attempt_log"]] == [500, 200]
    missing = client.post(f"{url}/{hooked['subscription']}/redeliver", headers=headers)
    assert missing.status_code == 404
