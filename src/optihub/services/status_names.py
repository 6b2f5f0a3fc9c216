"""A practice's own order-status names, as its practice-management system calls them, and
the canonical state each means: the practice's mapping (``portal_status_mappings``, kept
from the dashboard's settings and ``optihub portal status-map``) first, then the commonly
used names. The portal sync dialect reads an order's status through it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from optihub.db.models import PortalStatusMapping
from optihub.domain.orders import OrderStatus
from optihub.errors import FieldError, ValidationFailed

# The canonical state each commonly used status name means, when the practice has not
# mapped the name itself (compared lower-cased, spaces and punctuation ignored).
DEFAULT_STATUS_NAMES: dict[str, OrderStatus] = {
    "draft": OrderStatus.DRAFT,
    "new": OrderStatus.RECEIVED,
    "ordered": OrderStatus.RECEIVED,
    "received": OrderStatus.RECEIVED,
    "open": OrderStatus.RECEIVED,
    "pending": OrderStatus.RECEIVED,
    "inprogress": OrderStatus.IN_PROGRESS,
    "inprocess": OrderStatus.IN_PROGRESS,
    "processing": OrderStatus.IN_PROGRESS,
    "atlab": OrderStatus.IN_PROGRESS,
    "senttolab": OrderStatus.IN_PROGRESS,
    "inlab": OrderStatus.IN_PROGRESS,
    "readyforpickup": OrderStatus.COMPLETED,
    "ready": OrderStatus.COMPLETED,
    "readyforpickupdispense": OrderStatus.COMPLETED,
    "completed": OrderStatus.COMPLETED,
    "complete": OrderStatus.COMPLETED,
    "receivedfromlab": OrderStatus.COMPLETED,
    "shipped": OrderStatus.SHIPPED,
    "pickedup": OrderStatus.DELIVERED,
    "dispensed": OrderStatus.DELIVERED,
    "delivered": OrderStatus.DELIVERED,
    "cancelled": OrderStatus.CANCELLED,
    "canceled": OrderStatus.CANCELLED,
    "void": OrderStatus.CANCELLED,
}


def status_key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def status_for(session: Session, practice_id: int, name: str | None) -> OrderStatus | None:
    """The canonical state a practice's status name means (its own mapping first)."""
    if not name:
        return None
    key = status_key(name)
    # The practice's own names, matched as the defaults are (case, spaces and punctuation
    # aside); a practice has a handful, so they are read whole.
    for mapped_name, mapped in session.execute(
        select(PortalStatusMapping.name, PortalStatusMapping.status).where(
            PortalStatusMapping.practice_id == practice_id
        )
    ):
        if status_key(mapped_name) == key:
            return OrderStatus(mapped)
    for known, status in DEFAULT_STATUS_NAMES.items():
        if status_key(known) == key:
            return status
    return None


def set_status_mapping(
    session: Session, practice_id: int, name: str, status: OrderStatus | None
) -> None:
    """Map a status name of the practice to a canonical state (None: back to by-name)."""
    key = name.strip().lower()
    if not status_key(key) or len(key) > 100:
        raise ValidationFailed([FieldError("name", "A status name has 1 to 100 characters.")])
    for existing in session.scalars(
        select(PortalStatusMapping).where(PortalStatusMapping.practice_id == practice_id)
    ):
        if status_key(existing.name) == status_key(key):
            session.delete(existing)
    session.flush()
    if status is not None:
        session.add(PortalStatusMapping(practice_id=practice_id, name=key, status=status.value))
    session.flush()


def status_mappings(session: Session, practice_id: int) -> list[tuple[str, str]]:
    return [
        (row.name, row.status)
        for row in session.scalars(
            select(PortalStatusMapping)
            .where(PortalStatusMapping.practice_id == practice_id)
            .order_by(PortalStatusMapping.name)
        )
    ]
