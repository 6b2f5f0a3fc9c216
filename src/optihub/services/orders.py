"""Orders: place one, move it through the lifecycle, read it back.

Every function runs in the caller's transaction and writes its outbox events there:
``order.created`` when placed, ``order.status_changed`` on each real transition and
``order.completed`` when it reaches completed.
"""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from optihub.db.base import new_id, utcnow
from optihub.db.models import Employee, Location, Order, OrderLine, OrderStatusChange, Patient
from optihub.db.prepared import Prepared
from optihub.db.rows import keep, new_row, write_row_unless_taken, write_rows
from optihub.domain import rx as rx_rules
from optihub.domain.orders import ORDER_TYPES, OrderStatus, decide_transition
from optihub.errors import Conflict, FieldError, NotFound, ValidationFailed
from optihub.events.outbox import record_event, write_event
from optihub.reads.documents import note_inserted
from optihub.services import audit
from optihub.services.common import flush_or_conflict, written_here
from optihub.services.context import Actor
from optihub.services.frames import StockChange, apply_stock_changes, get_frame
from optihub.services.prescriptions import get_prescription, spectacle_rx_of

CENTS = Decimal("0.01")


def new_order_number(at: datetime) -> str:
    """``ORD`` + YYMMDDhhmmss + 4 random capitals (the fulfillment dialect's shape)."""
    suffix = "".join(secrets.choice(string.ascii_uppercase) for _ in range(4))
    return f"ORD{at:%y%m%d%H%M%S}{suffix}"


@dataclass(frozen=True)
class LineItem:
    description: str
    quantity: int
    unit_price: Decimal
    retail_price: Decimal | None = None
    tax: Decimal = Decimal("0")
    kind: str = "other"
    sku: str | None = None
    prescription_required: bool = False  # made to a prescription the order must link


@dataclass(frozen=True)
class NewOrder:
    """What is needed to place an order. ``rx`` wins over ``prescription_id`` for the snapshot."""

    type: str = "spectacles"
    status: OrderStatus = OrderStatus.RECEIVED
    patient_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    physician_id: uuid.UUID | None = None
    external_id: str | None = None
    lines: list[LineItem] = field(default_factory=list)
    frame_id: uuid.UUID | None = None
    frame_details: dict[str, Any] | None = None
    frame_tracing: str | None = None
    take_frame_from_stock: bool = False
    prescription_id: uuid.UUID | None = None
    rx: rx_rules.SpectacleRx | None = None
    multifocal: bool = False
    lens: dict[str, Any] | None = None
    amount_paid: Decimal = Decimal("0")
    patient_balance: Decimal | None = None
    shipping_address: dict[str, Any] | None = None
    lab_fields: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def rx_snapshot(rx: rx_rules.SpectacleRx) -> dict[str, Any]:
    """The Rx values an order was made with, as plain JSON (strings keep exact decimals)."""

    def eye(e: rx_rules.EyeRx | None) -> dict[str, Any] | None:
        if e is None:
            return None
        return {
            "sphere": _dec(e.sphere),
            "cylinder": _dec(e.cylinder),
            "axis": e.axis,
            "add": _dec(e.add),
            "prism_horizontal": (
                {"amount": _dec(e.prism_horizontal.amount), "base": e.prism_horizontal.base}
                if e.prism_horizontal
                else None
            ),
            "prism_vertical": (
                {"amount": _dec(e.prism_vertical.amount), "base": e.prism_vertical.base}
                if e.prism_vertical
                else None
            ),
            "distance_pd": _dec(e.distance_pd),
            "near_pd": _dec(e.near_pd),
            "seg_height": _dec(e.seg_height),
            "oc_height": _dec(e.oc_height),
        }

    return {"right": eye(rx.right), "left": eye(rx.left)}


def order_event_data(order: Order) -> dict[str, Any]:
    """The order as events carry it (canonical names; surfaces re-shape for their readers)."""
    return {
        "id": str(order.id),
        "number": order.number,
        "external_id": order.external_id,
        "status": order.status,
        "sub_status": order.sub_status,
        "type": order.type,
        "patient_id": str(order.patient_id) if order.patient_id else None,
        "location_id": str(order.location_id) if order.location_id else None,
        "frame_id": str(order.frame_id) if order.frame_id else None,
        "currency": order.currency,
        "total": str(order.total),
        "balance": str(order.balance),
        "tracking_number": order.tracking_number,
        "created_at": order.created_at.isoformat(),
        "updated_at": order.updated_at.isoformat(),
    }


def _exists(session: Session, model: Any, practice_id: int, object_id: uuid.UUID) -> bool:
    if written_here(session, model, practice_id, object_id):
        return True  # written just now past the ORM (e.g. the order's new patient)
    pending = [obj for obj in session.new if isinstance(obj, model)]
    for obj in pending:  # made in this transaction and not written yet (e.g. the patient)
        if obj.id == object_id:
            return bool(obj.practice_id == practice_id)
    if any(obj.id is None for obj in pending):  # not told apart before a flush
        session.flush()
    statement = _EXISTS.get(model)
    if statement is None:
        statement = _EXISTS[model] = Prepared(
            select(model.id).where(
                model.practice_id == bindparam("practice_id"), model.id == bindparam("id")
            )
        )
    # On the connection: nothing else pending needs flushing for this lookup.
    found = statement.first(session.connection(), {"practice_id": practice_id, "id": object_id})
    return found is not None


# Built once per model, sent past SQLAlchemy's execution layer (``db.prepared``).
_EXISTS: dict[Any, Prepared] = {}


def place_order(session: Session, actor: Actor, new: NewOrder) -> Order:
    """Place an order in the actor's practice, in one transaction.

    Checks referenced patient / location / physician / frame / prescription belong to the
    practice, validates the Rx (all violations reported) and lines, takes the frame from
    stock at the order's location when asked (emitting ``inventory.updated``), records the
    initial status in the history and emits ``order.created``. Raises ``ValidationFailed``,
    ``Conflict`` (duplicate external id) — in which case nothing at all is written.
    """
    errors: list[FieldError] = []
    if new.type not in ORDER_TYPES:
        errors.append(FieldError("type", f"Must be one of: {', '.join(ORDER_TYPES)}."))
    if new.status not in (OrderStatus.DRAFT, OrderStatus.RECEIVED):
        errors.append(FieldError("status", "A new order starts as draft or received."))
    for name, model, value in (
        ("patient_id", Patient, new.patient_id),
        ("location_id", Location, new.location_id),
        ("physician_id", Employee, new.physician_id),
    ):
        if value is not None and not _exists(session, model, actor.practice_id, value):
            errors.append(FieldError(name, f"No such {name.removesuffix('_id')} in this practice."))
    errors += _line_errors(new.lines)
    if new.take_frame_from_stock and (new.frame_id is None or new.location_id is None):
        errors.append(
            FieldError("frame_id", "Taking a frame from stock needs a frame and a location.")
        )
    snapshot_rx = new.rx
    rx_source: dict[str, Any] = {}
    if snapshot_rx is None and new.prescription_id is not None:
        try:
            prescription = get_prescription(session, actor.practice_id, new.prescription_id)
        except NotFound:
            errors.append(FieldError("prescription_id", "No such prescription in this practice."))
        else:
            snapshot_rx = spectacle_rx_of(prescription)
            rx_source = {
                "issued_on": prescription.issued_on.isoformat(),
                "expires_on": (
                    prescription.expires_on.isoformat() if prescription.expires_on else None
                ),
                "prescriber": prescription.prescriber_name,
            }
    if snapshot_rx is not None:
        errors += [
            FieldError(f"rx.{v.field}" if not v.field.startswith("rx") else v.field, v.message)
            for v in rx_rules.validate_spectacle_rx(snapshot_rx, multifocal=new.multifocal)
        ]
    frame = None
    if new.frame_id is not None:
        try:
            frame = get_frame(session, actor.practice_id, new.frame_id)
        except NotFound:
            errors.append(FieldError("frame_id", "No such frame in this practice."))
    if errors:
        raise ValidationFailed(errors)

    now = new.created_at or utcnow()
    subtotal, tax, total = _totals(new.lines)
    # Its rows are written past the unit of work (``_write_new_order``): built as loaded
    # objects (``new_row``), with no attribute events, the lines and history set as loaded.
    order = new_row(
        Order,
        id=new_id(),
        practice_id=actor.practice_id,
        number=new_order_number(now),
        external_id=new.external_id,
        location_id=new.location_id,
        patient_id=new.patient_id,
        physician_id=new.physician_id,
        created_by_user_id=actor.user_id,
        created_via=actor.via,
        type=new.type,
        status=new.status.value,
        status_changed_at=now,
        frame_id=new.frame_id,
        frame_details=new.frame_details or (_frame_details(frame) if frame is not None else None),
        frame_tracing=new.frame_tracing,
        prescription_id=new.prescription_id,
        rx_snapshot=rx_snapshot(snapshot_rx) | rx_source if snapshot_rx is not None else None,
        lens=new.lens,
        currency=frame.currency if frame is not None else "USD",
        subtotal=subtotal,
        tax_total=tax,
        total=total,
        amount_paid=new.amount_paid,
        patient_balance=(
            new.patient_balance if new.patient_balance is not None else total - new.amount_paid
        ),
        shipping_address=new.shipping_address,
        created_at=now,
        updated_at=now,
        **new.lab_fields,
    )
    lines = _line_rows(actor.practice_id, new.lines, order=order)
    first = new_row(
        OrderStatusChange,
        order=order,
        practice_id=actor.practice_id,
        order_id=order.id,
        from_status=None,
        to_status=new.status.value,
        at=now,
        actor_user_id=actor.user_id,
        actor_client_id=actor.client_id,
        actor_label=actor.label,
        via=actor.via,
    )
    set_committed_value(order, "lines", lines)
    set_committed_value(order, "history", [first])
    _write_new_order(session, order, [order, *lines, first], new.external_id)
    if new.take_frame_from_stock and new.frame_id and new.location_id:
        apply_stock_changes(session, actor, [StockChange(new.frame_id, new.location_id, delta=-1)])
    write_event(
        session,
        practice_id=actor.practice_id,
        type="order.created",
        data=order_event_data(order),
        at=now,
    )
    audit.add(session, actor, "order.created", "order", order.id)
    return order


def _write_new_order(
    session: Session, order: Order, rows: list[Any], external_id: str | None
) -> None:
    """Write a new order's rows at once (``db.rows``: no unit of work). The order's row
    goes first, written unless one of its unique keys is taken (no error, so no savepoint):
    a number two creates drew at once (1 in 456,976 a pair in the same second: the caller
    cannot act on that conflict) is drawn again, and a taken external id is ``Conflict``
    with nothing written. Rows the caller added before are flushed first (the order refers
    to them). ``rows``: the order, then its lines and history."""
    message = f"An order with external id {external_id} already exists"
    if session.new:
        flush_or_conflict(session, message)
    try:
        for attempt in range(5):
            if write_row_unless_taken(session, order):
                break
            if attempt == 4 or (
                external_id is not None
                and _EXTERNAL_ID_TAKEN.first(
                    session, {"practice_id": order.practice_id, "external_id": external_id}
                )
                is not None
            ):
                raise Conflict(message)
            order.number = new_order_number(order.created_at)
        write_rows(session, [row for row in rows if row is not order])
    except IntegrityError as exc:  # a row it refers to removed meanwhile: the request fails
        raise Conflict(message) from exc
    keep(session, rows)
    note_inserted(session, order.practice_id, order.id, order.status)


_EXTERNAL_ID_TAKEN = Prepared(
    select(Order.id).where(
        Order.practice_id == bindparam("practice_id"),
        Order.external_id == bindparam("external_id"),
    )
)


def _line_errors(lines: Sequence[LineItem]) -> list[FieldError]:
    errors = []
    for index, line in enumerate(lines):
        if line.quantity < 1:
            errors.append(FieldError(f"lines[{index}].quantity", "Must be at least 1."))
        if line.unit_price < 0 or line.tax < 0:
            errors.append(FieldError(f"lines[{index}].unit_price", "Cannot be negative."))
        if not line.description.strip():
            errors.append(FieldError(f"lines[{index}].description", "Is required."))
    return errors


def _totals(lines: Sequence[LineItem]) -> tuple[Decimal, Decimal, Decimal]:
    """Subtotal, tax and total of ``lines``, to the cent."""
    subtotal = sum((line.unit_price * line.quantity for line in lines), Decimal("0"))
    tax = sum((line.tax for line in lines), Decimal("0"))
    return subtotal.quantize(CENTS), tax.quantize(CENTS), (subtotal + tax).quantize(CENTS)


def _line_rows(
    practice_id: int, lines: Sequence[LineItem], start: int = 0, order: Order | None = None
) -> list[OrderLine]:
    """New line objects: of a new ``order`` (built as loaded, ``new_row``, as its rows are
    written past the unit of work), or for the caller to add to a loaded order's lines."""
    values = [
        {
            "id": new_id(),
            "practice_id": practice_id,
            "position": start + i,
            "kind": line.kind,
            "sku": line.sku,
            "description": line.description,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "retail_price": line.retail_price if line.retail_price is not None else line.unit_price,
            "tax": line.tax,
            "prescription_required": line.prescription_required,
        }
        for i, line in enumerate(lines)
    ]
    if order is None:
        return [OrderLine(**row) for row in values]
    return [new_row(OrderLine, order=order, order_id=order.id, **row) for row in values]


def _recompute(order: Order) -> None:
    subtotal = sum((line.unit_price * line.quantity for line in order.lines), Decimal("0"))
    tax = sum((line.tax for line in order.lines), Decimal("0"))
    order.subtotal = subtotal.quantize(CENTS)
    order.tax_total = tax.quantize(CENTS)
    order.total = (subtotal + tax).quantize(CENTS)
    order.updated_at = utcnow()


def add_lines(
    session: Session, actor: Actor, order: Order, lines: Sequence[LineItem]
) -> list[OrderLine]:
    """Add ``lines`` after the lines of ``order`` (the actor's, loaded with its lines and
    locked) and recompute its subtotal, tax and total. Returns the new lines. Payments and
    the patient's balance are left to the caller. Raises ``ValidationFailed`` (nothing
    changed)."""
    if order.practice_id != actor.practice_id:
        raise NotFound("Order", order.id)
    errors = _line_errors(lines)
    if errors:
        raise ValidationFailed(errors)
    added = _line_rows(actor.practice_id, lines, start=len(order.lines))
    order.lines.extend(added)
    _recompute(order)
    return added


def replace_lines(session: Session, actor: Actor, order: Order, lines: Sequence[LineItem]) -> None:
    """Give ``order`` (the actor's, loaded with its lines and locked) exactly ``lines`` and
    recompute its subtotal, tax and total as ``place_order`` does. Payments and the
    patient's balance are left to the caller. Raises ``ValidationFailed`` (nothing
    changed)."""
    if order.practice_id != actor.practice_id:
        raise NotFound("Order", order.id)
    errors = _line_errors(lines)
    if errors:
        raise ValidationFailed(errors)
    order.lines = _line_rows(actor.practice_id, lines)
    _recompute(order)


def _frame_details(frame: Any) -> dict[str, Any]:
    return {
        "sku": frame.sku,
        "brand": frame.brand,
        "model": frame.model,
        "color": frame.color,
        "material": frame.material,
        "eye_size": frame.eye_size,
        "bridge": frame.bridge,
        "temple": frame.temple,
        "a": _dec(frame.a),
        "b": _dec(frame.b),
        "ed": _dec(frame.ed),
    }


def get_order(
    session: Session, practice_id: int, order_id: uuid.UUID, *, lock: bool = False
) -> Order:
    """The practice's order with lines and history loaded; foreign orders are not found."""
    statement = (
        select(Order)
        .options(selectinload(Order.lines), selectinload(Order.history))
        .where(Order.practice_id == practice_id, Order.id == order_id)
    )
    if lock:
        statement = statement.with_for_update()
    order = session.scalar(statement)
    if order is None:
        raise NotFound("Order", order_id)
    return order


@dataclass(frozen=True)
class StatusChangeResult:
    order: Order
    changed: bool


def change_order_status(
    session: Session,
    actor: Actor,
    order_id: uuid.UUID,
    target: OrderStatus,
    *,
    note: str | None = None,
    tracking_number: str | None = None,
    carrier: str | None = None,
    sub_status: str | None = None,
) -> StatusChangeResult:
    """Move an order to ``target`` along the lifecycle.

    The order row is locked for the change, so two concurrent changes serialize. A request
    for the current status (and same sub-status) is a no-op: nothing written, no event.
    Otherwise the change is recorded in the history (who, when, from, to, via), and
    ``order.status_changed`` (+ ``order.completed``) is emitted. Raises ``NotFound`` and
    ``Conflict`` (illegal move, naming the allowed next statuses).
    """
    order = get_order(session, actor.practice_id, order_id, lock=True)
    now = utcnow()
    current = OrderStatus(order.status)
    transition = decide_transition(
        current,
        target,
        at=now,
        actor=actor.label,
        via=actor.via,
        sub_status=sub_status,
        note=note,
    )
    if transition.is_noop and (sub_status is None or sub_status == order.sub_status):
        if tracking_number and tracking_number != order.tracking_number:
            order.tracking_number = tracking_number
            order.updated_at = now
            session.flush()
        return StatusChangeResult(order, changed=False)
    previous = order.status
    order.status = target.value
    order.status_changed_at = now
    order.sub_status = sub_status if target == OrderStatus.IN_PROGRESS else None
    if tracking_number:
        order.tracking_number = tracking_number
    if carrier:
        order.carrier = carrier
    order.updated_at = now
    order.history.append(
        OrderStatusChange(
            practice_id=actor.practice_id,
            from_status=previous,
            to_status=target.value,
            sub_status=order.sub_status,
            at=now,
            actor_user_id=actor.user_id,
            actor_client_id=actor.client_id,
            actor_label=actor.label,
            via=actor.via,
            note=note,
        )
    )
    session.flush()
    data = order_event_data(order) | {"previous_status": previous}
    record_event(
        session, practice_id=actor.practice_id, type="order.status_changed", data=data, at=now
    )
    if transition.completes:
        record_event(
            session, practice_id=actor.practice_id, type="order.completed", data=data, at=now
        )
    audit.record(
        session,
        actor,
        "order.status_changed",
        "order",
        order.id,
        {"from": previous, "to": target.value},
    )
    return StatusChangeResult(order, changed=True)
