"""``order.stuck``: orders whose prescription products still have no prescription a day
after they were placed.

An order is **stuck** at ``now`` when all of these hold:

* it has at least one *unmatched prescription product*: an order line with
  ``prescription_required`` (the fulfillment service sets it for the product kinds that
  need a prescription, ``lens`` and ``contact_lens``: ``reads.products.PRODUCT_KINDS``)
  and no ``prescription_id`` linked. This is exactly what the fulfillment API's
  ``has_unmatched_prescriptions=true`` lists. Lines recorded through other surfaces carry
  their Rx on the order (``Order.prescription_id`` / ``rx_snapshot``), never the flag;
* it was created at least ``STUCK_AFTER`` (24 h) before ``now``, and at most
  ``STUCK_AFTER + LOOKBACK`` before (orders older than that when the job first runs are
  not announced: no burst of old orders on upgrade, and each run reads a bounded window);
* it is still open: ``received``, ``in_progress`` (any sub-step, paused included) or
  ``completed`` — not a draft, not shipped or delivered, not cancelled.

``record_stuck_orders`` records one ``order.stuck`` event per stuck order, **once per
order ever**: the event id is derived from the order (``stuck_event_id``), so the events'
primary key refuses a second one, whichever worker or transaction tries. Each candidate is
also re-checked under a row lock (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite runs one
writer at a time), so an order matched or cancelled concurrently is not announced, and two
workers running the job at once do not block each other. The delivery worker runs it
every ``EVERY`` (``events.worker.Periodic``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Exists, String, cast, exists, func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from optihub.db.models import Event, Order, OrderLine, Practice
from optihub.domain.events import OrderAttention
from optihub.domain.orders import OrderStatus
from optihub.events.outbox import record_event
from optihub.events.worker import Periodic
from optihub.services.orders import order_event_data

STUCK_AFTER = timedelta(hours=24)
LOOKBACK = timedelta(days=7)
EVERY = timedelta(minutes=5)
OPEN_STATUSES: tuple[str, ...] = (
    OrderStatus.RECEIVED.value,
    OrderStatus.IN_PROGRESS.value,
    OrderStatus.COMPLETED.value,
)
EVENT_ID_PREFIX = "evt_stk_"


def stuck_event_id(order_id: uuid.UUID) -> str:
    """The id of an order's ``order.stuck`` event: ``evt_stk_`` + the order id's 32 hex
    digits (40 characters, the events' id width). One per order, by construction."""
    return EVENT_ID_PREFIX + order_id.hex


def _unmatched(order_id: Any) -> Exists:
    return exists().where(
        OrderLine.order_id == order_id,
        OrderLine.prescription_required.is_(True),
        OrderLine.prescription_id.is_(None),
    )


def stuck_candidates(session: Session, now: datetime, limit: int = 200) -> list[uuid.UUID]:
    """Ids of the orders stuck at ``now`` and not announced yet, oldest first.

    One query per practice, each ``practice_id = p AND created_at`` in the window: a range
    of the orders' ``(practice_id, created_at, id)`` index, so a run reads the window's
    orders only, never the whole table."""
    # The order id as 32 hex digits in SQL: PostgreSQL's uuid text has dashes; SQLite
    # stores the hex digits already.
    hex_id = func.replace(cast(Order.id, String), "-", "")
    announced = exists().where(Event.id == literal(EVENT_ID_PREFIX) + hex_id)
    found: list[tuple[datetime, uuid.UUID]] = []
    for practice_id in list(session.scalars(select(Practice.id).order_by(Practice.id))):
        found += [
            (created_at, order_id)
            for created_at, order_id in session.execute(
                select(Order.created_at, Order.id)
                .where(
                    Order.practice_id == practice_id,
                    Order.created_at > now - STUCK_AFTER - LOOKBACK,
                    Order.created_at <= now - STUCK_AFTER,
                    Order.status.in_(OPEN_STATUSES),
                    _unmatched(Order.id),
                    ~announced,
                )
                .order_by(Order.created_at, Order.id)
                .limit(limit)
            )
        ]
    found.sort()
    return [order_id for _, order_id in found[:limit]]


def _still_stuck(order: Order, now: datetime) -> list[OrderLine] | None:
    """The unmatched prescription products of ``order`` when it is stuck at ``now``."""
    if order.status not in OPEN_STATUSES:
        return None
    if not now - STUCK_AFTER - LOOKBACK < order.created_at <= now - STUCK_AFTER:
        return None
    waiting = [ln for ln in order.lines if ln.prescription_required and ln.prescription_id is None]
    return waiting or None


def record_stuck_orders(session: Session, now: datetime, limit: int = 200) -> list[Event]:
    """Record ``order.stuck`` for every order stuck at ``now`` (up to ``limit`` per call)
    that has none yet; returns the events recorded. Runs in the caller's transaction.

    The event's data is the order as events carry it (``services.orders.order_event_data``)
    plus ``unmatched_line_ids`` (the prescription products still waiting) and
    ``stuck_at`` (creation + 24 h).
    """
    recorded: list[Event] = []
    for order_id in stuck_candidates(session, now, limit):
        event = _record_one(session, order_id, now)
        if event is not None:
            recorded.append(event)
    return recorded


def _record_one(session: Session, order_id: uuid.UUID, now: datetime) -> Event | None:
    event_id = stuck_event_id(order_id)
    try:
        with session.begin_nested():
            order = session.scalar(
                select(Order)
                .options(selectinload(Order.lines))
                .where(Order.id == order_id)
                .with_for_update(skip_locked=True)
                .execution_options(populate_existing=True)
            )
            if order is None:  # deleted, or another transaction holds it: next run
                return None
            waiting = _still_stuck(order, now)
            if waiting is None or session.scalar(select(Event.id).where(Event.id == event_id)):
                return None
            event = record_event(
                session,
                practice_id=order.practice_id,
                type=OrderAttention.ORDER_STUCK.value,
                data=order_event_data(order)
                | {
                    "unmatched_line_ids": [str(ln.id) for ln in waiting],
                    "stuck_at": (order.created_at + STUCK_AFTER).isoformat(),
                },
                at=now,
                id=event_id,
            )
            session.flush()
    except IntegrityError:
        # Another transaction recorded it between our check and our insert.
        return None
    return event


def periodic(every: timedelta = EVERY) -> Periodic:
    """The job as the delivery worker schedules it (``DeliveryWorker(periodic=...)``)."""
    return Periodic("order.stuck", every, record_stuck_orders)
