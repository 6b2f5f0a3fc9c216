"""The practice's view of the lifecycle: the words staff use for each status, the board's
columns, the channels orders come through, and when an order is overdue.

Pure: no I/O. The canonical states are :mod:`optihub.domain.orders`'; ``completed`` (done
at the lab or bench) is what the front desk calls "ready for pickup".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from optihub.domain.orders import OrderStatus

S = OrderStatus

# The board's columns, left to right, in the words of the front desk.
STATUS_LABELS: Mapping[str, str] = {
    S.DRAFT: "Draft",
    S.RECEIVED: "Received",
    S.IN_PROGRESS: "At the lab",
    S.COMPLETED: "Ready for pickup",
    S.SHIPPED: "Shipped",
    S.DELIVERED: "Delivered",
    S.CANCELLED: "Cancelled",
}
COLUMNS: tuple[str, ...] = tuple(STATUS_LABELS)

# What a move to each status is called on a button.
MOVE_LABELS: Mapping[str, str] = {
    S.RECEIVED: "Mark received",
    S.IN_PROGRESS: "Send to the lab",
    S.COMPLETED: "Mark ready for pickup",
    S.SHIPPED: "Mark shipped",
    S.DELIVERED: "Mark delivered",
    S.CANCELLED: "Cancel order",
}

# Days an order may wait in a status before the board marks it overdue, unless the
# practice set its own (``practices.overdue_days``). Final statuses are never overdue.
DEFAULT_OVERDUE_DAYS: Mapping[str, int] = {
    S.DRAFT: 2,
    S.RECEIVED: 2,
    S.IN_PROGRESS: 10,
    S.COMPLETED: 14,
    S.SHIPPED: 7,
}
WAITING_STATUSES: tuple[str, ...] = tuple(DEFAULT_OVERDUE_DAYS)

# The channels that are not a dialect (``orders.created_via``); each dialect names its own
# (``Surface.title``).
CHANNEL_LABELS: Mapping[str, str] = {
    "dashboard": "Dashboard",
    "service": "OptiHub",
    "demo": "Demo data",
}


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


def channel_label(via: str, dialects: Mapping[str, str] | None = None) -> str:
    """``dialects``: each installed dialect's name → its title."""
    return (
        (dialects or {}).get(via) or CHANNEL_LABELS.get(via) or via.replace("_", " ").capitalize()
    )


def overdue_days(practice_setting: Mapping[str, object] | None) -> dict[str, int]:
    """The practice's thresholds over the defaults (a bad stored value is ignored)."""
    days = dict(DEFAULT_OVERDUE_DAYS)
    for status, value in (practice_setting or {}).items():
        if status in days and isinstance(value, int) and not isinstance(value, bool) and value > 0:
            days[status] = value
    return days


def days_in_status(since: datetime, now: datetime) -> int:
    """Whole days since the order entered its status (0 on the first day)."""
    return max(0, (now - since).days)


def next_day_in_status(since: datetime, now: datetime) -> datetime:
    """When ``days_in_status`` (and so the overdue mark) next changes."""
    return since + timedelta(days=days_in_status(since, now) + 1)


def is_overdue(status: str, since: datetime, now: datetime, thresholds: Mapping[str, int]) -> bool:
    limit = thresholds.get(status)
    return limit is not None and days_in_status(since, now) >= limit
