"""How partner subscribers see events: order events carry the partner order detail."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from optihub.db.models import Event
from optihub.errors import NotFound
from optihub.services.order_queries import get_order_row
from optihub.surfaces.partner import serializers


def render_event(session: Session, event: Event) -> dict[str, Any]:
    """``data`` of a delivery: the order as the partner API shows it, rendered when the
    event is fanned out (normally within a second of the change); other events as stored."""
    if not event.type.startswith("order."):
        return dict(event.data)
    try:
        row = get_order_row(session, event.practice_id, uuid.UUID(event.data["id"]))
    except (NotFound, KeyError, ValueError):
        return dict(event.data)
    body = serializers.order(row, detail=True)
    if "previous_status" in event.data:
        from optihub.surfaces.partner.mapping import STATUSES

        body["previous_status"] = STATUSES.from_canonical(event.data["previous_status"])
    return body
