"""Location (store) reads: a practice's locations with their weekly opening hours, as
plain views (one query for the page, one for its hours, one count)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select

from optihub.db.models import Location, LocationHours
from optihub.errors import NotFound
from optihub.reads.order_views import Reader
from optihub.reads.sorting import Sort, order_by

__all__ = [
    "SORT_FIELDS",
    "LocationFilter",
    "LocationPage",
    "LocationView",
    "OpeningHoursView",
    "detail",
    "page",
]


@dataclass(frozen=True)
class OpeningHoursView:
    weekday: int  # 0 = Monday
    opens_at: time
    closes_at: time


@dataclass(frozen=True)
class LocationView:
    id: uuid.UUID
    external_id: str | None
    name: str
    phone: str | None
    email: str | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str
    created_at: datetime
    updated_at: datetime
    hours: tuple[OpeningHoursView, ...] = ()


_COLUMNS: list[Any] = [
    Location.id,
    Location.external_id,
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

SORT_FIELDS: dict[str, Any] = {
    "id": Location.id,
    "name": Location.name,
    "city": Location.city,
    "created_at": Location.created_at,
    "updated_at": Location.updated_at,
}
DEFAULT_SORT: Sort = (("name", False),)


@dataclass(frozen=True)
class LocationFilter:
    """``name``: a case-insensitive prefix of the name."""

    name: str | None = None


@dataclass(frozen=True)
class LocationPage:
    views: list[LocationView]
    total: int


def _where(practice_id: int, flt: LocationFilter) -> ColumnElement[bool]:
    conditions = [Location.practice_id == practice_id]
    if flt.name is not None and flt.name.strip():
        conditions.append(Location.name.istartswith(flt.name.strip(), autoescape=True))
    return and_(*conditions)


def _hours(
    reader: Reader, practice_id: int, location_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[OpeningHoursView, ...]]:
    ids = list(location_ids)
    found: dict[uuid.UUID, list[OpeningHoursView]] = {i: [] for i in ids}
    if ids:
        rows = reader.execute(
            select(
                LocationHours.location_id,
                LocationHours.weekday,
                LocationHours.opens_at,
                LocationHours.closes_at,
            )
            .where(LocationHours.practice_id == practice_id, LocationHours.location_id.in_(ids))
            .order_by(LocationHours.location_id, LocationHours.weekday, LocationHours.opens_at)
        )
        for location_id, weekday, opens_at, closes_at in rows:
            found[location_id].append(OpeningHoursView(weekday, opens_at, closes_at))
    return {i: tuple(hours) for i, hours in found.items()}


def page(
    reader: Reader,
    practice_id: int,
    flt: LocationFilter,
    *,
    limit: int,
    offset: int = 0,
    sort: Sort = DEFAULT_SORT,
) -> LocationPage:
    """A page of the practice's locations ordered by ``sort`` (keys of ``SORT_FIELDS``),
    the id breaking ties; each with its opening hours by weekday."""
    ordering = order_by(sort, SORT_FIELDS, Location.id)
    condition = _where(practice_id, flt)
    total = reader.scalar(select(func.count()).select_from(Location).where(condition)) or 0
    rows = reader.execute(
        select(*_COLUMNS).where(condition).order_by(*ordering).limit(limit).offset(offset)
    ).all()
    hours = _hours(reader, practice_id, [row.id for row in rows])
    views = [LocationView(**row._mapping, hours=hours[row.id]) for row in rows]
    return LocationPage(views, int(total))


def detail(reader: Reader, practice_id: int, location_id: uuid.UUID) -> LocationView:
    """The practice's location; ``NotFound`` when missing or another practice's."""
    row = reader.execute(
        select(*_COLUMNS).where(Location.practice_id == practice_id, Location.id == location_id)
    ).first()
    if row is None:
        raise NotFound("Location", location_id)
    return LocationView(**row._mapping, hours=_hours(reader, practice_id, [row.id])[row.id])


def names(reader: Reader, practice_id: int) -> list[tuple[uuid.UUID, str]]:
    """The practice's locations as (id, name), by name: the staff pages' filters and columns."""
    rows = reader.execute(
        select(Location.id, Location.name)
        .where(Location.practice_id == practice_id)
        .order_by(Location.name, Location.id)
    )
    return [(row[0], row[1]) for row in rows]
