"""The demo data an evaluator sees after `make run`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import distinct, func, select

from optihub.db.models import (
    Event,
    Frame,
    FrameStock,
    LabAccount,
    LensAddon,
    LensStyle,
    Location,
    Order,
    Patient,
    Prescription,
)
from optihub.demo import DEMO_EMAIL, DEMO_PASSWORD, seed_demo
from optihub.domain import board
from optihub.errors import ValidationFailed
from optihub.services import lab_orders
from optihub.services.context import Actor
from optihub.services.users import authenticate


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def test_demo_is_realistic_and_loaded_once(db):
    with db.transaction() as s:
        first = seed_demo(s)
    assert first.created
    with db.transaction() as s:
        assert count(s, Location) == 2
        assert count(s, Frame) == 200
        assert s.scalar(select(func.count(distinct(Frame.brand)))) >= 8
        assert s.scalar(select(func.sum(FrameStock.quantity))) > 300
        assert count(s, Patient) == 50
        assert count(s, Prescription) == 50
        assert count(s, Order) == 300
        statuses = set(s.scalars(select(Order.status).distinct()))
        assert statuses == {
            "draft",
            "received",
            "in_progress",
            "completed",
            "shipped",
            "delivered",
            "cancelled",
        }
        assert count(s, LabAccount) == 3  # two labs, one with two accounts
        assert count(s, LensStyle) >= 4
        assert count(s, LensAddon) >= 10
        assert count(s, Event) > 300
        assert authenticate(s, DEMO_EMAIL, DEMO_PASSWORD) is not None
    with db.transaction() as s:
        again = seed_demo(s)
    assert not again.created and again.practice_id == first.practice_id
    with db.transaction() as s:
        assert count(s, Order) == 300


def test_demo_labs_offer_a_drill_down_a_newcomer_can_order_from(db):
    """Lens type → style → material → addons: each step narrows what the next offers."""
    from optihub.reads import catalog

    with db.transaction() as s:
        practice_id = seed_demo(s).practice_id
    with db.reading() as reader:
        accounts = catalog.lab_accounts(reader, practice_id)
        assert sorted({a.lab_name for a in accounts}) == [
            "Northshore Digital Lens",
            "Precision Optical Lab",
        ]
        northshore = next(a for a in accounts if a.lab_name == "Northshore Digital Lens")
        assert "rx" in northshore.order_types and northshore.mounting_options
        singles = catalog.styles(reader, northshore.lab_id, "single_vision")
        multis = catalog.styles(reader, northshore.lab_id, "multifocal")
        assert singles and multis and not {s.id for s in singles} & {m.id for m in multis}
        sport = next(s for s in singles if s.name.startswith("Wrap Sport"))
        plain = next(s for s in singles if s.name.startswith("Northshore HD"))
        assert len(catalog.materials(reader, northshore.lab_id, sport.id)) < len(
            catalog.materials(reader, northshore.lab_id, plain.id)
        )
        material = catalog.materials(reader, northshore.lab_id, sport.id)[0]
        for_sport = catalog.addons(reader, northshore.lab_id, sport.id, material.id)
        for_plain = catalog.addons(reader, northshore.lab_id, plain.id, material.id)
        assert "Flash Mirror Blue" in {name for _i, name, _t in for_sport.coats}
        assert "Flash Mirror Blue" not in {name for _i, name, _t in for_plain.coats}
        assert "Gradient Gray" in for_sport.tints and "Gradient Gray" not in for_plain.tints


def test_the_demo_board_looks_like_a_practice_day(db):
    """Every column filled, every channel present, some jobs overdue, some frames running
    low: what a practice's board shows on an ordinary day."""
    with db.transaction() as s:
        seeded = seed_demo(s)
    now = datetime.now(UTC)
    with db.reading() as reader:
        rows = reader.execute(
            select(Order.status, Order.created_via, Order.status_changed_at, Order.created_at)
        ).all()
        on_hand = list(reader.scalars(select(FrameStock.quantity)))
    assert {status for status, *_ in rows} == set(board.COLUMNS)
    assert {via for _s, via, *_ in rows} == {
        "fulfillment",
        "labs",
        "partner",
        "portal",
        "practice",
        "dashboard",
    }
    overdue = {
        status
        for status, _via, since, _created in rows
        if board.is_overdue(status, since, now, board.DEFAULT_OVERDUE_DAYS)
    }
    # Jobs waiting too long at the front desk and at the lab, not only forgotten drafts.
    assert {"draft", "received", "in_progress", "completed"} <= overdue
    waiting = [r for r in rows if r[0] in board.WAITING_STATUSES]
    fresh = [
        r for r in waiting if not board.is_overdue(r[0], r[2], now, board.DEFAULT_OVERDUE_DAYS)
    ]
    assert len(fresh) > len(waiting) / 2  # most jobs are on time
    assert all(created <= since <= now for _s, _v, since, created in rows)
    with db.reading() as reader:
        unplaced = reader.scalar(
            select(func.count()).select_from(Order).where(Order.location_id.is_(None))
        )
    assert unplaced == 0  # every job belongs to one of the practice's locations
    low = [q for q in on_hand if q <= 2]
    assert 0 in on_hand and len(low) >= 20 and max(on_hand) > 2

    _every_draft_passes_its_own_rules(db, seeded.practice_id)


def _every_draft_passes_its_own_rules(db, practice_id: int) -> None:
    """Each draft saved unchanged is accepted (the draft rules), and the ones with a lens
    can be sent to the lab as they are (the submit rules); nothing is kept."""
    refused = {}
    with db.transaction() as s:
        drafts = s.scalars(select(Order.id).where(Order.status == "draft")).all()
        assert len(drafts) == 20
        actor = Actor(practice_id=practice_id, via="dashboard")
        lensless = 0
        for order_id in drafts:
            draft = lab_orders.get_draft(s, practice_id, order_id)
            lensless += draft.request.lens is None
            for change in (lab_orders.update_draft, lab_orders.submit_draft):
                if change is lab_orders.submit_draft and draft.request.lens is None:
                    continue
                savepoint = s.begin_nested()
                try:
                    change(s, actor, order_id, draft.request)
                except ValidationFailed as failure:
                    refused[(draft.order.number, change.__name__)] = [
                        (e.field, e.message) for e in failure.errors
                    ]
                finally:
                    savepoint.rollback()
        assert lensless < 5
    assert refused == {}
