"""What the core announces when something changes: the one list of event types.

Services write these into the outbox; each surface decides which of them its webhook
subscribers see, under which of its own event codes, and in what shape.

``EventType`` holds the events every surface offered from the start (the partner surface
offers exactly these, under their own names). ``OrderAttention`` holds the events that ask
someone to act on an order; a surface offers them only when it names them in its
``WebhookShape.events`` (the fulfillment dialect does).
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    ORDER_CREATED = "order.created"
    ORDER_STATUS_CHANGED = "order.status_changed"
    ORDER_COMPLETED = "order.completed"
    INVENTORY_UPDATED = "inventory.updated"


class OrderAttention(StrEnum):
    # The caller asked staff to cancel the order (its status does not change).
    ORDER_CANCELLATION_REQUESTED = "order.cancellation_requested"
    # The caller asked for a replacement of a shipped or delivered order.
    ORDER_REPLACEMENT_REQUESTED = "order.replacement_requested"
    # A prescription product still has no prescription 24 h after the order was placed
    # (``services.stuck_orders``); recorded once per order.
    ORDER_STUCK = "order.stuck"


EVENT_TYPES: tuple[str, ...] = tuple(e.value for e in EventType) + tuple(
    e.value for e in OrderAttention
)
