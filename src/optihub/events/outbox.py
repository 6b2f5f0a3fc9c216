"""Write events into the outbox table inside the caller's transaction."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import Event
from optihub.db.rows import new_row, write_rows
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
    event = Event(**_event_values(practice_id, type, data, at, id))
    session.add(event)
    return event


def write_event(
    session: Session, *, practice_id: int, type: str, data: dict[str, Any], at: datetime
) -> Event:
    """``record_event``, written at once (``db.rows``) instead of at the next flush: for a
    use case that writes its own rows that way."""
    event = new_row(Event, **_event_values(practice_id, type, data, at, None))
    write_rows(session, [event])
    return event


def _event_values(
    practice_id: int, type: str, data: dict[str, Any], at: datetime | None, id: str | None
) -> dict[str, Any]:
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    return {
        "id": id or new_event_id(),
        "practice_id": practice_id,
        "type": type,
        "data": data,
        "created_at": at or utcnow(),
    }
