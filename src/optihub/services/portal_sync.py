"""Keeping a practice's records in sync from its practice-management system (the portal
sync dialect): create-or-update by the integrating system's ``ExternalId``, read and
delete by it, and search.

Records arrive as plain values under the dialect's field names (``FirstName``,
``PatientExternalId``; decimals as text, instants as ISO-8601 text, times as
``HH:MM:SS``). Each resource is written to the core rows every surface reads — a
location, an employee (doctors and users), a patient, a family link, an order with its
lines, a prescription with its eyes and PDF, an appointment — and ``portal_records``
remembers which row an external id names and the record as last sent:

* the same record sent again (same fingerprint) changes nothing and emits nothing;
* reading a record returns it as last sent, except the fields the core holds where the
  core row has changed since (a patient renamed through another surface reads renamed);
* links name other records by external id; an unknown one is a ``ValidationFailed`` naming
  it, and nothing is written.

Order statuses are the practice's own names; ``status_for`` maps a name to a canonical
state through the practice's mapping (``portal_status_mappings``), by name otherwise. An
order moves to its mapped state along the lifecycle (each step recorded and announced as
any status change is); a ``PickupDate`` means the patient has the order: delivered.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import orjson
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
    PortalRecord,
    PortalStatusMapping,
    Prescription,
    PrescriptionEye,
    PrescriptionFile,
)
from optihub.db.models.practice import employee_locations
from optihub.domain import phones, rx_text
from optihub.domain.orders import TRANSITIONS, OrderStatus, OrderType
from optihub.errors import Conflict, FieldError, NotFound, ValidationFailed
from optihub.services import audit, prescriptions
from optihub.services import orders as order_service
from optihub.services.context import Actor
from optihub.services.patients import set_phone
from optihub.services.prescriptions import eye_row

# The canonical state each commonly used status name means, when the practice has not
# mapped the name itself (compared lower-cased, spaces and punctuation ignored).
DEFAULT_STATUS_NAMES: dict[str, OrderStatus] = {
    "draft": OrderStatus.DRAFT,
    "new": OrderStatus.RECEIVED,
    "ordered": OrderStatus.RECEIVED,
    "received": OrderStatus.RECEIVED,
    "open": OrderStatus.RECEIVED,
    "pending": OrderStatus.RECEIVED,
    "inprogress": OrderStatus.IN_PROGRESS,
    "inprocess": OrderStatus.IN_PROGRESS,
    "processing": OrderStatus.IN_PROGRESS,
    "atlab": OrderStatus.IN_PROGRESS,
    "senttolab": OrderStatus.IN_PROGRESS,
    "inlab": OrderStatus.IN_PROGRESS,
    "readyforpickup": OrderStatus.COMPLETED,
    "ready": OrderStatus.COMPLETED,
    "readyforpickupdispense": OrderStatus.COMPLETED,
    "completed": OrderStatus.COMPLETED,
    "complete": OrderStatus.COMPLETED,
    "receivedfromlab": OrderStatus.COMPLETED,
    "shipped": OrderStatus.SHIPPED,
    "pickedup": OrderStatus.DELIVERED,
    "dispensed": OrderStatus.DELIVERED,
    "delivered": OrderStatus.DELIVERED,
    "cancelled": OrderStatus.CANCELLED,
    "canceled": OrderStatus.CANCELLED,
    "void": OrderStatus.CANCELLED,
}

ORDER_TYPES: dict[str, str] = {
    "frames": OrderType.FRAMES.value,
    "spectacles": OrderType.SPECTACLES.value,
    "contacts": OrderType.CONTACTS.value,
    "others": OrderType.OTHER.value,
}

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
PDF_MAGIC = b"%PDF-"
APPOINTMENT_LENGTH = timedelta(minutes=30)

Record = dict[str, Any]
_Row = TypeVar("_Row")


def status_key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


# -- values ----------------------------------------------------------------------------


def _text(record: Mapping[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _instant(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _day(value: Any) -> date | None:
    moment = _instant(value)
    return moment.date() if moment is not None else None


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _clock(value: Any) -> time | None:
    if value in (None, ""):
        return None
    return time.fromisoformat(str(value))


def _fits(errors: list[FieldError], record: Mapping[str, Any], name: str, limit: int) -> None:
    value = record.get(name)
    if isinstance(value, str) and len(value.strip()) > limit:
        errors.append(
            FieldError(name, f"The field {name} must be a string with a maximum length of {limit}.")
        )


def _required(errors: list[FieldError], record: Mapping[str, Any], name: str) -> None:
    if record.get(name) in (None, ""):
        errors.append(FieldError(name, f"The {name} field is required."))


# The address members locations and patients share, with the core columns' lengths.
ADDRESS: tuple[tuple[str, int], ...] = (
    ("Address1", 200),
    ("Address2", 200),
    ("City", 100),
    ("State", 50),
    ("ZipCode", 20),
)


def _address(record: Mapping[str, Any]) -> Record:
    return {name: _text(record, name) for name, _limit in ADDRESS}


def _address_of(row: Location | Patient) -> Record:
    return {
        "Address1": row.address_line1,
        "Address2": row.address_line2,
        "City": row.city,
        "State": row.state,
        "ZipCode": row.postal_code,
    }


def _set_address(row: Location | Patient, core: Record) -> None:
    row.address_line1 = core["Address1"]
    row.address_line2 = core["Address2"]
    row.city = core["City"]
    row.state = core["State"]
    row.postal_code = core["ZipCode"]


def fingerprint(
    record: Mapping[str, Any], file: bytes | None = None, file_sent: bool = True
) -> str:
    digest = hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS))
    if file is not None:
        digest.update(hashlib.sha256(file).digest())
    elif not file_sent:
        digest.update(b"file kept")
    return digest.hexdigest()


# -- the records of one practice ------------------------------------------------------


@dataclass
class Sync:
    """One request's view of the practice's synced records."""

    session: Session
    actor: Actor
    notes: list[str] = field(default_factory=list)
    # False when the record left ``FileContent`` out: a stored PDF stays as it is.
    file_sent: bool = True

    @property
    def practice_id(self) -> int:
        return self.actor.practice_id

    def entry(self, resource: str, external_id: str, *, lock: bool = False) -> PortalRecord | None:
        statement = select(PortalRecord).where(
            PortalRecord.practice_id == self.practice_id,
            PortalRecord.resource == resource,
            PortalRecord.external_id == external_id,
        )
        if lock:
            statement = statement.with_for_update()
        return self.session.scalar(statement)

    def link(
        self,
        errors: list[FieldError],
        record: Mapping[str, Any],
        name: str,
        resource: str,
        *,
        required: bool = False,
    ) -> uuid.UUID | None:
        """The row the external id in ``record[name]`` names, or None (noted in errors when
        the id is unknown, or missing and ``required``)."""
        external_id = _text(record, name)
        if external_id is None:
            if required:
                errors.append(FieldError(name, f"The {name} field is required."))
            return None
        found = self.entry(resource, external_id)
        if found is None:
            errors.append(
                FieldError(
                    name, f"No {KINDS[resource].noun} with ExternalId '{external_id}' exists."
                )
            )
            return None
        return found.record_id

    def linked_entry(self, resource: str, external_id: str | None) -> PortalRecord | None:
        return self.entry(resource, external_id) if external_id else None


@dataclass(frozen=True)
class Kind:
    """How one resource is kept: ``write`` stores the record in the core (``row_id`` is the
    row it named so far, None for a new one) and returns the row id; ``core`` reads the
    fields the core holds (None: the row is gone); ``written`` is what ``write`` stores for
    those fields; ``remove`` deletes the core row."""

    resource: str
    noun: str
    write: Callable[[Sync, Record, uuid.UUID | None, bytes | None], uuid.UUID]
    core: Callable[[Session, int, uuid.UUID], Record | None] | None = None
    written: Callable[[Record], Record] | None = None
    remove: Callable[[Sync, uuid.UUID], None] | None = None


# -- locations --------------------------------------------------------------------------


def _location_core(record: Record) -> Record:
    return {
        "Name": _text(record, "Name"),
        **_address(record),
        "Phone": _text(record, "Phone"),
    }


def _write_location(
    sync: Sync, record: Record, row_id: uuid.UUID | None, _file: bytes | None
) -> uuid.UUID:
    errors: list[FieldError] = []
    _required(errors, record, "Name")
    for name, limit in (
        ("Name", 200),
        *ADDRESS,
        ("Phone", 20),
    ):
        _fits(errors, record, name, limit)
    hours: list[tuple[int, time, time]] = []
    for weekday, day in enumerate(WEEKDAYS):
        if record.get(f"{day}Closed"):
            continue
        opens, closes = _clock(record.get(f"{day}From")), _clock(record.get(f"{day}To"))
        if opens is None and closes is None:
            continue
        if opens is None or closes is None or opens >= closes:
            errors.append(FieldError(f"{day}To", f"{day}To must be later than {day}From."))
            continue
        hours.append((weekday, opens, closes))
    if errors:
        raise ValidationFailed(errors)
    location = _own(sync, Location, row_id) or Location(practice_id=sync.practice_id)
    core = _location_core(record)
    location.name = core["Name"]
    _set_address(location, core)
    location.phone = core["Phone"]
    country = _text(record, "Country")
    if country and len(country) == 2:
        location.country = country.upper()
    if location.external_id is None and row_id is None:
        location.external_id = _free_external_id(sync, Location, record["ExternalId"])
    sync.session.add(location)
    sync.session.flush()
    sync.session.execute(
        delete(LocationHours).where(
            LocationHours.practice_id == sync.practice_id, LocationHours.location_id == location.id
        )
    )
    for weekday, opens, closes in hours:
        sync.session.add(
            LocationHours(
                practice_id=sync.practice_id,
                location_id=location.id,
                weekday=weekday,
                opens_at=opens,
                closes_at=closes,
            )
        )
    return location.id


def _location_view(session: Session, practice_id: int, row_id: uuid.UUID) -> Record | None:
    row = session.get(Location, row_id)
    if row is None or row.practice_id != practice_id:
        return None
    return {
        "Name": row.name,
        **_address_of(row),
        "Phone": row.phone,
    }


def _remove_location(sync: Sync, row_id: uuid.UUID) -> None:
    for order in sync.session.scalars(
        select(Order).where(Order.practice_id == sync.practice_id, Order.location_id == row_id)
    ):
        order.location_id = None
    row = _own(sync, Location, row_id)
    if row is not None:
        sync.session.delete(row)


# -- doctors and users (employees) ---------------------------------------------------------


def _employee_core(record: Record) -> Record:
    return {
        "FirstName": _text(record, "FirstName"),
        "LastName": _text(record, "LastName"),
        "EmailAddress": _text(record, "EmailAddress"),
        "Active": record.get("Active") is not False,
    }


def _write_employee(
    doctor: bool,
) -> Callable[[Sync, Record, uuid.UUID | None, bytes | None], uuid.UUID]:
    def write(
        sync: Sync, record: Record, row_id: uuid.UUID | None, _file: bytes | None
    ) -> uuid.UUID:
        errors: list[FieldError] = []
        if doctor:
            _required(errors, record, "LastName")
            for name in ("Active", "InHouse"):
                if record.get(name) is None:
                    errors.append(FieldError(name, f"The {name} field is required."))
        for name, limit in (("FirstName", 100), ("LastName", 100), ("EmailAddress", 254)):
            _fits(errors, record, name, limit)
        locations = []
        home = sync.link(errors, record, "LocationExternalId", "Locations")
        if home is not None:
            locations.append(home)
        for index, external_id in enumerate(record.get("Locations") or []):
            found = sync.linked_entry("Locations", str(external_id))
            if found is None:
                errors.append(
                    FieldError(
                        f"Locations[{index}]",
                        f"No location with ExternalId '{external_id}' exists.",
                    )
                )
            elif found.record_id not in locations:
                locations.append(found.record_id)
        if errors:
            raise ValidationFailed(errors)
        employee = _own(sync, Employee, row_id) or Employee(practice_id=sync.practice_id)
        core = _employee_core(record)
        employee.first_name = core["FirstName"] or ""
        employee.last_name = core["LastName"] or _stand_in(record)
        employee.email = core["EmailAddress"]
        employee.is_active = core["Active"]
        employee.is_doctor = doctor
        if doctor:
            employee.in_house = bool(record.get("InHouse"))
        sync.session.add(employee)
        sync.session.flush()
        sync.session.execute(
            delete(employee_locations).where(
                employee_locations.c.practice_id == sync.practice_id,
                employee_locations.c.employee_id == employee.id,
            )
        )
        for location_id in locations:
            sync.session.execute(
                employee_locations.insert().values(
                    practice_id=sync.practice_id, employee_id=employee.id, location_id=location_id
                )
            )
        return employee.id

    return write


def _stand_in(record: Record) -> str:
    """A user without a last name is listed by username (as much as the column holds)."""
    return (_text(record, "Username") or "")[:100]


def _employee_view(session: Session, practice_id: int, row_id: uuid.UUID) -> Record | None:
    row = session.get(Employee, row_id)
    if row is None or row.practice_id != practice_id:
        return None
    return {
        "FirstName": row.first_name or None,
        "LastName": row.last_name or None,
        "EmailAddress": row.email,
        "Active": row.is_active,
    }


def _user_core(record: Record) -> Record:
    core = _employee_core(record)
    core["LastName"] = core["LastName"] or _stand_in(record) or None
    return core


def _user_view(session: Session, practice_id: int, row_id: uuid.UUID) -> Record | None:
    return _employee_view(session, practice_id, row_id)


def _remove_employee(sync: Sync, row_id: uuid.UUID) -> None:
    for order in sync.session.scalars(
        select(Order).where(Order.practice_id == sync.practice_id, Order.physician_id == row_id)
    ):
        order.physician_id = None
    row = _own(sync, Employee, row_id)
    if row is not None:
        sync.session.delete(row)


# -- patients ---------------------------------------------------------------------------


def _patient_core(record: Record) -> Record:
    birthday = _day(record.get("Birthday"))
    return {
        "FirstName": _text(record, "FirstName"),
        "LastName": _text(record, "LastName"),
        "EmailAddress": _text(record, "EmailAddress"),
        "Phone": _text(record, "Phone"),
        "Birthday": birthday.isoformat() if birthday else None,
        **_address(record),
        "Notes": _text(record, "Notes"),
    }


def _write_patient(
    sync: Sync, record: Record, row_id: uuid.UUID | None, _file: bytes | None
) -> uuid.UUID:
    errors: list[FieldError] = []
    _required(errors, record, "LastName")
    for name, limit in (
        ("FirstName", 50),
        ("LastName", 50),
        ("EmailAddress", 254),
        *ADDRESS,
        # The portal's document gives a phone no format: any text the core keeps (20).
        ("Phone", phones.MAX_LENGTH),
    ):
        _fits(errors, record, name, limit)
    birthday = _day(record.get("Birthday"))
    if birthday is not None and birthday > utcnow().date():
        errors.append(FieldError("Birthday", "The field Birthday cannot be in the future."))
    location_id = sync.link(errors, record, "LocationExternalId", "Locations")
    sync.link(errors, record, "DoctorExternalId", "Doctors")
    if errors:
        raise ValidationFailed(errors)
    patient = _own(sync, Patient, row_id)
    if patient is None:
        patient = Patient(practice_id=sync.practice_id)
        patient.external_id = _free_external_id(sync, Patient, record["ExternalId"])
    core = _patient_core(record)
    patient.first_name = core["FirstName"] or ""
    patient.last_name = core["LastName"]
    patient.email = core["EmailAddress"]
    set_phone(sync.session, patient, core["Phone"])
    patient.date_of_birth = birthday
    _set_address(patient, core)
    patient.notes = core["Notes"]
    patient.home_location_id = location_id
    country = _text(record, "Country")
    if country and len(country) == 2:
        patient.country = country.upper()
    sync.session.add(patient)
    sync.session.flush()
    return patient.id


def _patient_view(session: Session, practice_id: int, row_id: uuid.UUID) -> Record | None:
    row = session.get(Patient, row_id)
    if row is None or row.practice_id != practice_id:
        return None
    return {
        "FirstName": row.first_name or None,
        "LastName": row.last_name,
        "EmailAddress": row.email,
        "Phone": row.phone,
        "Birthday": row.date_of_birth.isoformat() if row.date_of_birth else None,
        **_address_of(row),
        "Notes": row.notes,
    }


def _patient_shown(name: str, value: Any) -> Any:
    """A core value as the dialect shows it (a birthday is an instant there)."""
    if name == "Birthday" and value is not None:
        return f"{value}T00:00:00+00:00"
    return value


def _remove_patient(sync: Sync, row_id: uuid.UUID) -> None:
    for order in sync.session.scalars(
        select(Order).where(Order.practice_id == sync.practice_id, Order.patient_id == row_id)
    ):
        order.patient_id = None
    row = _own(sync, Patient, row_id)
    if row is not None:
        sync.session.delete(row)


# -- family members ------------------------------------------------------------------------


def _write_family(
    sync: Sync, record: Record, row_id: uuid.UUID | None, _file: bytes | None
) -> uuid.UUID:
    errors: list[FieldError] = []
    patient_id = sync.link(errors, record, "PatientExternalId", "Patients", required=True)
    relative_id = sync.link(errors, record, "RelativeExternalId", "Patients", required=True)
    if patient_id is not None and patient_id == relative_id:
        errors.append(FieldError("RelativeExternalId", "A patient cannot be their own relative."))
    if errors:
        raise ValidationFailed(errors)
    assert patient_id is not None and relative_id is not None
    link = _own(sync, PatientRelationship, row_id) or PatientRelationship(
        practice_id=sync.practice_id, relationship="family"
    )
    link.patient_id = patient_id
    link.related_patient_id = relative_id
    sync.session.add(link)
    try:
        with sync.session.begin_nested():
            sync.session.flush()
    except IntegrityError as exc:  # the same pair under another external id
        raise ValidationFailed(
            [FieldError("RelativeExternalId", "These two patients are linked already.")]
        ) from exc
    return link.id


def _remove_own(model: Any) -> Callable[[Sync, uuid.UUID], None]:
    def remove(sync: Sync, row_id: uuid.UUID) -> None:
        row = _own(sync, model, row_id)
        if row is not None:
            sync.session.delete(row)

    return remove


# -- lists of the portal's own (statuses, types, relationship names) -----------------------


def _write_own_list(
    required: tuple[str, ...],
) -> Callable[[Sync, Record, uuid.UUID | None, bytes | None], uuid.UUID]:
    def write(
        sync: Sync, record: Record, row_id: uuid.UUID | None, _file: bytes | None
    ) -> uuid.UUID:
        errors: list[FieldError] = []
        for name in required:
            _required(errors, record, name)
        _fits(errors, record, "Name", 100)
        if errors:
            raise ValidationFailed(errors)
        return row_id or uuid.uuid4()

    return write


# -- orders -----------------------------------------------------------------------------


def status_for(session: Session, practice_id: int, name: str | None) -> OrderStatus | None:
    """The canonical state a practice's status name means (its own mapping first)."""
    if not name:
        return None
    key = status_key(name)
    # The practice's own names, matched as the defaults are (case, spaces and punctuation
    # aside); a practice has a handful, so they are read whole.
    for mapped_name, mapped in session.execute(
        select(PortalStatusMapping.name, PortalStatusMapping.status).where(
            PortalStatusMapping.practice_id == practice_id
        )
    ):
        if status_key(mapped_name) == key:
            return OrderStatus(mapped)
    for known, status in DEFAULT_STATUS_NAMES.items():
        if status_key(known) == key:
            return status
    return None


def set_status_mapping(
    session: Session, practice_id: int, name: str, status: OrderStatus | None
) -> None:
    """Map a status name of the practice to a canonical state (None: back to by-name)."""
    key = name.strip().lower()
    if not status_key(key) or len(key) > 100:
        raise ValidationFailed([FieldError("name", "A status name has 1 to 100 characters.")])
    for existing in session.scalars(
        select(PortalStatusMapping).where(PortalStatusMapping.practice_id == practice_id)
    ):
        if status_key(existing.name) == status_key(key):
            session.delete(existing)
    session.flush()
    if status is not None:
        session.add(PortalStatusMapping(practice_id=practice_id, name=key, status=status.value))
    session.flush()


def status_mappings(session: Session, practice_id: int) -> list[tuple[str, str]]:
    return [
        (row.name, row.status)
        for row in session.scalars(
            select(PortalStatusMapping)
            .where(PortalStatusMapping.practice_id == practice_id)
            .order_by(PortalStatusMapping.name)
        )
    ]


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


def _money(errors: list[FieldError], value: Any, name: str) -> Decimal:
    amount = _decimal(value)
    if amount is None:
        return Decimal("0")
    if amount < 0 or amount >= Decimal("10000000000"):
        errors.append(FieldError(name, f"The field {name} must be between 0 and 9999999999.99."))
        return Decimal("0")
    return amount.quantize(Decimal("0.01"))


def _target_status(sync: Sync, errors: list[FieldError], record: Record) -> OrderStatus | None:
    """The state the record asks for; None when its status name means nothing known (the
    order then stays where it is, a new one starts as received)."""
    status = None
    entry = sync.linked_entry("OrderStatuses", _text(record, "OrderStatusExternalId"))
    external_id = _text(record, "OrderStatusExternalId")
    if external_id is not None and entry is None:
        errors.append(
            FieldError(
                "OrderStatusExternalId", f"No order status with ExternalId '{external_id}' exists."
            )
        )
    elif entry is not None:
        status = status_for(sync.session, sync.practice_id, entry.body.get("Name"))
    if record.get("PickupDate"):
        status = OrderStatus.DELIVERED
    return status


def _order_status_shown(
    session: Session, practice_id: int, order_id: uuid.UUID, record: Record
) -> None:
    """An order moved on elsewhere (the dashboard, a lab, another dialect) reads back with
    the practice's own status that means its state now: the one last sent while it still
    means that state, else the first of the practice's statuses (by ExternalId) that does.
    With none that does, the status last sent stays."""
    current = session.scalar(select(Order.status).where(Order.id == order_id))
    if current is None:
        return
    names: dict[str, str | None] = dict(
        session.execute(
            select(PortalRecord.external_id, PortalRecord.body["Name"].as_string())
            .where(
                PortalRecord.practice_id == practice_id,
                PortalRecord.resource == "OrderStatuses",
            )
            .order_by(PortalRecord.external_id)
        ).all()
    )
    sent = _text(record, "OrderStatusExternalId")
    if record.get("PickupDate") and current == OrderStatus.DELIVERED.value:
        return
    if sent is not None and status_for(session, practice_id, names.get(sent)) == current:
        return
    for status_id, name in names.items():
        if status_for(session, practice_id, name) == current:
            record["OrderStatusExternalId"] = status_id
            return


def _write_order(
    sync: Sync, record: Record, row_id: uuid.UUID | None, _file: bytes | None
) -> uuid.UUID:
    errors: list[FieldError] = []
    patient_id = sync.link(errors, record, "PatientExternalId", "Patients", required=True)
    location_id = sync.link(errors, record, "LocationExternalId", "Locations", required=True)
    physician_id = sync.link(errors, record, "PhysicianExternalId", "Doctors")
    sync.link(errors, record, "UserExternalId", "Users")
    target = _target_status(sync, errors, record)
    lines: list[order_service.LineItem] = []
    for index, detail in enumerate(record.get("OrderDetails") or []):
        at = f"OrderDetails[{index}]"
        quantity = detail.get("Quantity")
        if quantity is None:
            quantity = 1
        if not isinstance(quantity, int) or quantity < 1 or quantity > 100000:
            errors.append(
                FieldError(f"{at}.Quantity", "The field Quantity must be between 1 and 100000.")
            )
            continue
        unit = _money(errors, detail.get("UnitPrice"), f"{at}.UnitPrice")
        retail = _money(errors, detail.get("RetailPrice"), f"{at}.RetailPrice")
        tax = _money(errors, detail.get("Tax1"), f"{at}.Tax1") + _money(
            errors, detail.get("Tax2"), f"{at}.Tax2"
        )
        description = _text(detail, "ProductDescription") or "Item"
        if len(description) > 300:
            errors.append(
                FieldError(
                    f"{at}.ProductDescription",
                    "The field ProductDescription must be a string with a maximum length of 300.",
                )
            )
        lines.append(
            order_service.LineItem(
                description=description,
                quantity=quantity,
                unit_price=unit,
                retail_price=retail if detail.get("RetailPrice") is not None else None,
                tax=tax,
                sku=(_text(detail, "OrderDetailExternalId") or None),
            )
        )
    balance = _money(errors, record.get("OrderBalance"), "OrderBalance")
    patient_balance = _money(errors, record.get("PatientBalance"), "PatientBalance")
    for index, line in enumerate(lines):
        if line.sku is not None and len(line.sku) > 50:
            errors.append(
                FieldError(
                    f"OrderDetails[{index}].OrderDetailExternalId",
                    "The field OrderDetailExternalId must be a string with a maximum length of 50.",
                )
            )
    if errors:
        raise ValidationFailed(errors)
    kind = ORDER_TYPES.get((_text(record, "Type") or "").lower(), OrderType.OTHER.value)
    note = _text(record, "ReceiptNote")
    order = None
    if row_id is not None:
        order = sync.session.scalar(
            select(Order)
            .options(selectinload(Order.lines), selectinload(Order.history))
            .where(Order.practice_id == sync.practice_id, Order.id == row_id)
            .with_for_update()
        )
    if order is None:
        adopted = sync.session.scalar(
            select(Order.id).where(
                Order.practice_id == sync.practice_id, Order.external_id == record["ExternalId"]
            )
        )
        if adopted is not None:
            order = order_service.get_order(sync.session, sync.practice_id, adopted, lock=True)
    if order is None:
        created = _instant(record.get("Created"))
        order = order_service.place_order(
            sync.session,
            sync.actor,
            order_service.NewOrder(
                type=kind,
                status=OrderStatus.DRAFT if target == OrderStatus.DRAFT else OrderStatus.RECEIVED,
                patient_id=patient_id,
                location_id=location_id,
                physician_id=physician_id,
                external_id=record["ExternalId"],
                lines=lines,
                created_at=created if created is not None and created <= utcnow() else None,
            ),
        )
    else:
        order.type = kind
        order.patient_id = patient_id
        order.location_id = location_id
        order.physician_id = physician_id
        order_service.replace_lines(sync.session, sync.actor, order, lines)
    order.special_instructions = note
    order.amount_paid = (
        max(order.total - balance, Decimal("0"))
        if record.get("OrderBalance") is not None
        else order.amount_paid
    )
    if record.get("PatientBalance") is not None:
        order.patient_balance = patient_balance
    pickup = _day(record.get("PickupDate"))
    order.pickup_date = pickup
    sync.session.flush()
    steps = _path(OrderStatus(order.status), target) if target is not None else []
    if steps is None and _asked_before(sync, record):
        steps = []  # moved on elsewhere since the system last sent this state: it stays
    if steps is None:
        raise ValidationFailed(
            [
                FieldError(
                    "PickupDate" if record.get("PickupDate") else "OrderStatusExternalId",
                    f"The order is {order.status.replace('_', ' ')}; it cannot become "
                    f"{target.value.replace('_', ' ') if target else ''}.",
                )
            ]
        )
    for step in steps:
        order_service.change_order_status(sync.session, sync.actor, order.id, step)
    return order.id


def _asked_before(sync: Sync, record: Record) -> bool:
    """Whether the order's last record asked for the same state (same status, pickup date
    or none): an order moved past it since (by the lab, another surface) is then not being
    moved back, and stays where it is."""
    previous = sync.entry("Orders", str(record["ExternalId"]))
    if previous is None:
        return False
    return _text(previous.body, "OrderStatusExternalId") == _text(
        record, "OrderStatusExternalId"
    ) and bool(previous.body.get("PickupDate")) == bool(record.get("PickupDate"))


def _remove_order(sync: Sync, row_id: uuid.UUID) -> None:
    order = sync.session.scalar(
        select(Order).where(Order.practice_id == sync.practice_id, Order.id == row_id)
    )
    if order is not None:
        sync.session.delete(order)
        audit.record(sync.session, sync.actor, "order.deleted", "order", row_id)


# -- prescriptions ------------------------------------------------------------------------


def _check_file(errors: list[FieldError], record: Record, file: bytes | None) -> None:
    if file is None:
        return
    if not file.startswith(PDF_MAGIC):
        errors.append(FieldError("FileContent", "The file must be a PDF document."))
    if not _text(record, "FileName"):
        errors.append(FieldError("FileName", "The FileName field is required with FileContent."))
    _fits(errors, record, "FileName", 255)


def _store_file(sync: Sync, prescription_id: uuid.UUID, record: Record, file: bytes | None) -> None:
    existing = sync.session.get(PrescriptionFile, prescription_id)
    if file is None:
        if existing is not None and sync.file_sent:
            sync.session.delete(existing)
        return
    if existing is None:
        existing = PrescriptionFile(prescription_id=prescription_id, practice_id=sync.practice_id)
        sync.session.add(existing)
    existing.file_name = _text(record, "FileName") or "prescription.pdf"
    existing.content = file
    existing.size = len(file)
    existing.sha256 = hashlib.sha256(file).hexdigest()
    existing.created_at = utcnow()


def _prescription(
    sync: Sync, row_id: uuid.UUID | None, kind: str, patient_id: uuid.UUID
) -> Prescription:
    prescription = None
    if row_id is not None:
        prescription = sync.session.scalar(
            select(Prescription)
            .options(selectinload(Prescription.eyes))
            .where(Prescription.practice_id == sync.practice_id, Prescription.id == row_id)
        )
    if prescription is None:
        prescription = Prescription(practice_id=sync.practice_id, kind=kind, eyes=[])
    prescription.patient_id = patient_id
    return prescription


def _dates(
    errors: list[FieldError], record: Record, expirations: tuple[str, str]
) -> tuple[date, date | None]:
    """Issued on the prescribed date, expiring on the earlier eye's expiration date."""
    ends = [d for d in (_day(record.get(name)) for name in expirations) if d is not None]
    expires = min(ends) if ends else None
    # Without a prescribed date: today, or the expiration date when that is earlier (an
    # old prescription synced late).
    issued = _day(record.get("PrescribedDate")) or min(utcnow().date(), expires or utcnow().date())
    if expires is not None and expires < issued:
        errors.append(
            FieldError(expirations[0], "An expiration date cannot be before the prescribed date.")
        )
    return issued, expires


def _save_prescription(
    sync: Sync,
    prescription: Prescription,
    eyes: list[PrescriptionEye],
    notes: list[str],
    record: Record,
    file: bytes | None,
) -> uuid.UUID:
    """Store the eyes read from the text, the notes (text not read as an Rx, comments) and
    the PDF, then give the patient's waiting orders this prescription when it fits."""
    prescription.eyes = eyes
    prescription.notes = "\n".join(notes) or None
    sync.notes += [note.split(" ", 1)[0].lower() for note in notes if "not read" in note]
    sync.session.add(prescription)
    sync.session.flush()
    _store_file(sync, prescription.id, record, file)
    _matched(sync, prescription.patient_id)
    return prescription.id


def _write_glasses(
    sync: Sync, record: Record, row_id: uuid.UUID | None, file: bytes | None
) -> uuid.UUID:
    errors: list[FieldError] = []
    patient_id = sync.link(errors, record, "PatientExternalId", "Patients", required=True)
    eye_fields = ("PrescriptionDetails", "ExpirationDate", "Comments")
    if not any(record.get(f"{side}Eye{name}") for side in ("Right", "Left") for name in eye_fields):
        errors.append(
            FieldError(
                "RightEyePrescriptionDetails", "At least one eye's prescription data is required."
            )
        )
    _check_file(errors, record, file)
    issued, expires = _dates(errors, record, ("RightEyeExpirationDate", "LeftEyeExpirationDate"))
    if errors:
        raise ValidationFailed(errors)
    assert patient_id is not None
    prescription = _prescription(sync, row_id, "spectacle", patient_id)
    prescription.issued_on, prescription.expires_on = issued, expires
    eyes: list[PrescriptionEye] = []
    notes: list[str] = []
    for side in ("Right", "Left"):
        text = _text(record, f"{side}EyePrescriptionDetails")
        if text is None:
            continue
        parsed = rx_text.parse_eye_rx(text)
        if parsed.eye is not None:
            eyes.append(eye_row(sync.practice_id, side.lower(), parsed.eye))
        else:
            notes.append(f"{side} eye not read as an Rx ({parsed.problem}): {text}")
    for side in ("Right", "Left"):
        comment = _text(record, f"{side}EyeComments")
        if comment:
            notes.append(f"{side} eye: {comment}")
    return _save_prescription(sync, prescription, eyes, notes, record, file)


def _write_contacts(
    sync: Sync, record: Record, row_id: uuid.UUID | None, file: bytes | None
) -> uuid.UUID:
    errors: list[FieldError] = []
    patient_id = sync.link(errors, record, "PatientExternalId", "Patients", required=True)
    _check_file(errors, record, file)
    _fits(errors, record, "LensNameRightEye", 100)
    _fits(errors, record, "LensNameLeftEye", 100)
    issued, expires = _dates(errors, record, ("ExpirationDateRightEye", "ExpirationDateLeftEye"))
    if errors:
        raise ValidationFailed(errors)
    assert patient_id is not None
    prescription = _prescription(sync, row_id, "contact_lens", patient_id)
    prescription.issued_on, prescription.expires_on = issued, expires
    eyes: list[PrescriptionEye] = []
    notes: list[str] = []
    for side in ("Right", "Left"):
        text = _text(record, f"Prescription{side}Eye")
        brand = _text(record, f"LensName{side}Eye")
        eye = None
        if text is not None:
            parsed = rx_text.parse_contact_lens_rx(text)
            eye = parsed.eye
            if eye is None:
                notes.append(f"{side} eye not read as an Rx ({parsed.problem}): {text}")
        if eye is not None or brand is not None:
            eyes.append(
                PrescriptionEye(
                    practice_id=sync.practice_id,
                    side=side.lower(),
                    sphere=eye.power if eye else None,
                    cylinder=eye.cylinder if eye else None,
                    axis=eye.axis if eye else None,
                    add=eye.add if eye else None,
                    base_curve=eye.base_curve if eye else None,
                    diameter=eye.diameter if eye else None,
                    brand=brand[:100] if brand else None,
                )
            )
        comment = _text(record, f"Comment{side}Eye")
        if comment:
            notes.append(f"{side} eye: {comment}")
    return _save_prescription(sync, prescription, eyes, notes, record, file)


def _matched(sync: Sync, patient_id: uuid.UUID) -> None:
    # The patient's open orders waiting for a prescription get this one when it fits.
    prescriptions.recorded.fire(sync.session, sync.actor, patient_id)


def _remove_prescription(sync: Sync, row_id: uuid.UUID) -> None:
    # Orders showing this prescription are changed through the ORM, so what they show is
    # re-rendered in this transaction.
    for order in sync.session.scalars(
        select(Order).where(Order.practice_id == sync.practice_id, Order.prescription_id == row_id)
    ):
        order.prescription_id = None
    for line in sync.session.scalars(
        select(OrderLine).where(
            OrderLine.practice_id == sync.practice_id, OrderLine.prescription_id == row_id
        )
    ):
        line.prescription_id = None
    row = _own(sync, Prescription, row_id)
    if row is not None:
        sync.session.delete(row)


def prescription_file(
    session: Session, practice_id: int, prescription_id: uuid.UUID
) -> PrescriptionFile | None:
    row = session.get(PrescriptionFile, prescription_id)
    return row if row is not None and row.practice_id == practice_id else None


# -- appointments -------------------------------------------------------------------------


def _appointment_status(entry: PortalRecord | None) -> str:
    if entry is None:
        return "scheduled"
    flags = entry.body
    for flag, status in (
        ("IsCanceled", "cancelled"),
        ("IsCheckedOut", "completed"),
        ("IsCheckIn", "checked_in"),
        ("IsConfirmed", "confirmed"),
    ):
        if flags.get(flag):
            return status
    return "scheduled"


def _write_appointment(
    sync: Sync, record: Record, row_id: uuid.UUID | None, _file: bytes | None
) -> uuid.UUID:
    errors: list[FieldError] = []
    location_id = sync.link(errors, record, "LocationExternalId", "Locations", required=True)
    patient_id = sync.link(errors, record, "PatientExternalId", "Patients", required=True)
    doctor_id = sync.link(errors, record, "DoctorExternalId", "Doctors")
    status_id = _text(record, "AppointmentStatusExternalId")
    status_entry = None
    if status_id is None:
        errors.append(
            FieldError(
                "AppointmentStatusExternalId", "The AppointmentStatusExternalId field is required."
            )
        )
    else:
        status_entry = sync.linked_entry("AppointmentStatuses", status_id)
        if status_entry is None:
            errors.append(
                FieldError(
                    "AppointmentStatusExternalId",
                    f"No appointment status with ExternalId '{status_id}' exists.",
                )
            )
    type_id = _text(record, "AppointmentTypeExternalId")
    type_entry = sync.linked_entry("AppointmentTypes", type_id)
    if type_id is not None and type_entry is None:
        errors.append(
            FieldError(
                "AppointmentTypeExternalId",
                f"No appointment type with ExternalId '{type_id}' exists.",
            )
        )
    starts = _instant(record.get("Start"))
    if starts is None:
        errors.append(FieldError("Start", "The Start field is required."))
    ends = _instant(record.get("End"))
    if starts is not None and ends is not None and ends <= starts:
        errors.append(FieldError("End", "End must be later than Start."))
    if errors:
        raise ValidationFailed(errors)
    assert location_id is not None and patient_id is not None and starts is not None
    appointment = _own(sync, Appointment, row_id)
    if appointment is None:
        appointment = Appointment(practice_id=sync.practice_id)
        appointment.external_id = _free_external_id(sync, Appointment, record["ExternalId"])
    appointment.location_id = location_id
    appointment.patient_id = patient_id
    appointment.employee_id = doctor_id
    appointment.starts_at = starts
    appointment.ends_at = ends or starts + APPOINTMENT_LENGTH
    appointment.kind = ((type_entry.body.get("Name") if type_entry else None) or "appointment")[:50]
    appointment.status = _appointment_status(status_entry)
    appointment.notes = _text(record, "CancelReason")
    sync.session.add(appointment)
    sync.session.flush()
    return appointment.id


def _appointment_core(record: Record) -> Record:
    starts = _instant(record.get("Start"))
    ends = _instant(record.get("End"))
    if ends is None and starts is not None:
        ends = starts + APPOINTMENT_LENGTH
    return {
        "Start": starts.astimezone(UTC).isoformat() if starts else None,
        "End": ends.astimezone(UTC).isoformat() if ends else None,
    }


def _appointment_view(session: Session, practice_id: int, row_id: uuid.UUID) -> Record | None:
    row = session.get(Appointment, row_id)
    if row is None or row.practice_id != practice_id:
        return None
    return {
        "Start": row.starts_at.astimezone(UTC).isoformat(),
        "End": row.ends_at.astimezone(UTC).isoformat(),
    }


# -- the table of resources -------------------------------------------------------------------


KINDS: dict[str, Kind] = {
    kind.resource: kind
    for kind in (
        Kind(
            "Locations",
            "location",
            _write_location,
            _location_view,
            _location_core,
            _remove_location,
        ),
        Kind(
            "Doctors",
            "doctor",
            _write_employee(True),
            _employee_view,
            _employee_core,
            _remove_employee,
        ),
        Kind("Users", "user", _write_employee(False), _user_view, _user_core, _remove_employee),
        Kind("Patients", "patient", _write_patient, _patient_view, _patient_core, _remove_patient),
        Kind("PatientRelationships", "patient relationship", _write_own_list(())),
        Kind(
            "FamilyMembers",
            "family member",
            _write_family,
            None,
            None,
            _remove_own(PatientRelationship),
        ),
        Kind("OrderStatuses", "order status", _write_own_list(("Name",))),
        Kind("Orders", "order", _write_order, None, None, _remove_order),
        Kind(
            "GlassesPrescriptions",
            "glasses prescription",
            _write_glasses,
            None,
            None,
            _remove_prescription,
        ),
        Kind(
            "ContactLensPrescriptions",
            "contact lens prescription",
            _write_contacts,
            None,
            None,
            _remove_prescription,
        ),
        Kind("AppointmentTypes", "appointment type", _write_own_list(("Name",))),
        Kind("AppointmentStatuses", "appointment status", _write_own_list(())),
        Kind(
            "Appointments",
            "appointment",
            _write_appointment,
            _appointment_view,
            _appointment_core,
            _remove_own(Appointment),
        ),
    )
}
RESOURCES: tuple[str, ...] = tuple(KINDS)
# Rows removed by the core (e.g. a deleted order) for these read as gone.
_CORE_ROWS: dict[str, Any] = {
    "Locations": Location,
    "Doctors": Employee,
    "Users": Employee,
    "Patients": Patient,
    "FamilyMembers": PatientRelationship,
    "Orders": Order,
    "GlassesPrescriptions": Prescription,
    "ContactLensPrescriptions": Prescription,
    "Appointments": Appointment,
}


def _own(sync: Sync, model: type[_Row], row_id: uuid.UUID | None, *options: Any) -> _Row | None:
    """The practice's row of ``model`` with that id (None: no id, or not the practice's)."""
    if row_id is None:
        return None
    table: Any = model
    row: _Row | None = sync.session.scalar(
        select(table)
        .options(*options)
        .where(table.practice_id == sync.practice_id, table.id == row_id)
    )
    return row


def _free_external_id(sync: Sync, model: Any, external_id: str) -> str | None:
    """The core row's own external id, unless another row of the practice holds it."""
    taken = sync.session.scalar(
        select(model.id).where(
            model.practice_id == sync.practice_id, model.external_id == external_id
        )
    )
    return None if taken is not None else external_id


def _adopt(sync: Sync, resource: str, external_id: str) -> uuid.UUID | None:
    """A core row that another surface made with this external id, taken over on first sync
    (patients, locations and appointments; orders are taken over in ``_write_order``)."""
    model: Any = {"Patients": Patient, "Locations": Location, "Appointments": Appointment}.get(
        resource
    )
    if model is None:
        return None
    found = sync.session.scalar(
        select(model.id).where(
            model.practice_id == sync.practice_id, model.external_id == external_id
        )
    )
    if found is None:
        return None
    claimed = sync.session.scalar(
        select(PortalRecord.id).where(
            PortalRecord.practice_id == sync.practice_id,
            PortalRecord.resource == resource,
            PortalRecord.record_id == found,
        )
    )
    return None if claimed is not None else found


# -- the use cases --------------------------------------------------------------------------


@dataclass(frozen=True)
class Upserted:
    id: uuid.UUID
    created: bool
    changed: bool
    # What was kept but not understood (an eye's text that does not read as an Rx).
    notes: tuple[str, ...] = ()


def upsert(
    session: Session,
    actor: Actor,
    resource: str,
    record: Record,
    *,
    file: bytes | None = None,
    file_sent: bool = True,
) -> Upserted:
    """Create or update the record ``record["ExternalId"]`` names; the same record twice
    changes nothing the second time. A prescription's PDF is ``file``; ``file_sent`` False
    (the record left it out) keeps the stored one. Raises ``ValidationFailed`` (nothing
    written)."""
    kind = KINDS[resource]
    external_id = str(record["ExternalId"])
    if resource == "ContactLensPrescriptions" and record.get("Active") is None:
        record = {**record, "Active": True}  # the dialect's default
    digest = fingerprint(record, file, file_sent)
    sync = Sync(session, actor, file_sent=file_sent)
    entry = sync.entry(resource, external_id, lock=True)
    if entry is not None and entry.digest == digest and _exists(sync, resource, entry.record_id):
        return Upserted(entry.record_id, created=False, changed=False)
    row_id = entry.record_id if entry is not None else _adopt(sync, resource, external_id)
    if entry is not None and not _exists(sync, resource, row_id):
        row_id = None  # the core row was removed elsewhere: make it again
    new_id = kind.write(sync, record, row_id, file)
    if entry is None:
        entry = PortalRecord(
            practice_id=actor.practice_id, resource=resource, external_id=external_id
        )
        session.add(entry)
    entry.record_id = new_id
    entry.digest = digest
    entry.body = {k: v for k, v in record.items() if k not in ("Id", "FileContent")}
    entry.updated_at = utcnow()
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"{kind.noun.capitalize()} {external_id} is being written by another request"
        ) from exc
    audit.record(session, actor, f"portal.{resource}.upserted", kind.noun, new_id)
    return Upserted(new_id, created=row_id is None, changed=True, notes=tuple(sync.notes))


def _exists(sync: Sync, resource: str, row_id: uuid.UUID | None) -> bool:
    if row_id is None:
        return False
    model = _CORE_ROWS.get(resource)
    if model is None:
        return True
    return (
        sync.session.scalar(
            select(model.id).where(model.practice_id == sync.practice_id, model.id == row_id)
        )
        is not None
    )


def read(session: Session, practice_id: int, resource: str, external_id: str) -> Record | None:
    """The record as last sent, with the core's current values where they changed since,
    its ``Id`` and ``ExternalId``; None when there is none (or its core row is gone)."""
    entry = session.scalar(
        select(PortalRecord).where(
            PortalRecord.practice_id == practice_id,
            PortalRecord.resource == resource,
            PortalRecord.external_id == external_id,
        )
    )
    if entry is None:
        return None
    return _shown(session, practice_id, resource, entry)


def _shown(session: Session, practice_id: int, resource: str, entry: PortalRecord) -> Record | None:
    kind = KINDS[resource]
    record = dict(entry.body)
    model = _CORE_ROWS.get(resource)
    if kind.core is not None and kind.written is not None:
        core = kind.core(session, practice_id, entry.record_id)
        if core is None:
            return None
        written = kind.written(record)
        for name, value in core.items():
            if value != written.get(name):
                record[name] = _patient_shown(name, value)
    elif model is not None and session.get(model, entry.record_id) is None:
        return None
    if resource == "Orders":
        _order_status_shown(session, practice_id, entry.record_id, record)
    if resource in ("GlassesPrescriptions", "ContactLensPrescriptions"):
        stored = prescription_file(session, practice_id, entry.record_id)
        record["FileContent"] = stored.content if stored is not None else None
    record["Id"] = str(entry.record_id)
    record["ExternalId"] = entry.external_id
    return record


def remove(session: Session, actor: Actor, resource: str, external_id: str) -> None:
    """Delete the record and its core row. Raises ``NotFound``."""
    sync = Sync(session, actor)
    entry = sync.entry(resource, external_id, lock=True)
    if entry is None:
        raise NotFound(KINDS[resource].noun.capitalize(), external_id)
    kind = KINDS[resource]
    if kind.remove is not None:
        kind.remove(sync, entry.record_id)
    session.delete(entry)
    session.flush()
    audit.record(session, actor, f"portal.{resource}.deleted", kind.noun, entry.record_id)


@dataclass(frozen=True)
class Page:
    total: int
    rows: list[Record]


def search(
    session: Session,
    practice_id: int,
    resource: str,
    matches: Callable[[Record], bool],
    *,
    page: int,
    per_page: int,
) -> Page:
    """The records ``matches`` keeps, oldest first, one page of them."""
    entries: Iterable[PortalRecord] = session.scalars(
        select(PortalRecord)
        .where(PortalRecord.practice_id == practice_id, PortalRecord.resource == resource)
        .order_by(PortalRecord.created_at, PortalRecord.id)
    )
    kept = []
    for entry in entries:
        shown = _shown(session, practice_id, resource, entry)
        if shown is not None and matches(shown):
            kept.append(shown)
    start = (page - 1) * per_page
    return Page(total=len(kept), rows=kept[start : start + per_page])
