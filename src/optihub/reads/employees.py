"""Employee reads: a practice's staff and doctors (``Employee`` rows, whether or not they
sign in) with the ids of the locations they work at, as plain views (one query for the
page, one for its locations, one count). Every query is scoped by the practice."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select

from optihub.db.models import Employee
from optihub.db.models.practice import employee_locations
from optihub.errors import NotFound
from optihub.reads.order_views import Reader
from optihub.reads.sorting import Sort, order_by

__all__ = [
    "SORT_FIELDS",
    "EmployeeFilter",
    "EmployeePage",
    "EmployeeView",
    "detail",
    "page",
]


@dataclass(frozen=True)
class EmployeeView:
    id: uuid.UUID
    external_id: str | None
    first_name: str
    last_name: str
    title: str | None
    email: str | None
    npi: str | None
    is_doctor: bool
    in_house: bool
    is_active: bool
    created_at: datetime
    updated_at: datetime
    location_ids: tuple[uuid.UUID, ...] = ()


_COLUMNS: list[Any] = [
    Employee.id,
    Employee.external_id,
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

# Sort keys (the views' field names); a surface maps its own names onto these.
SORT_FIELDS: dict[str, Any] = {
    "id": Employee.id,
    "first_name": Employee.first_name,
    "last_name": Employee.last_name,
    "created_at": Employee.created_at,
    "updated_at": Employee.updated_at,
}
DEFAULT_SORT: Sort = (("last_name", False), ("first_name", False))


@dataclass(frozen=True)
class EmployeeFilter:
    """``first_name`` / ``last_name``: a case-insensitive prefix; ``is_doctor`` and
    ``is_active`` match exactly; ``location_id``: employees working at that location."""

    first_name: str | None = None
    last_name: str | None = None
    is_doctor: bool | None = None
    is_active: bool | None = None
    location_id: uuid.UUID | None = None


@dataclass(frozen=True)
class EmployeePage:
    views: list[EmployeeView]
    total: int


def _where(practice_id: int, flt: EmployeeFilter) -> ColumnElement[bool]:
    conditions = [Employee.practice_id == practice_id]
    if flt.first_name is not None:
        conditions.append(Employee.first_name.istartswith(flt.first_name, autoescape=True))
    if flt.last_name is not None:
        conditions.append(Employee.last_name.istartswith(flt.last_name, autoescape=True))
    if flt.is_doctor is not None:
        conditions.append(Employee.is_doctor.is_(flt.is_doctor))
    if flt.is_active is not None:
        conditions.append(Employee.is_active.is_(flt.is_active))
    if flt.location_id is not None:
        conditions.append(
            Employee.id.in_(
                select(employee_locations.c.employee_id).where(
                    employee_locations.c.practice_id == practice_id,
                    employee_locations.c.location_id == flt.location_id,
                )
            )
        )
    return and_(*conditions)


def _locations(
    reader: Reader, practice_id: int, employee_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[uuid.UUID, ...]]:
    ids = list(employee_ids)
    found: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in ids}
    if ids:
        rows = reader.execute(
            select(employee_locations.c.employee_id, employee_locations.c.location_id)
            .where(
                employee_locations.c.practice_id == practice_id,
                employee_locations.c.employee_id.in_(ids),
            )
            .order_by(employee_locations.c.employee_id, employee_locations.c.location_id)
        )
        for employee_id, location_id in rows:
            found[employee_id].append(location_id)
    return {i: tuple(locations) for i, locations in found.items()}


def page(
    reader: Reader,
    practice_id: int,
    flt: EmployeeFilter,
    *,
    limit: int,
    offset: int = 0,
    sort: Sort = DEFAULT_SORT,
) -> EmployeePage:
    """A page of the practice's employees ordered by ``sort`` (keys of ``SORT_FIELDS``;
    ``BadRequest`` for others), the id breaking ties; each with its location ids."""
    ordering = order_by(sort, SORT_FIELDS, Employee.id)
    condition = _where(practice_id, flt)
    total = reader.scalar(select(func.count()).select_from(Employee).where(condition)) or 0
    rows = reader.execute(
        select(*_COLUMNS).where(condition).order_by(*ordering).limit(limit).offset(offset)
    ).all()
    locations = _locations(reader, practice_id, [row.id for row in rows])
    views = [EmployeeView(**row._mapping, location_ids=locations[row.id]) for row in rows]
    return EmployeePage(views, int(total))


def detail(reader: Reader, practice_id: int, employee_id: uuid.UUID) -> EmployeeView:
    """The practice's employee; ``NotFound`` when missing or another practice's."""
    row = reader.execute(
        select(*_COLUMNS).where(Employee.practice_id == practice_id, Employee.id == employee_id)
    ).first()
    if row is None:
        raise NotFound("Employee", employee_id)
    return EmployeeView(
        **row._mapping, location_ids=_locations(reader, practice_id, [row.id])[row.id]
    )
