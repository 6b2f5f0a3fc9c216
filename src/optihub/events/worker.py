"""The delivery worker: relay the outbox, claim due deliveries, POST them signed, retry.

* Claims use a lease (``locked_until``, and ``locked_by``: the worker's host and process):
  a worker that dies mid-delivery loses nothing; the delivery is claimed again when the
  lease runs out and sent with the same ``X-Webhook-Id``.
  On PostgreSQL claims use ``FOR UPDATE SKIP LOCKED``, so many workers share the work.
* Fair: a claim takes the due deliveries round robin across subscriptions (every
  subscription with due deliveries gets its next one before any gets another), at most
  ``SHARE`` of one subscription per claim and none while it holds ``SHARE``; the sender
  (``events.sending.Sender``) has at most 8 requests of one subscription in flight, and
  a host's lookup has a deadline. A subscriber whose DNS hangs or whose receiver never
  answers holds its own share while the others' deliveries go out beside it.
* Pipelined: the worker claims more while earlier deliveries are in flight (up to
  ``IN_FLIGHT`` held at once), and records answers as they come; it never waits for a
  batch's slowest delivery. A delivery not started within half its lease (it waited
  behind its subscriber's own slow deliveries) is given back unsent, so a queue never
  outlasts a lease and no other worker sends it meanwhile.
* A 2xx is success; anything else, a timeout (10 s to connect, 10 s for the answer), a
  lookup past its deadline or a refused address is a failed attempt, retried with
  exponential backoff and jitter for 24 hours, then marked failed; the subscription is then
  disabled with the reason recorded.
* Answers are recorded together, a group at a time (at most every quarter second), in a
  few statements per group (attempts inserted in one, deliveries updated in one
  executemany, one update per subscription): a delivery that fails in any way (a malformed
  stored URL, a secret that cannot be read, anything raised) is a failed attempt of that
  delivery alone, never an error that drops the rest of the batch.
* Patient e-mails (``events.mail``) are another kind of delivery of the same outbox: the
  relay hands each event to the ``MailDeliveries`` too, and each loop claims, sends (on a
  thread pool of their own) and records due messages with the same lease, backoff and 24
  hours.
* Periodic jobs (``Periodic``, e.g. ``services.stuck_orders``) run from the same loop,
  each in its own transaction when due. Every worker runs them, so a job must be safe to
  run twice at once (the stuck-order job records each event at most once).
"""

from __future__ import annotations

import os
import queue
import random
import socket
import ssl
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select, true, update
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import Event, WebhookAttempt, WebhookDelivery, WebhookSubscription
from optihub.db.session import Database
from optihub.events.addresses import LOOKUP_SECONDS, Resolver, resolve
from optihub.events.bulk import insert_rows, update_rows
from optihub.events.mail import MailDeliveries, Mailer, Sender, send
from optihub.events.relay import Renderer, Shape, relay_events, webhook_id
from optihub.events.sending import TIMEOUT_SECONDS, Post, Sent
from optihub.events.sending import Sender as WebhookSender
from optihub.logging import get_logger

log = get_logger("optihub.webhooks")

LEASE = timedelta(seconds=60)
# Deliveries claimed (and events relayed) per claim.
BATCH = 200
# Deliveries of one subscription a worker holds at once (claimed and not yet recorded).
SHARE = 100
# Deliveries a worker holds at once, all subscriptions together.
IN_FLIGHT = 400
# Requests of one subscription in flight at once, and of all together.
PER_SUBSCRIPTION = 8
CONCURRENCY = 64
RECORD_EVERY = 0.25  # seconds
RECORD_GROUP = 100
SECRETS_KEPT = 1024
RETRY_WINDOW = timedelta(hours=24)
BASE_DELAY = 30.0
MAX_DELAY = 3600.0

_WD = WebhookDelivery.__table__
_WA = WebhookAttempt.__table__
_WS = WebhookSubscription.__table__


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
    """A claimed delivery, as its attempt and its record need it."""

    delivery_id: uuid.UUID
    subscription_id: uuid.UUID
    practice_id: int
    # X-Webhook-Id: the event id, with the event code when it is not the event's type.
    event_id: str
    url: str
    secret_ciphertext: str
    payload: str
    attempt_count: int
    next_attempt_at: datetime
    created_at: datetime


class DeliveryWorker:
    def __init__(
        self,
        db: Database,
        *,
        decrypt: Callable[[str], str],
        allowed_hosts: tuple[str, ...] = (),
        renderers: Mapping[str, Renderer | Shape] | None = None,
        concurrency: int = CONCURRENCY,
        per_subscription: int = PER_SUBSCRIPTION,
        share: int = SHARE,
        clock: Callable[[], datetime] = utcnow,
        periodic: Sequence[Periodic] = (),
        resolver: Resolver = resolve,
        tls: ssl.SSLContext | None = None,
        timeout: float = TIMEOUT_SECONDS,
        lookup_timeout: float = LOOKUP_SECONDS,
        mailer: Mailer | None = None,
        mail_sender: Sender = send,
        lease: timedelta = LEASE,
        holder: str | None = None,
    ) -> None:
        self.db = db
        # Who this worker is in the deliveries it claims (``locked_by``): its host and
        # process, unique across the nodes sharing one database.
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"[:200]
        # How long a claim is this worker's alone (OPTIHUB_WEBHOOK_LEASE_SECONDS): it must
        # outlast a delivery's attempt (10 s to connect, 10 s for the answer), or another
        # worker sends the delivery again while this one is still on it.
        self.lease = lease
        self.decrypt = decrypt
        self.allowed_hosts = allowed_hosts
        self.renderers = dict(renderers or {})
        self.clock = clock
        self.periodic = tuple(periodic)
        self.share = share
        # When each periodic job is next due (the first run is at the first loop).
        self._due: dict[str, datetime] = {}
        self.sender = WebhookSender(
            allowed_hosts,
            resolver,
            tls=tls,
            concurrency=concurrency,
            per_group=per_subscription,
            timeout=timeout,
            lookup_timeout=lookup_timeout,
        )
        # Claimed and not yet recorded (this thread's alone), and answers as they come
        # (put by the sender's thread).
        self._held: dict[uuid.UUID, Job] = {}
        self._held_per_subscription: Counter[uuid.UUID] = Counter()
        self._answers: queue.SimpleQueue[tuple[Job, Sent]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._secrets: dict[str, str] = {}
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="mail")
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
        """Run due periodic jobs, relay new events, then deliver what is due and record
        every answer; returns deliveries attempted."""
        claimed = self._step(batch, room=batch)
        while self._held:
            self._collect()
        return claimed + self._mail_once(batch)

    def _step(self, batch: int, room: int) -> int:
        """Periodic jobs, the relay, and a claim of up to ``room`` deliveries handed to the
        sender; returns deliveries claimed."""
        now = self.clock()
        self.run_periodic(now)
        reactions = (self.mail.relay,) if self.mail is not None else ()
        with self.db.transaction() as session:
            relay_events(session, now, self.renderers, batch=batch, reactions=reactions)
        if room <= 0:
            return 0
        jobs = self._claim(now, min(batch, room))
        self._dispatch(jobs)
        return len(jobs)

    def _mail_once(self, batch: int) -> int:
        if self.mail is None:
            return 0
        mail_jobs = self.mail.claim(self.db, self.clock(), batch)
        for mail_outcome in list(self.pool.map(self.mail.send, mail_jobs)):
            try:
                self.mail.record(self.db, mail_outcome, self.clock())
            except Exception:  # the lease runs out and the message is sent again
                log.exception("mail_record_failed", message_id=str(mail_outcome.message_id))
        return len(mail_jobs)

    def _claim(self, now: datetime, limit: int) -> list[Job]:
        """Up to ``limit`` due deliveries, round robin across subscriptions (a subscription
        whose share this worker already holds is left out), leased to this worker."""
        full = [s for s, held in self._held_per_subscription.items() if held >= self.share]
        with self.db.transaction() as session:
            rows = session.execute(self._due_deliveries(session, now, limit, full)).all()
            if rows:
                session.execute(
                    update(_WD)
                    .where(_WD.c.id.in_([row.id for row in rows]))
                    .values(locked_until=now + self.lease, locked_by=self.holder)
                )
        return [
            Job(
                row.id,
                row.subscription_id,
                row.practice_id,
                webhook_id(row.event_id, row.type, row.event_code),
                row.url,
                row.secret_ciphertext,
                row.payload,
                row.attempt_count,
                row.next_attempt_at,
                row.created_at,
            )
            for row in rows
        ]

    def _due_deliveries(
        self, session: Session, now: datetime, limit: int, full: list[uuid.UUID]
    ) -> Select[Any]:
        """The claim's query. PostgreSQL: per enabled subscription, its oldest due
        deliveries (at most a share) locked ``SKIP LOCKED`` (a LATERAL subquery, so two
        workers take different rows of one subscription), then ranked within their
        subscription and taken rank by rank. SQLite (one writer at a time): the same
        ranking over the due deliveries."""
        due = (
            _WD.c.status == "pending",
            _WD.c.next_attempt_at <= now,
            or_(_WD.c.locked_until.is_(None), _WD.c.locked_until < now),
        )
        share = min(self.share, limit)
        skipped = (_WS.c.id.not_in(full),) if full else ()
        if session.get_bind().dialect.name == "postgresql":
            oldest = (
                select(_WD.c.id, _WD.c.subscription_id, _WD.c.next_attempt_at)
                .where(_WD.c.subscription_id == _WS.c.id, *due)
                .order_by(_WD.c.next_attempt_at)
                .limit(share)
                .with_for_update(skip_locked=True)
                .lateral("oldest")
            )
            ranked = (
                select(
                    oldest.c.id,
                    oldest.c.next_attempt_at,
                    func.row_number()
                    .over(partition_by=oldest.c.subscription_id, order_by=oldest.c.next_attempt_at)
                    .label("turn"),
                )
                .select_from(_WS.join(oldest, true()))
                .where(_WS.c.enabled.is_(True), *skipped)
                .subquery("ranked")
            )
        else:
            inner = (
                select(
                    _WD.c.id,
                    _WD.c.next_attempt_at,
                    func.row_number()
                    .over(partition_by=_WD.c.subscription_id, order_by=_WD.c.next_attempt_at)
                    .label("turn"),
                )
                .select_from(_WD.join(_WS, _WS.c.id == _WD.c.subscription_id))
                .where(*due, _WS.c.enabled.is_(True), *skipped)
                .subquery("inner")
            )
            ranked = select(inner).where(inner.c.turn <= share).subquery("ranked")
        chosen = (
            select(ranked.c.id)
            .order_by(ranked.c.turn, ranked.c.next_attempt_at)
            .limit(limit)
            .subquery("chosen")
        )
        return (
            select(
                _WD.c.id,
                _WD.c.subscription_id,
                _WD.c.practice_id,
                _WD.c.event_id,
                _WD.c.event_code,
                _WD.c.payload,
                _WD.c.attempt_count,
                _WD.c.next_attempt_at,
                _WD.c.created_at,
                _WS.c.url,
                _WS.c.secret_ciphertext,
                Event.type,
            )
            .select_from(
                _WD.join(chosen, chosen.c.id == _WD.c.id)
                .join(_WS, _WS.c.id == _WD.c.subscription_id)
                .join(Event, Event.id == _WD.c.event_id)
            )
            .order_by(_WD.c.next_attempt_at)
        )

    def _dispatch(self, jobs: list[Job]) -> None:
        """Hold ``jobs`` and hand them to the sender (a secret that cannot be read is the
        delivery's failed attempt, answered at once)."""
        start_by = time.monotonic() + self.lease.total_seconds() / 2
        posts: list[tuple[Job, Post]] = []
        for job in jobs:
            self._held[job.delivery_id] = job
            self._held_per_subscription[job.subscription_id] += 1
            try:
                secret = self._secret(job.secret_ciphertext)
            except Exception as exc:
                log.exception("webhook_delivery_failed", delivery_id=str(job.delivery_id))
                self._answers.put((job, Sent(None, f"not sent: {type(exc).__name__}", 0)))
                continue
            post = Post(
                job.subscription_id,
                job.url,
                job.event_id,
                secret,
                job.payload.encode(),
                start_by=start_by,
            )
            posts.append((job, post))
        if posts:
            self.sender.send(posts, self._answered)

    def _answered(self, job: Job, sent: Sent) -> None:
        self._answers.put((job, sent))

    def _secret(self, ciphertext: str) -> str:
        """A subscription's signing secret, decrypted once per worker (a batch of 200
        deliveries is usually a handful of subscriptions)."""
        secret = self._secrets.get(ciphertext)
        if secret is None:
            if len(self._secrets) >= SECRETS_KEPT:
                self._secrets.clear()
            secret = self._secrets[ciphertext] = self.decrypt(ciphertext)
        return secret

    def _collect(self, room_wanted: int = 0) -> int:
        """Record the answers that come within ``RECORD_EVERY`` seconds (fewer when all
        held deliveries are answered, ``RECORD_GROUP`` at most, or when ``room_wanted``
        deliveries could be claimed again); returns answers recorded."""
        answered: list[tuple[Job, Sent]] = []
        deadline = time.monotonic() + RECORD_EVERY
        outstanding = len(self._held)
        while len(answered) < min(outstanding, RECORD_GROUP):
            if room_wanted and IN_FLIGHT - outstanding + len(answered) >= room_wanted:
                break
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    answered.append(self._answers.get_nowait())
                else:
                    answered.append(self._answers.get(timeout=remaining))
            except queue.Empty:
                break
        if answered:
            self._record_all(answered)
            for job, _sent in answered:
                self._held.pop(job.delivery_id, None)
                self._held_per_subscription[job.subscription_id] -= 1
                if self._held_per_subscription[job.subscription_id] <= 0:
                    del self._held_per_subscription[job.subscription_id]
        return len(answered)

    def _record_all(self, answered: list[tuple[Job, Sent]]) -> None:
        """Record a group of answers in one transaction; if that fails, each on its own, so
        one bad row does not hold the others back (what is not recorded is sent again
        after its lease)."""
        now = self.clock()
        try:
            with self.db.transaction() as session:
                self._apply(session, answered, now)
            return
        except Exception:
            log.exception("webhook_record_batch_failed", deliveries=len(answered))
        for one in answered:
            try:
                with self.db.transaction() as session:
                    self._apply(session, [one], now)
            except Exception:  # the lease runs out and the delivery is sent again
                log.exception("webhook_record_failed", delivery_id=str(one[0].delivery_id))

    def _apply(self, session: Session, answered: list[tuple[Job, Sent]], now: datetime) -> None:
        """Answers on their deliveries, attempts and subscriptions (in the caller's
        transaction): the deliveries locked in id order, then a few statements for all."""
        ids = sorted(job.delivery_id for job, _ in answered)
        # A delivery gone meanwhile (its subscription was deleted) is not recorded.
        present = set(
            session.scalars(
                select(_WD.c.id).where(_WD.c.id.in_(ids)).order_by(_WD.c.id).with_for_update()
            )
        )
        returned = [j.delivery_id for j, s in answered if s.unsent and j.delivery_id in present]
        if returned:  # not started in time: claimable again at once, no attempt made
            session.execute(
                update(_WD).where(_WD.c.id.in_(returned)).values(locked_until=None, locked_by=None)
            )
        attempts: list[dict[str, Any]] = []
        deliveries: list[dict[str, Any]] = []
        by_subscription: dict[uuid.UUID, list[tuple[bool, str | None, bool]]] = {}
        for job, sent in answered:
            if sent.unsent or job.delivery_id not in present:
                continue
            count = job.attempt_count + 1
            error = sent.error or (None if sent.ok else f"HTTP {sent.status_code}")
            status, next_at, delivered_at = "pending", job.next_attempt_at, None
            if sent.ok:
                status, delivered_at = "delivered", now
            else:
                retry_at = now + backoff(count)
                if retry_at - job.created_at > RETRY_WINDOW:
                    status = "failed"
                else:
                    next_at = retry_at
            attempts.append(
                {
                    "practice_id": job.practice_id,
                    "delivery_id": job.delivery_id,
                    "attempted_at": now,
                    "response_code": sent.status_code,
                    "error": error,
                    "duration_ms": sent.duration_ms,
                }
            )
            deliveries.append(
                {
                    "id": job.delivery_id,
                    "status": status,
                    "attempt_count": count,
                    "last_response_code": sent.status_code,
                    "last_error": error,
                    "next_attempt_at": next_at,
                    "delivered_at": delivered_at,
                    "locked_until": None,
                    "locked_by": None,
                }
            )
            by_subscription.setdefault(job.subscription_id, []).append(
                (sent.ok, error, status == "failed")
            )
        if not deliveries:
            return
        insert_rows(session, _WA, attempts)
        update_rows(session, _WD, deliveries)
        for subscription_id, outcomes in by_subscription.items():
            self._apply_to_subscription(session, subscription_id, outcomes, now)

    def _apply_to_subscription(
        self,
        session: Session,
        subscription_id: uuid.UUID,
        outcomes: list[tuple[bool, str | None, bool]],
        now: datetime,
    ) -> None:
        """A subscription's answers, in the order they came: its last delivery and
        status, its failures since the last success, and its end after 24 hours."""
        last_ok = max((i for i, (ok, _, _) in enumerate(outcomes) if ok), default=None)
        failures = len(outcomes) - 1 - last_ok if last_ok is not None else len(outcomes)
        consecutive = failures if last_ok is not None else _WS.c.consecutive_failures + failures
        gave_up = [error for _, error, failed in outcomes if failed]
        values: dict[str, Any] = {
            "last_delivery_at": now,
            "consecutive_failures": consecutive,
            "last_status": "delivered" if outcomes[-1][0] else "failing",
        }
        if gave_up:
            values |= {"enabled": False, "disabled_at": now, "last_status": "disabled"}
        statement = update(_WS).where(_WS.c.id == subscription_id).values(**values)
        if not gave_up:
            session.execute(statement)
            return
        failed_in_a_row = session.scalar(statement.returning(_WS.c.consecutive_failures))
        if failed_in_a_row is None:
            return
        session.execute(
            update(_WS)
            .where(_WS.c.id == subscription_id)
            .values(
                disabled_reason=(
                    f"Disabled after failing for 24 hours ({failed_in_a_row} attempts in a "
                    f"row; last: {gave_up[-1]})"
                )[:500]
            )
        )
        log.warning("webhook_disabled", subscription_id=str(subscription_id))

    def run_forever(self, interval: float = 1.0, batch: int = BATCH) -> None:
        """Deliver until ``stop``: claim while fewer than ``IN_FLIGHT`` are held, record
        answers as they come, and sleep ``interval`` when there is nothing to do."""
        log.info("webhook_worker_started")
        while not self._stop.is_set():
            try:
                room = IN_FLIGHT - len(self._held)
                # Claim when a good part of a batch fits (not a few rows per claim).
                wanted = min(batch, room) if room >= batch // 2 else 0
                claimed = self._step(batch, wanted)
                # A full claim: more may be due, so record only until a batch fits again.
                more = wanted > 0 and claimed == wanted
                recorded = self._collect(batch if more else 0) if self._held else 0
                busy = claimed + recorded + self._mail_once(batch)
            except Exception:
                log.exception("webhook_worker_error")
                busy = 0
            if not busy and not self._held:
                self._stop.wait(interval)
        while self._held:  # what was sent is recorded before the worker ends
            try:
                self._collect()
            except Exception:
                log.exception("webhook_worker_error")
                break
        log.info("webhook_worker_stopped")

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self.stop()
        self.pool.shutdown(wait=True)
        self.sender.close()
