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
        assert count(s, LabAccount) == 1
        assert count(s, LensStyle) >= 4
        assert count(s, LensAddon) >= 10
        assert count(s, Event) > 300
        assert authenticate(s, DEMO_EMAIL, DEMO_PASSWORD) is not None
    with db.transaction() as s:
        again = seed_demo(s)
    assert not again.created and again.practice_id == first.practice_id
    with db.transaction() as s:
        assert count(s, Order) == 300
