"""Write events into the outbox table inside the caller's transaction."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import Event
from optihub.domain.events import EVENT_TYPES


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(12)


def record_event(
    session: Session,
    *,
    practice_id: int,
    type: str,
    data: dict[str, Any],
    at: datetime | None = None,
    id: str | None = None,
) -> Event:
    """Add an outbox row to the session: it commits or rolls back with the change itself.

    The row is only added (flushed with the rest), so a rolled-back change emits nothing.
    ``id``: a deterministic event id (at most 40 characters) for an event that must exist
    at most once (its primary key is then the guard, e.g. ``order.stuck``); else a new one.
    """
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    event = Event(
        id=id or new_event_id(),
        practice_id=practice_id,
        type=type,
        data=data,
        created_at=at or utcnow(),
    )
    session.add(event)
    return event


def write_event(
    session: Session,
    *,
    practice_id: int,
    type: str,
    data: dict[str, Any],
    at: datetime | None = None,
) -> str:
    """``record_event``, written at once with one Core INSERT (compiled once per process)
    instead of at the next flush: for a use case that writes its own rows with Core
    (``db.rows``). Returns the event's id."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    event_id = new_event_id()
    session.connection().execute(
        _INSERT,
        {
            "id": event_id,
            "practice_id": practice_id,
            "type": type,
            "data": data,
            "created_at": at or utcnow(),
            "relayed_at": None,
        },
    )
    return event_id


_INSERT = insert(cast(Table, Event.__table__))
