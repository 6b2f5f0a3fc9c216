"""Per-surface event codes: a surface's subscribers choose among its own codes, a core
event produces the codes the surface's matcher says (each once per subscription), and the
shared engine delivers each code in the surface's shape, signed and retried. Surfaces
without a matcher keep the core's types as codes (the partner surface, unchanged)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from alembic import command
from sqlalchemy import create_engine, select, text

from optihub.auth.keys import InstanceKey
from optihub.db.base import utcnow
from optihub.db.migrate import alembic_config, upgrade
from optihub.db.models import Event, OrderLine, WebhookDelivery
from optihub.domain.events import EVENT_TYPES, EventType
from optihub.domain.orders import OrderStatus
from optihub.events.relay import relay_events, webhook_id
from optihub.events.signing import verify
from optihub.events.worker import DeliveryWorker
from optihub.services import orders, stuck_orders, webhooks
from optihub.surfaces.kit import WebhookShape
from tests import factories

CODES = (
    "order.created",
    "order.status_changed",
    "order.shipped",
    "order.delivered",
    "order.stuck",
    "order.cancellation_requested",
    "order.replacement_requested",
)


def fulfillment_like_match(type: str, data: Mapping[str, Any]) -> Iterator[str]:
    """As the fulfillment dialect matches: a status change to shipped (delivered) is also
    ``order.shipped`` (``order.delivered``); other core events keep their type."""
    yield type
    if type == "order.status_changed" and data.get("previous_status") != data.get("status"):
        if data.get("status") == "shipped":
            yield "order.shipped"
        if data.get("status") == "delivered":
            yield "order.delivered"


def render(_session: Any, event: Event, code: str) -> dict[str, Any]:
    return {"event_code": code, "data": {"id": event.data["id"], "status": event.data["status"]}}


SHAPE = WebhookShape(events=CODES, match=fulfillment_like_match, render_code=render)
PARTNER_LIKE = WebhookShape(
    events=tuple(EventType), render=lambda _s, e: {"type": e.type, "id": e.data.get("id")}
)
RENDERERS = {"shop": SHAPE, "partner": PARTNER_LIKE}
ALLOWED = ("127.0.0.0/8",)


# -- the shape ------------------------------------------------------------------------------


def test_the_default_matcher_is_identity_on_the_surface_events():
    assert PARTNER_LIKE.codes("order.created", {}) == ("order.created",)
    assert PARTNER_LIKE.codes("inventory.updated", {}) == ("inventory.updated",)
    # Core events the surface does not offer produce nothing for its subscribers.
    assert PARTNER_LIKE.codes("order.stuck", {}) == ()
    assert PARTNER_LIKE.codes("order.cancellation_requested", {}) == ()


def test_a_matcher_gives_codes_of_the_surface_each_once():
    shipped = {"status": "shipped", "previous_status": "in_progress"}
    assert SHAPE.codes("order.status_changed", shipped) == (
        "order.status_changed",
        "order.shipped",
    )
    delivered = {"status": "delivered", "previous_status": "shipped"}
    assert SHAPE.codes("order.status_changed", delivered) == (
        "order.status_changed",
        "order.delivered",
    )
    picked = {"status": "in_progress", "previous_status": "received"}
    assert SHAPE.codes("order.status_changed", picked) == ("order.status_changed",)
    # order.completed is not one of the codes: nothing.
    assert SHAPE.codes("order.completed", picked) == ()
    twice = WebhookShape(events=CODES, match=lambda t, d: [t, t], render_code=render)
    assert twice.codes("order.stuck", {}) == ("order.stuck",)


def test_a_shape_takes_exactly_one_renderer():
    with pytest.raises(ValueError, match="exactly one"):
        WebhookShape(events=CODES)
    with pytest.raises(ValueError, match="exactly one"):
        WebhookShape(events=CODES, render=lambda s, e: {}, render_code=render)


def test_the_new_core_event_types_exist():
    for name in ("order.cancellation_requested", "order.replacement_requested", "order.stuck"):
        assert name in EVENT_TYPES
        assert name not in tuple(EventType)  # what the partner surface offers is unchanged


# -- fan-out --------------------------------------------------------------------------------


@pytest.fixture
def key():
    return InstanceKey(b"surface-events-instance-key")


@pytest.fixture
def shop(db, key):
    with db.transaction() as s:
        practice = factories.practice(s)
        patient = factories.patient(s, practice.id)
    return {"practice": practice.id, "patient": patient.id}


def subscribe(db, key, shop, surface, events, url="http://127.0.0.1:9/hook"):
    with db.transaction() as s:
        subscription, secret = webhooks.create_subscription(
            s,
            factories.actor(shop["practice"]),
            surface=surface,
            url=url,
            events=events,
            enabled=True,
            description=None,
            key=key,
            allowed_hosts=ALLOWED,
            event_types=CODES if surface == "shop" else EVENT_TYPES,
        )
    return subscription.id, secret


def place_and_ship(db, shop, created_at=None):
    actor = factories.actor(shop["practice"])
    with db.transaction() as s:
        order = orders.place_order(
            s,
            actor,
            orders.NewOrder(
                patient_id=shop["patient"],
                lines=[orders.LineItem("Rx lens", 1, Decimal("80"), kind="lens")],
                created_at=created_at,
            ),
        )
    with db.transaction() as s:
        orders.change_order_status(s, actor, order.id, OrderStatus.IN_PROGRESS)
    with db.transaction() as s:
        orders.change_order_status(s, actor, order.id, OrderStatus.SHIPPED)
    return order.id


def relay(db):
    with db.transaction() as s:
        while relay_events(s, utcnow(), RENDERERS):
            pass


def delivered_codes(db, subscription_id) -> list[str]:
    with db.transaction() as s:
        rows = s.execute(
            select(WebhookDelivery.event_code, WebhookDelivery.payload, Event.created_at)
            .join(Event, Event.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.subscription_id == subscription_id)
            .order_by(Event.created_at, WebhookDelivery.event_code)
        ).all()
    for code, payload, _ in rows:
        assert orjson.loads(payload)["event_code"] == code
    return [code for code, _, _ in rows]


def test_each_subscription_gets_the_codes_it_lists_each_once(db, key, shop):
    everything, _ = subscribe(db, key, shop, "shop", ["*"])
    shipped_only, _ = subscribe(db, key, shop, "shop", ["order.shipped"])
    changes_only, _ = subscribe(db, key, shop, "shop", ["order.status_changed"])
    both, _ = subscribe(db, key, shop, "shop", ["order.status_changed", "order.shipped"])
    partner, _ = subscribe(db, key, shop, "partner", ["*"])
    place_and_ship(db, shop)
    relay(db)
    assert delivered_codes(db, everything) == [
        "order.created",
        "order.status_changed",
        "order.shipped",
        "order.status_changed",
    ]
    assert delivered_codes(db, shipped_only) == ["order.shipped"]
    assert delivered_codes(db, changes_only) == ["order.status_changed"] * 2
    assert delivered_codes(db, both) == [
        "order.status_changed",
        "order.shipped",
        "order.status_changed",
    ]
    with db.transaction() as s:
        partner_bodies = [
            (code, orjson.loads(p))
            for code, p in s.execute(
                select(WebhookDelivery.event_code, WebhookDelivery.payload).where(
                    WebhookDelivery.subscription_id == partner
                )
            )
        ]
    # The partner-like surface: the core's types, its own shape, one delivery per event.
    assert sorted(code for code, _ in partner_bodies) == [
        "order.created",
        "order.status_changed",
        "order.status_changed",
    ]
    assert all(body["type"] == code for code, body in partner_bodies)


def test_one_body_per_code_shared_by_its_subscribers(db, key, shop):
    a, _ = subscribe(db, key, shop, "shop", ["order.shipped"])
    b, _ = subscribe(db, key, shop, "shop", ["*"])
    order_id = place_and_ship(db, shop)
    relay(db)
    with db.transaction() as s:
        rows = s.execute(
            select(WebhookDelivery.subscription_id, WebhookDelivery.payload).where(
                WebhookDelivery.event_code == "order.shipped"
            )
        ).all()
        bodies = dict(rows)
    assert bodies[a] == bodies[b]
    assert orjson.loads(bodies[a]) == {
        "event_code": "order.shipped",
        "data": {"id": str(order_id), "status": "shipped"},
    }


def test_order_stuck_reaches_the_surfaces_that_offer_it_only(db, key, shop):
    stuck_sub, _ = subscribe(db, key, shop, "shop", ["order.stuck"])
    everything, _ = subscribe(db, key, shop, "shop", ["*"])
    partner, _ = subscribe(db, key, shop, "partner", ["*"])
    created = utcnow() - timedelta(hours=30)
    with db.transaction() as s:
        order = orders.place_order(
            s,
            factories.actor(shop["practice"]),
            orders.NewOrder(
                patient_id=shop["patient"],
                lines=[orders.LineItem("Rx lens", 1, Decimal("80"), kind="lens")],
                created_at=created,
            ),
        )
        line = s.scalar(select(OrderLine).where(OrderLine.order_id == order.id))
        line.prescription_required = True
    with db.transaction() as s:
        stuck_orders.record_stuck_orders(s, utcnow())
    relay(db)
    assert delivered_codes(db, stuck_sub) == ["order.stuck"]
    assert delivered_codes(db, everything) == ["order.created", "order.stuck"]
    with db.transaction() as s:
        partner_codes = list(
            s.scalars(
                select(WebhookDelivery.event_code).where(WebhookDelivery.subscription_id == partner)
            )
        )
    assert partner_codes == ["order.created"]


def test_a_plain_renderer_still_works_with_the_core_types_as_codes(db, key, shop):
    partner, _ = subscribe(db, key, shop, "partner", ["order.created"])
    place_and_ship(db, shop)
    with db.transaction() as s:
        relay_events(s, utcnow(), {"partner": lambda _s, e: {"legacy": e.type}})
    with db.transaction() as s:
        rows = s.execute(
            select(WebhookDelivery.event_code, WebhookDelivery.payload).where(
                WebhookDelivery.subscription_id == partner
            )
        ).all()
    assert [(code, orjson.loads(p)) for code, p in rows] == [
        ("order.created", {"legacy": "order.created"})
    ]


def test_delivery_records_name_the_code(db, key, shop):
    shipped_only, _ = subscribe(db, key, shop, "shop", ["order.shipped"])
    place_and_ship(db, shop)
    relay(db)
    with db.transaction() as s:
        [record] = webhooks.list_deliveries(s, shop["practice"], "shop", shipped_only)
        assert record.event_type == "order.status_changed"
        assert record.event_code == "order.shipped"


def test_webhook_ids():
    assert webhook_id("evt_1", "order.created", "order.created") == "evt_1"
    assert webhook_id("evt_1", "order.status_changed", "order.shipped") == "evt_1:order.shipped"


# -- through the engine: signed, with a stable id per code ------------------------------------


@pytest.fixture
def receiver() -> Iterator[dict[str, Any]]:
    state: dict[str, Any] = {"requests": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state["requests"].append({"headers": dict(self.headers), "body": body})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_port}/hook"
    yield state
    server.shutdown()


def test_the_worker_delivers_each_code_signed_with_its_own_stable_id(db, key, shop, receiver):
    _, secret = subscribe(db, key, shop, "shop", ["*"], url=receiver["url"])
    order_id = place_and_ship(db, shop)
    worker = DeliveryWorker(db, decrypt=key.decrypt, allowed_hosts=ALLOWED, renderers=RENDERERS)
    try:
        while worker.run_once():
            pass
    finally:
        worker.close()
    got = {}
    for request in receiver["requests"]:
        headers = request["headers"]
        assert verify(
            secret,
            headers["X-Webhook-Timestamp"],
            request["body"],
            headers["X-Webhook-Signature"],
        )
        body = orjson.loads(request["body"])
        assert body["data"]["id"] == str(order_id)
        got[(body["event_code"], body["data"]["status"])] = headers["X-Webhook-Id"]
    assert sorted(got) == [
        ("order.created", "received"),
        ("order.shipped", "shipped"),
        ("order.status_changed", "in_progress"),
        ("order.status_changed", "shipped"),
    ]
    # One event, two codes: the event's own type keeps the event id, the other adds its code.
    shipping_event = got[("order.status_changed", "shipped")]
    assert shipping_event.startswith("evt_")
    assert got[("order.shipped", "shipped")] == f"{shipping_event}:order.shipped"
    with db.transaction() as s:
        assert set(s.scalars(select(WebhookDelivery.status))) == {"delivered"}


# -- the migration --------------------------------------------------------------------------


def test_existing_deliveries_get_their_event_type_as_code(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0007")
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO practices (id, name, currency, timezone, "
                "fulfillment_login_enabled, created_at, updated_at) VALUES "
                "(1, 'P', 'USD', 'UTC', 1, '2026-01-01', '2026-01-01')"
            )
        )
        c.execute(
            text(
                "INSERT INTO events (id, practice_id, type, created_at, data) VALUES "
                "('evt_a', 1, 'order.created', '2026-01-01', '{}')"
            )
        )
        c.execute(
            text(
                "INSERT INTO webhook_subscriptions (id, practice_id, surface, url, "
                "events, enabled, secret_ciphertext, consecutive_failures, created_at, "
                "updated_at) VALUES ('00000000000000000000000000000001', 1, 'partner', "
                "'https://x', '[]', 1, 's', 0, '2026-01-01', '2026-01-01')"
            )
        )
        c.execute(
            text(
                "INSERT INTO webhook_deliveries (id, practice_id, subscription_id, "
                "event_id, payload, status, attempt_count, next_attempt_at, created_at) "
                "VALUES ('00000000000000000000000000000002', 1, "
                "'00000000000000000000000000000001', 'evt_a', '{}', 'pending', 0, "
                "'2026-01-01', '2026-01-01')"
            )
        )
    upgrade(url)
    with engine.begin() as c:
        assert c.execute(text("SELECT event_code FROM webhook_deliveries")).scalar() == (
            "order.created"
        )
    command.downgrade(alembic_config(url), "0007")
    with engine.begin() as c:
        assert c.execute(text("SELECT count(*) FROM webhook_deliveries")).scalar() == 1
    engine.dispose()
