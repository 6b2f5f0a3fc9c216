"""An order synced through the portal is the core's: the partner and fulfillment APIs show
it with its mapped status, and moving it through the portal reaches a partner webhook and
a fulfillment notification subscriber, each in its own shape, signed."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select

from optihub.db.models import Event
from optihub.events.signing import verify
from optihub.services import webhooks
from optihub.surfaces.fulfillment.mapping import STATUSES as FULFILLMENT
from optihub.surfaces.partner.mapping import STATUSES as PARTNER
from tests import factories
from tests.api.fulfillment.test_notifications import ALLOWED, receiver, run_worker

__all__ = ["receiver"]  # the fixture, imported to be found here


def order(status: str, **more: Any) -> dict[str, Any]:
    return {
        "externalId": "ORD-7",
        "patientExternalId": "P1",
        "locationExternalId": "L1",
        "physicianExternalId": "D1",
        "orderStatusExternalId": status,
        "type": "Spectacles",
        "orderDetails": [
            {
                "orderDetailExternalId": "1",
                "productDescription": "Progressive lenses",
                "quantity": 1,
                "retailPrice": 320,
                "unitPrice": 320,
                "tax1": 16,
                "tax2": 0,
            }
        ],
    } | more


def subscriber(app, db, practice_id: int, surface: str, url: str, events: list[str]) -> str:
    with db.transaction() as s:
        _, secret = webhooks.create_subscription(
            s,
            factories.actor(practice_id),
            surface=surface,
            url=url,
            events=events,
            enabled=True,
            description=None,
            key=app.state.instance_key,
            allowed_hosts=ALLOWED,
            event_types=app.state.surfaces.webhook_renderers()[surface].events,
        )
    return secret


def test_a_synced_order_shows_in_partner_and_fulfillment_and_its_moves_reach_both(
    app, db, client, sync, post, basics, issue_token, receiver
):
    partner_secret = subscriber(
        app,
        db,
        sync.practice_id,
        "partner",
        receiver["url"] + "/partner",
        ["order.created", "order.status_changed"],
    )
    fulfillment_secret = subscriber(
        app,
        db,
        sync.practice_id,
        "fulfillment",
        receiver["url"] + "/fulfillment",
        ["order.created", "order.status_changed"],
    )

    created = post("Orders", order("S-NEW"))
    assert created.status_code == 200, created.text
    order_id = created.json()["id"]

    partner = {"Authorization": f"Bearer {issue_token(sync.practice_id, 'orders:read')}"}
    shown = client.get(f"/api/v1/partner/orders/{order_id}", headers=partner)
    assert shown.status_code == 200, shown.text
    assert shown.json()["status"] == PARTNER.from_canonical("received")
    assert shown.json()["external_id"] == "ORD-7"

    fulfillment = {"Authorization": f"Bearer {issue_token(sync.practice_id, 'fulfillment:read')}"}
    shown = client.get(f"/fulfillment/v1/orders/{order_id}", headers=fulfillment)
    assert shown.status_code == 200, shown.text
    assert shown.json()["status"] == FULFILLMENT.from_canonical("received")

    # "Ready for pickup" means completed: two lawful steps, each announced.
    moved = post("Orders", order("S-READY"))
    assert moved.status_code == 200, moved.text
    assert moved.headers["X-Portal-Change"] == "updated"
    shown = client.get(f"/api/v1/partner/orders/{order_id}", headers=partner).json()
    assert shown["status"] == PARTNER.from_canonical("completed")
    shown = client.get(f"/fulfillment/v1/orders/{order_id}", headers=fulfillment).json()
    assert shown["status"] == FULFILLMENT.from_canonical("completed")
    with db.reading() as reader:
        types = list(reader.scalars(select(Event.type).order_by(Event.created_at, Event.id)))
    assert types.count("order.created") == 1
    assert types.count("order.status_changed") == 2
    assert types.count("order.completed") == 1

    run_worker(app, db)
    secrets = {"/partner": partner_secret, "/fulfillment": fulfillment_secret}
    got: dict[str, list[dict[str, Any]]] = {path: [] for path in secrets}
    for request in receiver["requests"]:
        headers = request["headers"]
        assert verify(
            secrets[request["path"]],
            headers["X-Webhook-Timestamp"],
            request["body"],
            headers["X-Webhook-Signature"],
        ), request["path"]
        got[request["path"]].append(orjson.loads(request["body"]))

    # Partner shape: {id, type, created_at, practice_id, data}.
    partner_bodies = sorted(got["/partner"], key=lambda b: b["created_at"])
    assert [b["type"] for b in partner_bodies] == [
        "order.created",
        "order.status_changed",
        "order.status_changed",
    ]
    assert all(b["data"]["id"] == order_id for b in partner_bodies)
    assert partner_bodies[-1]["data"]["status"] == PARTNER.from_canonical("completed")
    # Fulfillment shape: {event_code, data} with the order object.
    codes = sorted(b["event_code"] for b in got["/fulfillment"])
    assert codes == ["order.created", "order.status_changed", "order.status_changed"]
    assert all(set(b) == {"event_code", "data"} for b in got["/fulfillment"])
    assert {b["data"]["id"] for b in got["/fulfillment"]} == {order_id}

    # The same body again: nothing changes and nothing more is announced.
    again = post("Orders", order("S-READY"))
    assert again.headers["X-Portal-Change"] == "unchanged"
    assert again.json()["id"] == order_id
    with db.reading() as reader:
        assert len(list(reader.scalars(select(Event.id)))) == len(types)
