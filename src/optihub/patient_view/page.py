"""What a patient's link shows, gathered from one order and nothing beyond it.

The practice's name; the order's progress in plain words with the day of each step (from
the status history, in the practice's time zone); where to pick it up and when that place
is open; the prescription as opticians write it, and its PDF when the practice synced one.
No ids, no staff or app names, no other order of the patient: what is built here is all
the page can show.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from optihub.db.models import (
    Order,
    OrderLine,
    OrderStatusChange,
    Patient,
    PatientLink,
    Practice,
    Prescription,
    PrescriptionFile,
)
from optihub.domain import notation
from optihub.domain import rx as rx_rules
from optihub.services import patient_messages
from optihub.services.prescriptions import spectacle_rx_of

ORDER_KINDS = {
    "spectacles": "Glasses",
    "frames": "Frame",
    "contacts": "Contact lenses",
    "other": "Order",
}


@dataclass(frozen=True)
class Step:
    label: str
    day: str | None
    done: bool
    current: bool


@dataclass(frozen=True)
class ShownRx:
    rows: list[notation.EyeRow]
    has_add: bool
    has_prism: bool
    has_near_pd: bool
    binocular_pd: str | None
    issued_on: str | None
    expires_on: str | None


@dataclass
class PatientOrder:
    practice_name: str
    first_name: str
    kind: str
    headline: str
    steps: list[Step]
    cancelled_on: str | None
    pickup: patient_messages.Pickup | None
    rx: ShownRx | None
    has_pdf: bool
    link_until: str
    # A prescription on file (not only the order's own values): offered as FHIR JSON too.
    has_record: bool = False


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def day_text(moment: datetime | date | None, zone: ZoneInfo | None = None) -> str | None:
    """``5 Dec 2026`` (a time in the practice's zone)."""
    if moment is None:
        return None
    if isinstance(moment, datetime):
        moment = moment.astimezone(zone) if zone is not None else moment
    return f"{moment.day} {moment:%b %Y}"


def _first_reached(history: list[OrderStatusChange], statuses: tuple[str, ...]) -> datetime | None:
    for change in history:
        if change.to_status in statuses:
            return change.at
    return None


# (label, the canonical statuses that mean the step is reached)
PICKUP_STEPS = (
    ("Ordered", ("received", "in_progress", "completed", "shipped", "delivered")),
    ("At the lab", ("in_progress", "completed", "shipped", "delivered")),
    ("Ready for pickup", ("completed", "delivered")),
    ("Picked up", ("delivered",)),
)
SHIPPED_STEPS = (
    ("Ordered", ("received", "in_progress", "completed", "shipped", "delivered")),
    ("At the lab", ("in_progress", "completed", "shipped", "delivered")),
    ("Shipped", ("shipped", "delivered")),
    ("Delivered", ("delivered",)),
)
HEADLINES = {
    "received": "We have your order.",
    "in_progress": "Your order is being made at the lab.",
    "completed": "Your order is ready for pickup.",
    "shipped": "Your order is on its way.",
    "delivered": "Your order has been picked up.",
    "cancelled": "This order was cancelled.",
}


def progress(order: Order, zone: ZoneInfo) -> tuple[list[Step], str | None]:
    """The steps of the order's journey, each with the day it was first reached (an
    order placed straight at the lab counts as ordered that day), and the day it was
    cancelled."""
    history = sorted(order.history, key=lambda change: change.at)
    shipped = any(change.to_status == "shipped" for change in history)
    steps_of = SHIPPED_STEPS if shipped else PICKUP_STEPS
    reached = []
    for label, statuses in steps_of:
        at = _first_reached(history, statuses)
        if label == "Ordered" and at is None and order.status != "draft":
            at = order.created_at
        reached.append((label, at))
    last_done = max((i for i, (_, at) in enumerate(reached) if at is not None), default=-1)
    steps = [
        Step(
            label,
            day_text(at, zone),
            done=i <= last_done,
            current=i == last_done and order.status != "cancelled",
        )
        for i, (label, at) in enumerate(reached)
    ]
    cancelled = _first_reached(history, ("cancelled",)) if order.status == "cancelled" else None
    return steps, day_text(cancelled, zone)


def _prescription_id(session: Session, order: Order) -> uuid.UUID | None:
    """The prescription behind the order: its own, a line's, or else the patient's latest
    spectacle prescription issued by the day the order was placed (an order synced from
    a practice-management system names none)."""
    if order.prescription_id is not None:
        return order.prescription_id
    line_rx = session.scalar(
        select(OrderLine.prescription_id)
        .where(
            OrderLine.practice_id == order.practice_id,
            OrderLine.order_id == order.id,
            OrderLine.prescription_id.is_not(None),
        )
        .order_by(OrderLine.position)
        .limit(1)
    )
    if line_rx is not None:
        return line_rx
    if order.patient_id is None:
        return None
    return session.scalar(
        select(Prescription.id)
        .where(
            Prescription.practice_id == order.practice_id,
            Prescription.patient_id == order.patient_id,
            Prescription.kind == "spectacle",
            Prescription.issued_on <= order.created_at.date(),
        )
        .order_by(Prescription.issued_on.desc(), Prescription.created_at.desc())
        .limit(1)
    )


def _shown(
    eyes: list[tuple[str, rx_rules.EyeRx]], issued: str | None, expires: str | None
) -> ShownRx | None:
    if not eyes:
        return None
    rows = [notation.eye_row(eye, side) for side, eye in eyes]
    pds = [eye.distance_pd for _, eye in eyes if eye.distance_pd is not None]
    binocular = pds[0] + pds[1] if len(pds) == 2 else None
    return ShownRx(
        rows=rows,
        has_add=any(eye.add for _, eye in eyes),
        has_prism=any(eye.prism_horizontal or eye.prism_vertical for _, eye in eyes),
        has_near_pd=any(eye.near_pd for _, eye in eyes),
        binocular_pd=notation.millimetres(binocular) if binocular is not None else None,
        issued_on=issued,
        expires_on=expires,
    )


def _iso_day(text: Any) -> str | None:
    try:
        return day_text(date.fromisoformat(str(text))) if text else None
    except ValueError:
        return None


def prescription(session: Session, order: Order) -> tuple[ShownRx | None, uuid.UUID | None]:
    """The Rx to show (the order's own values first) and the prescription whose PDF may be
    downloaded."""
    prescription_id = _prescription_id(session, order)
    snapshot = order.rx_snapshot or {}
    eyes = [
        (side, eye)
        for side in ("right", "left")
        if (eye := notation.eye_from_snapshot(snapshot.get(side))) is not None
    ]
    if eyes:
        shown = _shown(
            eyes, _iso_day(snapshot.get("issued_on")), _iso_day(snapshot.get("expires_on"))
        )
        return shown, prescription_id
    if prescription_id is None:
        return None, None
    found = session.scalar(
        select(Prescription)
        .options(selectinload(Prescription.eyes))
        .where(Prescription.practice_id == order.practice_id, Prescription.id == prescription_id)
    )
    if found is None:
        return None, None
    rx = spectacle_rx_of(found) if found.kind == "spectacle" else rx_rules.SpectacleRx()
    pairs = [(side, eye) for side, eye in (("right", rx.right), ("left", rx.left)) if eye]
    usable = [
        (side, eye) for side, eye in pairs if eye.sphere is not None or eye.cylinder is not None
    ]
    return _shown(usable, day_text(found.issued_on), day_text(found.expires_on)), found.id


def pdf_of(
    session: Session, practice_id: int, prescription_id: uuid.UUID | None
) -> PrescriptionFile | None:
    if prescription_id is None:
        return None
    return session.scalar(
        select(PrescriptionFile).where(
            PrescriptionFile.practice_id == practice_id,
            PrescriptionFile.prescription_id == prescription_id,
        )
    )


def has_pdf(session: Session, practice_id: int, prescription_id: uuid.UUID | None) -> bool:
    if prescription_id is None:
        return False
    return (
        session.scalar(
            select(PrescriptionFile.prescription_id).where(
                PrescriptionFile.practice_id == practice_id,
                PrescriptionFile.prescription_id == prescription_id,
            )
        )
        is not None
    )


def order_of(session: Session, link: PatientLink) -> Order | None:
    return session.scalar(
        select(Order)
        .options(selectinload(Order.history))
        .where(Order.practice_id == link.practice_id, Order.id == link.order_id)
    )


def patient_order(session: Session, link: PatientLink) -> PatientOrder | None:
    """What the link shows (None when its order is gone)."""
    order = order_of(session, link)
    if order is None:
        return None
    practice = session.get(Practice, order.practice_id)
    assert practice is not None
    zone = _zone(practice.timezone)
    patient = (
        session.scalar(
            select(Patient).where(
                Patient.practice_id == order.practice_id, Patient.id == order.patient_id
            )
        )
        if order.patient_id is not None
        else None
    )
    steps, cancelled_on = progress(order, zone)
    rx, prescription_id = prescription(session, order)
    return PatientOrder(
        practice_name=practice.name,
        first_name=patient.first_name if patient is not None else "",
        kind=ORDER_KINDS.get(order.type, "Order"),
        headline=HEADLINES.get(order.status, "Your order"),
        steps=steps,
        cancelled_on=cancelled_on,
        pickup=(
            patient_messages.pickup_of(session, order.practice_id, order.location_id)
            if order.status not in ("shipped", "cancelled")
            else None
        ),
        rx=rx,
        has_pdf=has_pdf(session, order.practice_id, prescription_id),
        link_until=day_text(link.expires_at, zone) or "",
        has_record=prescription_id is not None,
    )


def record_for(session: Session, link: PatientLink) -> tuple[int, uuid.UUID] | None:
    """The practice and the prescription on file the link's page offers as FHIR JSON."""
    order = order_of(session, link)
    if order is None:
        return None
    _, prescription_id = prescription(session, order)
    return (order.practice_id, prescription_id) if prescription_id is not None else None


def pdf_for(session: Session, link: PatientLink) -> PrescriptionFile | None:
    """The PDF the link's page offers, if any."""
    order = order_of(session, link)
    if order is None:
        return None
    _, prescription_id = prescription(session, order)
    return pdf_of(session, order.practice_id, prescription_id)
