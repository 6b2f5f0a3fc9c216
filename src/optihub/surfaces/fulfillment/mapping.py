"""The fulfillment dialect's tables: its status words, the filter each stands for, and its
scope table."""

from __future__ import annotations

from optihub.domain.orders import OrderStatus, VocabularyTable
from optihub.errors import BadRequest
from optihub.reads.fulfillment import PAUSED, PICKED_STEPS, VERIFIED_STEPS

S = OrderStatus
SURFACE = "fulfillment"

# Fulfillment word → canonical state. An order in in_progress shows picked, verified or
# paused by its sub-step (``reads.fulfillment.stage``); the table's own choice for
# in_progress is the sub-step a bare in_progress order reads as.
STATUSES = VocabularyTable(
    SURFACE,
    to_canonical={
        "received": S.RECEIVED,
        "picked": S.IN_PROGRESS,
        "verified": S.IN_PROGRESS,
        "paused": S.IN_PROGRESS,
        "shipped": S.SHIPPED,
        "delivered": S.DELIVERED,
        "cancelled": S.CANCELLED,
    },
    from_canonical={
        S.DRAFT: "received",
        S.RECEIVED: "received",
        S.IN_PROGRESS: "picked",
        S.COMPLETED: "verified",
        S.SHIPPED: "shipped",
        S.DELIVERED: "delivered",
        S.CANCELLED: "cancelled",
    },
)
STATUS_NAMES: tuple[str, ...] = (
    "received",
    "picked",
    "verified",
    "paused",
    "shipped",
    "delivered",
    "cancelled",
)
# Webhook payloads (and the OpenAPI description) carry the display name too.
STATUS_DISPLAY = {name: name.capitalize() for name in STATUS_NAMES}

# Drafts are not orders a fulfillment operation works on: hidden from every read.
HIDDEN_FROM_FULFILLMENT = (S.DRAFT,)
HIDDEN = tuple(s.value for s in HIDDEN_FROM_FULFILLMENT)

# Each word as (canonical statuses, sub-steps allowed when in_progress; None: any).
_FILTERS: dict[str, tuple[tuple[str, ...], tuple[str | None, ...] | None]] = {
    "received": ((S.RECEIVED.value,), None),
    "picked": ((S.IN_PROGRESS.value,), PICKED_STEPS),
    "verified": ((S.IN_PROGRESS.value, S.COMPLETED.value), VERIFIED_STEPS),
    "paused": ((S.IN_PROGRESS.value,), (PAUSED,)),
    "shipped": ((S.SHIPPED.value,), None),
    "delivered": ((S.DELIVERED.value,), None),
    "cancelled": ((S.CANCELLED.value,), None),
}


def status_filter(
    raw: str | None,
) -> tuple[list[str] | None, tuple[tuple[str, tuple[str | None, ...]], ...] | None]:
    """``status`` (one word or a comma-separated list) → the ``OrderFilter`` statuses and
    in-progress sub-steps it covers. An unknown or empty word → 400 naming the allowed."""
    if raw is None:
        return None, None
    names = [part.strip() for part in raw.split(",")]
    unknown = [n for n in names if n not in _FILTERS]
    if unknown or not names:
        shown = ", ".join(repr(n) for n in unknown) or "(empty)"
        raise BadRequest(
            f"status: unknown status {shown}; allowed: {', '.join(STATUS_NAMES)}",
            code="invalid_status",
            field="status",
            allowed=list(STATUS_NAMES),
        )
    statuses: list[str] = []
    steps: set[str | None] = set()
    any_step = False
    for name in dict.fromkeys(names):
        covered, subs = _FILTERS[name]
        statuses += [s for s in covered if s not in statuses]
        if S.IN_PROGRESS.value in covered:
            if subs is None:
                any_step = True
            else:
                steps.update(subs)
    if S.IN_PROGRESS.value not in statuses or any_step:
        return statuses, None
    ordered = tuple(sorted(steps, key=lambda s: (s is not None, s or "")))
    return statuses, ((S.IN_PROGRESS.value, ordered),)


# (method, path below /fulfillment/v1) → scope (None: called without an access token).
ROUTE_SCOPES: dict[tuple[str, str], str | None] = {
    # Sign-in: login takes a password, refresh the refresh token as bearer.
    ("POST", "/auth/login"): None,
    ("POST", "/auth/refresh"): None,
    ("GET", "/auth/verify"): "fulfillment:read",
    ("GET", "/orders"): "fulfillment:read",
    ("POST", "/orders"): "fulfillment:write",
    ("GET", "/orders/{order_id}"): "fulfillment:read",
    ("PUT", "/orders/{order_id}"): "fulfillment:write",
    ("PUT", "/orders/{order_id}/unpause"): "fulfillment:write",
    ("POST", "/orders/{order_id}/cancellation_request"): "fulfillment:write",
    ("POST", "/orders/{order_id}/replacement_request"): "fulfillment:write",
    ("POST", "/orders/{order_id}/products/{product_id}/prescription"): "fulfillment:write",
    ("GET", "/orders/{order_id}/status_history"): "fulfillment:read",
    ("GET", "/search/orders"): "fulfillment:read",
    ("GET", "/notifications/events"): "fulfillment:read",
    ("POST", "/notifications"): "fulfillment:write",
    ("GET", "/notifications/webhooks"): "fulfillment:read",  # OptiHub: the list
    ("PUT", "/notifications/webhooks/{webhook_id}"): "fulfillment:write",
    ("DELETE", "/notifications/webhooks/{webhook_id}"): "fulfillment:write",
    ("GET", "/notifications/sample/{event_code}"): "fulfillment:read",
    ("POST", "/notifications/sample"): "fulfillment:write",
}

# Pages: ``per_page`` up to 200 (the vendor's maximum); ``page`` bounded so the offset
# always fits the database's integers.
MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 25
MAX_PAGE = 10_000_000
SEARCH_LIMIT = 50
