"""The delivery worker: relay the outbox, claim due deliveries, POST them signed, retry.

* Claims use a lease (``locked_until``): a worker that dies mid-delivery loses nothing; the
  delivery is claimed again when the lease runs out and sent with the same ``X-Webhook-Id``.
  On PostgreSQL claims use ``FOR UPDATE SKIP LOCKED``, so many workers share the work.
* A 2xx is success; anything else, a timeout (10 s) or a refused address is a failed
  attempt, retried with exponential backoff and jitter for 24 hours, then marked failed;
  the subscription is then disabled with the reason recorded.
* A batch's answered deliveries are recorded together at least every quarter second (not
  when the batch's slowest delivery is done, which could outlast the lease; nor one
  transaction per delivery, which capped a worker near 130 a second): a delivery that fails
  in any way (a malformed stored URL, a secret that cannot be read, anything raised) is a
  failed attempt of that delivery alone, never an error that drops the rest of the batch.
* The host is resolved once per attempt and the request connects to the address checked
  (``events.sending``), so a name cannot rebind between the check and the connection.
* Patient e-mails (``events.mail``) are another kind of delivery of the same outbox: the
  relay hands each event to the ``MailDeliveries`` too, and each loop claims, sends (on the
  same thread pool) and records due messages with the same lease, backoff and 24 hours.
* Periodic jobs (``Periodic``, e.g. ``services.stuck_orders``) run from the same loop,
  each in its own transaction when due. Every worker runs them, so a job must be safe to
  run twice at once (the stuck-order job records each event at most once).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import Event, WebhookAttempt, WebhookDelivery, WebhookSubscription
from optihub.db.session import Database
from optihub.events import sending
from optihub.events.addresses import Resolver, resolve
from optihub.events.mail import MailDeliveries, Mailer, Sender, send
from optihub.events.relay import Renderer, Shape, relay_events, webhook_id
from optihub.events.signing import sign
from optihub.logging import get_logger

log = get_logger("optihub.webhooks")

LEASE = timedelta(seconds=60)
# Deliveries claimed (and events relayed) per loop; their outcomes are recorded in groups
# as they are answered (``_record_as_answered``).
BATCH = 200
RECORD_EVERY = 0.25  # seconds
RECORD_GROUP = 50
SECRETS_KEPT = 1024
RETRY_WINDOW = timedelta(hours=24)
BASE_DELAY = 30.0
MAX_DELAY = 3600.0


def backoff(attempt: int, rng: random.Random | None = None) -> timedelta:
    """Delay before retry ``attempt`` (1-based): 30 s doubling, capped at 1 h, with jitter
    between half and the full delay so failing receivers are not hit in lockstep."""
    delay = min(MAX_DELAY, BASE_DELAY * 2 ** (attempt - 1))
    return timedelta(seconds=delay * (0.5 + 0.5 * (rng or random).random()))


@dataclass(frozen=True)
class Periodic:
    """A job the worker runs every ``every``: ``run(session, now)`` in one transaction of
    its own (a failure is logged and rolled back; the job runs again when next due)."""

    name: str
    every: timedelta
    run: Callable[[Session, datetime], object]


@dataclass(frozen=True)
class Job:
    delivery_id: uuid.UUID
    # X-Webhook-Id: the event id, with the event code when it is not the event's type.
    event_id: str
    url: str
    secret_ciphertext: str
    payload: str


@dataclass(frozen=True)
class Outcome:
    delivery_id: uuid.UUID
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class DeliveryWorker:
    def __init__(
        self,
        db: Database,
        *,
        decrypt: Callable[[str], str],
        allowed_hosts: tuple[str, ...] = (),
        renderers: Mapping[str, Renderer | Shape] | None = None,
        concurrency: int = 8,
        clock: Callable[[], datetime] = utcnow,
        periodic: Sequence[Periodic] = (),
        resolver: Resolver = resolve,
        http: httpx.Client | None = None,
        mailer: Mailer | None = None,
        mail_sender: Sender = send,
        lease: timedelta = LEASE,
    ) -> None:
        self.db = db
        # How long a claim is this worker's alone (OPTIHUB_WEBHOOK_LEASE_SECONDS): it must
        # outlast a batch's sending (10 s timeout per delivery), or another worker sends the
        # delivery again while this one is still on it.
        self.lease = lease
        self.decrypt = decrypt
        self.allowed_hosts = allowed_hosts
        self.resolver = resolver
        self.renderers = dict(renderers or {})
        self.clock = clock
        self.periodic = tuple(periodic)
        # When each periodic job is next due (the first run is at the first loop).
        self._due: dict[str, datetime] = {}
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="webhook")
        self.http = http or sending.client()
        self._stop = threading.Event()
        self._secrets: dict[str, str] = {}
        self.mail = (
            MailDeliveries(
                mailer,
                sender=mail_sender,
                backoff=backoff,
                lease=lease,
                retry_window=RETRY_WINDOW,
            )
            if mailer is not None
            else None
        )

    def run_periodic(self, now: datetime) -> int:
        """Run the periodic jobs that are due; returns how many ran."""
        ran = 0
        for job in self.periodic:
            if self._due.get(job.name, now) > now:
                continue
            self._due[job.name] = now + job.every
            ran += 1
            try:
                with self.db.transaction() as session:
                    job.run(session, now)
            except Exception:
                log.exception("periodic_job_failed", job=job.name)
        return ran

    def run_once(self, batch: int = BATCH) -> int:
        """Run due periodic jobs, relay new events, then deliver what is due; returns
        deliveries attempted."""
        now = self.clock()
        self.run_periodic(now)
        reactions = (self.mail.relay,) if self.mail is not None else ()
        with self.db.transaction() as session:
            relay_events(session, now, self.renderers, batch=batch, reactions=reactions)
        jobs = self._claim(now, batch)
        mail_jobs = self.mail.claim(self.db, now, batch) if self.mail is not None else []
        sent = [self.pool.submit(self._send, job) for job in jobs]
        mailed = self.pool.map(self.mail.send, mail_jobs) if self.mail is not None else iter(())
        self._record_as_answered(sent)
        for mail_outcome in list(mailed):
            assert self.mail is not None
            try:
                self.mail.record(self.db, mail_outcome, self.clock())
            except Exception:  # the lease runs out and the message is sent again
                log.exception("mail_record_failed", message_id=str(mail_outcome.message_id))
        return len(jobs) + len(mail_jobs)

    def _record_as_answered(self, sent: list[Future[Outcome]]) -> None:
        """Record the deliveries whose answers are in, together, at least every
        ``RECORD_EVERY`` seconds (or ``RECORD_GROUP`` at a time): never after the batch's
        slowest delivery (a batch held until then can outlast the lease, and another worker
        sends the answered ones again), and not one transaction per delivery either."""
        remaining: set[Future[Outcome]] = set(sent)
        answered: list[Outcome] = []
        since = time.monotonic()
        while remaining:
            done, remaining = wait(remaining, timeout=RECORD_EVERY, return_when=FIRST_COMPLETED)
            answered += [future.result() for future in done]  # _send never raises
            due = time.monotonic() - since >= RECORD_EVERY or len(answered) >= RECORD_GROUP
            if answered and (due or not remaining):
                self._record_all(answered)
                answered, since = [], time.monotonic()

    def _claim(self, now: datetime, batch: int) -> list[Job]:
        with self.db.transaction() as session:
            rows = list(
                session.execute(
                    select(WebhookDelivery, WebhookSubscription, Event.type)
                    .join(
                        WebhookSubscription,
                        WebhookSubscription.id == WebhookDelivery.subscription_id,
                    )
                    .join(Event, Event.id == WebhookDelivery.event_id)
                    .where(
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.next_attempt_at <= now,
                        or_(
                            WebhookDelivery.locked_until.is_(None),
                            WebhookDelivery.locked_until < now,
                        ),
                        WebhookSubscription.enabled.is_(True),
                    )
                    .order_by(WebhookDelivery.next_attempt_at)
                    .limit(batch)
                    .with_for_update(skip_locked=True, of=WebhookDelivery)
                ).all()
            )
            jobs = []
            for delivery, subscription, event_type in rows:
                delivery.locked_until = now + self.lease
                jobs.append(
                    Job(
                        delivery.id,
                        webhook_id(delivery.event_id, event_type, delivery.event_code),
                        subscription.url,
                        subscription.secret_ciphertext,
                        delivery.payload,
                    )
                )
        return jobs

    def _secret(self, ciphertext: str) -> str:
        """A subscription's signing secret, decrypted once per worker (a batch of 200
        deliveries is usually a handful of subscriptions)."""
        secret = self._secrets.get(ciphertext)
        if secret is None:
            if len(self._secrets) >= SECRETS_KEPT:
                self._secrets.clear()
            secret = self._secrets[ciphertext] = self.decrypt(ciphertext)
        return secret

    def _send(self, job: Job) -> Outcome:
        """One attempt of one delivery; never raises (its failure is its outcome)."""
        try:
            body = job.payload.encode()
            timestamp = int(time.time())
            secret = self._secret(job.secret_ciphertext)
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "OptiHub-Webhooks/1",
                "X-Webhook-Id": job.event_id,
                "X-Webhook-Timestamp": str(timestamp),
                "X-Webhook-Signature": sign(secret, timestamp, body),
            }
            sent = sending.post(
                self.http, job.url, body, headers, self.allowed_hosts, self.resolver
            )
        except Exception as exc:
            log.exception("webhook_delivery_failed", delivery_id=str(job.delivery_id))
            return Outcome(job.delivery_id, None, f"not sent: {type(exc).__name__}", 0)
        return Outcome(job.delivery_id, sent.status_code, sent.error, sent.duration_ms)

    def _record_all(self, outcomes: list[Outcome]) -> None:
        """Record a batch's outcomes in one transaction (its deliveries and subscriptions
        read in two statements); if that fails, each on its own, so one bad row does not
        hold the others back (what is not recorded is sent again after its lease)."""
        if not outcomes:
            return
        now = self.clock()
        try:
            with self.db.transaction() as session:
                ids = sorted(outcome.delivery_id for outcome in outcomes)
                deliveries = {
                    d.id: d
                    for d in session.scalars(
                        select(WebhookDelivery)
                        .where(WebhookDelivery.id.in_(ids))
                        .order_by(WebhookDelivery.id)
                        .with_for_update()
                    )
                }
                wanted = {d.subscription_id for d in deliveries.values()}
                subscriptions = {
                    s.id: s
                    for s in session.scalars(
                        select(WebhookSubscription).where(WebhookSubscription.id.in_(wanted))
                    )
                }
                for outcome in outcomes:
                    delivery = deliveries.get(outcome.delivery_id)
                    if delivery is not None:  # None: its subscription was deleted meanwhile
                        subscription = subscriptions.get(delivery.subscription_id)
                        self._apply(session, outcome, delivery, subscription, now)
            return
        except Exception:
            log.exception("webhook_record_batch_failed", deliveries=len(outcomes))
        for outcome in outcomes:
            try:
                self._record(outcome)
            except Exception:  # the lease runs out and the delivery is sent again
                log.exception("webhook_record_failed", delivery_id=str(outcome.delivery_id))

    def _record(self, outcome: Outcome) -> None:
        now = self.clock()
        with self.db.transaction() as session:
            delivery = session.get(WebhookDelivery, outcome.delivery_id, with_for_update=True)
            if delivery is None:  # its subscription was deleted meanwhile
                return
            subscription = session.get(WebhookSubscription, delivery.subscription_id)
            self._apply(session, outcome, delivery, subscription, now)

    def _apply(
        self,
        session: Session,
        outcome: Outcome,
        delivery: WebhookDelivery,
        subscription: WebhookSubscription | None,
        now: datetime,
    ) -> None:
        """One attempt's outcome on its delivery and subscription (in the caller's
        transaction)."""
        session.add(
            WebhookAttempt(
                practice_id=delivery.practice_id,
                delivery_id=delivery.id,
                attempted_at=now,
                response_code=outcome.status_code,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
            )
        )
        delivery.attempt_count += 1
        delivery.last_response_code = outcome.status_code
        delivery.last_error = outcome.error or (
            None if outcome.ok else f"HTTP {outcome.status_code}"
        )
        delivery.locked_until = None
        if subscription is None:
            return
        subscription.last_delivery_at = now
        if outcome.ok:
            delivery.status = "delivered"
            delivery.delivered_at = now
            subscription.consecutive_failures = 0
            subscription.last_status = "delivered"
            return
        subscription.consecutive_failures += 1
        subscription.last_status = "failing"
        retry_at = now + backoff(delivery.attempt_count)
        if retry_at - delivery.created_at > RETRY_WINDOW:
            delivery.status = "failed"
            subscription.enabled = False
            subscription.disabled_at = now
            subscription.last_status = "disabled"
            subscription.disabled_reason = (
                f"Disabled after failing for 24 hours ({subscription.consecutive_failures} "
                f"attempts in a row; last: {delivery.last_error})"
            )[:500]
            log.warning("webhook_disabled", subscription_id=str(subscription.id))
        else:
            delivery.next_attempt_at = retry_at

    def run_forever(self, interval: float = 1.0) -> None:
        log.info("webhook_worker_started")
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:
                log.exception("webhook_worker_error")
                busy = 0
            if not busy:
                self._stop.wait(interval)
        log.info("webhook_worker_stopped")

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self.stop()
        self.pool.shutdown(wait=True)
        self.http.close()
