"""/notifications: event codes, subscriptions ("all" or a list) on the shared webhook
engine, samples, a signed test delivery; and one status change reaching a partner webhook
subscriber and a fulfillment subscriber, each in its own shape, signed."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from optihub.db.models import Event, WebhookSubscription
from optihub.events.signing import verify
from optihub.events.worker import DeliveryWorker
from optihub.services import webhooks
from optihub.surfaces.fulfillment.notifications import EVENT_CODES
from tests import factories
from tests.api.fulfillment.conftest import move, order_body, table_counts

ALLOWED = ("127.0.0.0/8",)


@pytest.fixture
def receiver() -> Iterator[dict[str, Any]]:
    """A real HTTP receiver on loopback: every request, by path."""
    state: dict[str, Any] = {"requests": [], "status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state["requests"].append(
                {"path": self.path, "headers": dict(self.headers), "body": body}
            )
            self.send_response(state["status"])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_port}"
    yield state
    server.shutdown()


def subscribe(api, url: str, codes: Any = "all") -> dict[str, Any]:
    response = api.post("/notifications", json={"url": url, "event_codes": codes})
    assert response.status_code == 201, response.text
    return response.json()


def test_events_lists_the_codes_with_descriptions(api):
    response = api.get("/notifications/events")
    assert response.status_code == 200
    events = response.json()
    assert [e["event_code"] for e in events] == list(EVENT_CODES)
    assert set(EVENT_CODES) == {
        "order.created",
        "order.status_changed",
        "order.shipped",
        "order.delivered",
        "order.stuck",
        "order.cancellation_requested",
        "order.replacement_requested",
    }
    assert all(e["description"] for e in events)


def test_subscribe_to_all_or_to_a_list(api, db, world, receiver):
    everything = subscribe(api, receiver["url"] + "/all")
    assert everything["event_codes"] == "all"
    assert everything["secret"].startswith("whsec_")
    assert everything["enabled"] is True
    listed = subscribe(api, receiver["url"] + "/some", ["order.shipped", "order.stuck"])
    assert listed["event_codes"] == ["order.shipped", "order.stuck"]
    with db.transaction() as s:
        stored = {
            str(row.id): (row.surface, list(row.events))
            for row in s.scalars(select(WebhookSubscription))
        }
    assert stored == {
        everything["id"]: ("fulfillment", ["*"]),
        listed["id"]: ("fulfillment", ["order.shipped", "order.stuck"]),
    }
    shown = api.get("/notifications/webhooks").json()
    assert [s["id"] for s in shown] == [everything["id"], listed["id"]]
    assert all("secret" not in s for s in shown)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://hooks.example.com/x", "event_codes": ["order.completed"]}, "event_codes"),
        ({"url": "https://hooks.example.com/x", "event_codes": "everything"}, "event_codes"),
        ({"url": "https://hooks.example.com/x", "event_codes": []}, "event_codes"),
        ({"url": "http://10.1.2.3/hook", "event_codes": "all"}, "url"),
        ({"url": "https://hooks.example.com/x"}, "event_codes"),
        ({"url": "https://hooks.example.com/x", "event_codes": "all", "extra": 1}, "extra"),
    ],
)
def test_bad_subscriptions_are_400_and_write_nothing(api, db, body, field):
    before = table_counts(db)
    response = api.post("/notifications", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["field"] == field, error
    assert table_counts(db) == before


def test_put_changes_url_and_codes(api, receiver):
    created = subscribe(api, receiver["url"] + "/a")
    response = api.put(
        f"/notifications/webhooks/{created['id']}",
        json={"url": receiver["url"] + "/b", "event_codes": ["order.delivered"]},
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["url"] == receiver["url"] + "/b"
    assert changed["event_codes"] == ["order.delivered"]
    back = api.put(f"/notifications/webhooks/{created['id']}", json={"event_codes": "all"})
    assert back.json()["event_codes"] == "all"
    assert back.json()["url"] == receiver["url"] + "/b"
    bad = api.put(f"/notifications/webhooks/{created['id']}", json={"event_codes": ["nope"]})
    assert bad.status_code == 400
    missing = api.put(f"/notifications/webhooks/{uuid.uuid4()}", json={"event_codes": "all"})
    assert missing.status_code == 404
    assert set(missing.json()["error"]) == {"code", "message", "field"}


def test_delete(api, client, receiver):
    created = subscribe(api, receiver["url"])
    response = client.delete(
        f"/fulfillment/v1/notifications/webhooks/{created['id']}", headers=api.headers
    )
    assert response.status_code == 204
    assert api.get("/notifications/webhooks").json() == []
    again = client.delete(
        f"/fulfillment/v1/notifications/webhooks/{created['id']}", headers=api.headers
    )
    assert again.status_code == 404


def test_another_practice_or_surface_cannot_touch_a_subscription(
    api, client, db, world, issue_token, receiver
):
    created = subscribe(api, receiver["url"])
    other = issue_token(world.other_practice_id, "fulfillment:read fulfillment:write")
    response = client.put(
        f"/fulfillment/v1/notifications/webhooks/{created['id']}",
        headers={"Authorization": f"Bearer {other}"},
        json={"event_codes": "all"},
    )
    assert response.status_code == 404
    # A partner subscription of the same practice is not a notification subscription.
    with db.transaction() as s:
        partner, _ = webhooks.create_subscription(
            s,
            factories.actor(world.practice_id),
            surface="partner",
            url=receiver["url"],
            events=["*"],
            enabled=True,
            description=None,
            key=client.app.state.instance_key,
            allowed_hosts=ALLOWED,
        )
    assert api.put(
        f"/notifications/webhooks/{partner.id}", json={"event_codes": "all"}
    ).status_code == (404)


@pytest.mark.parametrize("code", EVENT_CODES)
def test_sample_of_every_code(api, code):
    response = api.get(f"/notifications/sample/{code}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["event_code"] == code
    preview = body["payload_preview"]
    assert preview["event_code"] == code
    assert preview["data"]["status_name"] == preview["data"]["status"].capitalize()
    assert {"id", "order_number", "products", "patient"} <= set(preview["data"])


def test_sample_of_an_unknown_code_is_404_in_the_envelope(api):
    response = api.get("/notifications/sample/order.completed")
    assert response.status_code == 404
    assert set(response.json()["error"]) == {"code", "message", "field"}


def test_post_sample_sends_a_signed_test_delivery(api, receiver):
    created = subscribe(api, receiver["url"] + "/hook", ["order.created"])
    response = api.post(
        "/notifications/sample",
        json={"event_code": "order.shipped", "webhook_url": receiver["url"] + "/hook"},
    )
    assert response.status_code == 200, response.text
    sent = response.json()
    assert sent["delivered"] is True
    assert sent["status_code"] == 200
    assert sent["error"] is None
    [request] = receiver["requests"]
    headers = request["headers"]
    assert headers["X-Webhook-Id"] == sent["webhook_id"]
    assert headers["X-Webhook-Test"] == "1"
    assert verify(
        created["secret"],
        headers["X-Webhook-Timestamp"],
        request["body"],
        headers["X-Webhook-Signature"],
    )
    body = orjson.loads(request["body"])
    assert body == api.get("/notifications/sample/order.shipped").json()["payload_preview"]


def test_post_sample_reports_a_failing_receiver(api, receiver):
    subscribe(api, receiver["url"] + "/hook")
    receiver["status"] = 500
    sent = api.post(
        "/notifications/sample",
        json={"event_code": "order.created", "webhook_url": receiver["url"] + "/hook"},
    ).json()
    assert sent["delivered"] is False
    assert sent["status_code"] == 500


def test_post_sample_only_to_a_subscribed_url_and_a_known_code(api, receiver, db):
    subscribe(api, receiver["url"] + "/hook")
    before = table_counts(db)
    unknown_url = api.post(
        "/notifications/sample",
        json={"event_code": "order.created", "webhook_url": "https://elsewhere.example.com/x"},
    )
    assert unknown_url.status_code == 400
    assert unknown_url.json()["error"]["field"] == "webhook_url"
    unknown_code = api.post(
        "/notifications/sample",
        json={"event_code": "order.completed", "webhook_url": receiver["url"] + "/hook"},
    )
    assert unknown_code.status_code == 400
    assert unknown_code.json()["error"]["field"] == "event_code"
    assert receiver["requests"] == []
    assert table_counts(db) == before


def test_post_sample_checks_the_address_at_sending(api, app, receiver):
    subscribe(api, receiver["url"] + "/hook")
    # The operator no longer allows loopback: the test delivery is refused, nothing sent.
    app.state.settings = app.state.settings.__class__(
        **{**vars(app.state.settings), "webhook_allowed_hosts": ()}
    )
    sent = api.post(
        "/notifications/sample",
        json={"event_code": "order.created", "webhook_url": receiver["url"] + "/hook"},
    ).json()
    assert sent["delivered"] is False
    assert sent["error"].startswith("refused:")
    assert receiver["requests"] == []


# -- through the engine -------------------------------------------------------------------


def run_worker(app, db) -> None:
    worker = DeliveryWorker(
        db,
        decrypt=app.state.instance_key.decrypt,
        allowed_hosts=ALLOWED,
        renderers=app.state.surfaces.webhook_renderers(),
    )
    try:
        while worker.run_once():
            pass
    finally:
        worker.close()


def test_a_status_change_reaches_partner_and_fulfillment_subscribers(api, app, db, world, receiver):
    everything = subscribe(api, receiver["url"] + "/fulfillment-all")
    shipped_only = subscribe(api, receiver["url"] + "/fulfillment-shipped", ["order.shipped"])
    with db.transaction() as s:
        _, partner_secret = webhooks.create_subscription(
            s,
            factories.actor(world.practice_id),
            surface="partner",
            url=receiver["url"] + "/partner",
            events=["order.status_changed"],
            enabled=True,
            description=None,
            key=app.state.instance_key,
            allowed_hosts=ALLOWED,
        )
    order = api.post("/orders", json=order_body(world)).json()
    move(db, world.practice_id, order["id"], "picked", "shipped")
    run_worker(app, db)

    secrets = {
        "/fulfillment-all": everything["secret"],
        "/fulfillment-shipped": shipped_only["secret"],
        "/partner": partner_secret,
    }
    got: dict[str, list[dict[str, Any]]] = {path: [] for path in secrets}
    for request in receiver["requests"]:
        headers = request["headers"]
        assert verify(
            secrets[request["path"]],
            headers["X-Webhook-Timestamp"],
            request["body"],
            headers["X-Webhook-Signature"],
        ), request["path"]
        got[request["path"]].append(
            orjson.loads(request["body"]) | {"_id": headers["X-Webhook-Id"]}
        )

    # Partner shape: {id, type, created_at, practice_id, data} in the partner's words.
    partner = sorted(got["/partner"], key=lambda b: b["created_at"])
    assert [b["type"] for b in partner] == ["order.status_changed"] * 2
    assert all(b["data"]["id"] == order["id"] for b in partner)
    assert partner[-1]["data"]["status"] == "shipped"
    assert "event_code" not in partner[-1]

    # Fulfillment shape: {event_code, data} with the order object and status_name.
    [shipped] = got["/fulfillment-shipped"]
    assert shipped["event_code"] == "order.shipped"
    assert shipped["data"]["id"] == order["id"]
    assert shipped["data"]["order_number"] == order["order_number"]
    assert shipped["data"]["status"] == "shipped"
    assert shipped["data"]["status_name"] == "Shipped"
    assert shipped["data"]["previous_status"] == "picked"
    assert shipped["_id"].endswith(":order.shipped")

    codes = sorted(b["event_code"] for b in got["/fulfillment-all"])
    assert codes == [
        "order.created",
        "order.shipped",
        "order.status_changed",
        "order.status_changed",
    ]
    assert all(set(b) == {"event_code", "data", "_id"} for b in got["/fulfillment-all"])
    # The shipping event: one event, two codes, ids distinct per code.
    ids = {b["event_code"]: b["_id"] for b in got["/fulfillment-all"]}
    assert ids["order.shipped"] == partner[-1]["id"] + ":order.shipped"


def test_requests_record_their_events_and_reach_subscribers(api, app, db, world, receiver):
    subscribe(
        api,
        receiver["url"] + "/requests",
        ["order.cancellation_requested", "order.replacement_requested"],
    )
    first = api.post("/orders", json=order_body(world, external_id="C-1")).json()
    response = api.post(
        f"/orders/{first['id']}/cancellation_request", json={"comments": "ordered twice"}
    )
    assert response.status_code == 200, response.text
    second = api.post("/orders", params={"force_new": "true"}, json=order_body(world)).json()
    move(db, world.practice_id, second["id"], "picked", "shipped")
    response = api.post(f"/orders/{second['id']}/replacement_request", json={"reason": "scratched"})
    assert response.status_code == 200, response.text
    with db.transaction() as s:
        recorded = {
            e.type: e.data
            for e in s.scalars(select(Event).where(Event.type.like("order.%_requested")))
        }
    assert recorded["order.cancellation_requested"]["id"] == first["id"]
    assert recorded["order.cancellation_requested"]["comments"] == "ordered twice"
    assert recorded["order.replacement_requested"]["id"] == second["id"]
    assert recorded["order.replacement_requested"]["reason"] == "scratched"
    run_worker(app, db)
    bodies = {
        b["event_code"]: b["data"] for b in (orjson.loads(r["body"]) for r in receiver["requests"])
    }
    assert set(bodies) == {"order.cancellation_requested", "order.replacement_requested"}
    assert bodies["order.cancellation_requested"]["cancellation_requested"] is True
    assert bodies["order.cancellation_requested"]["comments"] == "ordered twice"
    assert bodies["order.replacement_requested"]["replacement_request_status"] == "pending"
    assert bodies["order.replacement_requested"]["reason"] == "scratched"


def test_a_refused_request_records_no_event(api, db, world):
    order = api.post("/orders", json=order_body(world)).json()
    refused = api.post(f"/orders/{order['id']}/replacement_request", json={"reason": "early"})
    assert refused.status_code == 409
    with db.transaction() as s:
        assert s.scalar(select(Event).where(Event.type == "order.replacement_requested")) is None


def test_a_stuck_order_reaches_its_subscribers_once(api, app, db, world, receiver):
    from datetime import timedelta

    from optihub.db.base import utcnow
    from optihub.db.models import Order
    from optihub.services import stuck_orders

    subscribe(api, receiver["url"] + "/stuck", ["order.stuck"])
    address = {"address_1": "1 Navy Way", "city": "Arlington", "zip_code": "22201"}
    order = api.post(
        "/orders",
        json=order_body(world, patient_id=str(world.bare_patient_id), address=address),
    )
    assert order.status_code == 201, order.text
    body = order.json()
    [lens] = body["products"]["prescription"]
    assert lens["prescription_id"] is None
    with db.transaction() as s:
        stored = s.get(Order, uuid.UUID(body["id"]))
        assert stored is not None
        stored.created_at = utcnow() - timedelta(hours=30)
    for _ in range(2):
        with db.transaction() as s:
            stuck_orders.record_stuck_orders(s, utcnow())
    run_worker(app, db)
    [request] = receiver["requests"]
    delivered = orjson.loads(request["body"])
    assert delivered["event_code"] == "order.stuck"
    assert delivered["data"]["id"] == body["id"]
    assert delivered["data"]["status_name"] == "Received"
    assert delivered["data"]["unmatched_line_ids"] == [lens["id"]]
    assert delivered["data"]["stuck_at"]
