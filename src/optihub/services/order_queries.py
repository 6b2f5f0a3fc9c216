"""Read models for order lists and details.

Hot path: plain column selects (no ORM identity map or object construction) — one query for
the page, one count, one each for the page's lines and status history — with filters and
ordering that match the ``(practice_id, ...)`` indexes.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from optihub.db.models import Location, Order, OrderLine, OrderStatusChange, Patient
from optihub.errors import NotFound


@dataclass(frozen=True)
class LineView:
    description: str
    quantity: int
    unit_price: Decimal
    retail_price: Decimal
    tax: Decimal


@dataclass(frozen=True)
class HistoryView:
    to_status: str
    at: datetime
    actor_label: str


@dataclass(frozen=True)
class PatientView:
    id: uuid.UUID
    first_name: str
    last_name: str
    email: str | None
    phone: str | None


@dataclass(frozen=True)
class LocationView:
    id: uuid.UUID
    name: str


@dataclass
class OrderView:
    id: uuid.UUID
    number: str
    external_id: str | None
    status: str
    type: str
    created_at: datetime
    updated_at: datetime
    patient_id: uuid.UUID | None
    frame_id: uuid.UUID | None
    frame_details: dict[str, Any] | None
    lens: dict[str, Any] | None
    prescription_id: uuid.UUID | None
    rx_snapshot: dict[str, Any] | None
    currency: str
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    amount_paid: Decimal
    patient_balance: Decimal
    shipping_address: dict[str, Any] | None
    tracking_number: str | None
    lines: list[LineView] = field(default_factory=list)
    history: list[HistoryView] = field(default_factory=list)

    @property
    def balance(self) -> Decimal:
        return self.total - self.amount_paid


@dataclass(frozen=True)
class OrderRow:
    order: OrderView
    patient: PatientView | None
    location: LocationView | None


@dataclass(frozen=True)
class OrderPage:
    rows: list[OrderRow]
    total: int


_ORDER_COLUMNS = [
    Order.id,
    Order.number,
    Order.external_id,
    Order.status,
    Order.type,
    Order.created_at,
    Order.updated_at,
    Order.patient_id,
    Order.frame_id,
    Order.frame_details,
    Order.lens,
    Order.prescription_id,
    Order.rx_snapshot,
    Order.currency,
    Order.subtotal,
    Order.tax_total,
    Order.total,
    Order.amount_paid,
    Order.patient_balance,
    Order.shipping_address,
    Order.tracking_number,
]
_ORDER_FIELDS = [c.key for c in _ORDER_COLUMNS]
_PATIENT_COLUMNS = [
    Patient.id.label("patient__id"),
    Patient.first_name,
    Patient.last_name,
    Patient.email,
    Patient.phone,
]
_LOCATION_COLUMNS = [Location.id.label("location__id"), Location.name.label("location__name")]


def _rows(
    session: Session,
    practice_id: int,
    where: ColumnElement[bool],
    ordering: Any,
    limit: int,
    offset: int,
) -> list[OrderRow]:
    result = session.execute(
        select(*_ORDER_COLUMNS, *_PATIENT_COLUMNS, *_LOCATION_COLUMNS)
        .outerjoin(
            Patient, and_(Patient.id == Order.patient_id, Patient.practice_id == practice_id)
        )
        .outerjoin(
            Location, and_(Location.id == Order.location_id, Location.practice_id == practice_id)
        )
        .where(where)
        .order_by(*ordering)
        .limit(limit)
        .offset(offset)
    )
    rows: list[OrderRow] = []
    for row in result:
        values = row._mapping
        order = OrderView(**{name: values[name] for name in _ORDER_FIELDS})
        patient = (
            PatientView(
                values["patient__id"],
                values["first_name"],
                values["last_name"],
                values["email"],
                values["phone"],
            )
            if values["patient__id"] is not None
            else None
        )
        location = (
            LocationView(values["location__id"], values["location__name"])
            if values["location__id"] is not None
            else None
        )
        rows.append(OrderRow(order, patient, location))
    _attach_children(session, practice_id, [r.order for r in rows])
    return rows


def _attach_children(session: Session, practice_id: int, orders: list[OrderView]) -> None:
    if not orders:
        return
    by_id = {o.id: o for o in orders}
    ids = list(by_id)
    lines: defaultdict[uuid.UUID, list[LineView]] = defaultdict(list)
    line_rows = session.execute(
        select(
            OrderLine.order_id,
            OrderLine.description,
            OrderLine.quantity,
            OrderLine.unit_price,
            OrderLine.retail_price,
            OrderLine.tax,
        )
        .where(OrderLine.order_id.in_(ids), OrderLine.practice_id == practice_id)
        .order_by(OrderLine.order_id, OrderLine.position)
    )
    for order_id, description, quantity, unit_price, retail_price, tax in line_rows:
        lines[order_id].append(LineView(description, quantity, unit_price, retail_price, tax))
    history: defaultdict[uuid.UUID, list[HistoryView]] = defaultdict(list)
    change_rows = session.execute(
        select(
            OrderStatusChange.order_id,
            OrderStatusChange.to_status,
            OrderStatusChange.at,
            OrderStatusChange.actor_label,
        )
        .where(OrderStatusChange.order_id.in_(ids), OrderStatusChange.practice_id == practice_id)
        .order_by(OrderStatusChange.order_id, OrderStatusChange.at, OrderStatusChange.id)
    )
    for order_id, to_status, at, actor_label in change_rows:
        history[order_id].append(HistoryView(to_status, at, actor_label))
    for key, order in by_id.items():
        order.lines = lines.get(key, [])
        order.history = history.get(key, [])


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
    return OrderPage(_rows(session, practice_id, where, ordering, limit, offset), total)


def get_order_row(
    session: Session, practice_id: int, order_id: uuid.UUID, hidden_statuses: Sequence[str] = ()
) -> OrderRow:
    """One order with its patient and location; foreign or hidden orders are not found.

    A primary-key lookup (no count, no ordering), plus one query each for lines and history.
    """
    where = and_(Order.id == order_id, Order.practice_id == practice_id)
    if hidden_statuses:
        where = and_(where, Order.status.not_in(list(hidden_statuses)))
    rows = _rows(session, practice_id, where, (), 1, 0)
    if not rows:
        raise NotFound("Order", order_id)
    return rows[0]
