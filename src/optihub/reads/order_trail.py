"""What an order caused beyond its own row: the outbox events that name it and the webhook
deliveries (every surface's subscribers, the fulfillment dialect's "notifications"
included) each event was fanned out into, with their outcome; and its stored OMA tracing.

Events carry the order's id in ``data.id`` (``services.orders.order_event_data``); every
query is scoped by the practice first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from optihub.db.models import Event, Order, WebhookAttempt, WebhookDelivery, WebhookSubscription
from optihub.reads.order_views import Reader

# The newest events shown for one order (an order has a handful in its life).
EVENT_LIMIT = 100


@dataclass(frozen=True)
class DeliveryView:
    id: uuid.UUID
    surface: str
    url: str
    description: str | None
    event_code: str
    status: str  # pending, delivered, failed
    attempt_count: int
    next_attempt_at: datetime
    last_response_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    last_attempt_at: datetime | None


@dataclass(frozen=True)
class EventView:
    id: str
    type: str
    created_at: datetime
    relayed_at: datetime | None
    data: dict[str, Any]
    deliveries: list[DeliveryView] = field(default_factory=list)


def events_of(
    reader: Reader, practice_id: int, order_id: uuid.UUID, since: datetime
) -> list[EventView]:
    """The events about the order, oldest first, each with its deliveries.

    ``since``: when the order was placed (no event about it is older), which keeps the scan
    to a range of the ``(practice_id, created_at)`` index."""
    rows = reader.execute(
        select(Event.id, Event.type, Event.created_at, Event.relayed_at, Event.data)
        .where(
            Event.practice_id == practice_id,
            Event.created_at >= since,
            Event.type.like("order.%"),
            Event.data["id"].as_string() == str(order_id),
        )
        .order_by(Event.created_at.desc(), Event.id.desc())
        .limit(EVENT_LIMIT)
    ).all()
    events = [EventView(*row) for row in reversed(rows)]
    if not events:
        return events
    by_id = {e.id: e for e in events}
    last_attempts = (
        select(WebhookAttempt.attempted_at)
        .where(
            WebhookAttempt.practice_id == practice_id,
            WebhookAttempt.delivery_id == WebhookDelivery.id,
        )
        .order_by(WebhookAttempt.attempted_at.desc())
        .limit(1)
        .correlate(WebhookDelivery)
        .scalar_subquery()
    )
    delivery_rows = reader.execute(
        select(
            WebhookDelivery.event_id,
            WebhookDelivery.id,
            WebhookSubscription.surface,
            WebhookSubscription.url,
            WebhookSubscription.description,
            WebhookDelivery.event_code,
            WebhookDelivery.status,
            WebhookDelivery.attempt_count,
            WebhookDelivery.next_attempt_at,
            WebhookDelivery.last_response_code,
            WebhookDelivery.last_error,
            WebhookDelivery.delivered_at,
            last_attempts,
        )
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(
            WebhookDelivery.practice_id == practice_id,
            WebhookDelivery.event_id.in_(list(by_id)),
        )
        .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
    ).all()
    for event_id, *delivery in delivery_rows:
        by_id[event_id].deliveries.append(DeliveryView(*delivery))
    return events


def tracing_of(reader: Reader, practice_id: int, order_id: uuid.UUID) -> str | None:
    """The order's stored OMA tracing text (None: none stored, or no such order)."""
    return reader.scalar(
        select(Order.frame_tracing).where(Order.practice_id == practice_id, Order.id == order_id)
    )
