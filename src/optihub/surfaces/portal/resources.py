"""Each portal resource in the vendor's words: how a record (plain values under the
vendor's field names, as ``values.plain`` gives them: decimals as text, instants as
ISO-8601 text, times as ``HH:MM:SS``) is checked, with the vendor's messages, and
translated into the core's values for ``services.synced_rows``, and how a kept record
reads back with the core's current values where they changed since (a patient renamed
through another surface reads renamed).

The bookkeeping (which core row an ``ExternalId`` names, the record as last sent, a
repeated record changing nothing) is ``services.external_records``'. Links name other
records by ``ExternalId``; an unknown one is refused naming it, and nothing is written.

Order statuses are the practice's own names, each meaning a canonical state through
``services.status_names``; an order moves to its status's state along the lifecycle (each
step recorded and announced as any status change is); a ``PickupDate`` means the patient
has the order: delivered.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.domain import phones, rx_text
from optihub.domain.orders import OrderStatus, OrderType
from optihub.errors import FieldError, ValidationFailed
from optihub.services import external_records, patient_messages, status_names, synced_rows
from optihub.services import orders as order_service
from optihub.services import patients as patient_service
from optihub.services.context import Actor
from optihub.services.external_records import Kind, Stored
from optihub.surfaces.portal import messages

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


def _country(record: Mapping[str, Any]) -> str | None:
    country = _text(record, "Country")
    return country.upper() if country and len(country) == 2 else None


def _fits(errors: list[FieldError], record: Mapping[str, Any], name: str, limit: int) -> None:
    value = record.get(name)
    if isinstance(value, str) and len(value.strip()) > limit:
        errors.append(FieldError(name, messages.too_long(name, limit)))


def _required(errors: list[FieldError], record: Mapping[str, Any], name: str) -> None:
    if record.get(name) in (None, ""):
        errors.append(FieldError(name, messages.required(name)))


# The address members locations and patients share, with the core columns' lengths.
ADDRESS: tuple[tuple[str, int], ...] = (
    ("Address1", 200),
    ("Address2", 200),
    ("City", 100),
    ("State", 50),
    ("ZipCode", 20),
)


def _address(record: Mapping[str, Any]) -> synced_rows.Address:
    return synced_rows.Address(
        line1=_text(record, "Address1"),
        line2=_text(record, "Address2"),
        city=_text(record, "City"),
        state=_text(record, "State"),
        postal_code=_text(record, "ZipCode"),
    )


# The core's name of each field the core holds, for reading a record back.
CORE_NAMES: dict[str, str] = {
    "name": "Name",
    "address_line1": "Address1",
    "address_line2": "Address2",
    "city": "City",
    "state": "State",
    "postal_code": "ZipCode",
    "phone": "Phone",
    "first_name": "FirstName",
    "last_name": "LastName",
    "email": "EmailAddress",
    "is_active": "Active",
    "date_of_birth": "Birthday",
    "notes": "Notes",
    "starts_at": "Start",
    "ends_at": "End",
}


def _shown(value: Any) -> Any:
    """A core value as the dialect shows it (a birthday is an instant there)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00+00:00"
    return value


# -- one request's writes ------------------------------------------------------------------


@dataclass
class Sync:
    """One request's view of the practice's synced records."""

    session: Session
    actor: Actor
    notes: list[str] = field(default_factory=list)
    # False when the record left ``FileContent`` out: a stored PDF stays as it is.
    file_sent: bool = True
    # A new row's current values as written (``synced_rows.CURRENT``'s shape), for the
    # answer: not read back.
    written: dict[str, Any] | None = None

    @property
    def practice_id(self) -> int:
        return self.actor.practice_id

    def linked_entry(self, resource: str, external_id: str | None) -> Stored | None:
        if not external_id:
            return None
        return external_records.find(self.session, self.practice_id, resource, external_id)

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
                errors.append(FieldError(name, messages.required(name)))
            return None
        found = external_records.row_of(self.session, self.practice_id, resource, external_id)
        if found is None:
            errors.append(FieldError(name, messages.no_such(RESOURCES[resource].noun, external_id)))
        return found


Write = Callable[[Sync, Record, uuid.UUID | None, Stored | None, bytes | None], uuid.UUID]


@dataclass(frozen=True)
class Resource:
    """How one resource is kept: ``write`` checks the record and writes it to the core
    (``row_id`` the row it named so far, None for a new one; ``previous`` the record kept
    before) and returns the row id; ``written`` is what it gives the core for the fields
    the core holds (core names), compared with the core's current values on reading."""

    kind: Kind
    write: Write
    written: Callable[[Record], Record] | None = None
    # The fields naming another resource's record that ``write`` links to (``Sync.link``),
    # with that resource: looked up in the upsert's first statement, not one by one.
    links: tuple[tuple[str, str], ...] = ()

    @property
    def noun(self) -> str:
        return self.kind.noun


# -- locations --------------------------------------------------------------------------


def _location_written(record: Record) -> Record:
    return {
        "name": _text(record, "Name"),
        **synced_rows.address_values(_address(record)),
        "phone": _text(record, "Phone"),
    }


def _write_location(
    sync: Sync, record: Record, row_id: uuid.UUID | None, _previous: Stored | None, _f: bytes | None
) -> uuid.UUID:
    errors: list[FieldError] = []
    _required(errors, record, "Name")
    for name, limit in (("Name", 200), *ADDRESS, ("Phone", 20)):
        _fits(errors, record, name, limit)
    hours: list[tuple[int, time, time]] = []
    for weekday, day in enumerate(WEEKDAYS):
        if record.get(f"{day}Closed"):
            continue
        opens, closes = _clock(record.get(f"{day}From")), _clock(record.get(f"{day}To"))
        if opens is None and closes is None:
            continue
        if opens is None or closes is None or opens >= closes:
            errors.append(FieldError(f"{day}To", messages.later(f"{day}To", f"{day}From")))
            continue
        hours.append((weekday, opens, closes))
    if errors:
        raise ValidationFailed(errors)
    return synced_rows.save_location(
        sync.session,
        sync.actor,
        row_id,
        synced_rows.LocationValues(
            name=_text(record, "Name"),
            address=_address(record),
            phone=_text(record, "Phone"),
            external_id=record["ExternalId"],
            country=_country(record),
            hours=hours,
        ),
    )


# -- doctors and users (employees) ---------------------------------------------------------


def _employee_written(record: Record) -> Record:
    return {
        "first_name": _text(record, "FirstName"),
        "last_name": _text(record, "LastName"),
        "email": _text(record, "EmailAddress"),
        "is_active": record.get("Active") is not False,
    }


def _stand_in(record: Record) -> str:
    """A user without a last name is listed by username (as much as the column holds)."""
    return (_text(record, "Username") or "")[:100]


def _user_written(record: Record) -> Record:
    written = _employee_written(record)
    written["last_name"] = written["last_name"] or _stand_in(record) or None
    return written


def _write_employee(doctor: bool) -> Write:
    def write(
        sync: Sync,
        record: Record,
        row_id: uuid.UUID | None,
        _previous: Stored | None,
        _file: bytes | None,
    ) -> uuid.UUID:
        errors: list[FieldError] = []
        if doctor:
            _required(errors, record, "LastName")
            for name in ("Active", "InHouse"):
                if record.get(name) is None:
                    errors.append(FieldError(name, messages.required(name)))
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
                    FieldError(f"Locations[{index}]", messages.no_such("location", external_id))
                )
            elif found.row_id not in locations:
                locations.append(found.row_id)
        if errors:
            raise ValidationFailed(errors)
        written = _employee_written(record)
        return synced_rows.save_employee(
            sync.session,
            sync.actor,
            row_id,
            synced_rows.EmployeeValues(
                first_name=written["first_name"] or "",
                last_name=written["last_name"] or _stand_in(record),
                email=written["email"],
                is_active=written["is_active"],
                is_doctor=doctor,
                in_house=bool(record.get("InHouse")) if doctor else None,
                location_ids=locations,
            ),
        )

    return write


# -- patients ---------------------------------------------------------------------------


def _patient_written(record: Record) -> Record:
    return {
        "first_name": _text(record, "FirstName"),
        "last_name": _text(record, "LastName"),
        "email": _text(record, "EmailAddress"),
        "phone": _text(record, "Phone"),
        "date_of_birth": _day(record.get("Birthday")),
        **synced_rows.address_values(_address(record)),
        "notes": _text(record, "Notes"),
    }


def _write_patient(
    sync: Sync, record: Record, row_id: uuid.UUID | None, _previous: Stored | None, _f: bytes | None
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
        errors.append(FieldError("Birthday", messages.BIRTHDAY_IN_FUTURE))
    location_id = sync.link(errors, record, "LocationExternalId", "Locations")
    sync.link(errors, record, "DoctorExternalId", "Doctors")
    if errors:
        raise ValidationFailed(errors)
    written = _patient_written(record)
    patient_values = synced_rows.PatientValues(
        first_name=written["first_name"] or "",
        last_name=written["last_name"],
        email=written["email"],
        phone=written["phone"],
        date_of_birth=birthday,
        address=_address(record),
        notes=written["notes"],
        home_location_id=location_id,
        external_id=record["ExternalId"],
        country=_country(record),
    )
    if row_id is None:
        # A new patient: one Core INSERT, answered from the values written.
        address = synced_rows.address_values(patient_values.address)
        row = patient_service.add_synced(
            sync.session,
            sync.practice_id,
            external_id=patient_values.external_id,
            phone=patient_values.phone,
            country=patient_values.country,
            external_id_free=external_records.noted_free(
                sync.session, "patient", sync.practice_id, patient_values.external_id
            ),
            first_name=patient_values.first_name,
            last_name=patient_values.last_name,
            email=patient_values.email,
            date_of_birth=patient_values.date_of_birth,
            **address,
            notes=patient_values.notes,
            home_location_id=patient_values.home_location_id,
        )
        patient_id: uuid.UUID = row["id"]
        # What ``synced_rows.CURRENT`` would read back (its keys, in its order).
        sync.written = {
            "first_name": row["first_name"] or None,
            "last_name": row["last_name"],
            "email": row["email"],
            "phone": row["phone"],
            "date_of_birth": row["date_of_birth"],
            **address,
            "notes": row["notes"],
        }
    else:
        patient_id = synced_rows.save_patient(sync.session, sync.actor, row_id, patient_values)
    # The eyewear-ready consents (a member left out changes nothing: with neither, no
    # need to look at the patient again).
    email, sms = record.get("AllowEmailEyeWear"), record.get("AllowSmsEyewear")
    if email is not None or sms is not None:
        patient_messages.set_eyewear_consent(
            sync.session, sync.actor, patient_id, email=email, sms=sms
        )
    return patient_id


# -- family members ------------------------------------------------------------------------


def _write_family(
    sync: Sync, record: Record, row_id: uuid.UUID | None, _previous: Stored | None, _f: bytes | None
) -> uuid.UUID:
    errors: list[FieldError] = []
    patient_id = sync.link(errors, record, "PatientExternalId", "Patients", required=True)
    relative_id = sync.link(errors, record, "RelativeExternalId", "Patients", required=True)
    if patient_id is not None and patient_id == relative_id:
        errors.append(FieldError("RelativeExternalId", messages.OWN_RELATIVE))
    if errors:
        raise ValidationFailed(errors)
    assert patient_id is not None and relative_id is not None
    return synced_rows.save_family_link(
        sync.session, sync.actor, row_id, patient_id, relative_id, field="RelativeExternalId"
    )


# -- lists of the portal's own (statuses, types, relationship names) -----------------------


def _write_own_list(required: tuple[str, ...]) -> Write:
    def write(
        sync: Sync,
        record: Record,
        row_id: uuid.UUID | None,
        _previous: Stored | None,
        _file: bytes | None,
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


def _money(errors: list[FieldError], value: Any, name: str) -> Decimal:
    amount = _decimal(value)
    if amount is None:
        return Decimal("0")
    if amount < 0 or amount >= Decimal("10000000000"):
        errors.append(FieldError(name, messages.between(name, "0", "9999999999.99")))
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
            FieldError("OrderStatusExternalId", messages.no_such("order status", external_id))
        )
    elif entry is not None:
        status = status_names.status_for(sync.session, sync.practice_id, entry.body.get("Name"))
    if record.get("PickupDate"):
        status = OrderStatus.DELIVERED
    return status


def _asked_before(previous: Stored | None, record: Record) -> bool:
    """Whether the order's last record asked for the same state (same status, pickup date
    or none): an order moved past it since (by the lab, another surface) is then not being
    moved back, and stays where it is."""
    if previous is None:
        return False
    return _text(previous.body, "OrderStatusExternalId") == _text(
        record, "OrderStatusExternalId"
    ) and bool(previous.body.get("PickupDate")) == bool(record.get("PickupDate"))


def _write_order(
    sync: Sync, record: Record, row_id: uuid.UUID | None, previous: Stored | None, _f: bytes | None
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
            errors.append(FieldError(f"{at}.Quantity", messages.between("Quantity", "1", "100000")))
            continue
        unit = _money(errors, detail.get("UnitPrice"), f"{at}.UnitPrice")
        retail = _money(errors, detail.get("RetailPrice"), f"{at}.RetailPrice")
        tax = _money(errors, detail.get("Tax1"), f"{at}.Tax1") + _money(
            errors, detail.get("Tax2"), f"{at}.Tax2"
        )
        description = _text(detail, "ProductDescription") or "Item"
        if len(description) > 300:
            errors.append(
                FieldError(f"{at}.ProductDescription", messages.too_long("ProductDescription", 300))
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
                    messages.too_long("OrderDetailExternalId", 50),
                )
            )
    if errors:
        raise ValidationFailed(errors)
    return synced_rows.save_order(
        sync.session,
        sync.actor,
        row_id,
        synced_rows.OrderValues(
            type=ORDER_TYPES.get((_text(record, "Type") or "").lower(), OrderType.OTHER.value),
            patient_id=patient_id,
            location_id=location_id,
            physician_id=physician_id,
            external_id=record["ExternalId"],
            lines=lines,
            special_instructions=_text(record, "ReceiptNote"),
            balance=balance if record.get("OrderBalance") is not None else None,
            patient_balance=patient_balance if record.get("PatientBalance") is not None else None,
            pickup_date=_day(record.get("PickupDate")),
            target=target,
            asked_before=_asked_before(previous, record),
            created_at=_instant(record.get("Created")),
            status_field="PickupDate" if record.get("PickupDate") else "OrderStatusExternalId",
        ),
    )


def _order_status_shown(session: Session, practice_id: int, stored: Stored, record: Record) -> None:
    """An order moved on elsewhere (the dashboard, a lab, another dialect) reads back with
    the practice's own status that means its state now: the one last sent while it still
    means that state, else the first of the practice's statuses (by ExternalId) that does.
    With none that does, the status last sent stays."""
    current = synced_rows.order_status(session, practice_id, stored.row_id)
    if current is None:
        return
    names = external_records.names(session, practice_id, "OrderStatuses", "Name")
    sent = _text(record, "OrderStatusExternalId")
    if record.get("PickupDate") and current == OrderStatus.DELIVERED:
        return
    if (
        sent is not None
        and status_names.status_for(session, practice_id, names.get(sent)) == current
    ):
        return
    for status_id, name in names.items():
        if status_names.status_for(session, practice_id, name) == current:
            record["OrderStatusExternalId"] = status_id
            return


# -- prescriptions ------------------------------------------------------------------------


def _check_file(errors: list[FieldError], record: Record, file: bytes | None) -> None:
    if file is None:
        return
    if not file.startswith(PDF_MAGIC):
        errors.append(FieldError("FileContent", messages.NOT_A_PDF))
    if not _text(record, "FileName"):
        errors.append(FieldError("FileName", messages.FILE_NAME_WITH_FILE))
    _fits(errors, record, "FileName", 255)


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
        errors.append(FieldError(expirations[0], messages.EXPIRES_BEFORE_PRESCRIBED))
    return issued, expires


def _save_prescription(
    sync: Sync,
    row_id: uuid.UUID | None,
    record: Record,
    file: bytes | None,
    values: synced_rows.PrescriptionValues,
    notes: list[str],
) -> uuid.UUID:
    """Keep the notes (text not read as an Rx, comments) with the prescription; the eyes
    whose text was not read are told back to the caller."""
    sync.notes += [note.split(" ", 1)[0].lower() for note in notes if "not read" in note]
    return synced_rows.save_prescription(
        sync.session,
        sync.actor,
        row_id,
        synced_rows.PrescriptionValues(
            kind=values.kind,
            patient_id=values.patient_id,
            issued_on=values.issued_on,
            expires_on=values.expires_on,
            eyes=values.eyes,
            lens_eyes=values.lens_eyes,
            notes="\n".join(notes) or None,
            file=file,
            file_name=_text(record, "FileName"),
            keep_file=not sync.file_sent,
        ),
    )


def _write_glasses(
    sync: Sync,
    record: Record,
    row_id: uuid.UUID | None,
    _previous: Stored | None,
    file: bytes | None,
) -> uuid.UUID:
    errors: list[FieldError] = []
    patient_id = sync.link(errors, record, "PatientExternalId", "Patients", required=True)
    eye_fields = ("PrescriptionDetails", "ExpirationDate", "Comments")
    if not any(record.get(f"{side}Eye{name}") for side in ("Right", "Left") for name in eye_fields):
        errors.append(FieldError("RightEyePrescriptionDetails", messages.NO_EYE))
    _check_file(errors, record, file)
    issued, expires = _dates(errors, record, ("RightEyeExpirationDate", "LeftEyeExpirationDate"))
    if errors:
        raise ValidationFailed(errors)
    assert patient_id is not None
    eyes = []
    notes: list[str] = []
    for side in ("Right", "Left"):
        text = _text(record, f"{side}EyePrescriptionDetails")
        if text is None:
            continue
        parsed = rx_text.parse_eye_rx(text)
        if parsed.eye is not None:
            eyes.append((side.lower(), parsed.eye))
        else:
            notes.append(f"{side} eye not read as an Rx ({parsed.problem}): {text}")
    for side in ("Right", "Left"):
        comment = _text(record, f"{side}EyeComments")
        if comment:
            notes.append(f"{side} eye: {comment}")
    values = synced_rows.PrescriptionValues(
        kind="spectacle", patient_id=patient_id, issued_on=issued, expires_on=expires, eyes=eyes
    )
    return _save_prescription(sync, row_id, record, file, values, notes)


def _write_contacts(
    sync: Sync,
    record: Record,
    row_id: uuid.UUID | None,
    _previous: Stored | None,
    file: bytes | None,
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
    eyes: list[synced_rows.LensEye] = []
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
            eyes.append(synced_rows.LensEye(side.lower(), eye, brand[:100] if brand else None))
        comment = _text(record, f"Comment{side}Eye")
        if comment:
            notes.append(f"{side} eye: {comment}")
    values = synced_rows.PrescriptionValues(
        kind="contact_lens",
        patient_id=patient_id,
        issued_on=issued,
        expires_on=expires,
        lens_eyes=eyes,
    )
    return _save_prescription(sync, row_id, record, file, values, notes)


# -- appointments -------------------------------------------------------------------------


def _appointment_status(entry: Stored | None) -> str:
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
    sync: Sync, record: Record, row_id: uuid.UUID | None, _previous: Stored | None, _f: bytes | None
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
                "AppointmentStatusExternalId", messages.required("AppointmentStatusExternalId")
            )
        )
    else:
        status_entry = sync.linked_entry("AppointmentStatuses", status_id)
        if status_entry is None:
            errors.append(
                FieldError(
                    "AppointmentStatusExternalId", messages.no_such("appointment status", status_id)
                )
            )
    type_id = _text(record, "AppointmentTypeExternalId")
    type_entry = sync.linked_entry("AppointmentTypes", type_id)
    if type_id is not None and type_entry is None:
        errors.append(
            FieldError("AppointmentTypeExternalId", messages.no_such("appointment type", type_id))
        )
    starts = _instant(record.get("Start"))
    if starts is None:
        errors.append(FieldError("Start", messages.required("Start")))
    ends = _instant(record.get("End"))
    if starts is not None and ends is not None and ends <= starts:
        errors.append(FieldError("End", messages.later("End", "Start")))
    if errors:
        raise ValidationFailed(errors)
    assert location_id is not None and patient_id is not None and starts is not None
    return synced_rows.save_appointment(
        sync.session,
        sync.actor,
        row_id,
        synced_rows.AppointmentValues(
            location_id=location_id,
            patient_id=patient_id,
            employee_id=doctor_id,
            starts_at=starts,
            ends_at=ends or starts + APPOINTMENT_LENGTH,
            kind=((type_entry.body.get("Name") if type_entry else None) or "appointment")[:50],
            status=_appointment_status(status_entry),
            notes=_text(record, "CancelReason"),
            external_id=record["ExternalId"],
        ),
    )


def _appointment_written(record: Record) -> Record:
    starts = _instant(record.get("Start"))
    ends = _instant(record.get("End"))
    if ends is None and starts is not None:
        ends = starts + APPOINTMENT_LENGTH
    return {"starts_at": starts, "ends_at": ends}


# -- the table of resources -------------------------------------------------------------------


_AT_LOCATION = (("LocationExternalId", "Locations"),)
_OF_PATIENT = (("PatientExternalId", "Patients"),)

RESOURCES: dict[str, Resource] = {
    resource.kind.resource: resource
    for resource in (
        Resource(Kind("Locations", "location", "location"), _write_location, _location_written),
        Resource(
            Kind("Doctors", "doctor", "employee"),
            _write_employee(True),
            _employee_written,
            _AT_LOCATION,
        ),
        Resource(
            Kind("Users", "user", "employee"), _write_employee(False), _user_written, _AT_LOCATION
        ),
        Resource(
            Kind("Patients", "patient", "patient"),
            _write_patient,
            _patient_written,
            (("LocationExternalId", "Locations"), ("DoctorExternalId", "Doctors")),
        ),
        Resource(Kind("PatientRelationships", "patient relationship"), _write_own_list(())),
        Resource(
            Kind("FamilyMembers", "family member", "family_link"),
            _write_family,
            links=(("PatientExternalId", "Patients"), ("RelativeExternalId", "Patients")),
        ),
        Resource(Kind("OrderStatuses", "order status"), _write_own_list(("Name",))),
        Resource(
            Kind("Orders", "order", "order"),
            _write_order,
            links=(
                ("PatientExternalId", "Patients"),
                ("LocationExternalId", "Locations"),
                ("PhysicianExternalId", "Doctors"),
                ("UserExternalId", "Users"),
            ),
        ),
        Resource(
            Kind("GlassesPrescriptions", "glasses prescription", "prescription"),
            _write_glasses,
            links=_OF_PATIENT,
        ),
        Resource(
            Kind("ContactLensPrescriptions", "contact lens prescription", "prescription"),
            _write_contacts,
            links=_OF_PATIENT,
        ),
        Resource(Kind("AppointmentTypes", "appointment type"), _write_own_list(("Name",))),
        Resource(Kind("AppointmentStatuses", "appointment status"), _write_own_list(())),
        Resource(
            Kind("Appointments", "appointment", "appointment"),
            _write_appointment,
            _appointment_written,
            (
                ("LocationExternalId", "Locations"),
                ("PatientExternalId", "Patients"),
                ("DoctorExternalId", "Doctors"),
            ),
        ),
    )
}


# -- the use cases, in the vendor's words ----------------------------------------------------


@dataclass(frozen=True)
class Upserted:
    id: uuid.UUID
    created: bool
    changed: bool
    # What was kept but not understood (an eye's text that does not read as an Rx).
    notes: tuple[str, ...] = ()
    # The bookkeeping's answer, for ``shown``.
    kept: external_records.Upserted | None = field(default=None, compare=False, repr=False)
    # A new row's current values as written (``Sync.written``), for ``shown``.
    written: dict[str, Any] | None = field(default=None, compare=False, repr=False)


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
    kept = RESOURCES[resource]
    if resource == "ContactLensPrescriptions" and record.get("Active") is None:
        record = {**record, "Active": True}  # the dialect's default
    sync = Sync(session, actor, file_sent=file_sent)

    def write(row_id: uuid.UUID | None, previous: Stored | None) -> uuid.UUID:
        return kept.write(sync, record, row_id, previous, file)

    done = external_records.upsert(
        session,
        actor,
        kept.kind,
        str(record["ExternalId"]),
        {k: v for k, v in record.items() if k not in ("Id", "FileContent")},
        digest=external_records.fingerprint(record, file, file_sent),
        write=write,
        links=[
            (resource, external_id)
            for name, resource in kept.links
            if (external_id := _text(record, name)) is not None
        ],
    )
    notes = tuple(sync.notes) if done.changed else ()
    written = sync.written if done.created else None
    return Upserted(done.id, done.created, done.changed, notes, kept=done, written=written)


def shown(session: Session, practice_id: int, resource: str, done: Upserted) -> Record | None:
    """What ``read`` gives right after ``upsert``, without reading the record again."""
    if done.kept is None:
        return None
    stored = external_records.kept(
        session, practice_id, RESOURCES[resource].kind, done.kept, done.written
    )
    return _shown_record(session, practice_id, resource, stored) if stored is not None else None


def _shown_record(session: Session, practice_id: int, resource: str, stored: Stored) -> Record:
    kept = RESOURCES[resource]
    record = dict(stored.body)
    if stored.current is not None and kept.written is not None:
        written = kept.written(record)
        for name, value in stored.current.items():
            if value != written.get(name):
                record[CORE_NAMES[name]] = _shown(value)
    if resource == "Orders":
        _order_status_shown(session, practice_id, stored, record)
    if kept.kind.row == "prescription":
        file = synced_rows.prescription_file(session, practice_id, stored.row_id)
        record["FileContent"] = file.content if file is not None else None
    record["Id"] = str(stored.row_id)
    record["ExternalId"] = stored.external_id
    return record


def read(session: Session, practice_id: int, resource: str, external_id: str) -> Record | None:
    """The record as last sent, with the core's current values where they changed since,
    its ``Id`` and ``ExternalId``; None when there is none (or its core row is gone)."""
    stored = external_records.read(session, practice_id, RESOURCES[resource].kind, external_id)
    return _shown_record(session, practice_id, resource, stored) if stored is not None else None


def remove(session: Session, actor: Actor, resource: str, external_id: str) -> None:
    """Delete the record and its core row. Raises ``NotFound``."""
    external_records.remove(session, actor, RESOURCES[resource].kind, external_id)


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
    kept = [
        shown
        for stored in external_records.records(session, practice_id, RESOURCES[resource].kind)
        if matches(shown := _shown_record(session, practice_id, resource, stored))
    ]
    start = (page - 1) * per_page
    return Page(total=len(kept), rows=kept[start : start + per_page])
