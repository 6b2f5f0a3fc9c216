"""Reads of the practice's own records the practice lists need and ``reads/`` does not yet
offer: patients, stores and employees with a caller-chosen sort (``reads.patients`` sorts
one fixed way). One query for the page, one indexed count; always scoped by practice.
Orders are not read here: they come from ``reads.orders``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select

from optihub.db.models import Employee, Location, LocationHours, Patient
from optihub.db.models.practice import employee_locations
from optihub.reads.order_views import Reader
from optihub.surfaces.practice.listing import SortKey


@dataclass(frozen=True)
class Found:
    rows: list[dict[str, Any]]
    total: int


def _ordered(
    statement: Select[Any], sort: Sequence[SortKey], columns: dict[str, Any], tie: Any
) -> Select[Any]:
    keys = [columns[k.field].desc() if k.descending else columns[k.field].asc() for k in sort]
    return statement.order_by(*keys, tie.asc())


def _page(
    reader: Reader,
    model: Any,
    columns: list[Any],
    condition: ColumnElement[bool],
    sort: Sequence[SortKey],
    sortable: dict[str, Any],
    limit: int,
    offset: int,
) -> Found:
    total = reader.scalar(select(func.count()).select_from(model).where(condition)) or 0
    statement = _ordered(select(*columns).where(condition), sort, sortable, model.id)
    rows = reader.execute(statement.limit(limit).offset(offset)).mappings()
    return Found([dict(row) for row in rows], int(total))


# --- patients ---------------------------------------------------------------------------------

PATIENT_COLUMNS: list[Any] = [
    Patient.id,
    Patient.first_name,
    Patient.last_name,
    Patient.email,
    Patient.phone,
    Patient.date_of_birth,
    Patient.address_line1,
    Patient.address_line2,
    Patient.city,
    Patient.state,
    Patient.postal_code,
    Patient.country,
    Patient.home_location_id,
    Patient.created_at,
    Patient.updated_at,
]
PATIENT_SORT = {
    "patient_id": Patient.id,
    "name_first": Patient.first_name,
    "name_last": Patient.last_name,
    "email": Patient.email,
    "dob": Patient.date_of_birth,
    "create_date": Patient.created_at,
}


def patients(
    reader: Reader,
    practice_id: int,
    *,
    email: str | None = None,
    phone: str | None = None,
    dob: date | None = None,
    name_first: str | None = None,
    name_last: str | None = None,
    sort: Sequence[SortKey],
    limit: int,
    offset: int,
) -> Found:
    """A page of the practice's patients. Names match as a case-insensitive prefix, the
    email case-insensitively, phone and date of birth exactly."""
    conditions = [Patient.practice_id == practice_id]
    if email is not None:
        conditions.append(func.lower(Patient.email) == email.lower())
    if phone is not None:
        conditions.append(Patient.phone == phone)
    if dob is not None:
        conditions.append(Patient.date_of_birth == dob)
    if name_first is not None:
        conditions.append(Patient.first_name.istartswith(name_first, autoescape=True))
    if name_last is not None:
        conditions.append(Patient.last_name.istartswith(name_last, autoescape=True))
    return _page(
        reader, Patient, PATIENT_COLUMNS, and_(*conditions), sort, PATIENT_SORT, limit, offset
    )


def patient(reader: Reader, practice_id: int, patient_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        reader.execute(
            select(*PATIENT_COLUMNS).where(
                Patient.practice_id == practice_id, Patient.id == patient_id
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def patients_by_id(
    reader: Reader, practice_id: int, ids: Sequence[uuid.UUID]
) -> list[dict[str, Any]]:
    """The practice's patients with these ids, in the order of ``ids``."""
    rows = reader.execute(
        select(*PATIENT_COLUMNS).where(Patient.practice_id == practice_id, Patient.id.in_(ids))
    ).mappings()
    by_id = {row["id"]: dict(row) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


# --- stores -----------------------------------------------------------------------------------

STORE_COLUMNS: list[Any] = [
    Location.id,
    Location.name,
    Location.phone,
    Location.email,
    Location.address_line1,
    Location.address_line2,
    Location.city,
    Location.state,
    Location.postal_code,
    Location.country,
    Location.created_at,
    Location.updated_at,
]
STORE_SORT = {"store_id": Location.id, "name": Location.name, "create_date": Location.created_at}


@dataclass(frozen=True)
class Hours:
    weekday: int
    opens_at: time
    closes_at: time


def stores(
    reader: Reader,
    practice_id: int,
    *,
    name: str | None = None,
    sort: Sequence[SortKey],
    limit: int,
    offset: int,
) -> Found:
    """A page of the practice's stores (locations), each with its opening hours."""
    conditions = [Location.practice_id == practice_id]
    if name is not None:
        conditions.append(Location.name.istartswith(name, autoescape=True))
    found = _page(
        reader, Location, STORE_COLUMNS, and_(*conditions), sort, STORE_SORT, limit, offset
    )
    _attach_hours(reader, practice_id, found.rows)
    return found


def store(reader: Reader, practice_id: int, store_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        reader.execute(
            select(*STORE_COLUMNS).where(
                Location.practice_id == practice_id, Location.id == store_id
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    found = [dict(row)]
    _attach_hours(reader, practice_id, found)
    return found[0]


def _attach_hours(reader: Reader, practice_id: int, rows: list[dict[str, Any]]) -> None:
    hours: defaultdict[uuid.UUID, list[Hours]] = defaultdict(list)
    if rows:
        found = reader.execute(
            select(
                LocationHours.location_id,
                LocationHours.weekday,
                LocationHours.opens_at,
                LocationHours.closes_at,
            )
            .where(
                LocationHours.practice_id == practice_id,
                LocationHours.location_id.in_([row["id"] for row in rows]),
            )
            .order_by(LocationHours.location_id, LocationHours.weekday, LocationHours.opens_at)
        )
        for location_id, weekday, opens_at, closes_at in found:
            hours[location_id].append(Hours(weekday, opens_at, closes_at))
    for row in rows:
        row["hours"] = hours.get(row["id"], [])


# --- employees --------------------------------------------------------------------------------

EMPLOYEE_COLUMNS: list[Any] = [
    Employee.id,
    Employee.first_name,
    Employee.last_name,
    Employee.title,
    Employee.email,
    Employee.npi,
    Employee.is_doctor,
    Employee.in_house,
    Employee.is_active,
    Employee.created_at,
    Employee.updated_at,
]
EMPLOYEE_SORT = {
    "employee_id": Employee.id,
    "name_first": Employee.first_name,
    "name_last": Employee.last_name,
    "create_date": Employee.created_at,
}


def employees(
    reader: Reader,
    practice_id: int,
    *,
    name_first: str | None = None,
    name_last: str | None = None,
    is_doctor: bool | None = None,
    is_active: bool | None = None,
    store_id: uuid.UUID | None = None,
    sort: Sequence[SortKey],
    limit: int,
    offset: int,
) -> Found:
    """A page of the practice's employees (staff and doctors), each with its store ids."""
    conditions = [Employee.practice_id == practice_id]
    if name_first is not None:
        conditions.append(Employee.first_name.istartswith(name_first, autoescape=True))
    if name_last is not None:
        conditions.append(Employee.last_name.istartswith(name_last, autoescape=True))
    if is_doctor is not None:
        conditions.append(Employee.is_doctor.is_(is_doctor))
    if is_active is not None:
        conditions.append(Employee.is_active.is_(is_active))
    if store_id is not None:
        conditions.append(
            Employee.id.in_(
                select(employee_locations.c.employee_id).where(
                    employee_locations.c.practice_id == practice_id,
                    employee_locations.c.location_id == store_id,
                )
            )
        )
    found = _page(
        reader, Employee, EMPLOYEE_COLUMNS, and_(*conditions), sort, EMPLOYEE_SORT, limit, offset
    )
    _attach_stores(reader, practice_id, found.rows)
    return found


def employee(reader: Reader, practice_id: int, employee_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        reader.execute(
            select(*EMPLOYEE_COLUMNS).where(
                Employee.practice_id == practice_id, Employee.id == employee_id
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    found = [dict(row)]
    _attach_stores(reader, practice_id, found)
    return found[0]


def _attach_stores(reader: Reader, practice_id: int, rows: list[dict[str, Any]]) -> None:
    stores_of: defaultdict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if rows:
        found = reader.execute(
            select(employee_locations.c.employee_id, employee_locations.c.location_id)
            .where(
                employee_locations.c.practice_id == practice_id,
                employee_locations.c.employee_id.in_([row["id"] for row in rows]),
            )
            .order_by(employee_locations.c.employee_id, employee_locations.c.location_id)
        )
        for employee_id, location_id in found:
            stores_of[employee_id].append(location_id)
    for row in rows:
        row["store_ids"] = stores_of.get(row["id"], [])
