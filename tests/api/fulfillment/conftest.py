"""A practice with a product catalog (a frame, Rx lenses, contact lenses, sunglasses), a
patient with an address and valid prescriptions of both kinds, and another practice
beside it; a caller holding a fulfillment token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from optihub.db.base import Base
from optihub.db.models import Prescription
from optihub.domain.orders import OrderStatus
from optihub.services import fulfillment, patients, prescriptions, pricebooks
from optihub.services import orders as order_service
from optihub.services.context import Actor
from tests import factories

BASE = "/fulfillment/v1"
SCOPES = "fulfillment:read fulfillment:write"


@dataclass
class World:
    practice_id: int
    other_practice_id: int
    patient_id: uuid.UUID
    bare_patient_id: uuid.UUID  # no address, no prescriptions
    spectacle_rx: uuid.UUID
    contact_rx: uuid.UUID
    older_spectacle_rx: uuid.UUID
    expired_rx: uuid.UUID
    other_patient_rx: uuid.UUID
    foreign_patient_id: uuid.UUID
    frame_sku: str
    frame_id: uuid.UUID
    ids: dict[str, uuid.UUID] = field(default_factory=dict)


def contact_lens_rx(s, practice_id: int, patient_id: uuid.UUID, **kw: Any) -> Prescription:
    """A contact-lens Rx on file (OptiHub records them beside spectacle ones)."""
    rx = Prescription(
        practice_id=practice_id,
        patient_id=patient_id,
        kind="contact_lens",
        issued_on=kw.get("issued_on", date.today() - timedelta(days=30)),
        expires_on=kw.get("expires_on", date.today() + timedelta(days=300)),
    )
    s.add(rx)
    s.flush()
    return rx


def spectacle(s, practice_id, patient_id, issued: int, expires: int | None) -> uuid.UUID:
    today = date.today()
    return prescriptions.create_spectacle_prescription(
        s,
        factories.actor(practice_id),
        patient_id=patient_id,
        rx=factories.spectacle_rx(),
        issued_on=today - timedelta(days=issued),
        expires_on=today + timedelta(days=expires) if expires is not None else None,
    ).id


@pytest.fixture
def world(db) -> World:
    with db.transaction() as s:
        practice = factories.practice(s, "Harbor Optical")
        other = factories.practice(s, "Hilltop Vision")
        who = factories.actor(practice.id)
        patient = patients.create_patient(
            s,
            who,
            patients.PatientDetails(
                first_name="Ada",
                last_name="Lovelace",
                email="ada@example.com",
                phone="6175550100",
                address_line1="12 Harbor Road",
                city="Boston",
                state="MA",
                postal_code="02110",
                external_id="PAT-ADA",
            ),
        )
        bare = factories.patient(s, practice.id, first_name="Grace", last_name="Hopper")
        other_patient = factories.patient(s, practice.id, first_name="Alan", last_name="Turing")
        foreign = factories.patient(s, other.id)
        frame = factories.frame(s, practice.id, sku="FR-CLUB-51")
        ids = {}
        for kind, code, name, price in (
            ("lenses", "LNS-SV-POLY", "Single vision, polycarbonate", "149.00"),
            ("lenses", "LNS-PAL-167", "Progressive 1.67", "399.00"),
            ("contactlenses", "CL-AO6", "Acuvue Oasys 6pk", "62.00"),
            ("merchandise", "SUN-PLANO-BLK", "Plano sunglasses", "59.00"),
            ("merchandise", "SOL-MPS-360", "Multipurpose solution", "11.99"),
            ("proffees", "EXAM-COMP", "Eye exam", "150.00"),
        ):
            item = pricebooks.create_item(
                s, who, kind, pricebooks.PricebookItemDetails(code, name, Decimal(price))
            )
            ids[code] = item.id
        pricebooks.create_item(
            s,
            factories.actor(other.id),
            "merchandise",
            pricebooks.PricebookItemDetails("FOREIGN-SKU", "Elsewhere", Decimal("1.00")),
        )
        world = World(
            practice_id=practice.id,
            other_practice_id=other.id,
            patient_id=patient.id,
            bare_patient_id=bare.id,
            spectacle_rx=spectacle(s, practice.id, patient.id, 10, 355),
            older_spectacle_rx=spectacle(s, practice.id, patient.id, 200, 165),
            expired_rx=spectacle(s, practice.id, patient.id, 800, -5),
            contact_rx=contact_lens_rx(s, practice.id, patient.id).id,
            other_patient_rx=spectacle(s, practice.id, other_patient.id, 5, 300),
            foreign_patient_id=foreign.id,
            frame_sku=frame.sku,
            frame_id=frame.id,
            ids=ids,
        )
    return world


@pytest.fixture
def token(issue_token, world) -> str:
    return issue_token(world.practice_id, SCOPES, client_id="blend-store")


@pytest.fixture
def api(client, token):
    """``api.get/post/put(path, **kw)`` under the prefix, with the token."""

    class Caller:
        def __init__(self) -> None:
            self.headers = {"Authorization": f"Bearer {token}"}

        def _send(self, method: str, path: str, **kw: Any):
            headers = {**self.headers, **kw.pop("headers", {})}
            return client.request(method, BASE + path, headers=headers, **kw)

        def get(self, path: str, **kw: Any):
            return self._send("GET", path, **kw)

        def post(self, path: str, **kw: Any):
            return self._send("POST", path, **kw)

        def put(self, path: str, **kw: Any):
            return self._send("PUT", path, **kw)

    return Caller()


def order_body(world: World, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "patient_id": str(world.patient_id),
        "products": {
            "prescription": [{"sku": "LNS-SV-POLY", "quantity": 1}],
            "non_prescription": [{"sku": world.frame_sku, "quantity": 1}],
        },
    }
    return body | overrides


def table_counts(db) -> dict[str, int]:
    with db.reading() as reader:
        return {
            name: reader.scalar(select(func.count()).select_from(table))
            for name, table in Base.metadata.tables.items()
        }


def staff(practice_id: int) -> Actor:
    return Actor(practice_id=practice_id, via="dashboard", label="Fulfillment desk")


def move(db, practice_id: int, order_id: str, *steps: str) -> None:
    """Walk an order through fulfillment stages as staff would."""
    oid = uuid.UUID(order_id)
    with db.transaction() as s:
        who = staff(practice_id)
        for step in steps:
            if step in ("picked", "verified"):
                order_service.change_order_status(
                    s, who, oid, OrderStatus.IN_PROGRESS, sub_status=step
                )
            elif step == "paused":
                fulfillment.pause(s, who, oid)
            else:
                order_service.change_order_status(s, who, oid, OrderStatus(step))
