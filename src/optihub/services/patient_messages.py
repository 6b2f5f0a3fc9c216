"""Messages to patients: the eyewear-ready e-mail, the consent it needs and the practice's
mail server it goes through.

When an order becomes ready for pickup (``order.completed`` in the outbox, whichever
surface moved it), the delivery worker's relay hands the event to ``EyewearMail.relay``,
which records one ``patient_messages`` row for the order (never a second one, whatever
the order does next): ``pending`` when the patient agreed to e-mails about their eyewear,
has an address and the practice has a mail server; otherwise ``skipped`` with the reason,
which the order page shows. The worker then asks ``EyewearMail.compose`` for the e-mail
(plain text and HTML: the practice's name, "Your glasses are ready for pickup at
<location>, <hours>", the patient's link, made if none is live) and sends it
(``events.mail``). The SMS consent is stored; no SMS is sent.
"""

from __future__ import annotations

import contextlib
import html
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import (
    Event,
    Location,
    LocationHours,
    Order,
    Patient,
    PatientLink,
    PatientMessage,
    Practice,
    PracticeMailServer,
)
from optihub.domain import opening_hours
from optihub.errors import Conflict, FieldError, NotFound, ValidationFailed
from optihub.events.mail import SECURITY_MODES, Composed, MailServer, Skip
from optihub.services import audit
from optihub.services import patient_links as links
from optihub.services.context import Actor
from optihub.services.users import EMAIL_RE

EYEWEAR_READY = "eyewear_ready"
READY = "completed"

# Why an eyewear-ready e-mail was not sent, in the practice's words (the order page).
NO_PATIENT = "The order has no patient."
NO_ADDRESS = "The patient has no e-mail address."
NO_CONSENT = "The patient has not agreed to e-mails about their eyewear."
NO_SERVER = "The practice has no mail server set up (Settings, Patient e-mail)."
NOT_READY = "The order was no longer ready for pickup when the e-mail was due."
LINK_REVOKED = "The patient's link was revoked before the e-mail went out."

WHAT_IS_READY = {
    "spectacles": "glasses are",
    "frames": "glasses are",
    "contacts": "contact lenses are",
}


# -- consent ------------------------------------------------------------------------------


def set_eyewear_consent(
    session: Session,
    actor: Actor,
    patient_id: uuid.UUID,
    *,
    email: bool | None = None,
    sms: bool | None = None,
) -> Patient:
    """Record whether the patient wants to hear, by e-mail and by SMS, that their eyewear
    is ready (None leaves that one as it is). ``NotFound`` for another practice's patient.
    Audited when it changes."""
    patient = session.scalar(
        select(Patient).where(Patient.practice_id == actor.practice_id, Patient.id == patient_id)
    )
    if patient is None:
        raise NotFound("Patient", patient_id)
    changed = {}
    if email is not None and patient.notify_eyewear_email != email:
        patient.notify_eyewear_email = email
        changed["email"] = email
    if sms is not None and patient.notify_eyewear_sms != sms:
        patient.notify_eyewear_sms = sms
        changed["sms"] = sms
    if changed:
        patient.updated_at = utcnow()
        session.flush()
        audit.record(session, actor, "patient.eyewear_consent", "patient", patient.id, changed)
    return patient


# -- the practice's mail server ------------------------------------------------------------


@dataclass(frozen=True)
class MailServerForm:
    """The mail server as typed. An empty ``password`` keeps the stored one."""

    host: str
    port: str
    security: str
    username: str
    password: str
    from_address: str


def mail_server(session: Session, practice_id: int) -> PracticeMailServer | None:
    return session.get(PracticeMailServer, practice_id)


def save_mail_server(
    session: Session, actor: Actor, form: MailServerForm, encrypt: Callable[[str], str]
) -> PracticeMailServer:
    """Store the practice's SMTP server (the password encrypted with ``encrypt``, the
    instance key's). Every problem is reported at once (``ValidationFailed`` naming
    ``host``, ``port``, ``security``, ``from_address``, ``password``); nothing is written
    then. Audited (never the password)."""
    errors: list[FieldError] = []
    host = form.host.strip()
    if not host or len(host) > 255 or any(c.isspace() for c in host) or "/" in host:
        errors.append(
            FieldError("host", "Give the mail server's host name, e.g. smtp.example.com.")
        )
    port: int | None = None
    with contextlib.suppress(ValueError):
        port = int(form.port.strip())
    if port is None or not 1 <= port <= 65535:
        errors.append(
            FieldError("port", "Give the port as a number from 1 to 65535 (587, 465, 25).")
        )
    if form.security not in SECURITY_MODES:
        errors.append(FieldError("security", "Choose STARTTLS, TLS or no encryption."))
    sender = form.from_address.strip()
    if len(sender) > 254 or not EMAIL_RE.match(sender):
        errors.append(
            FieldError(
                "from_address", "Give the address e-mails come from, e.g. frontdesk@example.com."
            )
        )
    username = form.username.strip()
    if len(username) > 255:
        errors.append(FieldError("username", "The user name is at most 255 characters."))
    stored = mail_server(session, actor.practice_id)
    if username and not form.password and (stored is None or stored.password_ciphertext is None):
        errors.append(FieldError("password", "Give the password for this user name."))
    if len(form.password) > 1000:
        errors.append(FieldError("password", "The password is at most 1,000 characters."))
    if errors:
        raise ValidationFailed(errors)
    assert port is not None
    server = stored or PracticeMailServer(practice_id=actor.practice_id)
    server.host = host
    server.port = port
    server.security = form.security
    server.username = username or None
    if not username:
        server.password_ciphertext = None
    elif form.password:
        server.password_ciphertext = encrypt(form.password)
    server.from_address = sender
    server.updated_at = utcnow()
    session.add(server)
    session.flush()
    audit.record(
        session,
        actor,
        "practice.mail_server_saved",
        "practice",
        actor.practice_id,
        {"host": host, "port": port, "security": form.security, "from": sender},
    )
    return server


def remove_mail_server(session: Session, actor: Actor) -> bool:
    """Forget the practice's mail server (no e-mail is sent from then on). Audited."""
    stored = mail_server(session, actor.practice_id)
    if stored is None:
        return False
    session.delete(stored)
    session.flush()
    audit.record(session, actor, "practice.mail_server_removed", "practice", actor.practice_id)
    return True


# -- the eyewear-ready e-mail -------------------------------------------------------------


def eyewear_message(
    session: Session, practice_id: int, order_id: uuid.UUID
) -> PatientMessage | None:
    return session.scalar(
        select(PatientMessage).where(
            PatientMessage.practice_id == practice_id,
            PatientMessage.order_id == order_id,
            PatientMessage.kind == EYEWEAR_READY,
        )
    )


def why_not(session: Session, order: Order, patient: Patient | None) -> str | None:
    """Why an eyewear-ready e-mail would not be sent for ``order`` now (None: it would)."""
    if patient is None:
        return NO_PATIENT
    if not patient.email:
        return NO_ADDRESS
    if not patient.notify_eyewear_email:
        return NO_CONSENT
    if mail_server(session, order.practice_id) is None:
        return NO_SERVER
    return None


def _patient(session: Session, order: Order) -> Patient | None:
    if order.patient_id is None:
        return None
    return session.scalar(
        select(Patient).where(
            Patient.practice_id == order.practice_id, Patient.id == order.patient_id
        )
    )


def queue_eyewear_ready(
    session: Session, order: Order, key: links.LinkKey, *, event_id: str | None, now: datetime
) -> PatientMessage:
    """The order's eyewear-ready message, recorded once: pending (with the order's live
    link, made if there is none) or skipped with the reason."""
    existing = eyewear_message(session, order.practice_id, order.id)
    if existing is not None:
        return existing
    patient = _patient(session, order)
    reason = NOT_READY if order.status != READY else why_not(session, order, patient)
    message = PatientMessage(
        practice_id=order.practice_id,
        order_id=order.id,
        event_id=event_id,
        kind=EYEWEAR_READY,
        channel="email",
        recipient=patient.email if patient is not None else None,
        status="skipped" if reason else "pending",
        last_error=reason,
        next_attempt_at=now,
        created_at=now,
    )
    if reason is None:
        system = Actor.system(order.practice_id, via="patient_messages")
        message.link_id = links.ensure_live_link(session, system, order.id, key, now).link.id
    session.add(message)
    session.flush()
    return message


def send_again(
    session: Session, actor: Actor, order_id: uuid.UUID, key: links.LinkKey
) -> PatientMessage:
    """Queue the eyewear-ready e-mail of a ready order again, now: after it was skipped
    (consent or a mail server came later) or given up. ``Conflict`` when the order is not
    ready for pickup, the e-mail is on its way or sent, or it still could not be sent
    (the reason); ``NotFound`` for another practice's order. Audited."""
    order = session.scalar(
        select(Order).where(Order.practice_id == actor.practice_id, Order.id == order_id)
    )
    if order is None:
        raise NotFound("Order", order_id)
    if order.status != READY:
        raise Conflict("Only an order that is ready for pickup gets this e-mail")
    message = eyewear_message(session, actor.practice_id, order.id)
    if message is not None and message.status in ("pending", "sent"):
        raise Conflict(
            "The e-mail was sent already"
            if message.status == "sent"
            else "The e-mail is on its way"
        )
    patient = _patient(session, order)
    reason = why_not(session, order, patient)
    if reason is not None:
        raise Conflict(reason.rstrip("."))
    assert patient is not None
    now = utcnow()
    if message is None:
        message = queue_eyewear_ready(session, order, key, event_id=None, now=now)
    else:
        message.status = "pending"
        message.recipient = patient.email
        message.attempt_count = 0
        message.last_error = None
        message.next_attempt_at = now
        message.created_at = now
        message.locked_until = None
        message.link_id = links.ensure_live_link(session, actor, order.id, key, now).link.id
        session.flush()
    audit.record(session, actor, "patient_message.queued", "order", order.id)
    return message


def masked(address: str | None) -> str:
    """``j…@example.com``: enough for staff to recognise, not to copy."""
    if not address or "@" not in address:
        return "—"
    local, domain = address.rsplit("@", 1)
    return f"{local[:1]}\u2026@{domain}"


@dataclass(frozen=True)
class Pickup:
    """Where the eyewear waits, in words."""

    name: str
    address: str | None
    hours: list[str]


def pickup_of(session: Session, practice_id: int, location_id: uuid.UUID | None) -> Pickup | None:
    if location_id is None:
        return None
    location = session.scalar(
        select(Location).where(Location.practice_id == practice_id, Location.id == location_id)
    )
    if location is None:
        return None
    rows = session.execute(
        select(LocationHours.weekday, LocationHours.opens_at, LocationHours.closes_at).where(
            LocationHours.practice_id == practice_id, LocationHours.location_id == location_id
        )
    ).all()
    parts = [
        location.address_line1,
        location.address_line2,
        " ".join(p for p in (location.city, location.state, location.postal_code) if p) or None,
    ]
    return Pickup(
        name=location.name,
        address=", ".join(p for p in parts if p) or None,
        hours=opening_hours.day_lines((r[0], r[1], r[2]) for r in rows),
    )


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y}"


class EyewearMail:
    """The ``events.mail.Mailer`` of the eyewear-ready e-mail: made with the link key, the
    instance key's ``decrypt`` (the SMTP password) and the public base URL of links."""

    event_types = frozenset({"order.completed"})

    def __init__(self, key: links.LinkKey, decrypt: Callable[[str], str], base_url: str) -> None:
        self.key = key
        self.decrypt = decrypt
        self.base_url = base_url

    def relay(self, session: Session, event: Event, now: datetime) -> None:
        if event.type != "order.completed":
            return
        try:
            order_id = uuid.UUID(str(event.data.get("id")))
        except ValueError:
            return
        order = session.scalar(
            select(Order).where(Order.practice_id == event.practice_id, Order.id == order_id)
        )
        if order is not None:
            queue_eyewear_ready(session, order, self.key, event_id=event.id, now=now)

    def compose(self, session: Session, message: PatientMessage, now: datetime) -> Composed | Skip:
        order = session.scalar(
            select(Order).where(
                Order.practice_id == message.practice_id, Order.id == message.order_id
            )
        )
        if order is None or order.status != READY:
            return Skip(NOT_READY)
        patient = _patient(session, order)
        reason = why_not(session, order, patient)
        if reason is not None:
            return Skip(reason)
        assert patient is not None and patient.email
        link = (
            links.live_link(session, message.practice_id, order.id, now)
            if message.link_id is None
            else session.get(PatientLink, message.link_id)
        )
        if link is None or links.state_of(link, now) == links.LinkState.REVOKED:
            return Skip(LINK_REVOKED)
        if links.state_of(link, now) == links.LinkState.EXPIRED:
            system = Actor.system(order.practice_id, via="patient_messages")
            issued = links.create_link(session, system, order.id, self.key, now=now)
            link = issued.link
            message.link_id = link.id
        token = self.key.token(link.nonce)
        server_row = mail_server(session, order.practice_id)
        assert server_row is not None
        practice = session.get(Practice, order.practice_id)
        assert practice is not None
        server = MailServer(
            host=server_row.host,
            port=server_row.port,
            security=server_row.security,
            username=server_row.username,
            password=(
                self.decrypt(server_row.password_ciphertext)
                if server_row.password_ciphertext
                else None
            ),
            from_address=server_row.from_address,
        )
        message.recipient = patient.email
        email = eyewear_email(
            practice_name=practice.name,
            first_name=patient.first_name,
            what=WHAT_IS_READY.get(order.type, "order is"),
            pickup=pickup_of(session, order.practice_id, order.location_id),
            link=links.address(self.base_url, token),
            link_until=_day(link.expires_at.astimezone(_zone(practice.timezone))),
        )
        email["From"] = formataddr((practice.name, server.from_address))
        email["To"] = patient.email
        email["Message-ID"] = make_msgid(idstring=message.id.hex, domain="optihub")
        return Composed(server, email)


def eyewear_email(
    *,
    practice_name: str,
    first_name: str,
    what: str,
    pickup: Pickup | None,
    link: str,
    link_until: str,
) -> EmailMessage:
    """The e-mail, plain text with an HTML alternative (no From / To yet)."""
    what_ready = f"Your {what} ready for pickup"
    if pickup is not None:
        where = pickup.name + (f" ({pickup.address})" if pickup.address else "")
        sentence = f"{what_ready} at {where}"
        sentence += f", {'; '.join(pickup.hours)}." if pickup.hours else "."
    else:
        sentence = f"{what_ready}."
    greeting = f"Hello {first_name}," if first_name.strip() else "Hello,"
    text = (
        f"{greeting}\n\n{sentence}\n\n"
        f"Your order's progress and your prescription:\n{link}\n"
        f"(This link works until {link_until}.)\n\n{practice_name}\n"
    )
    e = html.escape
    body = (
        '<!doctype html><html lang="en"><body style="font-family:system-ui,sans-serif;'
        'color:#1f2933;line-height:1.5">'
        f"<p>{e(greeting)}</p><p><strong>{e(sentence)}</strong></p>"
        f'<p><a href="{e(link)}">See your order\'s progress and your prescription</a><br>'
        f'<span style="color:#52606d">This link works until {e(link_until)}.</span></p>'
        f"<p>{e(practice_name)}</p></body></html>"
    )
    message = EmailMessage()
    message["Subject"] = f"{what_ready} \u2013 {practice_name}"
    message.set_content(text)
    message.add_alternative(body, subtype="html")
    return message
