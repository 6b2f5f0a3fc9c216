"""Appointment reads: a practice's appointments as plain views (one query for the page,
one indexed count). Every query is scoped by the practice."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select

from optihub.db.models import Appointment
from optihub.errors import NotFound
from optihub.reads.order_views import Reader
from optihub.reads.sorting import Sort, day_bounds, order_by

__all__ = [
    "SORT_FIELDS",
    "AppointmentFilter",
    "AppointmentPage",
    "AppointmentView",
    "detail",
    "page",
]


@dataclass(frozen=True)
class AppointmentView:
    id: uuid.UUID
    external_id: str | None
    location_id: uuid.UUID
    patient_id: uuid.UUID
    employee_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime
    kind: str
    status: str
    notes: str | None
    created_at: datetime
    updated_at: datetime


_COLUMNS: list[Any] = [
    Appointment.id,
    Appointment.external_id,
    Appointment.location_id,
    Appointment.patient_id,
    Appointment.employee_id,
    Appointment.starts_at,
    Appointment.ends_at,
    Appointment.kind,
    Appointment.status,
    Appointment.notes,
    Appointment.created_at,
    Appointment.updated_at,
]

# Sort keys (the views' field names); a surface maps its own names onto these.
SORT_FIELDS: dict[str, Any] = {
    "id": Appointment.id,
    "starts_at": Appointment.starts_at,
    "ends_at": Appointment.ends_at,
    "location_id": Appointment.location_id,
    "patient_id": Appointment.patient_id,
    "kind": Appointment.kind,
    "status": Appointment.status,
    "created_at": Appointment.created_at,
    "updated_at": Appointment.updated_at,
}
DEFAULT_SORT: Sort = (("starts_at", False),)


@dataclass(frozen=True)
class AppointmentFilter:
    """``date_from`` / ``date_to``: inclusive days of the start, in the practice's time
    zone. ``location_id`` and ``patient_id`` match exactly."""

    date_from: date | None = None
    date_to: date | None = None
    location_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None


@dataclass(frozen=True)
class AppointmentPage:
    views: list[AppointmentView]
    total: int


def _where(reader: Reader, practice_id: int, flt: AppointmentFilter) -> ColumnElement[bool]:
    conditions = [Appointment.practice_id == practice_id]
    start, end = day_bounds(reader, practice_id, flt.date_from, flt.date_to)
    if start is not None:
        conditions.append(Appointment.starts_at >= start)
    if end is not None:
        conditions.append(Appointment.starts_at < end)
    if flt.location_id is not None:
        conditions.append(Appointment.location_id == flt.location_id)
    if flt.patient_id is not None:
        conditions.append(Appointment.patient_id == flt.patient_id)
    return and_(*conditions)


def page(
    reader: Reader,
    practice_id: int,
    flt: AppointmentFilter,
    *,
    limit: int,
    offset: int = 0,
    sort: Sort = DEFAULT_SORT,
) -> AppointmentPage:
    """A page of the practice's appointments ordered by ``sort`` (keys of ``SORT_FIELDS``;
    ``BadRequest`` for others), the id breaking ties. ``total`` counts every match."""
    ordering = order_by(sort, SORT_FIELDS, Appointment.id)
    condition = _where(reader, practice_id, flt)
    total = reader.scalar(select(func.count()).select_from(Appointment).where(condition)) or 0
    rows = reader.execute(
        select(*_COLUMNS).where(condition).order_by(*ordering).limit(limit).offset(offset)
    )
    return AppointmentPage([AppointmentView(*row) for row in rows], int(total))


def detail(reader: Reader, practice_id: int, appointment_id: uuid.UUID) -> AppointmentView:
    """The practice's appointment; ``NotFound`` when missing or another practice's."""
    row = reader.execute(
        select(*_COLUMNS).where(
            Appointment.practice_id == practice_id, Appointment.id == appointment_id
        )
    ).first()
    if row is None:
        raise NotFound("Appointment", appointment_id)
    return AppointmentView(*row)
