"""A lab order's life in the core: created (saved as a draft or submitted), and a draft
reviewed, edited, finalized or discarded in the dashboard.

Every change is checked by ``rules`` (the submit rules when the order goes to the lab) and
stored here: the order's lab columns, lens, frame, Rx and shipping address from a
``LabOrderRequest``, and back (``get_draft``: a draft's stored values as the request that
would create it, which is what the dashboard's draft review edits).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from optihub.db.base import utcnow
from optihub.db.models import Order, Patient
from optihub.db.prepared import Prepared
from optihub.domain import rx as rx_rules
from optihub.domain.orders import OrderStatus, OrderType
from optihub.errors import NotFound
from optihub.reads import documents
from optihub.reads import patients as patient_reads
from optihub.reads.catalog import LabAccountView
from optihub.reads.order_views import view_of_written
from optihub.services import audit
from optihub.services.context import Actor
from optihub.services.lab_orders.requests import (
    CatalogRef,
    EyeInput,
    FrameInput,
    LabOrderRequest,
    LensInput,
    MultiPairInput,
    PatientInput,
    PrismInput,
    RedoInput,
    RxInput,
    ShippingInput,
)
from optihub.services.lab_orders.rules import RX_ORDER_TYPE, Checked, validate
from optihub.services.orders import (
    NewOrder,
    change_order_status,
    get_order,
    place_order,
    rx_snapshot,
)
from optihub.services.patients import PatientDetails, write_patient
from optihub.services.prescriptions import record_order_rx


def create_lab_order(
    session: Session, actor: Actor, request: LabOrderRequest, *, submit: bool
) -> Order:
    """Validate a lab order and place it in the actor's practice, in the caller's transaction.

    ``submit``: the order is sent to the lab (canonical status ``received``, the submission
    recorded with the acting user); otherwise it is a draft, finalized later in the
    dashboard. The patient is created, or reused when the practice already has a patient
    with the same first and last name and email (case-insensitive; without an email a new
    patient is always created). Emits ``order.created`` (via ``place_order``) and audits.

    Raises ``ValidationFailed`` with every violation, before anything is written.
    """
    checked, rx = validate(session, actor, request, submit=submit)
    assert request.patient is not None and checked.account is not None
    patient_id, new_patient = _patient_for(session, actor, request.patient)
    now = utcnow()
    lab_fields = _lab_fields(request, checked.account)
    if submit:
        lab_fields |= {"submitted_at": now, "submitted_by_user_id": actor.user_id}
    frame = request.frame
    order = place_order(
        session,
        actor,
        NewOrder(
            type=(
                OrderType.SPECTACLES if request.order_type == RX_ORDER_TYPE else OrderType.OTHER
            ).value,
            status=OrderStatus.RECEIVED if submit else OrderStatus.DRAFT,
            patient_id=patient_id,
            rx=rx,
            multifocal=True,
            lens=checked.lens,
            frame_details=_frame_details(frame) if frame is not None else None,
            frame_tracing=frame.tracing if frame is not None else None,
            shipping_address=_shipping(request.shipping),
            lab_fields=lab_fields,
            created_at=now,
        ),
    )
    if submit:
        prescription_id = _rx_on_file(
            session, actor, order, rx, new_patient=new_patient is not None
        )
        if prescription_id is not None:
            # The order, written just now, points to it: one prepared UPDATE rather than
            # the unit of work's at the commit's flush, with the same columns (the id and
            # ``updated_at``, the model's ``onupdate``: the order's creation time, as this
            # is part of creating it). The object is told both as though it had read them.
            _SET_PRESCRIPTION.defer(
                session,
                {
                    "rx_id": prescription_id,
                    "now": now,
                    "order_id": order.id,
                    "practice": actor.practice_id,
                },
            )
            set_committed_value(order, "prescription_id", prescription_id)
            set_committed_value(order, "updated_at", now)
    if new_patient is not None and order.location_id is None:
        # Made from the rows just written, the commit stores the order's documents from it
        # rather than reading the order back. Only for a patient written here: another
        # transaction may be changing an existing one, which the commit must read as it is.
        view = view_of_written(session, order, cast(Patient, SimpleNamespace(**new_patient)))
        documents.keep_view(session, actor.practice_id, view)
    return order


_ORDERS = cast(Table, Order.__table__)
_SET_PRESCRIPTION = Prepared(
    update(_ORDERS)
    .where(_ORDERS.c.id == bindparam("order_id"), _ORDERS.c.practice_id == bindparam("practice"))
    .values(prescription_id=bindparam("rx_id"), updated_at=bindparam("now"))
)


def _put_rx_on_file(
    session: Session, actor: Actor, order: Order, rx: rx_rules.SpectacleRx | None
) -> None:
    """A submitted order's Rx becomes (or finds) the patient's prescription on file, which
    the order then points to: what the lab makes is what reads back as the patient's Rx."""
    prescription_id = _rx_on_file(session, actor, order, rx)
    if prescription_id is not None:
        order.prescription_id = prescription_id


def _rx_on_file(
    session: Session,
    actor: Actor,
    order: Order,
    rx: rx_rules.SpectacleRx | None,
    *,
    new_patient: bool = False,
) -> uuid.UUID | None:
    """The submitted order's Rx on file for its patient (``record_order_rx``), or None when
    the order has no Rx to keep."""
    if rx is None or order.patient_id is None or (rx.right is None and rx.left is None):
        return None
    written = (order.submitted_at or utcnow()).date()
    return record_order_rx(
        session,
        actor,
        patient_id=order.patient_id,
        rx=rx,
        written_on=written,
        order_number=order.number,
        new_patient=new_patient,
    )


# -- stored values shared by creating and finalizing -------------------------------------


def _frame_details(frame: FrameInput) -> dict[str, Any]:
    """The frame as stored on the order (canonical keys, exact decimals as strings)."""

    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        "handling": frame.handling,
        "brand": frame.manufacturer,
        "model": frame.model,
        "color": frame.color,
        "sku": frame.sku,
        "material": frame.material,
        "eye_size": frame.eye_size,
        "bridge": frame.bridge,
        "temple": frame.temple,
        "a": text(frame.a),
        "b": text(frame.b),
        "ed": text(frame.lens_ed),
        "vertex": text(frame.vertex),
        "pantoscopic_tilt": text(frame.pantoscopic_tilt),
        "wrap": text(frame.wrap),
    }


def _shipping(shipping: ShippingInput | None) -> dict[str, Any] | None:
    if shipping is None:
        return None
    return {
        "name": shipping.name,
        "address_line1": shipping.address_line1,
        "address_line2": shipping.address_line2,
        "city": shipping.city,
        "state": shipping.state,
        "country": shipping.country or "US",
        "postal_code": shipping.postal_code,
    }


def _patient_for(
    session: Session, actor: Actor, given: PatientInput
) -> tuple[uuid.UUID, dict[str, Any] | None]:
    """The practice's patient with the same names and email, or a new one (its row, as
    written: ``write_patient``).

    Both are single statements (``db.prepared``: no autoflush, no ORM object): a patient
    written anywhere is flushed at once (by create_patient, add_patient, update_patient and
    here), so none is pending when it is looked for."""
    assert given.first_name is not None and given.last_name is not None
    first, last = given.first_name.strip(), given.last_name.strip()
    email = given.email.strip().lower() if given.email else None
    if email is not None:
        found = patient_reads.same_person(
            session, actor.practice_id, first.lower(), last.lower(), email
        )
        if found is not None:
            return found, None
    row = _add_patient(session, actor, first, last, email, given.phone_number)
    return row["id"], row


def _add_patient(
    session: Session,
    actor: Actor,
    first: str,
    last: str,
    email: str | None,
    phone_number: str | None,
) -> dict[str, Any]:
    """The lab order's patient, new: ``services.patients.write_patient`` (its rules, row
    and audit entry, as prepared INSERTs). Its row, as written."""
    details = PatientDetails(first_name=first, last_name=last, email=email, phone=phone_number)
    return write_patient(session, actor, details)


def _lab_fields(request: LabOrderRequest, account: LabAccountView) -> dict[str, Any]:
    """The order's lab-submission columns (redo and multi-pair ones cleared when absent)."""
    redo, multi = request.redo_data, request.multi_pair_data
    return {
        "lab_id": account.lab_id,
        "lab_account_number": account.account_number,
        "lab_order_type": request.order_type,
        "submission_type": request.submission_type,
        "mounting_option": request.mounting_option,
        "lab_services": list(request.services) if request.services else None,
        "special_instructions": request.special_instructions,
        "redo_type": redo.type if redo is not None else None,
        "redo_reason": redo.reason if redo is not None else None,
        "redo_reference": redo.reference if redo is not None else None,
        "multi_pair_reference": multi.reference if multi is not None else None,
    }


# -- drafts: reviewed, edited, finalized or discarded in the dashboard ---------------------


@dataclass(frozen=True)
class Draft:
    """A draft lab order and its stored values as the request that would create it."""

    order: Order
    request: LabOrderRequest


def get_draft(
    session: Session, practice_id: int, order_id: uuid.UUID, *, lock: bool = False
) -> Draft:
    """The practice's draft lab order (locked for a change when ``lock``).

    A missing order, another practice's, and one that is no longer a draft are all
    ``NotFound``: only drafts are reviewed.
    """
    try:
        order = get_order(session, practice_id, order_id, lock=lock)
    except NotFound:
        raise NotFound("Draft order", order_id) from None
    if order.status != OrderStatus.DRAFT.value:
        raise NotFound("Draft order", order_id)
    patient = session.get(Patient, order.patient_id) if order.patient_id is not None else None
    return Draft(order, _stored_request(order, patient))


def update_draft(
    session: Session, actor: Actor, order_id: uuid.UUID, request: LabOrderRequest
) -> Order:
    """Replace a draft's values with ``request``, checked by the draft rules (those of
    ``POST /v1/orders`` with ``mode: draft``), in the caller's transaction.

    Raises ``NotFound`` (see ``get_draft``) and ``ValidationFailed`` with every violation,
    before anything is written. A changed patient is found or created as on creation.
    Emits no event (drafts are not announced until submitted); audits ``order.draft_updated``.
    """
    draft = get_draft(session, actor.practice_id, order_id, lock=True)
    checked, rx = validate(session, actor, request, submit=False)
    _store(session, actor, draft, request, checked, rx)
    audit.record(session, actor, "order.draft_updated", "order", draft.order.id)
    return draft.order


def submit_draft(
    session: Session,
    actor: Actor,
    order_id: uuid.UUID,
    request: LabOrderRequest | None = None,
) -> Order:
    """Finalize a draft: check ``request`` (the stored values when None) with the submit
    rules, store it, record the submission (now, the acting user) and move the order
    draft → received, in the caller's transaction.

    Raises ``NotFound`` and ``ValidationFailed`` (every violation, nothing written). Emits
    ``order.status_changed`` and records the change in the history (via
    ``change_order_status``).
    """
    draft = get_draft(session, actor.practice_id, order_id, lock=True)
    request = request if request is not None else draft.request
    checked, rx = validate(session, actor, request, submit=True)
    _store(session, actor, draft, request, checked, rx)
    draft.order.submitted_at = utcnow()
    draft.order.submitted_by_user_id = actor.user_id
    _put_rx_on_file(session, actor, draft.order, rx)
    return change_order_status(session, actor, draft.order.id, OrderStatus.RECEIVED).order


def discard_draft(session: Session, actor: Actor, order_id: uuid.UUID) -> Order:
    """Cancel a draft (draft → cancelled) in the caller's transaction. Raises ``NotFound``;
    emits ``order.status_changed`` and records the change in the history."""
    draft = get_draft(session, actor.practice_id, order_id, lock=True)
    return change_order_status(session, actor, draft.order.id, OrderStatus.CANCELLED).order


def _store(
    session: Session,
    actor: Actor,
    draft: Draft,
    request: LabOrderRequest,
    checked: Checked,
    rx: rx_rules.SpectacleRx | None,
) -> None:
    assert request.patient is not None and checked.account is not None
    order = draft.order
    if request.patient != draft.request.patient or order.patient_id is None:
        order.patient_id = _patient_for(session, actor, request.patient)[0]
    for name, value in _lab_fields(request, checked.account).items():
        setattr(order, name, value)
    order.type = (
        OrderType.SPECTACLES if request.order_type == RX_ORDER_TYPE else OrderType.OTHER
    ).value
    order.rx_snapshot = rx_snapshot(rx) if rx is not None else None
    order.lens = checked.lens if request.lens is not None else None
    frame = request.frame
    order.frame_details = _frame_details(frame) if frame is not None else None
    order.frame_tracing = frame.tracing if frame is not None else None
    order.shipping_address = _shipping(request.shipping)
    order.updated_at = utcnow()
    session.flush()


def _stored_request(order: Order, patient: Patient | None) -> LabOrderRequest:
    """An order's stored values as the request that would create it (catalog ids kept)."""

    def number(value: Any) -> Decimal | None:
        return None if value is None else Decimal(str(value))

    def ref(value: Any) -> CatalogRef | None:
        return None if value is None else CatalogRef(str(value), uuid.UUID(str(value)))

    def prism(stored: dict[str, Any] | None) -> PrismInput | None:
        if stored is None:
            return None
        return PrismInput(number(stored.get("amount")), stored.get("base") or None)

    def eye(stored: dict[str, Any] | None) -> EyeInput | None:
        if stored is None:
            return None
        return EyeInput(
            sphere=number(stored.get("sphere")),
            pd=number(stored.get("distance_pd")),
            near_pd=number(stored.get("near_pd")),
            cylinder=number(stored.get("cylinder")),
            axis=stored.get("axis"),
            add=number(stored.get("add")),
            seg_height=number(stored.get("seg_height")),
            oc_height=number(stored.get("oc_height")),
            horizontal_prism=prism(stored.get("prism_horizontal")),
            vertical_prism=prism(stored.get("prism_vertical")),
        )

    lens, frame, rx = order.lens, order.frame_details, order.rx_snapshot
    shipping = order.shipping_address
    redo = (order.redo_type, order.redo_reason, order.redo_reference)
    return LabOrderRequest(
        submission_type=order.submission_type,
        order_type=order.lab_order_type,
        lab=ref(order.lab_id),
        account_number=order.lab_account_number,
        patient=(
            PatientInput(patient.first_name, patient.last_name, patient.email, patient.phone)
            if patient is not None
            else None
        ),
        mounting_option=order.mounting_option,
        lens=(
            LensInput(
                style=ref(lens.get("style_id")),
                material=ref(lens.get("material_id")),
                color=ref(lens.get("color_id")),
                coats=tuple(CatalogRef(c, uuid.UUID(c)) for c in lens.get("coat_ids") or ()),
                tint=lens.get("tint"),
                tint_instruction=lens.get("tint_instruction"),
            )
            if lens is not None
            else None
        ),
        frame=(
            FrameInput(
                handling=frame.get("handling"),
                manufacturer=frame.get("brand"),
                model=frame.get("model"),
                color=frame.get("color"),
                sku=frame.get("sku"),
                material=frame.get("material"),
                eye_size=frame.get("eye_size"),
                bridge=frame.get("bridge"),
                temple=frame.get("temple"),
                a=number(frame.get("a")),
                b=number(frame.get("b")),
                lens_ed=number(frame.get("ed")),
                vertex=number(frame.get("vertex")),
                pantoscopic_tilt=number(frame.get("pantoscopic_tilt")),
                wrap=number(frame.get("wrap")),
                tracing=order.frame_tracing,
            )
            if frame is not None
            else None
        ),
        rx=(
            RxInput(right_eye=eye(rx.get("right")), left_eye=eye(rx.get("left")))
            if rx is not None
            else None
        ),
        services=tuple(order.lab_services) if order.lab_services else None,
        special_instructions=order.special_instructions,
        redo_data=RedoInput(*redo) if any(v is not None for v in redo) else None,
        multi_pair_data=(
            MultiPairInput(order.multi_pair_reference)
            if order.multi_pair_reference is not None
            else None
        ),
        shipping=(
            ShippingInput(**{k: shipping.get(k) for k in ShippingInput.__dataclass_fields__})
            if shipping is not None
            else None
        ),
    )
