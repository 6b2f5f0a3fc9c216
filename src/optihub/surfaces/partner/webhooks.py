"""How partner subscribers see events: ``{id, type, created_at, practice_id, data}`` where
an order event's ``data`` is the order as the partner API shows it (its stored detail)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy.orm import Session

from optihub.db.models import Event
from optihub.errors import NotFound
from optihub.reads import orders
from optihub.surfaces.partner.mapping import STATUSES


def event_data(session: Session, event: Event) -> dict[str, Any]:
    """``data`` of a delivery, rendered when the event is fanned out (normally within a
    second of the change); events other than order events as stored."""
    if not event.type.startswith("order."):
        return dict(event.data)
    try:
        document = orders.detail(session, event.practice_id, "partner", uuid.UUID(event.data["id"]))
    except (NotFound, KeyError, ValueError):
        return dict(event.data)
    body: dict[str, Any] = orjson.loads(document)
    if "previous_status" in event.data:
        body["previous_status"] = STATUSES.from_canonical(event.data["previous_status"])
    return body


def delivery_body(session: Session, event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "created_at": event.created_at.isoformat(),
        "practice_id": event.practice_id,
        "data": event_data(session, event),
    }
