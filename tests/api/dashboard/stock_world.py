"""A practice's frames and stock for the stock pages' tests (the API tests and the browser's):
Harbor Optical with two locations, four frames, a member of staff, a manager and the owner;
Hilltop Vision beside it with a frame and a location of its own. Built through the services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from optihub.services import frames, users
from tests import factories

STOCK = "/dashboard/stock"
IMPORT = "/dashboard/stock/import"
PASSWORD = "harbor-password-1"
STAFF = "optician@harbor.example"
MANAGER = "manager@harbor.example"
OWNER = "owner@harbor.example"
OTHER = "owner@hilltop.example"


@dataclass
class StockWorld:
    practice_id: int
    other_practice_id: int
    main: uuid.UUID  # "Main Street", external id MS-1
    harbor: uuid.UUID  # "Harbor Point", external id HP-2
    other_location: uuid.UUID
    frames: dict[str, uuid.UUID] = field(default_factory=dict)  # sku → id
    other_frame: uuid.UUID | None = None


def build(db) -> StockWorld:
    with db.transaction() as s:
        practice = factories.practice(s, "Harbor Optical")
        other = factories.practice(s, "Hilltop Vision")
        for email, role in ((STAFF, "staff"), (MANAGER, "manager"), (OWNER, "owner")):
            users.create_user(s, email=email, password=PASSWORD, practice_id=practice.id, role=role)
        users.create_user(s, email=OTHER, password=PASSWORD, practice_id=other.id, role="owner")
        main = factories.location(s, practice.id, "Main Street")
        main.external_id = "MS-1"
        harbor = factories.location(s, practice.id, "Harbor Point")
        harbor.external_id = "HP-2"
        other_location = factories.location(s, other.id, "Hilltop Mall")
        w = StockWorld(practice.id, other.id, main.id, harbor.id, other_location.id)
        catalog = [
            ("RB5154-2000-51", "Ray-Ban", "RB5154 Clubmaster", "Tortoise", "805289000011", 51, 21),
            ("RB2140-901-50", "Ray-Ban", "RB2140 Wayfarer", "Black", "805289000028", 50, 22),
            ("OX8046-0152", "Oakley", "OX8046 Airdrop", "Satin Black", "888392000035", 52, 18),
            ("LF-ANNA-49", "Lafont", "Anna", "Rose", None, 49, 17),
        ]
        for sku, brand, model, color, upc, eye, bridge in catalog:
            frame = factories.frame(
                s,
                practice.id,
                sku=sku,
                brand=brand,
                model=model,
                color=color,
                upc=upc,
                eye_size=eye,
                bridge=bridge,
                temple=140,
            )
            w.frames[sku] = frame.id
        w.other_frame = factories.frame(s, other.id, sku="HV-SECRET-1", model="Hilltop Only").id
        s.flush()
        levels = {
            ("RB5154-2000-51", main.id): 5,
            ("RB5154-2000-51", harbor.id): 3,
            ("RB2140-901-50", main.id): 1,
            ("OX8046-0152", main.id): 4,
            ("OX8046-0152", harbor.id): 0,
        }
        frames.apply_stock_changes(
            s,
            factories.actor(practice.id),
            [frames.StockChange(w.frames[s_], loc, quantity=q) for (s_, loc), q in levels.items()],
        )
        frames.apply_stock_changes(
            s,
            factories.actor(other.id),
            [frames.StockChange(w.other_frame, other_location.id, quantity=9)],
        )
    return w
