"""A real HTTP receiver on loopback, and a worker whose clock the test controls."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from optihub.auth.keys import InstanceKey
from optihub.db.base import utcnow
from optihub.events.worker import DeliveryWorker
from optihub.services import webhooks
from optihub.surfaces.partner.webhooks import delivery_body
from tests import factories


@dataclass
class Receiver:
    url: str
    requests: list[dict] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to give, then 200
    hold_seconds: float = 0.0


@pytest.fixture
def receiver():
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append({"headers": dict(self.headers), "body": body})
            if state.hold_seconds:
                time.sleep(state.hold_seconds)
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/hook"
    yield state
    server.shutdown()


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def key(tmp_path):
    return InstanceKey(b"webhook-tests-instance-key")


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def worker(db, key, clock):
    delivery = DeliveryWorker(
        db,
        decrypt=key.decrypt,
        allowed_hosts=("127.0.0.0/8",),
        renderers={"partner": delivery_body},
        clock=clock,
    )
    yield delivery
    delivery.close()


@pytest.fixture
def hooked(db, key, receiver):
    """A practice with a location, a patient, a frame and a subscription to every event."""
    with db.transaction() as s:
        practice = factories.practice(s)
        location = factories.location(s, practice.id)
        patient = factories.patient(s, practice.id)
        frame = factories.frame(s, practice.id)
        subscription, secret = webhooks.create_subscription(
            s,
            factories.actor(practice.id),
            surface="partner",
            url=receiver.url,
            events=["*"],
            enabled=True,
            description=None,
            key=key,
            allowed_hosts=("127.0.0.0/8",),
        )
    return {
        "practice": practice.id,
        "location": location.id,
        "patient": patient.id,
        "frame": frame.id,
        "subscription": subscription.id,
        "secret": secret,
    }
