"""A practice whose patient has an order in the lab, with a prescription synced with its PDF:
the world the patient-link tests (API, e-mail, browser) share. Built through the services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal

from optihub.db.models import Practice
from optihub.domain import rx as rx_rules
from optihub.domain.orders import OrderStatus
from optihub.services import orders as order_service
from optihub.services import patient_messages, practices, synced_rows, users
from optihub.services.context import Actor
from tests import factories
from tests.api.dashboard.conftest import PASSWORD as DASHBOARD_PASSWORD

OWNER = "olivia@harbor.example"
STAFF = "sam@harbor.example"
OTHER_OWNER = "hugo@hilltop.example"
PASSWORD = DASHBOARD_PASSWORD  # what the dashboard tests' Agent signs in with
PATIENT_EMAIL = "jordan.rivera@example.com"
# The smallest file that reads as a PDF; served back byte for byte.
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
MINUS = "\u2212"


@dataclass(frozen=True)
class PatientWorld:
    practice_id: int
    other_practice_id: int
    patient_id: uuid.UUID
    order_id: uuid.UUID
    order_number: str
    # The same patient's other order, and another practice's order: never reachable.
    second_order_id: uuid.UUID
    second_order_number: str
    other_order_id: uuid.UUID
    location_id: uuid.UUID


def rx() -> rx_rules.SpectacleRx:
    return rx_rules.SpectacleRx(
        right=rx_rules.EyeRx(
            sphere=Decimal("2.00"),
            cylinder=Decimal("-0.75"),
            axis=90,
            add=Decimal("2.00"),
            prism_horizontal=rx_rules.Prism(Decimal("1.00"), "in"),
            distance_pd=Decimal("32"),
            seg_height=Decimal("18"),
        ),
        left=rx_rules.EyeRx(
            sphere=Decimal("1.75"),
            cylinder=Decimal("-0.50"),
            axis=180,
            add=Decimal("2.00"),
            distance_pd=Decimal("31.5"),
            seg_height=Decimal("18"),
        ),
    )


def build(db, *, consent: bool = True, email: str | None = PATIENT_EMAIL) -> PatientWorld:
    with db.transaction() as s:
        practice = factories.practice(s, "Harbor Optical")
        other = factories.practice(s, "Hilltop Vision")
        s.get_one(Practice, practice.id).timezone = "America/New_York"
        for address, role, first in ((OWNER, "owner", "Olivia"), (STAFF, "staff", "Sam")):
            users.create_user(
                s,
                email=address,
                password=PASSWORD,
                practice_id=practice.id,
                role=role,
                first_name=first,
                last_name="Harbor",
            )
        users.create_user(
            s, email=OTHER_OWNER, password=PASSWORD, practice_id=other.id, role="owner"
        )
        location = practices.create_location(
            s,
            practice.id,
            name="Harbor Optical Main Street",
            address_line1="12 Main Street",
            city="Portland",
            state="ME",
            postal_code="04101",
            hours=[practices.OpeningHours(d, time(9), time(17, 30)) for d in range(5)]
            + [practices.OpeningHours(5, time(10), time(14))],
        )
        patient = factories.patient(
            s,
            practice.id,
            first_name="Jordan",
            last_name="Rivera",
            email=email,
            date_of_birth=date(1979, 3, 14),
        )
        staff = Actor(practice_id=practice.id, via="dashboard", label="Sam Harbor")
        if consent:
            patient_messages.set_eyewear_consent(s, staff, patient.id, email=True)
        portal = Actor(practice_id=practice.id, via="portal", label="Portal sync")
        prescription_id = synced_rows.save_prescription(
            s,
            portal,
            None,
            synced_rows.PrescriptionValues(
                kind="spectacle",
                patient_id=patient.id,
                issued_on=date(2026, 11, 2),
                expires_on=date(2028, 11, 2),
                eyes=[("right", rx().right), ("left", rx().left)],  # type: ignore[list-item]
                file=PDF,
                file_name="Rivera Jordan Rx.pdf",
            ),
        )
        order = order_service.place_order(
            s,
            staff,
            order_service.NewOrder(
                patient_id=patient.id,
                location_id=location.id,
                prescription_id=prescription_id,
                multifocal=True,
                lines=[order_service.LineItem("Progressive lenses", 1, Decimal("320.00"))],
            ),
        )
        order_service.change_order_status(s, staff, order.id, OrderStatus.IN_PROGRESS)
        second = order_service.place_order(
            s,
            staff,
            order_service.NewOrder(
                patient_id=patient.id,
                location_id=location.id,
                lines=[order_service.LineItem("Sunglasses", 1, Decimal("120.00"))],
            ),
        )
        other_location = factories.location(s, other.id, "Hilltop")
        other_patient = factories.patient(s, other.id, first_name="Hana")
        other_order = order_service.place_order(
            s,
            Actor(practice_id=other.id, via="dashboard"),
            order_service.NewOrder(patient_id=other_patient.id, location_id=other_location.id),
        )
    return PatientWorld(
        practice_id=practice.id,
        other_practice_id=other.id,
        patient_id=patient.id,
        order_id=order.id,
        order_number=order.number,
        second_order_id=second.id,
        second_order_number=second.number,
        other_order_id=other_order.id,
        location_id=location.id,
    )


def move(db, world: PatientWorld, status: OrderStatus, order_id: uuid.UUID | None = None) -> None:
    with db.transaction() as s:
        order_service.change_order_status(
            s,
            Actor(practice_id=world.practice_id, via="partner", label="Lab app"),
            order_id or world.order_id,
            status,
        )
