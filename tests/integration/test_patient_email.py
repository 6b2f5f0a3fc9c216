"""The eyewear-ready e-mail, end to end: an order becomes ready for pickup, the delivery
worker (as ``optihub serve`` and ``optihub worker`` build it) relays the outbox event and
sends the e-mail through the practice's SMTP server, a real one (aiosmtpd) on loopback.

Sent once per order, with the patient's link; retried with the worker's backoff while the
server is down; never sent without consent or without a mail server, and the order page
says what happened."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import func, select

from optihub.app import build_worker
from optihub.db.base import utcnow
from optihub.db.models import Event, PatientLink, PatientMessage
from optihub.domain.orders import OrderStatus
from optihub.services import patient_messages
from optihub.services.context import Actor
from tests.api.dashboard.conftest import Agent, text_of
from tests.api.patient_view import world as w

SMTP_USER = "frontdesk"
SMTP_PASSWORD = "s3cret-smtp-password"


class Inbox:
    """The SMTP server's handler: every message it accepted."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.recipients.append(list(envelope.rcpt_tos))
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MailServer:
    """An SMTP server on a loopback port that can be started late and stopped."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            self.inbox,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=_authenticate,
            auth_require_tls=False,
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    server = MailServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_down() -> Iterator[MailServer]:
    """A server whose port has nothing listening until the test starts it."""
    server = MailServer()
    yield server
    server.stop()


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def worker(app, clock):
    delivery = build_worker(app)
    delivery.clock = clock
    yield delivery
    delivery.close()


def _set_mail_server(db, app, world: w.PatientWorld, port: int) -> None:
    with db.transaction() as s:
        patient_messages.save_mail_server(
            s,
            Actor(practice_id=world.practice_id, via="dashboard"),
            patient_messages.MailServerForm(
                host="127.0.0.1",
                port=str(port),
                security="none",
                username=SMTP_USER,
                password=SMTP_PASSWORD,
                from_address="frontdesk@harbor.example",
            ),
            app.state.instance_key.encrypt,
        )


def _run(worker, clock: Clock) -> None:
    """Two rounds: the first relays the event and sends; the second finds nothing due."""
    worker.run_once()
    worker.run_once()


def _messages(db) -> list[PatientMessage]:
    with db.transaction() as s:
        found = list(s.scalars(select(PatientMessage)))
        s.expunge_all()
        return found


def _panel(client, world: w.PatientWorld) -> str:
    agent = Agent(client).sign_in(w.STAFF)
    page = agent.get(f"/dashboard/orders/{world.order_id}")
    assert page.status_code == 200
    found = re.search(r'id="patient-email-status">(.*?)</p>', page.text, re.S)
    assert found is not None
    return text_of(found[1])


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def _html(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def test_ready_for_pickup_sends_one_email_with_the_link(client, app, db, smtp, worker, clock):
    world = w.build(db)
    _set_mail_server(db, app, world, smtp.port)
    assert "When the order is ready for pickup, an e-mail goes to j…@example.com." in _panel(
        client, world
    )
    w.move(db, world, OrderStatus.COMPLETED)
    _run(worker, clock)

    assert len(smtp.inbox.messages) == 1
    assert smtp.inbox.recipients == [[w.PATIENT_EMAIL]]
    mail = smtp.inbox.messages[0]
    assert mail["To"] == w.PATIENT_EMAIL
    assert mail["From"] == "Harbor Optical <frontdesk@harbor.example>"
    assert mail["Subject"] == "Your glasses are ready for pickup \u2013 Harbor Optical"
    text = _text(mail)
    assert "Hello Jordan," in text
    assert (
        "Your glasses are ready for pickup at Harbor Optical Main Street "
        "(12 Main Street, Portland ME 04101), Mon\u2013Fri 9:00\u201317:30; "
        "Sat 10:00\u201314:00." in text
    )
    link = re.search(r"http://testserver(/p/[A-Za-z0-9_-]{44})", text)
    assert link is not None
    assert f'href="http://testserver{link[1]}"' in _html(mail)
    assert "Harbor Optical" in _html(mail)
    # The link opens the order, ready for pickup.
    page = client.get(link[1])
    assert page.status_code == 200
    assert "Your order is ready for pickup." in text_of(page.text)

    # Once per order: more rounds, and the same event relayed again, send nothing more.
    clock.advance(hours=1)
    _run(worker, clock)
    with db.transaction() as s:
        event = s.scalars(select(Event).where(Event.type == "order.completed")).one()
        worker.mail.relay(s, event, clock())
    _run(worker, clock)
    assert len(smtp.inbox.messages) == 1
    [message] = _messages(db)
    assert message.status == "sent" and message.attempt_count == 1
    shown = _panel(client, world)
    assert shown.startswith("Ready-for-pickup e-mail sent to j…@example.com on ")
    assert re.search(r"on \d+ \w{3} \d{4}, \d\d:\d\d$", shown)


def test_the_email_carries_the_link_staff_already_made(client, app, db, smtp, worker, clock):
    world = w.build(db)
    _set_mail_server(db, app, world, smtp.port)
    staff = Agent(client).sign_in(w.STAFF)
    assert staff.post(f"/dashboard/orders/{world.order_id}/patient-link").status_code == 303
    page = staff.get(f"/dashboard/orders/{world.order_id}").text
    made = re.search(r'id="patient-link-address">(http://testserver/p/[^<]+)<', page)
    assert made is not None
    w.move(db, world, OrderStatus.COMPLETED)
    _run(worker, clock)
    assert made[1] in _text(smtp.inbox.messages[0])
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(PatientLink)) == 1


def test_retried_while_the_server_is_down_then_sent_once(client, app, db, smtp_down, worker, clock):
    world = w.build(db)
    _set_mail_server(db, app, world, smtp_down.port)
    w.move(db, world, OrderStatus.COMPLETED)
    _run(worker, clock)
    [message] = _messages(db)
    assert message.status == "pending" and message.attempt_count == 1
    assert "refused the connection" in (message.last_error or "")
    assert message.next_attempt_at > clock()
    shown = _panel(client, world)
    assert "not sent yet" in shown and "refused the connection" in shown
    assert "Next try" in shown

    smtp_down.start()
    _run(worker, clock)  # not due yet: nothing is tried
    assert smtp_down.inbox.messages == []
    clock.advance(minutes=1)  # the first retry comes 15 to 30 s later
    _run(worker, clock)
    assert len(smtp_down.inbox.messages) == 1
    [message] = _messages(db)
    assert message.status == "sent" and message.attempt_count == 2
    clock.advance(hours=2)
    _run(worker, clock)
    assert len(smtp_down.inbox.messages) == 1


def test_given_up_after_a_day_of_failures(client, app, db, smtp_down, worker, clock):
    world = w.build(db)
    _set_mail_server(db, app, world, smtp_down.port)
    w.move(db, world, OrderStatus.COMPLETED)
    for _ in range(40):
        _run(worker, clock)
        clock.advance(hours=1)
    [message] = _messages(db)
    assert message.status == "failed"
    assert "failed" in _panel(client, world)


def test_no_email_without_consent_and_the_page_says_why(client, app, db, smtp, worker, clock):
    world = w.build(db, consent=False)
    _set_mail_server(db, app, world, smtp.port)
    assert "The patient has not agreed to e-mails about their eyewear." in _panel(client, world)
    w.move(db, world, OrderStatus.COMPLETED)
    _run(worker, clock)
    assert smtp.inbox.messages == []
    [message] = _messages(db)
    assert message.status == "skipped"
    assert _panel(client, world) == (
        "Ready-for-pickup e-mail not sent: "
        "The patient has not agreed to e-mails about their eyewear."
    )

    # The patient agrees at the desk: staff tick the box, then send it.
    staff = Agent(client).sign_in(w.STAFF)
    ticked = staff.post(
        f"/dashboard/orders/{world.order_id}/patient-consent",
        {"notify_eyewear_email": "yes"},
    )
    assert ticked.status_code == 303
    page = staff.get(f"/dashboard/orders/{world.order_id}").text
    assert "Send the e-mail now" in page
    assert staff.post(f"/dashboard/orders/{world.order_id}/patient-email").status_code == 303
    clock.advance(minutes=1)  # queued at the real time, a moment after the test's clock
    _run(worker, clock)
    assert len(smtp.inbox.messages) == 1
    # Sent: it cannot be sent again.
    staff.post(f"/dashboard/orders/{world.order_id}/patient-email")
    _run(worker, clock)
    assert len(smtp.inbox.messages) == 1


def test_no_email_without_a_mail_server_and_the_page_says_why(client, db, smtp, worker, clock):
    world = w.build(db)
    assert "The practice has no mail server set up" in _panel(client, world)
    w.move(db, world, OrderStatus.COMPLETED)
    _run(worker, clock)
    assert smtp.inbox.messages == []
    [message] = _messages(db)
    assert message.status == "skipped"
    assert "no mail server" in _panel(client, world)


def test_no_email_without_an_address(client, app, db, smtp, worker, clock):
    world = w.build(db, email=None)
    _set_mail_server(db, app, world, smtp.port)
    w.move(db, world, OrderStatus.COMPLETED)
    _run(worker, clock)
    assert smtp.inbox.messages == []
    assert "The patient has no e-mail address." in _panel(client, world)


def test_no_email_when_picked_up_before_it_was_due(client, app, db, smtp, worker, clock):
    """A portal order synced with its pickup date walks through ready for pickup to
    delivered in one change: the patient has the glasses, so no e-mail."""
    world = w.build(db)
    _set_mail_server(db, app, world, smtp.port)
    w.move(db, world, OrderStatus.COMPLETED)
    w.move(db, world, OrderStatus.DELIVERED)
    _run(worker, clock)
    assert smtp.inbox.messages == []
    [message] = _messages(db)
    assert message.status == "skipped"


def test_consent_withdrawn_while_retrying_stops_the_email(
    client, app, db, smtp_down, worker, clock
):
    world = w.build(db)
    _set_mail_server(db, app, world, smtp_down.port)
    w.move(db, world, OrderStatus.COMPLETED)
    _run(worker, clock)
    with db.transaction() as s:
        patient_messages.set_eyewear_consent(
            s, Actor(practice_id=world.practice_id, via="portal"), world.patient_id, email=False
        )
    smtp_down.start()
    clock.advance(minutes=5)
    _run(worker, clock)
    assert smtp_down.inbox.messages == []
    [message] = _messages(db)
    assert message.status == "skipped"


def test_an_email_that_cannot_be_recorded_never_holds_up_the_outbox(
    app, db, smtp, worker, clock, monkeypatch
):
    world = w.build(db)
    _set_mail_server(db, app, world, smtp.port)

    def broken(*_args, **_kwargs):
        raise RuntimeError("cannot record")

    monkeypatch.setattr(patient_messages, "queue_eyewear_ready", broken)
    w.move(db, world, OrderStatus.COMPLETED)
    _run(worker, clock)
    with db.transaction() as s:
        assert s.scalar(select(func.count()).where(Event.relayed_at.is_(None))) == 0
    assert _messages(db) == [] and smtp.inbox.messages == []
