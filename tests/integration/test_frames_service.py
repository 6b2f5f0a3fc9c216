"""Frame catalog and stock: validation, events, atomic batches, no lost updates."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import select

from optihub.db.models import AuditEntry, Event, Frame, FrameStock
from optihub.errors import Conflict, ValidationFailed
from optihub.services import frames
from optihub.services.frames import StockChange, apply_stock_changes
from tests import factories


@pytest.fixture
def store(db):
    with db.transaction() as s:
        p = factories.practice(s)
        a = factories.location(s, p.id, "Downtown")
        b = factories.location(s, p.id, "Harbor")
        f = factories.frame(s, p.id)
    return {"practice": p.id, "a": a.id, "b": b.id, "frame": f.id}


def inventory_events(db):
    with db.transaction() as s:
        return list(
            s.scalars(
                select(Event).where(Event.type == "inventory.updated").order_by(Event.created_at)
            )
        )


def test_frame_measurements_are_checked(db, store):
    with pytest.raises(ValidationFailed) as failure, db.transaction() as s:
        factories.frame(s, store["practice"], temple=99, eye_size=101, sku="")
    fields = {e.field for e in failure.value.errors}
    assert {"temple", "eye_size", "sku"} <= fields


def test_duplicate_sku_is_a_conflict_and_writes_nothing(db, store):
    with db.transaction() as s:
        existing = s.get(Frame, store["frame"]).sku
    with pytest.raises(Conflict), db.transaction() as s:
        factories.frame(s, store["practice"], sku=existing)
    with db.transaction() as s:
        assert len(s.scalars(select(Frame)).all()) == 1


def test_stock_change_bumps_updated_at_and_emits_one_event_per_frame(db, store):
    with db.transaction() as s:
        before = s.get(Frame, store["frame"]).updated_at
    with db.transaction() as s:
        changed = apply_stock_changes(
            s,
            factories.actor(store["practice"]),
            [
                StockChange(store["frame"], store["a"], quantity=3),
                StockChange(store["frame"], store["b"], quantity=2, price=Decimal("199.00")),
            ],
        )
        assert [f.id for f in changed] == [store["frame"]]
    with db.transaction() as s:
        frame = s.get(Frame, store["frame"])
        assert frame.updated_at > before
        assert frame.price == Decimal("199.00")
        assert s.scalars(select(AuditEntry.action)).all().count("inventory.updated") == 1
    events = inventory_events(db)
    assert len(events) == 1
    assert events[0].data["quantity"] == 5
    assert sorted(x["quantity"] for x in events[0].data["stock"]) == [2, 3]


def test_unchanged_values_emit_nothing(db, store):
    actor = factories.actor(store["practice"])
    with db.transaction() as s:
        apply_stock_changes(s, actor, [StockChange(store["frame"], store["a"], quantity=3)])
    with db.transaction() as s:
        assert (
            apply_stock_changes(s, actor, [StockChange(store["frame"], store["a"], quantity=3)])
            == []
        )
    assert len(inventory_events(db)) == 1


def test_one_bad_row_rejects_the_batch_with_per_row_errors(db, store):
    with db.transaction() as s:
        other = factories.practice(s, "Elsewhere")
        foreign = factories.frame(s, other.id)
    with pytest.raises(ValidationFailed) as failure, db.transaction() as s:
        apply_stock_changes(
            s,
            factories.actor(store["practice"]),
            [
                StockChange(store["frame"], store["a"], quantity=4),
                StockChange(foreign.id, store["a"], quantity=1),
                StockChange(store["frame"], store["b"], quantity=-1),
            ],
        )
    assert [(e.index, e.field) for e in failure.value.errors] == [(1, "frame_id"), (2, "quantity")]
    with db.transaction() as s:
        assert s.scalars(select(FrameStock)).all() == []
    assert inventory_events(db) == []


def test_concurrent_moves_lose_no_update(db, store):
    actor = factories.actor(store["practice"])
    with db.transaction() as s:
        apply_stock_changes(s, actor, [StockChange(store["frame"], store["a"], quantity=100)])
    errors = []

    def take_one() -> None:
        try:
            for _ in range(5):
                with db.transaction() as s:
                    apply_stock_changes(
                        s, actor, [StockChange(store["frame"], store["a"], delta=-1)]
                    )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=take_one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.transaction() as s:
        assert s.scalar(select(FrameStock.quantity)) == 70
    assert len(inventory_events(db)) == 31


def test_brand_key_supports_case_insensitive_lookup(db, store):
    with db.transaction() as s:
        factories.frame(s, store["practice"], brand="Tom Ford", sku="TF-1")
        keys = s.scalars(select(Frame.brand_key).order_by(Frame.brand_key)).all()
    assert keys == ["ray-ban", "tom ford"]
    with db.transaction() as s:
        assert frames.get_frame_by_sku(s, store["practice"], "TF-1").brand == "Tom Ford"
