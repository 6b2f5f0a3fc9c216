"""The partner dialect's vocabulary, as tables."""

from __future__ import annotations

from optihub.domain.events import EventType
from optihub.domain.orders import OrderStatus, VocabularyTable

S = OrderStatus

# Partners see five statuses. Drafts are not theirs to act on (they are hidden from every
# partner list); a delivered order is still "shipped" to them (their last step).
STATUSES = VocabularyTable(
    "partner",
    to_canonical={
        "pending": S.RECEIVED,
        "in_progress": S.IN_PROGRESS,
        "completed": S.COMPLETED,
        "shipped": S.SHIPPED,
        "cancelled": S.CANCELLED,
    },
    from_canonical={
        S.DRAFT: "pending",
        S.RECEIVED: "pending",
        S.IN_PROGRESS: "in_progress",
        S.COMPLETED: "completed",
        S.SHIPPED: "shipped",
        S.DELIVERED: "shipped",
        S.CANCELLED: "cancelled",
    },
)

HIDDEN_FROM_PARTNERS = (S.DRAFT,)
HIDDEN = tuple(s.value for s in HIDDEN_FROM_PARTNERS)

# Every core event reaches partner subscribers, under its own name ("*" for all).
WEBHOOK_EVENTS: tuple[str, ...] = tuple(e.value for e in EventType)


# The partner document's scope table (method, path below the prefix → scope); the routes
# declare the same (checked when the surface is installed).
ROUTE_SCOPES: dict[tuple[str, str], str] = {
    ("GET", "/orders"): "orders:read",
    ("GET", "/orders/{order_id}"): "orders:read",
    ("PATCH", "/orders/{order_id}"): "orders:full",
    ("GET", "/frames"): "frames:read",
    ("GET", "/prescriptions"): "prescriptions:read",
    ("POST", "/inventory"): "inventory:write",
    ("GET", "/webhooks"): "webhooks:read",
    ("POST", "/webhooks"): "webhooks:write",
    ("PATCH", "/webhooks/{webhook_id}"): "webhooks:write",
    ("DELETE", "/webhooks/{webhook_id}"): "webhooks:write",
    ("GET", "/webhooks/{webhook_id}/deliveries"): "webhooks:read",
    # OptiHub extension (documented): send a delivery again.
    ("POST", "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): "webhooks:write",
}
