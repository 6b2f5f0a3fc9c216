"""A practice with orders and frames, another practice beside it, and partner tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from optihub.domain.orders import OrderStatus
from optihub.services import orders
from optihub.services.frames import StockChange, apply_stock_changes
from tests import factories

ALL_SCOPES = (
    "orders:read orders:full frames:read prescriptions:read inventory:write "
    "webhooks:read webhooks:write"
)
BASE = "/api/v1/partner"


@dataclass
class Shop:
    practice_id: int
    other_practice_id: int
    locations: list = field(default_factory=list)
    frames: list = field(default_factory=list)
    orders: list = field(default_factory=list)
    foreign_order: object = None
    foreign_frame: object = None
    draft_order: object = None


def place(s, practice_id, location, patient, frame, external_id, status=OrderStatus.RECEIVED):
    return orders.place_order(
        s,
        factories.actor(practice_id),
        orders.NewOrder(
            patient_id=patient.id,
            location_id=location.id,
            frame_id=frame.id,
            rx=factories.spectacle_rx(),
            external_id=external_id,
            status=status,
            lens={
                "style": "Comfort Progressive",
                "material": "Trivex",
                "color": "Clear",
                "coats": ["Crizal Sapphire AR"],
                "tint": None,
            },
            lines=[
                orders.LineItem("Frame", 1, Decimal("189.00")),
                orders.LineItem("Lenses", 1, Decimal("120.00"), tax=Decimal("7.50")),
            ],
            amount_paid=Decimal("50"),
        ),
    ).id


@pytest.fixture
def shop(db):
    with db.transaction() as s:
        p = factories.practice(s, "Harbor Optical")
        other = factories.practice(s, "Hilltop Vision")
        a = factories.location(s, p.id, "Downtown")
        b = factories.location(s, p.id, "Harbor")
        patient = factories.patient(s, p.id, first_name="Maya", last_name="Okafor")
        frames = [
            factories.frame(s, p.id, brand="Ray-Ban", sku="RB-1"),
            factories.frame(s, p.id, brand="Tom Ford", sku="TF-1"),
            factories.frame(s, p.id, brand="ray-ban", sku="RB-2"),
        ]
        apply_stock_changes(
            s,
            factories.actor(p.id),
            [
                StockChange(frames[0].id, a.id, quantity=3),
                StockChange(frames[0].id, b.id, quantity=1),
                StockChange(frames[1].id, a.id, quantity=0),
            ],
        )
        order_ids = [place(s, p.id, a, patient, frames[0], f"PMS-{i}") for i in range(3)]
        draft = place(s, p.id, a, patient, frames[0], "PMS-draft", OrderStatus.DRAFT)
        other_loc = factories.location(s, other.id)
        other_patient = factories.patient(s, other.id)
        foreign_frame = factories.frame(s, other.id, sku="OTHER-1")
        foreign = place(s, other.id, other_loc, other_patient, foreign_frame, "X-1")
    return Shop(
        p.id,
        other.id,
        [a.id, b.id],
        [f.id for f in frames],
        order_ids,
        foreign,
        foreign_frame.id,
        draft,
    )


@pytest.fixture(autouse=True)
def public_dns(monkeypatch):
    """This machine has no outside DNS: example.com names resolve to a public address."""
    from optihub.services import webhooks

    real = webhooks.resolve

    def fake(host: str, port: int) -> list[str]:
        if host.endswith("example.com"):
            return ["93.184.215.14"]
        return real(host, port)

    monkeypatch.setattr(webhooks, "resolve", fake)


@pytest.fixture
def auth(issue_token, shop):
    def headers(scope: str = ALL_SCOPES, practice_id: int | None = None) -> dict[str, str]:
        token = issue_token(practice_id or shop.practice_id, scope)
        return {"Authorization": f"Bearer {token}"}

    return headers
