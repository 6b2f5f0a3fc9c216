"""Each delivery of a batch is recorded as soon as its own answer is in, not when the
slowest delivery of the batch is done.

A batch is up to 50 deliveries sent 8 at a time, each allowed 10 s: recorded together, a
batch holding a few slow receivers kept every delivery of it claimed for up to 70 s, past
the 60 s lease, and another worker sent the answered ones again (scripts/reliability.py
saw copies arrive exactly one lease apart). Recorded one by one, an answered delivery is
settled within its own attempt.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from optihub.db.models import WebhookDelivery, WebhookSubscription
from optihub.events.worker import DeliveryWorker
from optihub.services import orders, webhooks
from optihub.surfaces.partner.webhooks import delivery_body
from tests import factories

SLOW_SECONDS = 3.0


@pytest.fixture
def receiver():
    """``/slow`` answers after SLOW_SECONDS, ``/fast`` at once; arrivals by path."""
    arrived: dict[str, float] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            arrived[self.path] = time.monotonic()
            if self.path == "/slow":
                time.sleep(SLOW_SECONDS)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", arrived
    server.shutdown()


def test_an_answered_delivery_is_recorded_while_the_batch_waits_for_a_slow_one(db, key, receiver):
    base, arrived = receiver
    with db.transaction() as s:
        practice = factories.practice(s)
        location = factories.location(s, practice.id)
        patient = factories.patient(s, practice.id)
        for path in ("/slow", "/fast"):
            webhooks.create_subscription(
                s,
                factories.actor(practice.id),
                surface="partner",
                url=base + path,
                events=["*"],
                enabled=True,
                description=None,
                key=key,
                allowed_hosts=("127.0.0.0/8",),
            )
        orders.place_order(
            s,
            factories.actor(practice.id),
            orders.NewOrder(
                patient_id=patient.id,
                location_id=location.id,
                lines=[orders.LineItem("Frame", 1, Decimal("189.00"))],
            ),
        )
    worker = DeliveryWorker(
        db,
        decrypt=key.decrypt,
        allowed_hosts=("127.0.0.0/8",),
        renderers={"partner": delivery_body},
    )
    batch = threading.Thread(target=worker.run_once)
    try:
        batch.start()
        deadline = time.monotonic() + 10
        while not {"/slow", "/fast"} <= arrived.keys() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert {"/slow", "/fast"} <= arrived.keys(), "both deliveries were sent"
        time.sleep(1.0)  # the fast one answered a second ago; the slow one still waits
        assert batch.is_alive(), "the slow receiver still holds the batch"
        with db.transaction() as s:
            statuses = {
                url.rsplit("/", 1)[1]: status
                for url, status in s.execute(
                    select(WebhookSubscription.url, WebhookDelivery.status).join(
                        WebhookSubscription,
                        WebhookSubscription.id == WebhookDelivery.subscription_id,
                    )
                )
            }
        assert statuses == {"fast": "delivered", "slow": "pending"}
    finally:
        batch.join(timeout=SLOW_SECONDS + 10)
        worker.close()
    with db.transaction() as s:
        assert set(s.scalars(select(WebhookDelivery.status))) == {"delivered"}
