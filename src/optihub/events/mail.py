"""E-mail as a kind of outbox delivery: messages to patients, sent by the delivery worker
through the practice's own SMTP server and retried as webhook deliveries are.

The outbox event (``order.completed``) is fanned out by the relay, in the relay's
transaction, to whatever ``Mailer.relay`` makes of it (a ``patient_messages`` row); the
worker then claims due messages with a lease, asks the ``Mailer`` to compose each one
(in the claim's transaction: the message is written from the data as it is *now*),
sends them on its thread pool with the standard library's ``smtplib`` (never on an event
loop) and records the outcome: sent, a failed attempt retried with the worker's backoff
for 24 hours and then given up, or skipped with the reason the composer gave (consent
withdrawn, no mail server any more...). Every attempt is logged.

At least once: a worker that dies after the server accepted a message and before the
outcome was recorded sends it again when the lease runs out; the message keeps one
``Message-ID`` so a mail client shows one.

The what (consent, the link, the words) is the services' (``services.patient_messages``);
this module knows only rows, SMTP and timing.
"""

from __future__ import annotations

import smtplib
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from optihub.db.models import Event, PatientMessage
from optihub.db.session import Database
from optihub.logging import get_logger

log = get_logger("optihub.mail")

TIMEOUT_SECONDS = 10.0
SECURITY_MODES = ("starttls", "tls", "none")


@dataclass(frozen=True)
class MailServer:
    """Where and how to hand a message over (the password in the clear, for the send
    only: it lives encrypted in the database)."""

    host: str
    port: int
    security: str  # starttls | tls | none
    username: str | None
    password: str | None
    from_address: str


@dataclass(frozen=True)
class Composed:
    server: MailServer
    message: EmailMessage


@dataclass(frozen=True)
class Skip:
    """The message is not to be sent (now or ever): ``reason`` in the practice's words."""

    reason: str


class Mailer(Protocol):
    """What makes messages of events and writes them (``services.patient_messages``)."""

    # The event types ``relay`` makes messages of (others are not handed to it).
    event_types: frozenset[str]

    def relay(self, session: Session, event: Event, now: datetime) -> None:
        """Add the messages ``event`` asks for (at most once each) to the session."""
        ...

    def compose(self, session: Session, message: PatientMessage, now: datetime) -> Composed | Skip:
        """The message to send now, or why it is not to be sent. May raise (a failed
        attempt, retried)."""
        ...


def send(server: MailServer, message: EmailMessage, timeout: float = TIMEOUT_SECONDS) -> None:
    """Hand ``message`` to ``server`` over SMTP (STARTTLS, implicit TLS or plain, as set;
    certificates checked). Raises ``OSError`` or ``smtplib.SMTPException``."""
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if server.security == "tls":
        smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(server.host, server.port, timeout=timeout)
    with smtp:
        if server.security == "starttls":
            smtp.starttls(context=context)
        if server.username:
            smtp.login(server.username, server.password or "")
        smtp.send_message(message)


Sender = Callable[[MailServer, EmailMessage], None]


@dataclass(frozen=True)
class MailJob:
    message_id: uuid.UUID
    composed: Composed | None
    skip: str | None = None
    # Why it could not be composed (a failed attempt).
    error: str | None = None


@dataclass(frozen=True)
class MailOutcome:
    message_id: uuid.UUID
    error: str | None
    skip: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.skip is None


class MailDeliveries:
    """Claims, sends and records due patient messages for the ``DeliveryWorker``."""

    def __init__(
        self,
        mailer: Mailer,
        *,
        sender: Sender = send,
        backoff: Callable[[int], timedelta],
        lease: timedelta,
        retry_window: timedelta,
    ) -> None:
        self.mailer = mailer
        self.sender = sender
        self.backoff = backoff
        self.lease = lease
        self.retry_window = retry_window

    def relay(self, session: Session, event: Event, now: datetime) -> None:
        """Hand ``event`` to the mailer on a savepoint: a message that cannot be recorded
        is logged and lost, but never holds up the relay of the outbox (the webhooks)."""
        if event.type not in self.mailer.event_types:
            return
        try:
            with session.begin_nested():
                self.mailer.relay(session, event, now)
        except Exception:
            log.exception("mail_relay_failed", event_id=event.id)

    def claim(self, db: Database, now: datetime, batch: int) -> list[MailJob]:
        """Due messages, leased to this worker and composed (each composed on its own
        savepoint: one that cannot be composed is a failed attempt of its own)."""
        with db.transaction() as session:
            messages = list(
                session.scalars(
                    select(PatientMessage)
                    .where(
                        PatientMessage.status == "pending",
                        PatientMessage.next_attempt_at <= now,
                        or_(
                            PatientMessage.locked_until.is_(None),
                            PatientMessage.locked_until < now,
                        ),
                    )
                    .order_by(PatientMessage.next_attempt_at)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            )
            jobs = []
            for message in messages:
                message.locked_until = now + self.lease
                try:
                    with session.begin_nested():
                        made = self.mailer.compose(session, message, now)
                except Exception as exc:
                    log.exception("mail_compose_failed", message_id=str(message.id))
                    error = f"The message could not be written ({type(exc).__name__}; see the log)."
                    jobs.append(MailJob(message.id, None, error=error))
                    continue
                if isinstance(made, Skip):
                    jobs.append(MailJob(message.id, None, made.reason))
                else:
                    jobs.append(MailJob(message.id, made))
        return jobs

    def send(self, job: MailJob) -> MailOutcome:
        """One attempt; never raises (its failure is its outcome)."""
        if job.skip is not None:
            return MailOutcome(job.message_id, None, job.skip)
        if job.composed is None:
            return MailOutcome(job.message_id, job.error or "The message could not be written.")
        try:
            self.sender(job.composed.server, job.composed.message)
        except (OSError, smtplib.SMTPException) as exc:
            return MailOutcome(job.message_id, _words(exc, job.composed.server))
        except Exception as exc:
            log.exception("mail_send_failed", message_id=str(job.message_id))
            return MailOutcome(job.message_id, f"Not sent: {type(exc).__name__}")
        return MailOutcome(job.message_id, None)

    def record(self, db: Database, outcome: MailOutcome, now: datetime) -> None:
        with db.transaction() as session:
            message = session.get(PatientMessage, outcome.message_id, with_for_update=True)
            if message is None or message.status != "pending":
                return
            message.locked_until = None
            if outcome.skip is not None:
                message.status = "skipped"
                message.last_error = outcome.skip[:500]
                log.info("mail_skipped", message_id=str(message.id), reason=outcome.skip)
                return
            message.attempt_count += 1
            message.last_attempt_at = now
            if outcome.ok:
                message.status = "sent"
                message.sent_at = now
                message.last_error = None
                log.info("mail_sent", message_id=str(message.id), attempts=message.attempt_count)
                return
            message.last_error = (outcome.error or "Not sent")[:500]
            retry_at = now + self.backoff(message.attempt_count)
            if retry_at - message.created_at > self.retry_window:
                message.status = "failed"
                log.warning("mail_given_up", message_id=str(message.id), error=message.last_error)
            else:
                message.next_attempt_at = retry_at
                log.info(
                    "mail_retrying",
                    message_id=str(message.id),
                    error=message.last_error,
                    next_attempt_at=retry_at.isoformat(),
                )


def _words(exc: BaseException, server: MailServer) -> str:
    """A failed send in words the practice can act on (the server's own reply kept)."""
    where = f"{server.host}:{server.port}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"The mail server {where} refused the user name or password."
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"The mail server {where} refused the patient's address."
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
        return f"The mail server {where} answered {exc.smtp_code} {reply}".strip()[:500]
    if isinstance(exc, ssl.SSLError):
        return f"Could not set up a secure connection with {where}: {exc.reason or exc}"[:500]
    if isinstance(exc, TimeoutError):
        return f"The mail server {where} did not answer within {TIMEOUT_SECONDS:.0f} s."
    if isinstance(exc, ConnectionRefusedError):
        return f"The mail server {where} refused the connection (is it running?)."
    return f"Could not reach the mail server {where}: {exc}"[:500]
