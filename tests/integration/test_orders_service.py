"""Placing orders and moving them through the lifecycle, on every database backend."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from optihub.db.models import Event, FrameStock, Order, OrderLine, OrderStatusChange
from optihub.domain.orders import OrderStatus
from optihub.errors import Conflict, NotFound, ValidationFailed
from optihub.services import orders, patients
from optihub.services.frames import StockChange, apply_stock_changes
from tests import factories


@pytest.fixture
def shop(db):
    """A practice with a location, a patient and a frame with 2 in stock."""
    with db.transaction() as s:
        p = factories.practice(s)
        loc = factories.location(s, p.id)
        pat = factories.patient(s, p.id)
        fr = factories.frame(s, p.id)
        apply_stock_changes(s, factories.actor(p.id), [StockChange(fr.id, loc.id, quantity=2)])
    with db.transaction() as s:
        s.query(Event).delete()
    return {"practice": p.id, "location": loc.id, "patient": pat.id, "frame": fr.id}


def _new(shop, **overrides):
    fields = {
        "patient_id": shop["patient"],
        "location_id": shop["location"],
        "frame_id": shop["frame"],
        "take_frame_from_stock": True,
        "rx": factories.spectacle_rx(),
        "external_id": "PMS-1",
        "lines": [
            orders.LineItem("Frame", 1, Decimal("189.00"), kind="frame"),
            orders.LineItem("Lenses", 1, Decimal("120.00"), tax=Decimal("7.50"), kind="lens"),
        ],
        "amount_paid": Decimal("100.00"),
    } | overrides
    return orders.NewOrder(**fields)


def _events(db, type_=None):
    with db.transaction() as s:
        q = select(Event).order_by(Event.created_at)
        if type_:
            q = q.where(Event.type == type_)
        return list(s.scalars(q))


def _stock(db, shop):
    with db.transaction() as s:
        return s.scalar(select(FrameStock.quantity).where(FrameStock.frame_id == shop["frame"]))


def test_place_order_writes_order_lines_history_stock_and_events(db, shop):
    with db.transaction() as s:
        order = orders.place_order(s, factories.actor(shop["practice"]), _new(shop))
        order_id = order.id

    with db.transaction() as s:
        stored = orders.get_order(s, shop["practice"], order_id)
        assert stored.status == "received"
        assert stored.number.startswith("ORD") and len(stored.number) == 19
        assert stored.total == Decimal("316.50")
        assert stored.balance == Decimal("216.50")
        assert [line.description for line in stored.lines] == ["Frame", "Lenses"]
        assert [(h.from_status, h.to_status, h.via) for h in stored.history] == [
            (None, "received", "test")
        ]
        assert stored.rx_snapshot["right"]["cylinder"] == "-0.75"
        assert stored.frame_details["sku"].startswith("RB-")
    assert _stock(db, shop) == 1
    created = _events(db, "order.created")
    assert len(created) == 1
    assert created[0].data["id"] == str(order_id)
    assert created[0].practice_id == shop["practice"]
    inventory = _events(db, "inventory.updated")
    assert [e.data["quantity"] for e in inventory] == [1]


def test_failure_half_way_leaves_no_rows_and_no_event(db, shop):
    """The second order fails at the database (duplicate external id) after its stock
    change was prepared: nothing of it may remain, and it emits nothing."""
    with db.transaction() as s:
        orders.place_order(s, factories.actor(shop["practice"]), _new(shop))
    events_before = len(_events(db))

    with pytest.raises(Conflict), db.transaction() as s:
        orders.place_order(s, factories.actor(shop["practice"]), _new(shop))

    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 1
        assert s.scalar(select(func.count()).select_from(OrderLine)) == 2
        assert s.scalar(select(func.count()).select_from(OrderStatusChange)) == 1
    assert _stock(db, shop) == 1
    assert len(_events(db)) == events_before


def test_two_orders_drawing_the_same_number_both_land(db, shop, monkeypatch):
    """Order numbers end in 4 random letters; two creates in one second can draw the same.
    The second draws again instead of answering 409 (it did under load on two nodes)."""
    drawn = iter(
        ["ORD261206010000AAAA", "ORD261206010000AAAA", "ORD261206010000AAAA", "ORD261206010000BBBB"]
    )
    monkeypatch.setattr(orders, "new_order_number", lambda _at: next(drawn))
    with db.transaction() as s:
        orders.place_order(s, factories.actor(shop["practice"]), _new(shop, external_id="A"))
    with db.transaction() as s:
        second = orders.place_order(
            s, factories.actor(shop["practice"]), _new(shop, external_id="B")
        )
        assert second.number == "ORD261206010000BBBB"
    with db.transaction() as s:
        numbers = s.scalars(select(Order.number).order_by(Order.number)).all()
        assert numbers == ["ORD261206010000AAAA", "ORD261206010000BBBB"]
        assert s.scalar(select(func.count()).select_from(OrderLine)) == 4
        assert s.scalar(select(func.count()).select_from(OrderStatusChange)) == 2
    assert _stock(db, shop) == 0
    assert len(_events(db, "order.created")) == 2


def test_a_taken_external_id_is_not_retried_as_a_number(db, shop, monkeypatch):
    """Only the number is drawn again: a duplicate external id is still a conflict."""
    drawn = iter(f"ORD261206010000AAA{c}" for c in "ABCDEFGH")
    monkeypatch.setattr(orders, "new_order_number", lambda _at: next(drawn))
    with db.transaction() as s:
        orders.place_order(s, factories.actor(shop["practice"]), _new(shop))
    with pytest.raises(Conflict, match="external id PMS-1"), db.transaction() as s:
        orders.place_order(s, factories.actor(shop["practice"]), _new(shop))
    assert next(drawn) == "ORD261206010000AAAC"  # one draw each, no retry


def test_error_raised_after_writes_rolls_back_everything(db, shop):
    """A failure after the order was flushed (stock runs out on a second frame take)."""
    with db.transaction() as s:
        orders.place_order(s, factories.actor(shop["practice"]), _new(shop, external_id="A"))
    with pytest.raises(ValidationFailed) as failure, db.transaction() as s:
        orders.place_order(s, factories.actor(shop["practice"]), _new(shop, external_id="B"))
        # the first take left 1; this order was written, now a third take must fail
        orders.place_order(s, factories.actor(shop["practice"]), _new(shop, external_id="C"))
    assert "in stock" in failure.value.errors[0].message
    with db.transaction() as s:
        numbers = s.scalars(select(Order.external_id)).all()
    assert numbers == ["A"]
    assert _stock(db, shop) == 1
    assert [e.data["external_id"] for e in _events(db, "order.created")] == ["A"]


def test_invalid_rx_reports_every_violation_and_writes_nothing(db, shop):
    from optihub.domain import rx as rx_rules

    bad = rx_rules.SpectacleRx(
        right=rx_rules.EyeRx(sphere=Decimal("-31"), cylinder=Decimal("-1")),
        left=rx_rules.EyeRx(sphere=Decimal("1"), distance_pd=Decimal("64")),
    )
    with pytest.raises(ValidationFailed) as failure, db.transaction() as s:
        orders.place_order(s, factories.actor(shop["practice"]), _new(shop, rx=bad))
    fields = {e.field for e in failure.value.errors}
    assert {"rx.right.sphere", "rx.right.axis", "rx.left.distance_pd"} <= fields
    assert _events(db) == []
    assert _stock(db, shop) == 2


def test_references_to_another_practice_are_refused(db, shop):
    with db.transaction() as s:
        other = factories.practice(s, "Other Optical")
        other_patient = factories.patient(s, other.id)
    with pytest.raises(ValidationFailed) as failure, db.transaction() as s:
        orders.place_order(
            s, factories.actor(shop["practice"]), _new(shop, patient_id=other_patient.id)
        )
    assert failure.value.errors[0].field == "patient_id"


def test_status_walk_records_history_and_emits_events(db, shop):
    actor = factories.actor(shop["practice"], via="partner")
    with db.transaction() as s:
        order_id = orders.place_order(s, actor, _new(shop)).id
    for target in (OrderStatus.IN_PROGRESS, OrderStatus.COMPLETED, OrderStatus.SHIPPED):
        with db.transaction() as s:
            result = orders.change_order_status(
                s, actor, order_id, target, tracking_number="1Z999" if target == "shipped" else None
            )
            assert result.changed
    with db.transaction() as s:
        order = orders.get_order(s, shop["practice"], order_id)
        assert order.status == "shipped"
        assert order.tracking_number == "1Z999"
        assert [h.to_status for h in order.history] == [
            "received",
            "in_progress",
            "completed",
            "shipped",
        ]
        assert {h.via for h in order.history} == {"partner"}
    changed = _events(db, "order.status_changed")
    assert [e.data["status"] for e in changed] == ["in_progress", "completed", "shipped"]
    assert [e.data["previous_status"] for e in changed] == ["received", "in_progress", "completed"]
    assert len(_events(db, "order.completed")) == 1


def test_same_status_is_a_noop_without_event(db, shop):
    actor = factories.actor(shop["practice"])
    with db.transaction() as s:
        order_id = orders.place_order(s, actor, _new(shop)).id
    before = len(_events(db))
    with db.transaction() as s:
        result = orders.change_order_status(s, actor, order_id, OrderStatus.RECEIVED)
    assert not result.changed
    assert len(_events(db)) == before
    with db.transaction() as s:
        assert len(orders.get_order(s, shop["practice"], order_id).history) == 1


def test_illegal_transition_names_allowed_next_and_changes_nothing(db, shop):
    actor = factories.actor(shop["practice"])
    with db.transaction() as s:
        order_id = orders.place_order(s, actor, _new(shop)).id
    with pytest.raises(Conflict) as failure, db.transaction() as s:
        orders.change_order_status(s, actor, order_id, OrderStatus.DELIVERED)
    assert failure.value.allowed == ["in_progress", "cancelled"]
    assert "allowed next: in_progress, cancelled" in failure.value.message
    with db.transaction() as s:
        assert orders.get_order(s, shop["practice"], order_id).status == "received"


def test_foreign_order_is_not_found(db, shop):
    with db.transaction() as s:
        order_id = orders.place_order(s, factories.actor(shop["practice"]), _new(shop)).id
        other = factories.practice(s, "Other Optical")
    with pytest.raises(NotFound), db.transaction() as s:
        orders.get_order(s, other.id, order_id)
    with pytest.raises(NotFound), db.transaction() as s:
        orders.change_order_status(s, factories.actor(other.id), order_id, OrderStatus.CANCELLED)
    with pytest.raises(NotFound), db.transaction() as s:
        orders.get_order(s, shop["practice"], uuid.uuid4())


def test_a_patient_written_in_the_same_transaction_is_taken_without_a_lookup_until_it_ends(
    db, shop
):
    actor = factories.actor(shop["practice"])
    with db.sessions() as s:
        # Written past the ORM (``write_patient``) and ordered for at once: the order is
        # placed for the new patient.
        new = patients.write_patient(s, actor, patients.PatientDetails("Ada", "Okafor"))
        placed = orders.place_order(s, actor, _new(shop, patient_id=new["id"], external_id=None))
        assert placed.patient_id == new["id"]
        s.rollback()
        # Rolled back: that patient is no more, and an order for her is refused as for
        # any unknown patient (not a database error).
        with pytest.raises(ValidationFailed) as failure:
            orders.place_order(s, actor, _new(shop, patient_id=new["id"], external_id=None))
        assert [e.field for e in failure.value.errors] == ["patient_id"]
        s.rollback()
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 0
