"""The partner dialect's vocabulary, as tables."""

from __future__ import annotations

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


def canonical_states_for(names: list[str]) -> list[OrderStatus]:
    """Every canonical state a partner status filter covers (``shipped`` includes delivered)."""
    return [
        state
        for state in OrderStatus
        if state not in HIDDEN_FROM_PARTNERS and STATUSES.from_canonical(state) in names
    ]


WEBHOOK_EVENTS = ("order.created", "order.status_changed", "order.completed", "inventory.updated")
