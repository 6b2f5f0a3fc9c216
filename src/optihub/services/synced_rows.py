"""The core rows an integrating system keeps in sync by its own ids (``external_records``):
each written from plain core values, read back as the core's current values, and removed.

Every function takes what the caller has already checked and resolved (ids of rows of the
actor's practice, lengths within the columns'); what only the core can find out (a pair of
patients linked already, an order that cannot reach the state asked for) is a
``ValidationFailed`` naming the core's field, or the name the caller gives for it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from optihub.db.base import utcnow
from optihub.db.models import (
    Appointment,
    Employee,
    Location,
    LocationHours,
    Order,
    OrderLine,
    Patient,
    PatientRelationship,
    Prescription,
    PrescriptionEye,
    PrescriptionFile,
)
from optihub.db.models.practice import employee_locations
from optihub.domain.orders import TRANSITIONS, OrderStatus
from optihub.domain.rx import ContactLensEyeRx, EyeRx
from optihub.errors import FieldError, ValidationFailed
from optihub.services import audit, prescriptions
from optihub.services import orders as order_service
from optihub.services.context import Actor
from optihub.services.patients import set_phone

_Row = TypeVar("_Row")
Values = dict[str, Any]

# The core row of each kind, by the name callers give it.
ROWS: dict[str, Any] = {
    "location": Location,
    "employee": Employee,
    "patient": Patient,
    "family_link": PatientRelationship,
    "order": Order,
    "prescription": Prescription,
    "appointment": Appointment,
}
# Rows another channel may have made with the system's external id, taken over on first
# sync (orders are taken over in ``save_order``).
ADOPTABLE = ("location", "patient", "appointment")


def _current(
    session: Session, practice_id: int, model: type[_Row], row_id: uuid.UUID
) -> _Row | None:
    """The practice's row as the session holds it (None: gone, or another practice's)."""
    row: Any = session.get(model, row_id)
    return row if row is not None and row.practice_id == practice_id else None


def _detach_then_delete(
    session: Session, actor: Actor, model: type[_Row], column: Any, row_id: uuid.UUID
) -> None:
    """Delete the practice's row after clearing ``column`` on the orders that name it."""
    for order in session.scalars(
        select(Order).where(Order.practice_id == actor.practice_id, column == row_id)
    ):
        setattr(order, column.key, None)
    row = own(session, actor.practice_id, model, row_id)
    if row is not None:
        session.delete(row)


def own(
    session: Session, practice_id: int, model: type[_Row], row_id: uuid.UUID | None
) -> _Row | None:
    """The practice's row of ``model`` with that id (None: no id, or not the practice's)."""
    if row_id is None:
        return None
    table: Any = model
    row: _Row | None = session.scalar(
        select(table).where(table.practice_id == practice_id, table.id == row_id)
    )
    return row


def _free_external_id(
    session: Session, practice_id: int, model: Any, external_id: str
) -> str | None:
    """The core row's own external id, unless another row of the practice holds it."""
    taken = session.scalar(
        select(model.id).where(model.practice_id == practice_id, model.external_id == external_id)
    )
    return None if taken is not None else external_id


# -- addresses ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None


def _set_address(row: Location | Patient, address: Address) -> None:
    row.address_line1 = address.line1
    row.address_line2 = address.line2
    row.city = address.city
    row.state = address.state
    row.postal_code = address.postal_code


def _address_of(row: Location | Patient) -> Values:
    return {
        "address_line1": row.address_line1,
        "address_line2": row.address_line2,
        "city": row.city,
        "state": row.state,
        "postal_code": row.postal_code,
    }


def address_values(address: Address) -> Values:
    """An address as ``current`` reads it back."""
    return {
        "address_line1": address.line1,
        "address_line2": address.line2,
        "city": address.city,
        "state": address.state,
        "postal_code": address.postal_code,
    }


# -- locations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LocationValues:
    name: str | None
    address: Address
    phone: str | None
    external_id: str
    # An ISO 3166 two-letter code; None leaves the location's country as it is.
    country: str | None = None
    # (weekday, opens, closes), Monday 0; the location's opening hours, all of them.
    hours: Sequence[tuple[int, time, time]] = ()


def save_location(
    session: Session, actor: Actor, row_id: uuid.UUID | None, values: LocationValues
) -> uuid.UUID:
    location = own(session, actor.practice_id, Location, row_id) or Location(
        practice_id=actor.practice_id
    )
    location.name = values.name  # type: ignore[assignment]
    _set_address(location, values.address)
    location.phone = values.phone
    if values.country is not None:
        location.country = values.country
    if location.external_id is None and row_id is None:
        location.external_id = _free_external_id(
            session, actor.practice_id, Location, values.external_id
        )
    session.add(location)
    session.flush()
    session.execute(
        delete(LocationHours).where(
            LocationHours.practice_id == actor.practice_id,
            LocationHours.location_id == location.id,
        )
    )
    for weekday, opens, closes in values.hours:
        session.add(
            LocationHours(
                practice_id=actor.practice_id,
                location_id=location.id,
                weekday=weekday,
                opens_at=opens,
                closes_at=closes,
            )
        )
    return location.id


def _location_now(session: Session, practice_id: int, row_id: uuid.UUID) -> Values | None:
    row = _current(session, practice_id, Location, row_id)
    if row is None:
        return None
    return {"name": row.name, **_address_of(row), "phone": row.phone}


def _remove_location(session: Session, actor: Actor, row_id: uuid.UUID) -> None:
    _detach_then_delete(session, actor, Location, Order.location_id, row_id)


# -- employees (doctors and users) -----------------------------------------------------------


@dataclass(frozen=True)
class EmployeeValues:
    first_name: str
    last_name: str
    email: str | None
    is_active: bool
    is_doctor: bool
    # None leaves it as it is.
    in_house: bool | None = None
    # The locations the employee works at, all of them.
    location_ids: Sequence[uuid.UUID] = ()


def save_employee(
    session: Session, actor: Actor, row_id: uuid.UUID | None, values: EmployeeValues
) -> uuid.UUID:
    employee = own(session, actor.practice_id, Employee, row_id) or Employee(
        practice_id=actor.practice_id
    )
    employee.first_name = values.first_name
    employee.last_name = values.last_name
    employee.email = values.email
    employee.is_active = values.is_active
    employee.is_doctor = values.is_doctor
    if values.in_house is not None:
        employee.in_house = values.in_house
    session.add(employee)
    session.flush()
    session.execute(
        delete(employee_locations).where(
            employee_locations.c.practice_id == actor.practice_id,
            employee_locations.c.employee_id == employee.id,
        )
    )
    for location_id in values.location_ids:
        session.execute(
            employee_locations.insert().values(
                practice_id=actor.practice_id, employee_id=employee.id, location_id=location_id
            )
        )
    return employee.id


def _employee_now(session: Session, practice_id: int, row_id: uuid.UUID) -> Values | None:
    row = _current(session, practice_id, Employee, row_id)
    if row is None:
        return None
    return {
        "first_name": row.first_name or None,
        "last_name": row.last_name or None,
        "email": row.email,
        "is_active": row.is_active,
    }


def _remove_employee(session: Session, actor: Actor, row_id: uuid.UUID) -> None:
    _detach_then_delete(session, actor, Employee, Order.physician_id, row_id)


# -- patients -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientValues:
    first_name: str
    last_name: str | None
    email: str | None
    phone: str | None
    date_of_birth: date | None
    address: Address
    notes: str | None
    home_location_id: uuid.UUID | None
    external_id: str
    # An ISO 3166 two-letter code; None leaves the patient's country as it is.
    country: str | None = None


def save_patient(
    session: Session, actor: Actor, row_id: uuid.UUID | None, values: PatientValues
) -> uuid.UUID:
    patient = own(session, actor.practice_id, Patient, row_id)
    if patient is None:
        patient = Patient(practice_id=actor.practice_id)
        patient.external_id = _free_external_id(
            session, actor.practice_id, Patient, values.external_id
        )
    patient.first_name = values.first_name
    patient.last_name = values.last_name  # type: ignore[assignment]
    patient.email = values.email
    set_phone(session, patient, values.phone)
    patient.date_of_birth = values.date_of_birth
    _set_address(patient, values.address)
    patient.notes = values.notes
    patient.home_location_id = values.home_location_id
    if values.country is not None:
        patient.country = values.country
    session.add(patient)
    session.flush()
    return patient.id


def _patient_now(session: Session, practice_id: int, row_id: uuid.UUID) -> Values | None:
    row = _current(session, practice_id, Patient, row_id)
    if row is None:
        return None
    return {
        "first_name": row.first_name or None,
        "last_name": row.last_name,
        "email": row.email,
        "phone": row.phone,
        "date_of_birth": row.date_of_birth,
        **_address_of(row),
        "notes": row.notes,
    }


def _remove_patient(session: Session, actor: Actor, row_id: uuid.UUID) -> None:
    _detach_then_delete(session, actor, Patient, Order.patient_id, row_id)


# -- family links ------------------------------------------------------------------------------


def save_family_link(
    session: Session,
    actor: Actor,
    row_id: uuid.UUID | None,
    patient_id: uuid.UUID,
    related_patient_id: uuid.UUID,
    *,
    field: str = "related_patient_id",
) -> uuid.UUID:
    """Link two patients as family. Raises ``ValidationFailed`` naming ``field`` when the
    pair is linked already (under another link)."""
    link = own(session, actor.practice_id, PatientRelationship, row_id) or PatientRelationship(
        practice_id=actor.practice_id, relationship="family"
    )
    link.patient_id = patient_id
    link.related_patient_id = related_patient_id
    session.add(link)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # the same pair under another external id
        raise ValidationFailed(
            [FieldError(field, "These two patients are linked already.")]
        ) from exc
    return link.id


# -- orders ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderValues:
    type: str
    patient_id: uuid.UUID | None
    location_id: uuid.UUID | None
    physician_id: uuid.UUID | None
    external_id: str
    lines: Sequence[order_service.LineItem]
    special_instructions: str | None
    # What the order still owes: ``amount_paid`` becomes the total less it (None: as it is).
    balance: Decimal | None
    # None: as it is.
    patient_balance: Decimal | None
    pickup_date: date | None
    # The state the order is to reach along the lifecycle (None: where it is; a new one
    # starts as received).
    target: OrderStatus | None
    # The same state was asked for last time: an order moved past it since (by the lab,
    # another channel) stays where it is instead of being refused.
    asked_before: bool = False
    # A new order's creation time (one in the future is ignored).
    created_at: datetime | None = None
    # The field a refused state is reported under.
    status_field: str = "status"


def _path(current: OrderStatus, target: OrderStatus) -> list[OrderStatus] | None:
    """The shortest run of lawful steps from ``current`` to ``target`` (None: none)."""
    if current == target:
        return []
    seen = {current}
    queue: deque[tuple[OrderStatus, list[OrderStatus]]] = deque([(current, [])])
    while queue:
        state, steps = queue.popleft()
        for nxt in TRANSITIONS[state]:
            if nxt in seen:
                continue
            if nxt == target:
                return [*steps, nxt]
            seen.add(nxt)
            queue.append((nxt, [*steps, nxt]))
    return None


def save_order(
    session: Session, actor: Actor, row_id: uuid.UUID | None, values: OrderValues
) -> uuid.UUID:
    """Place the order or update it (its lines through ``services.orders``), then move it
    to ``values.target`` one lawful step at a time, each recorded and announced as any
    status change is. An order of the practice with the same external id not yet synced is
    taken over. Raises ``ValidationFailed`` when the target cannot be reached."""
    order = None
    if row_id is not None:
        order = session.scalar(
            select(Order)
            .options(selectinload(Order.lines), selectinload(Order.history))
            .where(Order.practice_id == actor.practice_id, Order.id == row_id)
            .with_for_update()
        )
    if order is None:
        adopted = session.scalar(
            select(Order.id).where(
                Order.practice_id == actor.practice_id, Order.external_id == values.external_id
            )
        )
        if adopted is not None:
            order = order_service.get_order(session, actor.practice_id, adopted, lock=True)
    target = values.target
    if order is None:
        created = values.created_at
        order = order_service.place_order(
            session,
            actor,
            order_service.NewOrder(
                type=values.type,
                status=OrderStatus.DRAFT if target == OrderStatus.DRAFT else OrderStatus.RECEIVED,
                patient_id=values.patient_id,
                location_id=values.location_id,
                physician_id=values.physician_id,
                external_id=values.external_id,
                lines=list(values.lines),
                created_at=created if created is not None and created <= utcnow() else None,
            ),
        )
    else:
        order.type = values.type
        order.patient_id = values.patient_id
        order.location_id = values.location_id
        order.physician_id = values.physician_id
        order_service.replace_lines(session, actor, order, values.lines)
    order.special_instructions = values.special_instructions
    if values.balance is not None:
        order.amount_paid = max(order.total - values.balance, Decimal("0"))
    if values.patient_balance is not None:
        order.patient_balance = values.patient_balance
    order.pickup_date = values.pickup_date
    session.flush()
    steps = _path(OrderStatus(order.status), target) if target is not None else []
    if steps is None and values.asked_before:
        steps = []  # moved on elsewhere since the system last asked for this state: it stays
    if steps is None:
        raise ValidationFailed(
            [
                FieldError(
                    values.status_field,
                    f"The order is {order.status.replace('_', ' ')}; it cannot become "
                    f"{target.value.replace('_', ' ') if target else ''}.",
                )
            ]
        )
    for step in steps:
        order_service.change_order_status(session, actor, order.id, step)
    return order.id


def order_status(session: Session, practice_id: int, order_id: uuid.UUID) -> OrderStatus | None:
    """The order's state now (None: no such order)."""
    current = session.scalar(
        select(Order.status).where(Order.practice_id == practice_id, Order.id == order_id)
    )
    return OrderStatus(current) if current is not None else None


def _remove_order(session: Session, actor: Actor, row_id: uuid.UUID) -> None:
    order = session.scalar(
        select(Order).where(Order.practice_id == actor.practice_id, Order.id == row_id)
    )
    if order is not None:
        session.delete(order)
        audit.record(session, actor, "order.deleted", "order", row_id)


# -- prescriptions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LensEye:
    """A contact lens eye: its values (None: not read) and the lens's brand."""

    side: str
    rx: ContactLensEyeRx | None
    brand: str | None = None


@dataclass(frozen=True)
class PrescriptionValues:
    kind: str  # "spectacle" or "contact_lens"
    patient_id: uuid.UUID
    issued_on: date
    expires_on: date | None
    # A spectacle prescription's eyes ((side, values)); a contact lens one's.
    eyes: Sequence[tuple[str, EyeRx]] = ()
    lens_eyes: Sequence[LensEye] = ()
    notes: str | None = None
    # The PDF (None: none, or the one stored kept when ``keep_file``).
    file: bytes | None = None
    file_name: str | None = None
    keep_file: bool = False


def save_prescription(
    session: Session, actor: Actor, row_id: uuid.UUID | None, values: PrescriptionValues
) -> uuid.UUID:
    """Store the prescription, its eyes, notes and PDF, then announce it
    (``prescriptions.recorded``): the patient's waiting orders get it when it fits."""
    prescription = None
    if row_id is not None:
        prescription = session.scalar(
            select(Prescription)
            .options(selectinload(Prescription.eyes))
            .where(Prescription.practice_id == actor.practice_id, Prescription.id == row_id)
        )
    if prescription is None:
        prescription = Prescription(practice_id=actor.practice_id, kind=values.kind, eyes=[])
    prescription.patient_id = values.patient_id
    prescription.issued_on, prescription.expires_on = values.issued_on, values.expires_on
    eyes = [prescriptions.eye_row(actor.practice_id, side, eye) for side, eye in values.eyes]
    eyes += [
        PrescriptionEye(
            practice_id=actor.practice_id,
            side=lens.side,
            sphere=lens.rx.power if lens.rx else None,
            cylinder=lens.rx.cylinder if lens.rx else None,
            axis=lens.rx.axis if lens.rx else None,
            add=lens.rx.add if lens.rx else None,
            base_curve=lens.rx.base_curve if lens.rx else None,
            diameter=lens.rx.diameter if lens.rx else None,
            brand=lens.brand,
        )
        for lens in values.lens_eyes
    ]
    prescription.eyes = eyes
    prescription.notes = values.notes
    session.add(prescription)
    session.flush()
    _store_file(session, actor, prescription.id, values)
    prescriptions.recorded.fire(session, actor, values.patient_id)
    return prescription.id


def _store_file(
    session: Session, actor: Actor, prescription_id: uuid.UUID, values: PrescriptionValues
) -> None:
    existing = session.get(PrescriptionFile, prescription_id)
    file = values.file
    if file is None:
        if existing is not None and not values.keep_file:
            session.delete(existing)
        return
    if existing is None:
        existing = PrescriptionFile(prescription_id=prescription_id, practice_id=actor.practice_id)
        session.add(existing)
    existing.file_name = values.file_name or "prescription.pdf"
    existing.content = file
    existing.size = len(file)
    existing.sha256 = hashlib.sha256(file).hexdigest()
    existing.created_at = utcnow()


def prescription_file(
    session: Session, practice_id: int, prescription_id: uuid.UUID
) -> PrescriptionFile | None:
    row = session.get(PrescriptionFile, prescription_id)
    return row if row is not None and row.practice_id == practice_id else None


def _remove_prescription(session: Session, actor: Actor, row_id: uuid.UUID) -> None:
    # Orders showing this prescription are changed through the ORM, so what they show is
    # re-rendered in this transaction.
    for order in session.scalars(
        select(Order).where(Order.practice_id == actor.practice_id, Order.prescription_id == row_id)
    ):
        order.prescription_id = None
    for line in session.scalars(
        select(OrderLine).where(
            OrderLine.practice_id == actor.practice_id, OrderLine.prescription_id == row_id
        )
    ):
        line.prescription_id = None
    row = own(session, actor.practice_id, Prescription, row_id)
    if row is not None:
        session.delete(row)


# -- appointments ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppointmentValues:
    location_id: uuid.UUID
    patient_id: uuid.UUID
    employee_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime
    kind: str
    status: str
    notes: str | None
    external_id: str


def save_appointment(
    session: Session, actor: Actor, row_id: uuid.UUID | None, values: AppointmentValues
) -> uuid.UUID:
    appointment = own(session, actor.practice_id, Appointment, row_id)
    if appointment is None:
        appointment = Appointment(practice_id=actor.practice_id)
        appointment.external_id = _free_external_id(
            session, actor.practice_id, Appointment, values.external_id
        )
    appointment.location_id = values.location_id
    appointment.patient_id = values.patient_id
    appointment.employee_id = values.employee_id
    appointment.starts_at = values.starts_at
    appointment.ends_at = values.ends_at
    appointment.kind = values.kind
    appointment.status = values.status
    appointment.notes = values.notes
    session.add(appointment)
    session.flush()
    return appointment.id


def _appointment_now(session: Session, practice_id: int, row_id: uuid.UUID) -> Values | None:
    row = _current(session, practice_id, Appointment, row_id)
    if row is None:
        return None
    return {"starts_at": row.starts_at, "ends_at": row.ends_at}


def _remove_row(model: Any) -> Any:
    def remove(session: Session, actor: Actor, row_id: uuid.UUID) -> None:
        row = own(session, actor.practice_id, model, row_id)
        if row is not None:
            session.delete(row)

    return remove


# -- by kind ----------------------------------------------------------------------------------

# The core's current values of a row, by kind (kinds without one read only whether the row
# is there).
CURRENT: Mapping[str, Any] = {
    "location": _location_now,
    "employee": _employee_now,
    "patient": _patient_now,
    "appointment": _appointment_now,
}
REMOVE: Mapping[str, Any] = {
    "location": _remove_location,
    "employee": _remove_employee,
    "patient": _remove_patient,
    "family_link": _remove_row(PatientRelationship),
    "order": _remove_order,
    "prescription": _remove_prescription,
    "appointment": _remove_row(Appointment),
}
