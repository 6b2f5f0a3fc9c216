"""Practices (tenants) and their locations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from optihub.db.models import Location, LocationHours, Practice
from optihub.errors import FieldError, NotFound, ValidationFailed


def create_practice(session: Session, *, name: str, currency: str = "USD") -> Practice:
    """Create a tenant. Raises ``ValidationFailed`` for an empty name."""
    name = name.strip()
    if not name:
        raise ValidationFailed([FieldError("name", "A practice needs a name.")])
    practice = Practice(name=name, currency=currency)
    session.add(practice)
    session.flush()
    return practice


def list_practices(session: Session) -> list[Practice]:
    return list(session.scalars(select(Practice).order_by(Practice.id)))


def get_practice(session: Session, practice_id: int) -> Practice:
    practice = session.get(Practice, practice_id)
    if practice is None:
        raise NotFound("Practice", practice_id)
    return practice


@dataclass(frozen=True)
class OpeningHours:
    weekday: int  # 0 = Monday
    opens_at: time
    closes_at: time


def create_location(
    session: Session,
    practice_id: int,
    *,
    name: str,
    hours: list[OpeningHours] | None = None,
    external_id: str | None = None,
    phone: str | None = None,
    address_line1: str | None = None,
    city: str | None = None,
    state: str | None = None,
    postal_code: str | None = None,
) -> Location:
    """Add a location with its weekly hours. Raises ``ValidationFailed`` for bad hours."""
    errors = [
        FieldError(f"hours[{i}]", "Opening time must be before closing time and weekday 0-6.")
        for i, h in enumerate(hours or [])
        if not (0 <= h.weekday <= 6 and h.opens_at < h.closes_at)
    ]
    if errors:
        raise ValidationFailed(errors)
    location = Location(
        practice_id=practice_id,
        name=name,
        external_id=external_id,
        phone=phone,
        address_line1=address_line1,
        city=city,
        state=state,
        postal_code=postal_code,
    )
    location.hours = [
        LocationHours(
            practice_id=practice_id, weekday=h.weekday, opens_at=h.opens_at, closes_at=h.closes_at
        )
        for h in hours or []
    ]
    session.add(location)
    session.flush()
    return location
