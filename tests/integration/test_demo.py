"""The demo data an evaluator sees after `make run`."""

from __future__ import annotations

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
