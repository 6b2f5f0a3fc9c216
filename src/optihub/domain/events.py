"""What the core announces when something changes: the one list of event types.

Services write these into the outbox; each surface decides which of them its webhook
subscribers see and in what shape.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    ORDER_CREATED = "order.created"
    ORDER_STATUS_CHANGED = "order.status_changed"
    ORDER_COMPLETED = "order.completed"
    INVENTORY_UPDATED = "inventory.updated"


EVENT_TYPES: tuple[str, ...] = tuple(e.value for e in EventType)
