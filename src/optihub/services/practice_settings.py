"""A practice's own settings, as its owner changes them on the dashboard: its time zone,
the days an order may wait in each status before the board marks it overdue, and its
locations' names. (The portal's status names are ``services.status_names``'s.)

Each function checks everything before it writes anything and records the change in the
audit log; a refusal is a ``ValidationFailed`` whose messages are plain words.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from functools import cache
from zoneinfo import available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from optihub.db.models import Location
from optihub.domain import board
from optihub.errors import FieldError, NotFound, ValidationFailed
from optihub.services import audit, practices
from optihub.services.context import Actor

MIN_DAYS, MAX_DAYS = 1, 365
NAME_LIMIT = 200
# Old aliases (US/Eastern, Etc/GMT+5...) stay valid when stored, but are not offered.
_LEGACY_PREFIXES = ("Etc/", "SystemV/", "US/", "Brazil/", "Canada/", "Chile/", "Mexico/")


@cache
def time_zones() -> tuple[str, ...]:
    """The IANA zones offered, by name: ``Region/City`` names and UTC."""
    return tuple(
        sorted(
            name
            for name in available_timezones()
            if name == "UTC" or ("/" in name and not name.startswith(_LEGACY_PREFIXES))
        )
    )


def set_time_zone(session: Session, actor: Actor, name: str) -> str:
    """Every time on every page of the practice is shown in ``name`` from now on."""
    name = name.strip()
    if name not in available_timezones() and name != "UTC":
        raise ValidationFailed([FieldError("timezone", "Choose a time zone from the list.")])
    practice = practices.get_practice(session, actor.practice_id)
    before = practice.timezone
    practice.timezone = name
    session.flush()
    audit.record(
        session,
        actor,
        "practice.timezone_changed",
        "practice",
        practice.id,
        {"from": before, "to": name},
    )
    return name


def parse_overdue_days(typed: Mapping[str, str]) -> dict[str, int]:
    """Whole days from 1 to 365 for each waiting status (``board.WAITING_STATUSES``); a
    status left empty takes the default. Raises ``ValidationFailed`` naming each status."""
    days: dict[str, int] = {}
    errors = []
    for status in board.WAITING_STATUSES:
        value = (typed.get(status) or "").strip()
        label = board.status_label(status)
        if not value:
            continue
        if not value.isdigit() or not MIN_DAYS <= int(value) <= MAX_DAYS:
            errors.append(
                FieldError(
                    status,
                    f"{label}: give a whole number of days from {MIN_DAYS} to {MAX_DAYS}.",
                )
            )
            continue
        days[status] = int(value)
    if errors:
        raise ValidationFailed(errors)
    return days


def set_overdue_days(session: Session, actor: Actor, typed: Mapping[str, str]) -> dict[str, int]:
    """Store the practice's thresholds (what ``parse_overdue_days`` accepts); returns the
    thresholds in force (defaults for the statuses left empty)."""
    days = parse_overdue_days(typed)
    practice = practices.get_practice(session, actor.practice_id)
    practice.overdue_days = days
    session.flush()
    audit.record(session, actor, "practice.overdue_days_changed", "practice", practice.id, days)
    return board.overdue_days(days)


def _location_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValidationFailed([FieldError("name", "Give the location a name.")])
    if len(name) > NAME_LIMIT:
        raise ValidationFailed(
            [FieldError("name", f"A location's name has at most {NAME_LIMIT} characters.")]
        )
    return name


def add_location(session: Session, actor: Actor, name: str) -> Location:
    location = practices.create_location(session, actor.practice_id, name=_location_name(name))
    audit.record(
        session, actor, "location.created", "location", location.id, {"name": location.name}
    )
    return location


def rename_location(session: Session, actor: Actor, location_id: uuid.UUID, name: str) -> Location:
    """Raises ``NotFound`` for another practice's location or an unknown one."""
    location = session.scalar(
        select(Location).where(
            Location.practice_id == actor.practice_id, Location.id == location_id
        )
    )
    if location is None:
        raise NotFound("Location", location_id)
    location.name = _location_name(name)
    session.flush()
    audit.record(
        session, actor, "location.renamed", "location", location.id, {"name": location.name}
    )
    return location
