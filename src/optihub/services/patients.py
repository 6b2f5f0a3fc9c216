"""Patients: create, update, look up — always within one practice."""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, bindparam, event, func, select
from sqlalchemy.orm import Session, UOWTransaction

from optihub.db.base import new_id, utcnow
from optihub.db.models import Location, Patient
from optihub.db.prepared import Prepared
from optihub.domain import phones
from optihub.errors import Conflict, FieldError, NotFound, ValidationFailed
from optihub.reads import patients as patient_reads
from optihub.reads.patients import PatientView
from optihub.services import audit
from optihub.services.common import flush_or_conflict, note_written
from optihub.services.context import Actor
from optihub.services.users import EMAIL_RE


@dataclass(frozen=True)
class PatientDetails:
    first_name: str
    last_name: str
    email: str | None = None
    phone: str | None = None
    date_of_birth: date | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    external_id: str | None = None


def _validate(details: PatientDetails, today: date) -> list[FieldError]:
    errors: list[FieldError] = []
    for name in ("first_name", "last_name"):
        value = getattr(details, name).strip()
        if not value:
            errors.append(FieldError(name, "Is required."))
        elif len(value) > 50:
            errors.append(FieldError(name, "Must be at most 50 characters."))
    if details.email is not None and not EMAIL_RE.match(details.email):
        errors.append(FieldError("email", "Must be a valid email address."))
    phone = phones.as_given(details.phone)
    if phone is not None and len(phone) > phones.MAX_LENGTH:
        errors.append(FieldError("phone", f"Must be at most {phones.MAX_LENGTH} characters."))
    if details.date_of_birth is not None and details.date_of_birth > today:
        errors.append(FieldError("date_of_birth", "Cannot be in the future."))
    return errors


# A practice's phone country, kept per database for REGION_SECONDS: every patient write
# with a phone needs it, and it changes only when the practice's locations do. A location
# written in this process forgets it at once; another process's change applies here within
# REGION_SECONDS (the E.164 form is a search aid beside the number as given).
REGION_SECONDS = 60.0
_regions: weakref.WeakKeyDictionary[Engine, dict[int, tuple[str, float]]] = (
    weakref.WeakKeyDictionary()
)
_regions_lock = threading.Lock()


def _engine(reader: Session | Connection) -> Engine:
    bind = reader.get_bind() if isinstance(reader, Session) else reader
    return bind.engine


def practice_region(reader: Session | Connection, practice_id: int) -> str:
    """The country a practice's national phone numbers are read in: the one its locations
    are in (the most common when they differ), ``US`` when it has none."""
    engine = _engine(reader)
    kept = _regions.get(engine)
    found = kept.get(practice_id) if kept is not None else None
    now = time.monotonic()
    if found is not None and found[1] > now:
        return found[0]
    country = reader.scalar(
        select(Location.country)
        .where(Location.practice_id == practice_id)
        .group_by(Location.country)
        .order_by(func.count().desc(), Location.country)
        .limit(1)
    )
    region = country or phones.DEFAULT_REGION
    with _regions_lock:
        _regions.setdefault(engine, {})[practice_id] = (region, now + REGION_SECONDS)
    return region


def forget_regions(engine: Engine) -> None:
    """Forget every practice's phone country kept for ``engine`` (its tables were emptied
    behind the ORM's back, e.g. between tests, and ids start again at 1)."""
    with _regions_lock:
        _regions.pop(engine, None)


def _forget_regions(session: Session, _context: UOWTransaction) -> None:
    """A location written: its practice's phone country is read again next time."""
    touched = {
        obj.practice_id
        for group in (session.new, session.dirty, session.deleted)
        for obj in group
        if isinstance(obj, Location)
    }
    if touched:
        kept = _regions.get(_engine(session))
        if kept is not None:
            with _regions_lock:
                for practice_id in touched:
                    kept.pop(practice_id, None)


if not event.contains(Session, "after_flush", _forget_regions):
    event.listen(Session, "after_flush", _forget_regions)


def set_phone(session: Session, patient: Patient, phone: str | None) -> None:
    """Keep ``phone`` on the patient as given (trimmed; None when blank) with its E.164 form
    beside it, read in the practice's country (None when it is not a valid number). The
    length is the caller's rule (at most ``phones.MAX_LENGTH``, the column's)."""
    patient.phone = phones.as_given(phone)
    patient.phone_e164 = (
        phones.e164(patient.phone, practice_region(session, patient.practice_id))
        if patient.phone is not None
        else None
    )


def create_patient(session: Session, actor: Actor, details: PatientDetails) -> Patient:
    """Create a patient in the actor's practice (audited). The phone is kept as given,
    trimmed, with its E.164 form beside it (``set_phone``).

    Raises ``ValidationFailed`` for bad fields, ``Conflict`` for a duplicate external id.
    """
    errors = _validate(details, date.today())
    if errors:
        raise ValidationFailed(errors)
    patient = Patient(
        practice_id=actor.practice_id,
        **{f.name: getattr(details, f.name) for f in fields(details) if f.name != "phone"},
    )
    patient.first_name = patient.first_name.strip()
    patient.last_name = patient.last_name.strip()
    set_phone(session, patient, details.phone)
    session.add(patient)
    flush_or_conflict(session, f"A patient with external id {details.external_id} already exists")
    audit.record(session, actor, "patient.created", "patient", patient.id)
    return patient


def add_patient(session: Session, actor: Actor, details: PatientDetails) -> PatientView:
    """``create_patient`` for a caller that answers with the patient and does nothing else
    with it (the practice API's create): ``write_patient``, and the view made from the
    values written, not read back."""
    return patient_reads.view_from(write_patient(session, actor, details))


def write_patient(session: Session, actor: Actor, details: PatientDetails) -> dict[str, Any]:
    """``create_patient``'s rules, row (defaults included) and audit entry, in the caller's
    transaction, written as two prepared INSERTs (``db.prepared``) instead of through the
    ORM's unit of work: the values written (every column), for a caller that needs no ORM
    object.

    Raises ``ValidationFailed`` for bad fields and ``Conflict`` when another patient of the
    practice holds the external id (a transaction that committed it since any lookup
    included): nothing is written either way, and the transaction goes on (the INSERT does
    nothing on that unique key instead of failing)."""
    errors = _validate(details, date.today())
    if errors:
        raise ValidationFailed(errors)
    phone = phones.as_given(details.phone)
    now = utcnow()
    values = {
        **{f.name: getattr(details, f.name) for f in fields(details)},
        "id": new_id(),
        "practice_id": actor.practice_id,
        "first_name": details.first_name.strip(),
        "last_name": details.last_name.strip(),
        "phone": phone,
        "phone_e164": (
            phones.e164(phone, practice_region(session, actor.practice_id))
            if phone is not None
            else None
        ),
        "home_location_id": None,
        "country": _DEFAULT_COUNTRY,
        "notes": None,
        "created_at": now,
        "updated_at": now,
        "notify_eyewear_email": False,
        "notify_eyewear_sms": False,
    }
    row = {name: values.get(name) for name in _PATIENT_COLUMNS}
    if details.external_id is None:
        _INSERT_PATIENT.defer(session, row)
    else:
        if _INSERT_UNLESS_TAKEN.execute(session, row).rowcount != 1:
            raise Conflict(f"A patient with external id {details.external_id} already exists")
    audit.add(session, actor, "patient.created", "patient", values["id"])
    note_written(session, Patient, actor.practice_id, values["id"])
    return row


# The column defaults ``add_patient`` writes itself (the model's, so both ways agree).
_PATIENTS = cast(Table, Patient.__table__)
_DEFAULT_COUNTRY = _PATIENTS.c.country.default.arg  # type: ignore[union-attr]
_PATIENT_COLUMNS = tuple(column.key for column in _PATIENTS.c)
# Sent past SQLAlchemy's execution layer (``db.prepared``): every column given.
_INSERT_PATIENT = Prepared.insert(Patient, _PATIENT_COLUMNS)
# A patient with an external id: nothing written when the practice's key is taken.
_INSERT_UNLESS_TAKEN = Prepared.insert_unless_taken(Patient, _PATIENT_COLUMNS)
_HOLDS_EXTERNAL_ID = Prepared(
    select(_PATIENTS.c.id).where(
        _PATIENTS.c.practice_id == bindparam("practice_id"),
        _PATIENTS.c.external_id == bindparam("external_id"),
    )
)


def add_synced(
    session: Session,
    practice_id: int,
    *,
    external_id: str,
    phone: str | None,
    country: str | None,
    external_id_free: bool = False,
    **columns: Any,
) -> dict[str, Any]:
    """A new patient row as ``synced_rows.save_patient`` writes one — ``external_id`` kept
    unless another patient of the practice holds it (``external_id_free``: this transaction
    has just found none), the phone as given with its E.164 form (``set_phone``), the
    country when given, the model's defaults, ``columns`` as they are (names, email, date of
    birth, address, notes, home location) — as one Core INSERT (compiled once per process)
    instead of the ORM's unit of work, for a caller that answers from the values written
    (returned, ``id`` among them) rather than reading the row back. Not audited: the
    caller's bookkeeping records the change (``external_records``)."""
    taken = (
        None
        if external_id_free
        else _HOLDS_EXTERNAL_ID.first(
            session, {"practice_id": practice_id, "external_id": external_id}
        )
    )
    given = phones.as_given(phone)
    now = utcnow()
    written: dict[str, Any] = {
        **columns,
        "id": new_id(),
        "practice_id": practice_id,
        "external_id": None if taken is not None else external_id,
        "phone": given,
        "phone_e164": (
            phones.e164(given, practice_region(session, practice_id)) if given is not None else None
        ),
        "country": country if country is not None else _DEFAULT_COUNTRY,
        "notify_eyewear_email": False,
        "notify_eyewear_sms": False,
        "created_at": now,
        "updated_at": now,
    }
    # Deferred (``Prepared.defer``): on PostgreSQL it goes with the caller's next statement.
    # A concurrent request that took the external id since the lookup fails that statement
    # with an ``IntegrityError`` (the caller's to turn into a ``Conflict``).
    _INSERT_PATIENT.defer(session, {name: written.get(name) for name in _PATIENT_COLUMNS})
    return written


def update_patient(
    session: Session, actor: Actor, patient_id: uuid.UUID, details: PatientDetails
) -> Patient:
    """Replace a patient's details (audited; the phone as ``create_patient`` keeps it).
    Raises ``NotFound`` / ``ValidationFailed``."""
    patient = get_patient(session, actor.practice_id, patient_id)
    errors = _validate(details, date.today())
    if errors:
        raise ValidationFailed(errors)
    for f in fields(details):
        if f.name != "phone":
            setattr(patient, f.name, getattr(details, f.name))
    set_phone(session, patient, details.phone)
    session.flush()
    audit.record(session, actor, "patient.updated", "patient", patient.id)
    return patient


def get_patient(session: Session, practice_id: int, patient_id: uuid.UUID) -> Patient:
    """The practice's patient; a foreign practice's patient is reported as not found."""
    patient = session.scalar(
        select(Patient).where(Patient.practice_id == practice_id, Patient.id == patient_id)
    )
    if patient is None:
        raise NotFound("Patient", patient_id)
    return patient
