"""Read models for order lists and details: one query per page (+ one count, + one query
each for the page's lines and history), filters that match the ``(practice_id, ...)``
indexes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from optihub.db.models import Location, Order, Patient
from optihub.errors import NotFound


@dataclass(frozen=True)
class OrderRow:
    order: Order
    patient: Patient | None
    location: Location | None


@dataclass(frozen=True)
class OrderPage:
    rows: list[OrderRow]
    total: int


def list_orders(
    session: Session,
    practice_id: int,
    *,
    limit: int,
    offset: int,
    statuses: Sequence[str] | None = None,
    hidden_statuses: Sequence[str] = (),
    updated_since: datetime | None = None,
    with_prescription_only: bool = False,
    order_id: uuid.UUID | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
    settled_before: datetime | None = None,
) -> OrderPage:
    """A page of the practice's orders.

    With ``updated_since``: orders updated at or after it, oldest first by (updated_at, id),
    so a poller pages forward. Without: newest first by (created_at, id).
    ``after`` is a keyset position (updated_at, id): only orders strictly after it, oldest
    first; with ``settled_before``, changes newer than it are held back until they settle
    (a transaction that commits late with an earlier timestamp is then not skipped).
    """
    filters = [Order.practice_id == practice_id]
    if statuses is not None:
        filters.append(Order.status.in_(list(statuses)))
    if hidden_statuses:
        filters.append(Order.status.not_in(list(hidden_statuses)))
    if updated_since is not None:
        filters.append(Order.updated_at >= updated_since)
    if with_prescription_only:
        filters.append(Order.rx_snapshot.is_not(None))
    if order_id is not None:
        filters.append(Order.id == order_id)
    if after is not None:
        filters.append(
            or_(
                Order.updated_at > after[0],
                and_(Order.updated_at == after[0], Order.id > after[1]),
            )
        )
    if settled_before is not None:
        filters.append(Order.updated_at <= settled_before)
    where = and_(*filters)
    total = session.scalar(select(func.count()).select_from(Order).where(where)) or 0
    ordering = (
        (Order.updated_at.asc(), Order.id.asc())
        if updated_since is not None or after is not None
        else (Order.created_at.desc(), Order.id.desc())
    )
    result = session.execute(
        select(Order, Patient, Location)
        .outerjoin(
            Patient, and_(Patient.id == Order.patient_id, Patient.practice_id == practice_id)
        )
        .outerjoin(
            Location, and_(Location.id == Order.location_id, Location.practice_id == practice_id)
        )
        .options(selectinload(Order.lines), selectinload(Order.history))
        .where(where)
        .order_by(*ordering)
        .limit(limit)
        .offset(offset)
    )
    rows = [OrderRow(order, patient, location) for order, patient, location in result]
    return OrderPage(rows, total)


def get_order_row(
    session: Session, practice_id: int, order_id: uuid.UUID, hidden_statuses: Sequence[str] = ()
) -> OrderRow:
    """One order with its patient and location; foreign or hidden orders are not found.

    A primary-key lookup (no count, no ordering), plus one query each for lines and history.
    """
    statement = (
        select(Order, Patient, Location)
        .outerjoin(
            Patient, and_(Patient.id == Order.patient_id, Patient.practice_id == practice_id)
        )
        .outerjoin(
            Location, and_(Location.id == Order.location_id, Location.practice_id == practice_id)
        )
        .options(selectinload(Order.lines), selectinload(Order.history))
        .where(Order.id == order_id, Order.practice_id == practice_id)
    )
    if hidden_statuses:
        statement = statement.where(Order.status.not_in(list(hidden_statuses)))
    row = session.execute(statement).first()
    if row is None:
        raise NotFound("Order", order_id)
    return OrderRow(*row)
