"""Fulfillment orders: place (or merge), change what may change, pause and unpause,
cancellation and replacement requests, and the prescriptions that prescription products
need.

Every function runs in the caller's transaction and raises before writing anything when a
rule is broken. Orders are placed through ``services.orders.place_order`` (so
``order.created`` is emitted and the history starts there); sub-step changes (pause,
unpause) are recorded in the history and emit ``order.status_changed``.
A fulfillment order's *stage* (``reads.fulfillment.stage``) is its canonical status read
with its sub-step. Cancellation and replacement requests emit ``order.cancellation_requested``
and ``order.replacement_requested``. Lookups (the order a caller names, its history, search)
are in ``reads.fulfillment``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import date
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, bindparam, false, select, true
from sqlalchemy.orm import Session, selectinload

from optihub.db.base import utcnow
from optihub.db.models import Order, OrderLine, OrderStatusChange, Patient, Prescription
from optihub.db.prepared import Prepared
from optihub.domain.events import OrderAttention
from optihub.domain.orders import OrderStatus
from optihub.errors import BadRequest, Conflict, FieldError, NotFound, ValidationFailed
from optihub.events.outbox import record_event
from optihub.reads import fulfillment as fulfillment_reads
from optihub.reads import products as product_reads
from optihub.reads.fulfillment import (
    CANCELLABLE,
    CLOSED,
    PAUSED,
    PICKED_STEPS,
    REPLACEABLE,
    SHIPPING_OPEN,
    STAGES,
    VERIFIED_STEPS,
    stage,
)
from optihub.reads.order_views import OrderView, view_of_written
from optihub.reads.products import Product
from optihub.services import audit
from optihub.services import orders as order_service
from optihub.services.common import flush_or_conflict
from optihub.services.context import Actor
from optihub.services.patients import PatientDetails, get_patient, write_patient

S = OrderStatus
CENTS = Decimal("0.01")


@dataclass(frozen=True)
class Address:
    address_line1: str
    city: str
    postal_code: str
    address_line2: str | None = None
    state: str | None = None
    country: str = "US"

    def stored(self, address_id: str | None = None) -> dict[str, Any]:
        """The order's ``shipping_address`` document (its id kept across changes)."""
        return {
            "id": address_id or str(uuid.uuid4()),
            "address_line1": self.address_line1,
            "address_line2": self.address_line2,
            "city": self.city,
            "state": self.state,
            "postal_code": self.postal_code,
            "country": self.country,
        }


@dataclass(frozen=True)
class PatientRef:
    """Who the order is for: an existing patient by ``id`` or ``external_id``, or a new one
    (``details``; with an ``external_id`` that names an existing patient, that one)."""

    id: uuid.UUID | None = None
    external_id: str | None = None
    details: PatientDetails | None = None


@dataclass(frozen=True)
class ProductLine:
    """One requested product: ``group`` is ``prescription`` or ``non_prescription``."""

    group: str
    index: int
    quantity: int
    id: uuid.UUID | None = None
    sku: str | None = None

    @property
    def field(self) -> str:
        return f"products.{self.group}[{self.index}]"


@dataclass(frozen=True)
class Shipping:
    carrier: str | None = None
    service_level: str | None = None


@dataclass(frozen=True)
class OrderRequest:
    patient: PatientRef
    products: Sequence[ProductLine]
    address: Address | None = None
    custom_shipping: dict[str, Any] | None = None
    external_id: str | None = None
    prescription_ids: Sequence[uuid.UUID] = ()
    shipping: Shipping | None = None
    priority_requested: bool = False


@dataclass(frozen=True)
class Placed:
    """The order placed or merged into; ``patient`` the one created for it (else None)."""

    order: Order
    merged: bool
    patient: OrderPatient | None = None


@dataclass(frozen=True)
class OrderChanges:
    """What ``update_order`` changes; ``None`` fields are left alone (``given`` lists the
    fields the caller sent, so ``custom_shipping`` may be cleared with an explicit null)."""

    given: frozenset[str] = frozenset()
    address: Address | None = None
    external_id: str | None = None
    custom_shipping: dict[str, Any] | None = None
    shipping: Shipping | None = None


# -- placing --------------------------------------------------------------------------------


def _resolve_products(
    session: Session, practice_id: int, lines: Sequence[ProductLine]
) -> list[tuple[ProductLine, Product]]:
    """Each requested line with its product. Unknown SKUs or ids → ``BadRequest`` naming
    every one; a product in the wrong group → ``ValidationFailed``."""
    if not lines:
        raise BadRequest("products: at least one product is required", field="products")
    by_sku, by_id = product_reads.lookup(
        session, practice_id, [ln.sku for ln in lines if ln.sku], [ln.id for ln in lines if ln.id]
    )
    unknown_skus = sorted({ln.sku for ln in lines if ln.sku and ln.sku not in by_sku})
    unknown_ids = sorted({str(ln.id) for ln in lines if ln.id and ln.id not in by_id})
    if unknown_skus or unknown_ids:
        parts = []
        if unknown_skus:
            parts.append("unknown SKU " + ", ".join(unknown_skus))
        if unknown_ids:
            parts.append("unknown product id " + ", ".join(unknown_ids))
        raise BadRequest(
            "products: " + "; ".join(parts) + " (nothing was written)",
            code="unknown_product",
            field="products",
        )
    resolved: list[tuple[ProductLine, Product]] = []
    errors: list[FieldError] = []
    for line in lines:
        product = by_sku[line.sku] if line.sku else by_id[line.id]  # type: ignore[index]
        wants_rx = line.group == "prescription"
        if product.needs_prescription != wants_rx:
            what = "a prescription" if product.needs_prescription else "a non-prescription"
            other = "prescription" if product.needs_prescription else "non_prescription"
            errors.append(
                FieldError(
                    line.field,
                    f"{product.sku} ({product.name}) is {what} product: list it under "
                    f"products.{other}.",
                )
            )
        resolved.append((line, product))
    if errors:
        raise ValidationFailed(errors)
    return resolved


# The statements every create runs, compiled once per kind of database and sent on the
# session's connection (``db.prepared``): building and running them through SQLAlchemy's
# execution layer cost more than the database's work.
_PATIENTS = cast(Table, Patient.__table__)
_PATIENT_COLUMNS = (
    _PATIENTS.c.id,
    _PATIENTS.c.home_location_id,
    _PATIENTS.c.address_line1,
    _PATIENTS.c.address_line2,
    _PATIENTS.c.city,
    _PATIENTS.c.state,
    _PATIENTS.c.postal_code,
    _PATIENTS.c.country,
)
_PATIENT_BY_ID = Prepared(
    select(*_PATIENT_COLUMNS).where(
        _PATIENTS.c.practice_id == bindparam("practice_id"),
        _PATIENTS.c.id == bindparam("id"),
    )
)
_PATIENT_BY_EXTERNAL_ID = Prepared(
    select(*_PATIENT_COLUMNS).where(
        _PATIENTS.c.practice_id == bindparam("practice_id"),
        _PATIENTS.c.external_id == bindparam("external_id"),
    )
)
_ORDERS = cast(Table, Order.__table__)
_ORDER_BY_EXTERNAL_ID = Prepared(
    select(_ORDERS.c.id, _ORDERS.c.number).where(
        _ORDERS.c.practice_id == bindparam("practice_id"),
        _ORDERS.c.external_id == bindparam("external_id"),
    )
)


@dataclass(frozen=True)
class OrderPatient:
    """What placing an order needs of its patient (an existing one's row, read with one
    statement; a new one's, as written). A new patient also carries what the order's answer
    shows of it (``reads.order_views.view_of_written`` reads those attributes)."""

    id: uuid.UUID
    home_location_id: uuid.UUID | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    external_id: str | None = None
    date_of_birth: date | None = None


def _new_patient(session: Session, actor: Actor, details: PatientDetails) -> OrderPatient:
    """A new patient (``services.patients.write_patient``: ``create_patient``'s rules, row
    and audit entry, no ORM object), as placing the order needs it."""
    values = write_patient(session, actor, details)
    return OrderPatient(**{name: values[name] for name in _ORDER_PATIENT_FIELDS})


_ORDER_PATIENT_FIELDS = tuple(f.name for f in fields(OrderPatient))


def _patient(session: Session, actor: Actor, ref: PatientRef) -> tuple[OrderPatient, bool]:
    """The order's patient, and whether it was created now."""
    if ref.id is not None:
        row = _PATIENT_BY_ID.first(session, {"practice_id": actor.practice_id, "id": ref.id})
        if row is None:
            raise ValidationFailed([FieldError("patient_id", "No such patient in this practice.")])
        return OrderPatient(*row), False
    if ref.external_id is not None:
        row = _PATIENT_BY_EXTERNAL_ID.first(
            session, {"practice_id": actor.practice_id, "external_id": ref.external_id}
        )
        if row is not None:
            return OrderPatient(*row), False
        if ref.details is None:
            raise ValidationFailed(
                [FieldError("patient.external_id", "No patient with this external id.")]
            )
    if ref.details is None:
        raise ValidationFailed([FieldError("patient_id", "Give patient_id or patient.")])
    details = replace(ref.details, external_id=ref.external_id)
    return _new_patient(session, actor, details), True


def _patient_address(patient: OrderPatient) -> Address | None:
    if not patient.address_line1 or not patient.city or not patient.postal_code:
        return None
    return Address(
        address_line1=patient.address_line1,
        address_line2=patient.address_line2,
        city=patient.city,
        state=patient.state,
        postal_code=patient.postal_code,
        country=patient.country or "US",
    )


def _check_prescription_ids(
    session: Session, practice_id: int, patient_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> None:
    found = fulfillment_reads.prescription_ids_of(session, practice_id, patient_id, ids)
    errors = [
        FieldError(f"prescription_ids[{i}]", "No such prescription of this patient.")
        for i, rx_id in enumerate(ids)
        if rx_id not in found
    ]
    if errors:
        raise ValidationFailed(errors)


def _order_type(kinds: set[str]) -> str:
    if "contact_lens" in kinds:
        return "contacts"
    if "lens" in kinds:
        return "spectacles"
    if "frame" in kinds:
        return "frames"
    return "other"


def _line_items(resolved: list[tuple[ProductLine, Product]]) -> list[order_service.LineItem]:
    return [
        order_service.LineItem(
            description=product.name,
            quantity=line.quantity,
            unit_price=product.price,
            kind=product.kind,
            sku=product.sku,
            prescription_required=product.needs_prescription,
        )
        for line, product in resolved
    ]


def _open_order(session: Session, practice_id: int, patient_id: uuid.UUID) -> Order | None:
    """The patient's newest order still ``received`` (locked), the one a new order merges
    into."""
    return session.scalar(
        select(Order)
        .options(selectinload(Order.lines), selectinload(Order.history))
        .where(
            Order.practice_id == practice_id,
            Order.patient_id == patient_id,
            Order.status == S.RECEIVED,
            Order.cancellation_requested == false(),
        )
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(1)
        .with_for_update()
    )


def place(session: Session, actor: Actor, request: OrderRequest, *, force_new: bool) -> Placed:
    """Place a fulfillment order, or merge it into the patient's open ``received`` order
    (unless ``force_new``, or when that order carries a different external id).

    Checks first, writes after: unknown SKUs → ``BadRequest`` naming them; a repeated
    external id → ``Conflict`` naming the order that has it; bad patient, address or
    prescription references → ``ValidationFailed``. A new order is placed through
    ``services.orders.place_order`` (``order.created``); a merge adds lines and emits
    nothing. Prescription products are then matched with the patient's valid
    prescriptions (``prescription_ids`` first).
    """
    resolved = _resolve_products(session, actor.practice_id, request.products)
    if request.external_id is not None:
        holder = _ORDER_BY_EXTERNAL_ID.first(
            session, {"practice_id": actor.practice_id, "external_id": request.external_id}
        )
        if holder is not None:
            holder_id, number = holder
            raise Conflict(
                f"external_id {request.external_id} already belongs to order {number} ({holder_id})"
            )
    patient, created = _patient(session, actor, request.patient)
    _check_prescription_ids(session, actor.practice_id, patient.id, request.prescription_ids)
    address = request.address or _patient_address(patient)
    # A patient created just now has no order yet, let alone an open one.
    target = None if force_new or created else _open_order(session, actor.practice_id, patient.id)
    if target is not None and request.external_id and target.external_id:
        target = None  # each caller id names its own order
    if target is None and address is None:
        raise ValidationFailed(
            [FieldError("address", "Required: the patient has no address on file.")]
        )
    if target is not None:
        _merge(session, actor, target, request, address, resolved)
        _match(session, target, request.prescription_ids)
        audit.record(session, actor, "order.merged", "order", target.id)
        return Placed(target, merged=True)
    assert address is not None
    shipping = request.shipping or Shipping()
    order = order_service.place_order(
        session,
        actor,
        order_service.NewOrder(
            type=_order_type({product.kind for _, product in resolved}),
            status=S.RECEIVED,
            patient_id=patient.id,
            location_id=patient.home_location_id,
            external_id=request.external_id,
            lines=_line_items(resolved),
            shipping_address=address.stored(),
            lab_fields={
                "priority": request.priority_requested,
                "carrier": shipping.carrier,
                "shipping_service_level": shipping.service_level,
                "custom_shipping": request.custom_shipping,
            },
        ),
    )
    if not created:  # a patient created just now has no prescription on file
        _match(session, order, request.prescription_ids)
    return Placed(order, merged=False, patient=patient if created else None)


def written_view(session: Session, placed: Placed) -> OrderView | None:
    """A new order placed with its new patient, as ``reads.orders.view`` would load it now,
    made from the rows just written (``order_views.view_of_written``), so the answer needs
    no read. None for any other order (merged into, or an existing patient's, which another
    transaction may be changing): load that one."""
    order, patient = placed.order, placed.patient
    if placed.merged or patient is None or order.location_id is not None:
        return None
    # ``view_of_written`` reads the patient's seven shown attributes, which a new
    # ``OrderPatient`` carries as written (no ORM object is made for it).
    return view_of_written(session, order, cast(Patient, patient))


def _merge(
    session: Session,
    actor: Actor,
    order: Order,
    request: OrderRequest,
    address: Address | None,
    resolved: list[tuple[ProductLine, Product]],
) -> None:
    now = utcnow()
    added = order_service.add_lines(session, actor, order, _line_items(resolved))
    del added  # written with each product's prescription need (``_line_items``)
    order.patient_balance = order.total - order.amount_paid
    order.type = _order_type({ln.kind for ln in order.lines})
    if request.external_id and not order.external_id:
        order.external_id = request.external_id
    if request.address is not None:
        current = (order.shipping_address or {}).get("id")
        order.shipping_address = request.address.stored(current)
    elif order.shipping_address is None and address is not None:
        order.shipping_address = address.stored()
    if request.custom_shipping is not None:
        order.custom_shipping = request.custom_shipping
    if request.shipping is not None:
        order.carrier = request.shipping.carrier
        order.shipping_service_level = request.shipping.service_level
    order.priority = order.priority or request.priority_requested
    order.updated_at = now
    flush_or_conflict(session, f"external_id {request.external_id} is in use")


# -- prescriptions --------------------------------------------------------------------------


def _match(session: Session, order: Order, preferred: Sequence[uuid.UUID] = ()) -> int:
    """Link each unmatched prescription product of ``order`` to the patient's newest valid
    prescription of the right kind (one of ``preferred`` when one fits). Returns links made."""
    waiting = [ln for ln in order.lines if ln.prescription_required and ln.prescription_id is None]
    if not waiting or order.patient_id is None:
        return 0
    candidates = fulfillment_reads.valid_prescriptions(
        session, order.practice_id, order.patient_id, date.today()
    )
    wanted = set(preferred)
    candidates.sort(key=lambda rx: rx.id not in wanted)  # stable: newest first within each
    linked = 0
    for line in waiting:
        kind = product_reads.PRODUCT_KINDS.get(line.kind)
        fitting = next((rx for rx in candidates if rx.kind == kind), None)
        if fitting is not None:
            line.prescription_id = fitting.id
            linked += 1
    if linked:
        order.updated_at = utcnow()
        session.flush()
    return linked


def match_patient_orders(session: Session, actor: Actor, patient_id: uuid.UUID) -> int:
    """Match the unmatched prescription products of the patient's open orders (not shipped,
    delivered or cancelled) with the patient's valid prescriptions: what runs when a
    prescription is recorded. Returns the links made."""
    orders = session.scalars(
        select(Order)
        .options(selectinload(Order.lines))
        .where(
            Order.practice_id == actor.practice_id,
            Order.patient_id == patient_id,
            Order.status.in_([S.RECEIVED, S.IN_PROGRESS, S.COMPLETED]),
            # Only orders with a prescription product still waiting (most have none).
            select(OrderLine.id)
            .where(
                OrderLine.order_id == Order.id,
                OrderLine.prescription_required == true(),
                OrderLine.prescription_id.is_(None),
            )
            .exists(),
        )
        .order_by(Order.created_at, Order.id)
        .with_for_update()
    ).all()
    return sum(_match(session, order) for order in orders)


def link_prescription(
    session: Session,
    actor: Actor,
    order_id: uuid.UUID,
    line_id: uuid.UUID,
    prescription_id: uuid.UUID,
) -> Order:
    """Link a prescription product of the order to a prescription.

    Raises ``NotFound`` (order or product line), ``Conflict`` (the order is shipped,
    delivered or cancelled; the line is not a prescription product) and ``BadRequest``
    (the prescription is unknown, another patient's, expired or of the wrong kind).
    """
    order = order_service.get_order(session, actor.practice_id, order_id, lock=True)
    now_stage = stage(order.status, order.sub_status)
    if now_stage in CLOSED:
        raise Conflict(f"Order {order.number} is {now_stage}: its products cannot change")
    line = next((ln for ln in order.lines if ln.id == line_id), None)
    if line is None:
        raise NotFound("Product", line_id)
    if not line.prescription_required:
        raise Conflict(
            f"Product {line_id} ({line.sku or line.description}) is not a prescription "
            "product: it needs no prescription"
        )
    prescription = session.scalar(
        select(Prescription).where(
            Prescription.practice_id == actor.practice_id, Prescription.id == prescription_id
        )
    )
    refuse = None
    wanted_kind = product_reads.PRODUCT_KINDS.get(line.kind)
    if prescription is None:
        refuse = f"prescription_id: no prescription {prescription_id} in this practice"
    elif prescription.patient_id != order.patient_id:
        refuse = "prescription_id: the prescription belongs to another patient than the order's"
    elif prescription.expires_on is not None and prescription.expires_on < date.today():
        refuse = f"prescription_id: the prescription expired on {prescription.expires_on}"
    elif wanted_kind is not None and prescription.kind != wanted_kind:
        refuse = (
            f"prescription_id: a {prescription.kind.replace('_', '-')} prescription cannot "
            f"fill {line.sku or line.description}, which needs a "
            f"{wanted_kind.replace('_', '-')} prescription"
        )
    if refuse is not None:
        raise BadRequest(refuse, code="prescription_not_valid", field="prescription_id")
    assert prescription is not None
    line.prescription_id = prescription.id
    order.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "order.prescription_linked",
        "order",
        order.id,
        {"product_id": str(line_id), "prescription_id": str(prescription_id)},
    )
    return order


# -- changes --------------------------------------------------------------------------------


def update_order(
    session: Session,
    actor: Actor,
    order_id: uuid.UUID,
    changes: OrderChanges,
    *,
    update_patient: bool = False,
) -> Order:
    """Change an order's address, external id, custom shipping and shipping.

    Shipping and custom shipping may change only before the order is verified, and nothing
    changes once it has shipped or was cancelled (``Conflict``). A repeated external id is
    a ``Conflict`` naming the order that has it. ``update_patient`` also writes the new
    address to the patient's record.
    """
    order = order_service.get_order(session, actor.practice_id, order_id, lock=True)
    now_stage = stage(order.status, order.sub_status)
    if now_stage in CLOSED:
        raise Conflict(f"Order {order.number} is {now_stage}: it can no longer change")
    shipping_fields = {"shipping", "custom_shipping"} & changes.given
    if shipping_fields and now_stage not in SHIPPING_OPEN:
        raise Conflict(
            f"Order {order.number} is {now_stage}: its shipping can no longer change "
            "(only before it is verified)"
        )
    if "external_id" in changes.given and changes.external_id != order.external_id:
        if changes.external_id is not None:
            holder = fulfillment_reads.order_with_external_id(
                session, actor.practice_id, changes.external_id
            )
            if holder is not None:
                raise Conflict(
                    f"external_id {changes.external_id} already belongs to order "
                    f"{holder.number} ({holder.id})"
                )
        order.external_id = changes.external_id
    if changes.address is not None:
        current = (order.shipping_address or {}).get("id")
        order.shipping_address = changes.address.stored(current)
        if update_patient and order.patient_id is not None:
            patient = get_patient(session, actor.practice_id, order.patient_id)
            patient.address_line1 = changes.address.address_line1
            patient.address_line2 = changes.address.address_line2
            patient.city = changes.address.city
            patient.state = changes.address.state
            patient.postal_code = changes.address.postal_code
            patient.country = changes.address.country
    if "custom_shipping" in changes.given:
        order.custom_shipping = changes.custom_shipping
    if changes.shipping is not None:
        order.carrier = changes.shipping.carrier
        order.shipping_service_level = changes.shipping.service_level
    order.updated_at = utcnow()
    flush_or_conflict(session, f"external_id {changes.external_id} is in use")
    audit.record(
        session, actor, "order.updated", "order", order.id, {"fields": sorted(changes.given)}
    )
    return order


def _set_sub_status(
    session: Session, actor: Actor, order: Order, sub_status: str | None, note: str
) -> None:
    now = utcnow()
    order.sub_status = sub_status
    order.updated_at = now
    order.history.append(
        OrderStatusChange(
            practice_id=order.practice_id,
            from_status=order.status,
            to_status=order.status,
            sub_status=sub_status,
            at=now,
            actor_user_id=actor.user_id,
            actor_client_id=actor.client_id,
            actor_label=actor.label,
            via=actor.via,
            note=note,
        )
    )
    session.flush()
    data = order_service.order_event_data(order) | {"previous_status": order.status}
    record_event(
        session, practice_id=order.practice_id, type="order.status_changed", data=data, at=now
    )
    audit.record(session, actor, f"order.{note}", "order", order.id)


def pause(session: Session, actor: Actor, order_id: uuid.UUID) -> Order:
    """Put an order being worked on (picked or verified) on hold (staff). ``Conflict``
    from any other stage."""
    order = order_service.get_order(session, actor.practice_id, order_id, lock=True)
    now_stage = stage(order.status, order.sub_status)
    if order.status != S.IN_PROGRESS or now_stage == "paused":
        raise Conflict(f"Order {order.number} is {now_stage}: only picked or verified orders pause")
    _set_sub_status(session, actor, order, PAUSED, "paused")
    return order


def unpause(session: Session, actor: Actor, order_id: uuid.UUID) -> Order:
    """Take a paused order off hold: it returns to the sub-step it was paused at.
    ``Conflict`` when it is not paused."""
    order = order_service.get_order(session, actor.practice_id, order_id, lock=True)
    now_stage = stage(order.status, order.sub_status)
    if now_stage != "paused":
        raise Conflict(
            f"Order {order.number} is {now_stage}, not paused: only a paused order unpauses"
        )
    before: str | None = None
    history = list(order.history)
    for index in range(len(history) - 1, -1, -1):
        if history[index].sub_status == PAUSED:
            earlier = history[index - 1] if index > 0 else None
            if earlier is not None and earlier.to_status == S.IN_PROGRESS:
                before = earlier.sub_status
            break
    _set_sub_status(session, actor, order, before if before != PAUSED else None, "unpaused")
    return order


def _announce(session: Session, order: Order, kind: OrderAttention, **extra: Any) -> None:
    """Flush the request and record its event (the order as events carry it, plus the
    caller's ``comments`` or ``reason``) in the same transaction."""
    session.flush()
    data = order_service.order_event_data(order) | extra
    record_event(
        session, practice_id=order.practice_id, type=kind.value, data=data, at=order.updated_at
    )


def request_cancellation(
    session: Session, actor: Actor, order_id: uuid.UUID, comments: str | None
) -> Order:
    """Ask staff to cancel the order (its status does not change). Allowed while it is
    received, picked or verified, once per order; ``Conflict`` otherwise."""
    order = order_service.get_order(session, actor.practice_id, order_id, lock=True)
    now_stage = stage(order.status, order.sub_status)
    if order.cancellation_requested:
        raise Conflict(f"A cancellation of order {order.number} was already requested")
    if now_stage not in CANCELLABLE:
        raise Conflict(
            f"Order {order.number} is {now_stage}: a cancellation can be requested only while "
            f"it is {', '.join(CANCELLABLE)}"
        )
    order.cancellation_requested = True
    order.cancellation_comments = comments
    order.updated_at = utcnow()
    _announce(session, order, OrderAttention.ORDER_CANCELLATION_REQUESTED, comments=comments)
    audit.record(session, actor, "order.cancellation_requested", "order", order.id)
    return order


def request_replacement(session: Session, actor: Actor, order_id: uuid.UUID, reason: str) -> Order:
    """Open a replacement request (``pending``) for a shipped or delivered order. One open
    request at a time; a fulfilled one closes the matter (``Conflict``)."""
    order = order_service.get_order(session, actor.practice_id, order_id, lock=True)
    now_stage = stage(order.status, order.sub_status)
    if order.replacement_request_status in ("pending", "fulfilled"):
        raise Conflict(
            f"Order {order.number} already has a {order.replacement_request_status} "
            "replacement request"
        )
    if now_stage not in REPLACEABLE:
        raise Conflict(
            f"Order {order.number} is {now_stage}: a replacement can be requested once it "
            "has shipped"
        )
    order.replacement_request_status = "pending"
    order.replacement_requested_at = utcnow()
    order.replacement_request_reason = reason
    order.updated_at = order.replacement_requested_at
    _announce(session, order, OrderAttention.ORDER_REPLACEMENT_REQUESTED, reason=reason)
    audit.record(session, actor, "order.replacement_requested", "order", order.id)
    return order


def _pending_request(session: Session, actor: Actor, order_id: uuid.UUID) -> Order:
    order = order_service.get_order(session, actor.practice_id, order_id, lock=True)
    if order.replacement_request_status != "pending":
        raise Conflict(f"Order {order.number} has no pending replacement request")
    return order


def fulfil_replacement(session: Session, actor: Actor, order_id: uuid.UUID) -> Order:
    """Staff fulfil a pending replacement request: a new order (same patient, address,
    products and prescription links, ``original_order_id`` the original, ``replacement_reason``
    the request's) is placed (``order.created``) and the request becomes ``fulfilled``.
    Returns the replacement. ``Conflict`` without a pending request."""
    original = _pending_request(session, actor, order_id)
    replacement = order_service.place_order(
        session,
        actor,
        order_service.NewOrder(
            type=original.type,
            status=S.RECEIVED,
            patient_id=original.patient_id,
            location_id=original.location_id,
            lines=[
                order_service.LineItem(
                    description=ln.description,
                    quantity=ln.quantity,
                    unit_price=ln.unit_price,
                    retail_price=ln.retail_price,
                    tax=ln.tax,
                    kind=ln.kind,
                    sku=ln.sku,
                )
                for ln in original.lines
            ],
            shipping_address=dict(original.shipping_address or {}, id=str(uuid.uuid4()))
            if original.shipping_address
            else None,
            lab_fields={
                "original_order_id": original.id,
                "replacement_reason": original.replacement_request_reason,
                "priority": original.priority,
                "carrier": original.carrier,
                "shipping_service_level": original.shipping_service_level,
            },
        ),
    )
    for new_line, old_line in zip(replacement.lines, original.lines, strict=True):
        new_line.prescription_required = old_line.prescription_required
        new_line.prescription_id = old_line.prescription_id
    original.replacement_request_status = "fulfilled"
    original.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "order.replacement_fulfilled",
        "order",
        original.id,
        {"replacement_order_id": str(replacement.id)},
    )
    return replacement


def decline_replacement(session: Session, actor: Actor, order_id: uuid.UUID) -> Order:
    """Staff decline a pending replacement request (``declined``; a new one may follow)."""
    order = _pending_request(session, actor, order_id)
    order.replacement_request_status = "declined"
    order.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "order.replacement_declined", "order", order.id)
    return order


__all__ = [
    "CANCELLABLE",
    "PAUSED",
    "PICKED_STEPS",
    "STAGES",
    "VERIFIED_STEPS",
    "Address",
    "OrderChanges",
    "OrderRequest",
    "PatientRef",
    "Placed",
    "ProductLine",
    "Shipping",
    "decline_replacement",
    "fulfil_replacement",
    "link_prescription",
    "match_patient_orders",
    "pause",
    "place",
    "request_cancellation",
    "request_replacement",
    "stage",
    "unpause",
    "update_order",
    "written_view",
]
