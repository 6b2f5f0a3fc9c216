"""``order.stuck``: once per order whose prescription products still have no prescription
24 h after it was placed, never for a matched, cancelled or shipped one, never twice —
even with two workers running the job at the same moment."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from optihub.db.base import utcnow
from optihub.db.models import Event, OrderLine
from optihub.domain.orders import OrderStatus
from optihub.events.worker import DeliveryWorker, Periodic
from optihub.services import orders, prescriptions, stuck_orders
from tests import factories

DAY = timedelta(hours=24)


@pytest.fixture
def shop(db):
    with db.transaction() as s:
        practice = factories.practice(s)
        patient = factories.patient(s, practice.id)
    return {"practice": practice.id, "patient": patient.id}


def place(db, shop, created_at: datetime, kinds=("lens", "frame")) -> uuid.UUID:
    """An order with one line per kind; lens and contact-lens lines need a prescription,
    as the fulfillment service marks them."""
    with db.transaction() as s:
        order = orders.place_order(
            s,
            factories.actor(shop["practice"]),
            orders.NewOrder(
                patient_id=shop["patient"],
                lines=[orders.LineItem(k, 1, Decimal("50"), kind=k) for k in kinds],
                created_at=created_at,
            ),
        )
        for line in s.scalars(select(OrderLine).where(OrderLine.order_id == order.id)):
            line.prescription_required = line.kind in ("lens", "contact_lens")
        return order.id


def run(db, now: datetime) -> list[str]:
    with db.transaction() as s:
        return [e.id for e in stuck_orders.record_stuck_orders(s, now)]


def stuck_events(db) -> list[Event]:
    with db.transaction() as s:
        found = list(s.scalars(select(Event).where(Event.type == "order.stuck")))
        s.expunge_all()
        return found


def test_not_before_24_hours_then_once(db, shop):
    created = utcnow() - timedelta(hours=30)
    order_id = place(db, shop, created)
    assert run(db, created + DAY - timedelta(seconds=1)) == []
    assert stuck_events(db) == []

    assert run(db, created + DAY) == [stuck_orders.stuck_event_id(order_id)]
    [event] = stuck_events(db)
    assert event.id == "evt_stk_" + order_id.hex
    assert len(event.id) == 40
    assert event.practice_id == shop["practice"]
    assert event.data["id"] == str(order_id)
    assert event.data["status"] == "received"
    with db.transaction() as s:
        lens = s.scalar(select(OrderLine.id).where(OrderLine.kind == "lens"))
    assert event.data["unmatched_line_ids"] == [str(lens)]
    assert event.data["stuck_at"] == (created + DAY).isoformat()


def test_never_twice(db, shop):
    created = utcnow() - timedelta(hours=30)
    place(db, shop, created)
    assert len(run(db, created + DAY + timedelta(minutes=1))) == 1
    assert run(db, created + DAY + timedelta(minutes=2)) == []
    assert run(db, created + DAY + timedelta(hours=5)) == []
    assert len(stuck_events(db)) == 1


def test_two_workers_at_once_record_each_order_once(db, shop):
    created = utcnow() - timedelta(hours=30)
    ids = {place(db, shop, created + timedelta(seconds=n)) for n in range(8)}
    now = created + DAY + timedelta(minutes=1)
    start = threading.Barrier(3)
    recorded: list[list[str]] = []

    def job() -> None:
        start.wait()
        recorded.append(run(db, now))

    threads = [threading.Thread(target=job) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [e for batch in recorded for e in batch]
    assert sorted(flat) == sorted(stuck_orders.stuck_event_id(i) for i in ids)
    assert len(stuck_events(db)) == len(ids)


def test_a_second_transaction_waits_or_skips_and_records_nothing(db, shop):
    """One transaction records the event and holds it uncommitted; another runs the job
    meanwhile (PostgreSQL: skips the locked order; SQLite: waits for the writer)."""
    created = utcnow() - timedelta(hours=30)
    place(db, shop, created)
    now = created + DAY + timedelta(minutes=1)
    other: list[list[str]] = []
    with db.transaction() as first:
        assert len(stuck_orders.record_stuck_orders(first, now)) == 1
        thread = threading.Thread(target=lambda: other.append(run(db, now)))
        thread.start()
        time.sleep(0.3)
    thread.join()
    assert other == [[]]
    assert len(stuck_events(db)) == 1


def test_the_event_id_refuses_a_second_event_whoever_writes_it(db, shop):
    created = utcnow() - timedelta(hours=30)
    order_id = place(db, shop, created)
    now = created + DAY
    with db.transaction() as s:
        candidates = stuck_orders.stuck_candidates(s, now)
    assert candidates == [order_id]
    run(db, now)
    # A worker that listed the order before the other committed: re-checks under the lock.
    with db.transaction() as s:
        assert stuck_orders._record_one(s, order_id, now) is None
    assert len(stuck_events(db)) == 1


def test_a_matched_order_never(db, shop):
    created = utcnow() - timedelta(hours=30)
    order_id = place(db, shop, created, kinds=("lens", "contact_lens"))
    with db.transaction() as s:
        rx = prescriptions.create_spectacle_prescription(
            s,
            factories.actor(shop["practice"]),
            patient_id=shop["patient"],
            rx=factories.spectacle_rx(),
            issued_on=date.today(),
        )
        for line in s.scalars(select(OrderLine).where(OrderLine.order_id == order_id)):
            line.prescription_id = rx.id
    assert run(db, created + DAY + timedelta(hours=1)) == []
    assert stuck_events(db) == []


def test_partly_matched_is_still_stuck(db, shop):
    created = utcnow() - timedelta(hours=30)
    order_id = place(db, shop, created, kinds=("lens", "contact_lens"))
    with db.transaction() as s:
        rx = prescriptions.create_spectacle_prescription(
            s,
            factories.actor(shop["practice"]),
            patient_id=shop["patient"],
            rx=factories.spectacle_rx(),
            issued_on=date.today(),
        )
        lens = s.scalar(
            select(OrderLine).where(OrderLine.order_id == order_id, OrderLine.kind == "lens")
        )
        lens.prescription_id = rx.id
        contact = s.scalar(
            select(OrderLine.id).where(
                OrderLine.order_id == order_id, OrderLine.kind == "contact_lens"
            )
        )
    run(db, created + DAY)
    [event] = stuck_events(db)
    assert event.data["unmatched_line_ids"] == [str(contact)]


@pytest.mark.parametrize("status", [OrderStatus.CANCELLED, OrderStatus.IN_PROGRESS])
def test_cancelled_never_in_progress_yes(db, shop, status):
    created = utcnow() - timedelta(hours=30)
    order_id = place(db, shop, created)
    with db.transaction() as s:
        orders.change_order_status(s, factories.actor(shop["practice"]), order_id, status)
    recorded = run(db, created + DAY + timedelta(hours=1))
    assert len(recorded) == (0 if status == OrderStatus.CANCELLED else 1)


def test_shipped_never(db, shop):
    created = utcnow() - timedelta(hours=30)
    order_id = place(db, shop, created)
    with db.transaction() as s:
        for status in (OrderStatus.IN_PROGRESS, OrderStatus.SHIPPED):
            orders.change_order_status(s, factories.actor(shop["practice"]), order_id, status)
    assert run(db, created + DAY + timedelta(hours=1)) == []


def test_no_prescription_products_never(db, shop):
    created = utcnow() - timedelta(hours=30)
    place(db, shop, created, kinds=("frame", "merchandise"))
    # A lens line that does not carry the flag (recorded through another surface, whose Rx
    # is on the order itself) is not a prescription product in this sense.
    with db.transaction() as s:
        orders.place_order(
            s,
            factories.actor(shop["practice"]),
            orders.NewOrder(
                patient_id=shop["patient"],
                lines=[orders.LineItem("Lens", 1, Decimal("50"), kind="lens")],
                created_at=created,
            ),
        )
    assert run(db, created + DAY + timedelta(hours=1)) == []


def test_orders_older_than_the_lookback_are_not_announced(db, shop):
    created = utcnow() - timedelta(days=30)
    place(db, shop, created)
    assert run(db, created + DAY + stuck_orders.LOOKBACK + timedelta(seconds=1)) == []
    assert run(db, created + DAY + stuck_orders.LOOKBACK - timedelta(seconds=1)) != []


def test_the_worker_runs_the_job_when_due(db, shop):
    created = utcnow() - timedelta(hours=30)
    place(db, shop, created)
    now = [created + DAY - timedelta(minutes=1)]
    calls: list[datetime] = []

    def counted(session, at):
        calls.append(at)
        return stuck_orders.record_stuck_orders(session, at)

    worker = DeliveryWorker(
        db,
        decrypt=lambda c: c,
        clock=lambda: now[0],
        periodic=[Periodic("order.stuck", timedelta(minutes=5), counted)],
    )
    try:
        worker.run_once()
        assert len(calls) == 1
        assert stuck_events(db) == []
        now[0] += timedelta(minutes=2)  # due again only after 5 minutes
        worker.run_once()
        assert len(calls) == 1
        now[0] += timedelta(minutes=3)
        worker.run_once()
        assert len(calls) == 2
        assert len(stuck_events(db)) == 1
    finally:
        worker.close()


def test_a_failing_job_does_not_stop_the_worker(db):
    def boom(_session, _at):
        raise RuntimeError("boom")

    worker = DeliveryWorker(
        db,
        decrypt=lambda c: c,
        periodic=[Periodic("boom", timedelta(seconds=1), boom)],
    )
    try:
        assert worker.run_once() == 0
    finally:
        worker.close()


def test_the_app_worker_schedules_the_stuck_job(app):
    from optihub.app import build_worker

    worker = build_worker(app)
    try:
        assert [job.name for job in worker.periodic] == ["order.stuck"]
        assert worker.periodic[0].every == stuck_orders.EVERY
    finally:
        worker.close()
