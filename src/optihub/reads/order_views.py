"""Orders as plain views: the columns every surface's projection may show, loaded with
plain column selects (no ORM objects), one query for the page plus one each for its lines
and status history.

The filter object (``OrderFilter``) is the one place a new dialect's filter goes.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, cast

import orjson
from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    DateTime,
    Numeric,
    TypeDecorator,
    and_,
    bindparam,
    exists,
    or_,
    select,
)
from sqlalchemy.orm import Session

from optihub.db.models import Location, Order, OrderLine, OrderStatusChange, Patient
from optihub.db.prepared import Prepared

Reader = Connection | Session


@dataclass(frozen=True)
class LineView:
    description: str
    quantity: int
    unit_price: Decimal
    retail_price: Decimal
    tax: Decimal
    kind: str
    sku: str | None
    id: uuid.UUID | None = None
    prescription_required: bool = False
    prescription_id: uuid.UUID | None = None


@dataclass(frozen=True)
class HistoryView:
    from_status: str | None
    to_status: str
    sub_status: str | None
    at: datetime
    actor_label: str
    actor_user_id: uuid.UUID | None
    via: str
    note: str | None


@dataclass(frozen=True)
class PatientView:
    id: uuid.UUID
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    external_id: str | None
    date_of_birth: date | None


@dataclass(frozen=True)
class LocationView:
    id: uuid.UUID
    name: str


@dataclass
class OrderView:
    """Everything an order shows on any surface (the lab and fulfillment fields included)."""

    id: uuid.UUID
    number: str
    external_id: str | None
    status: str
    sub_status: str | None
    type: str
    created_via: str
    created_at: datetime
    updated_at: datetime
    patient_id: uuid.UUID | None
    location_id: uuid.UUID | None
    physician_id: uuid.UUID | None
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
    pickup_date: date | None
    tracking_number: str | None
    carrier: str | None
    lab_id: uuid.UUID | None
    lab_account_number: str | None
    lab_order_type: str | None
    submission_type: str | None
    mounting_option: str | None
    redo_type: str | None
    redo_reason: str | None
    redo_reference: str | None
    multi_pair_reference: str | None
    lab_services: list[Any] | None
    special_instructions: str | None
    submitted_at: datetime | None
    tray_number: str | None
    invoice_number: str | None
    priority: bool
    cancellation_requested: bool
    original_order_id: uuid.UUID | None
    replacement_reason: str | None
    replacement_request_status: str | None
    replacement_requested_at: datetime | None
    replacement_request_reason: str | None
    custom_shipping: dict[str, Any] | None = None
    shipping_service_level: str | None = None
    cancellation_comments: str | None = None
    practice_id: int | None = None
    patient: PatientView | None = None
    location: LocationView | None = None
    lines: list[LineView] = field(default_factory=list)
    history: list[HistoryView] = field(default_factory=list)
    # Orders made to replace this one (their ``original_order_id`` is this order).
    replacement_order_ids: list[uuid.UUID] = field(default_factory=list)

    @property
    def balance(self) -> Decimal:
        return self.total - self.amount_paid


class Sort(Enum):
    """The orderings lists use; each matches a ``(practice_id, ...)`` index."""

    NEWEST = "newest"  # created_at, id descending
    OLDEST = "oldest"  # created_at, id ascending (paging back towards the newest)
    UPDATED = "updated"  # updated_at, id ascending (pollers page forward)


@dataclass(frozen=True)
class Keyset:
    """A position in a sort: the (timestamp, id) of the last row a caller has seen."""

    at: datetime
    id: uuid.UUID

    def after(self, at: Any, key: Any) -> ColumnElement[bool]:
        """Rows strictly past this position in ascending (``at``, ``key``) order."""
        return or_(at > self.at, and_(at == self.at, key > self.id))

    def before(self, at: Any, key: Any) -> ColumnElement[bool]:
        """Rows strictly before this position in ascending (``at``, ``key``) order."""
        return or_(at < self.at, and_(at == self.at, key < self.id))


@dataclass(frozen=True)
class OrderFilter:
    """Which of a practice's orders a read covers. Every surface's filters go here."""

    statuses: Sequence[str] | None = None
    hidden_statuses: Sequence[str] = ()
    updated_since: datetime | None = None
    with_prescription_only: bool = False
    order_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    external_id: str | None = None
    after: Keyset | None = None
    settled_before: datetime | None = None
    lab_id: uuid.UUID | None = None
    lab_account_number: str | None = None
    created_after: datetime | None = None  # exclusive
    created_from: datetime | None = None  # inclusive
    created_before: datetime | None = None  # exclusive
    created_until: datetime | None = None  # inclusive
    # Keyset positions in creation order (created_at, id): strictly older / newer rows.
    older_than: Keyset | None = None
    newer_than: Keyset | None = None
    # Sub-steps allowed per status: an order in one of these statuses matches only with a
    # sub-status listed for it (None in the tuple: no sub-status). Other statuses: any.
    sub_statuses: tuple[tuple[str, tuple[str | None, ...]], ...] | None = None
    # True: orders with a line that needs a prescription and has none linked; False: none.
    unmatched_prescriptions: bool | None = None

    @property
    def by_status_only(self) -> bool:
        """True when the kept per-status counts answer ``total`` for this filter."""
        return (
            self.updated_since is None
            and not self.with_prescription_only
            and self.order_id is None
            and self.patient_id is None
            and self.external_id is None
            and self.after is None
            and self.settled_before is None
            and self.lab_id is None
            and self.lab_account_number is None
            and self.created_after is None
            and self.created_from is None
            and self.created_before is None
            and self.created_until is None
            and self.older_than is None
            and self.newer_than is None
            and self.sub_statuses is None
            and self.unmatched_prescriptions is None
        )


def where(practice_id: int, flt: OrderFilter) -> ColumnElement[bool]:
    conditions = [Order.practice_id == practice_id]
    if flt.statuses is not None:
        conditions.append(Order.status.in_(list(flt.statuses)))
    if flt.hidden_statuses:
        conditions.append(Order.status.not_in(list(flt.hidden_statuses)))
    if flt.updated_since is not None:
        conditions.append(Order.updated_at >= flt.updated_since)
    if flt.with_prescription_only:
        # An order placed without an Rx stores its snapshot as JSON ``null`` (the column
        # keeps Python's None as JSON), which ``IS NOT NULL`` alone lets through.
        conditions.append(and_(Order.rx_snapshot.is_not(None), Order.rx_snapshot != JSON.NULL))
    if flt.order_id is not None:
        conditions.append(Order.id == flt.order_id)
    if flt.patient_id is not None:
        conditions.append(Order.patient_id == flt.patient_id)
    if flt.external_id is not None:
        conditions.append(Order.external_id == flt.external_id)
    if flt.after is not None:
        conditions.append(flt.after.after(Order.updated_at, Order.id))
    if flt.settled_before is not None:
        conditions.append(Order.updated_at <= flt.settled_before)
    if flt.lab_id is not None:
        conditions.append(Order.lab_id == flt.lab_id)
    if flt.lab_account_number is not None:
        conditions.append(Order.lab_account_number == flt.lab_account_number)
    if flt.created_after is not None:
        conditions.append(Order.created_at > flt.created_after)
    if flt.created_from is not None:
        conditions.append(Order.created_at >= flt.created_from)
    if flt.created_before is not None:
        conditions.append(Order.created_at < flt.created_before)
    if flt.created_until is not None:
        conditions.append(Order.created_at <= flt.created_until)
    if flt.older_than is not None:
        conditions.append(flt.older_than.before(Order.created_at, Order.id))
    if flt.newer_than is not None:
        conditions.append(flt.newer_than.after(Order.created_at, Order.id))
    for status, subs in flt.sub_statuses or ():
        named = [s for s in subs if s is not None]
        allowed = [Order.sub_status.in_(named)] if named else []
        if None in subs:
            allowed.append(Order.sub_status.is_(None))
        conditions.append(or_(Order.status != status, *allowed))
    if flt.unmatched_prescriptions is not None:
        unmatched = exists().where(
            OrderLine.practice_id == practice_id,
            OrderLine.order_id == Order.id,
            OrderLine.prescription_required.is_(True),
            OrderLine.prescription_id.is_(None),
        )
        conditions.append(unmatched if flt.unmatched_prescriptions else ~unmatched)
    return and_(*conditions)


def ordering(sort: Sort) -> tuple[Any, ...]:
    if sort is Sort.UPDATED:
        return (Order.updated_at.asc(), Order.id.asc())
    if sort is Sort.OLDEST:
        return (Order.created_at.asc(), Order.id.asc())
    return (Order.created_at.desc(), Order.id.desc())


_ORDER_COLUMNS = [
    Order.id,
    Order.number,
    Order.external_id,
    Order.status,
    Order.sub_status,
    Order.type,
    Order.created_via,
    Order.created_at,
    Order.updated_at,
    Order.patient_id,
    Order.location_id,
    Order.physician_id,
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
    Order.pickup_date,
    Order.tracking_number,
    Order.carrier,
    Order.lab_id,
    Order.lab_account_number,
    Order.lab_order_type,
    Order.submission_type,
    Order.mounting_option,
    Order.redo_type,
    Order.redo_reason,
    Order.redo_reference,
    Order.multi_pair_reference,
    Order.lab_services,
    Order.special_instructions,
    Order.submitted_at,
    Order.tray_number,
    Order.invoice_number,
    Order.priority,
    Order.cancellation_requested,
    Order.original_order_id,
    Order.replacement_reason,
    Order.replacement_request_status,
    Order.replacement_requested_at,
    Order.replacement_request_reason,
    Order.custom_shipping,
    Order.shipping_service_level,
    Order.cancellation_comments,
    Order.practice_id,
]
_ORDER_FIELDS = [c.key for c in _ORDER_COLUMNS]
_PATIENT_COLUMNS = [
    Patient.id.label("patient__id"),
    Patient.first_name.label("patient__first_name"),
    Patient.last_name.label("patient__last_name"),
    Patient.email.label("patient__email"),
    Patient.phone.label("patient__phone"),
    Patient.external_id.label("patient__external_id"),
    Patient.date_of_birth.label("patient__date_of_birth"),
]
_LOCATION_COLUMNS = [Location.id.label("location__id"), Location.name.label("location__name")]


_PRACTICE: Any = bindparam("practice_id")
_IDS: Any = bindparam("ids", expanding=True)


def _order_select() -> Any:
    return (
        select(*_ORDER_COLUMNS, *_PATIENT_COLUMNS, *_LOCATION_COLUMNS)
        .outerjoin(Patient, and_(Patient.id == Order.patient_id, Patient.practice_id == _PRACTICE))
        .outerjoin(
            Location, and_(Location.id == Order.location_id, Location.practice_id == _PRACTICE)
        )
    )


# Built once: a statement built per call costs more than running it (60 columns to build
# and to hash into the compiled cache's key); these carry their values as parameters.
_BY_IDS = _order_select().where(Order.practice_id == _PRACTICE, Order.id.in_(_IDS))


def _lines(order: Any) -> Any:
    return (
        select(
            OrderLine.order_id,
            OrderLine.description,
            OrderLine.quantity,
            OrderLine.unit_price,
            OrderLine.retail_price,
            OrderLine.tax,
            OrderLine.kind,
            OrderLine.sku,
            OrderLine.id,
            OrderLine.prescription_required,
            OrderLine.prescription_id,
        )
        .where(order(OrderLine.order_id), OrderLine.practice_id == _PRACTICE)
        .order_by(OrderLine.order_id, OrderLine.position)
    )


def _history(order: Any) -> Any:
    return (
        select(
            OrderStatusChange.order_id,
            OrderStatusChange.from_status,
            OrderStatusChange.to_status,
            OrderStatusChange.sub_status,
            OrderStatusChange.at,
            OrderStatusChange.actor_label,
            OrderStatusChange.actor_user_id,
            OrderStatusChange.via,
            OrderStatusChange.note,
        )
        .where(order(OrderStatusChange.order_id), OrderStatusChange.practice_id == _PRACTICE)
        .order_by(OrderStatusChange.order_id, OrderStatusChange.at, OrderStatusChange.id)
    )


def _replacements(order: Any) -> Any:
    return (
        select(Order.original_order_id, Order.id)
        .where(Order.practice_id == _PRACTICE, order(Order.original_order_id))
        .order_by(Order.original_order_id, Order.created_at, Order.id)
    )


def _in_ids(column: Any) -> Any:
    return column.in_(_IDS)


_LINES = _lines(_in_ids)
_HISTORY = _history(_in_ids)
_REPLACEMENTS = _replacements(_in_ids)


def _run(reader: Reader, statement: Any, params: dict[str, Any] | None = None) -> Any:
    """Run a plain column select. On a session, through its connection (the ORM's execute
    path adds nothing to a column select but its cost), after flushing what is pending, as
    the session's own ``execute`` would (autoflush)."""
    if isinstance(reader, Session):
        if reader.new or reader.deleted or reader.dirty:
            reader.flush()
        return reader.connection().execute(statement, params)
    return reader.execute(statement, params)


def load(
    reader: Reader,
    practice_id: int,
    condition: ColumnElement[bool],
    order_by: tuple[Any, ...] = (),
    limit: int | None = None,
    offset: int = 0,
) -> list[OrderView]:
    """The orders matching ``condition`` (already scoped to the practice) as views."""
    statement = _order_select().where(condition).order_by(*order_by).offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    rows = _run(reader, statement, {"practice_id": practice_id})
    return _views(reader, practice_id, (row._mapping for row in rows))


def load_ids(reader: Reader, practice_id: int, ids: Sequence[uuid.UUID]) -> list[OrderView]:
    """The practice's orders with these ids as views (missing ones left out), in no order."""
    if not ids:
        return []
    if len(ids) == 1:
        return _load_one(reader, practice_id, ids[0])
    rows = _run(reader, _BY_IDS, {"practice_id": practice_id, "ids": list(ids)})
    return _views(reader, practice_id, (row._mapping for row in rows))


# One order (the documents of the order a create has just written, stored at its commit):
# the same statements for one id, sent past SQLAlchemy's execution layer (``db.prepared``).
_ONE_PARAMS: Any = bindparam("id")
_ONE = Prepared(_order_select().where(Order.practice_id == _PRACTICE, Order.id == _ONE_PARAMS))
_ONE_NAMES: tuple[str, ...] = (
    *_ORDER_FIELDS,
    *(cast(Any, column).key for column in (*_PATIENT_COLUMNS, *_LOCATION_COLUMNS)),
)
_ONE_CHILDREN = tuple(
    Prepared(build(lambda column: column == _ONE_PARAMS))
    for build in (_lines, _history, _replacements)
)


def _load_one(reader: Reader, practice_id: int, order_id: uuid.UUID) -> list[OrderView]:
    params = {"practice_id": practice_id, "id": order_id}
    found = _ONE.first(reader, params)
    if found is None:
        return []
    views = _views(reader, practice_id, [dict(zip(_ONE_NAMES, found, strict=True))], False)
    lines, history, replacements = (each.rows(reader, params) for each in _ONE_CHILDREN)
    view = views[0]
    view.lines = [LineView(*line[1:]) for line in lines]
    view.history = [HistoryView(*cast("list[Any]", change[1:])) for change in history]
    view.replacement_order_ids = [replacement for _original, replacement in replacements]
    return views


def _views(
    reader: Reader, practice_id: int, rows: Iterable[Mapping[str, Any]], children: bool = True
) -> list[OrderView]:
    views: list[OrderView] = []
    for values in rows:
        order = OrderView(**{name: values[name] for name in _ORDER_FIELDS})
        if values["patient__id"] is not None:
            order.patient = PatientView(
                values["patient__id"],
                values["patient__first_name"],
                values["patient__last_name"],
                values["patient__email"],
                values["patient__phone"],
                values["patient__external_id"],
                values["patient__date_of_birth"],
            )
        if values["location__id"] is not None:
            order.location = LocationView(values["location__id"], values["location__name"])
        views.append(order)
    if children:
        _attach_children(reader, practice_id, views)
    return views


def _attach_children(reader: Reader, practice_id: int, orders: list[OrderView]) -> None:
    if not orders:
        return
    by_id = {o.id: o for o in orders}
    params = {"practice_id": practice_id, "ids": list(by_id)}
    lines: defaultdict[uuid.UUID, list[LineView]] = defaultdict(list)
    for order_id, *line in _run(reader, _LINES, params):
        lines[order_id].append(LineView(*line))
    history: defaultdict[uuid.UUID, list[HistoryView]] = defaultdict(list)
    for order_id, *change in _run(reader, _HISTORY, params):
        history[order_id].append(HistoryView(*cast("list[Any]", change)))
    replacements: defaultdict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for original_id, replacement_id in _run(reader, _REPLACEMENTS, params):
        if original_id is not None:
            replacements[original_id].append(replacement_id)
    for key, order in by_id.items():
        order.lines = lines.get(key, [])
        order.history = history.get(key, [])
        order.replacement_order_ids = replacements.get(key, [])


def view_of_written(session: Session, order: Order, patient: Patient | None) -> OrderView:
    """An order this transaction has just written (its row, lines and history; ``patient``
    its patient, also just written; no location), as ``load_ids`` would read it back: each
    value as the database returns it — money to the column's scale, timestamps in UTC, JSON
    as parsed back, on PostgreSQL with ``jsonb``'s key order. Saves reading back what was
    just written, e.g. to answer a create (``documents.keep_view`` then stores it)."""
    jsonb = session.connection().dialect.name == "postgresql"
    view = OrderView(**_as_stored_row(Order, _ORDER_FIELDS, jsonb)(order))
    if patient is not None:
        view.patient = PatientView(
            patient.id,
            patient.first_name,
            patient.last_name,
            patient.email,
            patient.phone,
            patient.external_id,
            patient.date_of_birth,
        )
    line = _as_stored_row(OrderLine, _LINE, jsonb)
    view.lines = [LineView(**line(ln)) for ln in sorted(order.lines, key=lambda ln: ln.position)]
    change = _as_stored_row(OrderStatusChange, _CHANGE, jsonb)
    view.history = [
        HistoryView(**change(h)) for h in sorted(order.history, key=lambda h: (h.at, h.id))
    ]
    return view


def _view_fields(view: type, model: type) -> tuple[str, ...]:
    columns = model.__table__.c  # type: ignore[attr-defined]
    return tuple(f.name for f in fields(view) if f.name in columns)


# The view's fields that are the row's columns (the rest: patient, location, children).
_LINE = _view_fields(LineView, OrderLine)
_CHANGE = _view_fields(HistoryView, OrderStatusChange)


_AS_STORED: dict[tuple[type, tuple[str, ...], bool], Callable[[Any], dict[str, Any]]] = {}


def _as_stored_row(
    model: type, names: Sequence[str], jsonb: bool
) -> Callable[[Any], dict[str, Any]]:
    """``obj`` → its ``names`` attributes, each as the database returns the column (money
    to its scale, timestamps in UTC, JSON as parsed back; on PostgreSQL, ``jsonb`` keys in
    its order). One function per model, names and database, made once: the column types
    are looked up then, not per value."""
    key = (model, tuple(names), jsonb)
    found = _AS_STORED.get(key)
    if found is None:
        columns = model.__table__.c  # type: ignore[attr-defined]
        converters = [(name, _as_stored(columns[name].type, jsonb)) for name in names]

        def found(obj: Any) -> dict[str, Any]:
            row = {}
            for name, convert in converters:
                value = getattr(obj, name)
                row[name] = value if value is None or convert is None else convert(value)
            return row

        _AS_STORED[key] = found
    return found


def _as_stored(kind: Any, jsonb: bool) -> Callable[[Any], Any] | None:
    """How a value of a column of type ``kind`` comes back from the database (None: as it
    is)."""
    if isinstance(kind, Numeric) and kind.scale is not None:
        step = Decimal(1).scaleb(-kind.scale)
        return lambda value: Decimal(value).quantize(step)
    if isinstance(kind, JSON):
        return _jsonb_back if jsonb else _json_back
    if isinstance(kind.impl if isinstance(kind, TypeDecorator) else kind, DateTime):
        return _utc
    return None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json_back(value: Any) -> Any:
    """A JSON column's value as parsed back from what is stored (tuples as lists, keys as
    text…)."""
    try:
        return orjson.loads(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))
    except (TypeError, orjson.JSONEncodeError):  # what orjson does not write (huge ints…)
        return json.loads(json.dumps(value))


def _jsonb_back(value: Any) -> Any:
    return _jsonb_order(_json_back(value))


def _jsonb_order(value: Any) -> Any:
    """A parsed JSON value with its objects' keys as ``jsonb`` stores them: shorter keys
    first, then by their bytes."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: (len(key.encode()), key.encode()))
        return {key: _jsonb_order(value[key]) for key in keys}
    if isinstance(value, list):
        return [_jsonb_order(item) for item in value]
    return value
