"""Each delivery of a batch stands alone, and goes to the address that was checked.

* A delivery that cannot be sent at all (a URL stored before URLs were checked, a secret
  that cannot be read) records its own failed attempt; every other delivery of the batch
  is sent and recorded; the poisoned one is retried with backoff and, after 24 hours,
  marked failed with its subscription disabled, as any failing delivery is.
* The host is resolved once per attempt: the request connects to the address the check
  saw (a name answering differently the second time is never asked again), naming the
  host in ``Host`` and, over TLS, as the server name the certificate is checked against.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from optihub.db.models import WebhookDelivery, WebhookSubscription
from optihub.events.worker import RETRY_WINDOW, DeliveryWorker
from optihub.reads import documents
from optihub.services import orders, webhooks
from optihub.surfaces.partner import surface as partner
from optihub.surfaces.partner.webhooks import delivery_body
from tests import factories

HOST = "hooks.test"


@pytest.fixture(autouse=True)
def partner_projection() -> None:
    """Partner deliveries carry the order as the partner API shows it."""
    assert partner.projection is not None
    documents.register(partner.projection)


def practice_with_subscription(db, key, url: str) -> dict[str, Any]:
    """A practice with what an order needs, and a subscription to every event at ``url``
    (allow-listed loopback addresses; ``hooks.test`` stands for 127.0.0.1 while it is made)."""
    with db.transaction() as s:
        practice = factories.practice(s, f"Practice {url.rsplit('/', 1)[1]}")
        location = factories.location(s, practice.id)
        patient = factories.patient(s, practice.id)
        subscription, secret = webhooks.create_subscription(
            s,
            factories.actor(practice.id),
            surface="partner",
            url=url,
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
        "subscription": subscription.id,
        "secret": secret,
    }


def place_order(db, practice: dict[str, Any], external_id: str = "PMS-1") -> None:
    with db.transaction() as s:
        orders.place_order(
            s,
            factories.actor(practice["practice"]),
            orders.NewOrder(
                patient_id=practice["patient"],
                location_id=practice["location"],
                external_id=external_id,
                lines=[orders.LineItem("Frame", 1, Decimal("189.00"))],
            ),
        )


def delivery_of(db, practice: dict[str, Any]) -> WebhookDelivery:
    with db.transaction() as s:
        return s.scalars(
            select(WebhookDelivery).where(
                WebhookDelivery.subscription_id == practice["subscription"]
            )
        ).one()


def subscription_of(db, practice: dict[str, Any]) -> WebhookSubscription:
    with db.transaction() as s:
        found = s.get(WebhookSubscription, practice["subscription"])
        assert found is not None
        return found


def test_a_poisoned_delivery_fails_alone_and_the_batch_is_recorded(
    db, key, receiver, worker, clock
):
    healthy = [
        practice_with_subscription(db, key, f"{receiver.url}/{n}") for n in ("first", "last")
    ]
    bad_url = practice_with_subscription(db, key, f"{receiver.url}/bad-url")
    bad_secret = practice_with_subscription(db, key, f"{receiver.url}/bad-secret")
    with db.transaction() as s:
        # Stored as sent before URLs were checked: urlsplit drops the line break, httpx
        # refuses the URL (InvalidURL, not an httpx.HTTPError).
        s.get(
            WebhookSubscription, bad_url["subscription"]
        ).url = f"{receiver.url}/x\r\nX-Injected: 1"
        s.get(WebhookSubscription, bad_secret["subscription"]).secret_ciphertext = "unreadable"
    for practice in (*healthy, bad_url, bad_secret):
        place_order(db, practice)

    assert worker.run_once() == 4

    sent_for = sorted(json.loads(r["body"])["practice_id"] for r in receiver.requests)
    assert sent_for == sorted(p["practice"] for p in healthy)
    for practice in healthy:
        delivery = delivery_of(db, practice)
        assert (delivery.status, delivery.attempt_count) == ("delivered", 1)
    for practice, error in ((bad_url, "refused: Must not contain"), (bad_secret, "not sent:")):
        delivery = delivery_of(db, practice)
        assert (delivery.status, delivery.attempt_count) == ("pending", 1)
        assert delivery.last_error.startswith(error), delivery.last_error
        assert delivery.locked_until is None
        assert delivery.next_attempt_at > clock.now
        assert subscription_of(db, practice).last_status == "failing"
    assert worker.run_once() == 0  # nothing claimed again before its backoff

    elapsed = dt.timedelta()
    while elapsed < RETRY_WINDOW + dt.timedelta(hours=2):
        clock.advance(hours=1)
        elapsed += dt.timedelta(hours=1)
        worker.run_once()
    for practice in (bad_url, bad_secret):
        assert delivery_of(db, practice).status == "failed"
        subscription = subscription_of(db, practice)
        assert (subscription.enabled, subscription.last_status) == (False, "disabled")
    assert len(receiver.requests) == 2


@pytest.fixture
def rebinding_dns(monkeypatch):
    """``hooks.test`` answers 127.0.0.1 the first time it is asked and 127.0.0.2 (where
    nothing listens) after that; every ask is recorded. Other names resolve as usual."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != HOST:
            return real(host, port, *args, **kwargs)
        asked.append(host)
        address = "127.0.0.1" if len(asked) == 1 else "127.0.0.2"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    def install() -> list[str]:
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        return asked

    return install


@pytest.fixture
def loopback_name(monkeypatch):
    """While a subscription is made: ``hooks.test`` resolves to 127.0.0.1 (allow-listed)."""
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["127.0.0.1"])


def test_the_delivery_connects_to_the_address_it_checked(
    db, key, receiver, worker, loopback_name, rebinding_dns
):
    port = receiver.url.split(":")[2].split("/")[0]
    practice = practice_with_subscription(db, key, f"http://{HOST}:{port}/hook")
    place_order(db, practice)
    asked = rebinding_dns()

    worker.run_once()

    assert asked == [HOST]  # resolved once: for the check, and connected to that answer
    [request] = receiver.requests
    assert request["headers"]["Host"] == f"{HOST}:{port}"
    assert delivery_of(db, practice).status == "delivered"


def self_signed(tmp_path, name: str) -> tuple[str, str]:
    """A certificate for ``name`` only (not for 127.0.0.1), and its key: PEM file paths."""
    private = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@pytest.fixture
def tls_receiver(tmp_path):
    """An https receiver on 127.0.0.1 whose certificate names only ``hooks.test``; it
    records the server name each handshake asked for and each request."""
    cert, private_key = self_signed(tmp_path, HOST)
    seen: dict[str, Any] = {"server_names": [], "requests": [], "cert": cert}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen["requests"].append(dict(self.headers))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            return

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, private_key)
    context.sni_callback = lambda _sock, name, _ctx: seen["server_names"].append(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seen["port"] = server.server_port
    yield seen
    server.shutdown()


def test_over_tls_the_host_is_the_server_name_and_the_checked_address_is_connected(
    db, key, clock, loopback_name, tls_receiver
):
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"] if len(asked) == 1 else ["127.0.0.2"]

    practice = practice_with_subscription(db, key, f"https://{HOST}:{tls_receiver['port']}/h")
    place_order(db, practice)
    trusted = ssl.create_default_context(cafile=tls_receiver["cert"])
    worker = DeliveryWorker(
        db,
        decrypt=key.decrypt,
        allowed_hosts=("127.0.0.0/8",),
        renderers={"partner": delivery_body},
        clock=clock,
        resolver=resolver,
        tls=trusted,
    )
    try:
        worker.run_once()
    finally:
        worker.close()

    assert asked == [HOST]
    assert tls_receiver["server_names"] == [HOST]  # SNI, and the certificate checked for it
    [headers] = tls_receiver["requests"]
    assert headers["Host"] == f"{HOST}:{tls_receiver['port']}"
    delivery = delivery_of(db, practice)
    assert (delivery.status, delivery.last_error) == ("delivered", None)
