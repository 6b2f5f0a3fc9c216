"""Lab orders: an Rx job a practice sends to a lab (the lab-order surface's POST /v1/orders).

The rules are the lab-order contract's (docs/surfaces/labs.md): Rx and frame ranges come
from ``domain.rx``, the OMA tracing is parsed with ``domain.oma``, and what the lab offers
(its catalog) and what the practice's account allows (its order settings) are read here.
Every violation is collected, with its path in the contract's names (``rx.right_eye.axis``,
``frame.temple``, ``lens.style``...), and raised together as one ``ValidationFailed``
before anything is written.

Draft orders relax only the rules that hold "when submitting" (the lens, and the frame
fields a lab needs to make the job); ranges, enums and pairings always apply.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import LensAddon, LensMaterial, Order, Patient
from optihub.domain import oma
from optihub.domain import rx as rx_rules
from optihub.domain.orders import OrderStatus, OrderType
from optihub.errors import FieldError, NotFound, ValidationFailed
from optihub.reads import catalog
from optihub.reads.catalog import LabAccountView
from optihub.services import audit
from optihub.services.context import Actor
from optihub.services.orders import (
    NewOrder,
    change_order_status,
    get_order,
    place_order,
    rx_snapshot,
)
from optihub.services.patients import PatientDetails, create_patient
from optihub.services.users import EMAIL_RE

SUBMISSION_TYPES = ("new", "redo", "multi_pair")
RX_ORDER_TYPE = "rx"  # every lab takes Rx jobs, whatever its settings list
FRAME_MATERIALS = (
    "three_d_printed",
    "carbon_fiber",
    "drilled_and_grooved_rimless",
    "drilled_rimless",
    "grooved_industrial_safety",
    "grooved_rimless",
    "high_wrap",
    "horn",
    "industrial_safety",
    "leather",
    "metal",
    "metal_grooved",
    "step_shelf_bevel",
    "wood",
    "zyl",
)
# US states, DC and the territories (USPS codes).
US_STATES = frozenset(
    (
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "DC",
        "AS",
        "GU",
        "MP",
        "PR",
        "VI",
        "UM",
    )
)
ZIP_RE = re.compile(r"^\d{5}(-\d{4})?$")
# Frame fields a lab needs to make the job (the vendor's required frame keys): on submit.
FRAME_REQUIRED_ON_SUBMIT = ("handling", "manufacturer", "model", "material", "color")
FRAME_SIZES_REQUIRED_ON_SUBMIT = ("eye_size", "bridge")

# Domain Rx paths → the contract's names.
_SIDE = {"right": "right_eye", "left": "left_eye"}
_EYE_FIELD = {
    "distance_pd": "pd",
    "prism_horizontal": "horizontal_prism",
    "prism_vertical": "vertical_prism",
}
_PRISM_FIELD = {"amount": "power", "base": "direction"}
_FRAME_FIELD = {"ed": "lens_ed"}


@dataclass(frozen=True)
class CatalogRef:
    """A catalog id as sent (``raw``) and the row it names (None: not an id of that kind)."""

    raw: str
    id: uuid.UUID | None


@dataclass(frozen=True)
class PatientInput:
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone_number: str | None = None


@dataclass(frozen=True)
class PrismInput:
    power: Decimal | None = None
    direction: str | None = None


@dataclass(frozen=True)
class EyeInput:
    sphere: Decimal | None = None
    pd: Decimal | None = None
    near_pd: Decimal | None = None
    cylinder: Decimal | None = None
    axis: int | None = None
    add: Decimal | None = None
    seg_height: Decimal | None = None
    oc_height: Decimal | None = None
    horizontal_prism: PrismInput | None = None
    vertical_prism: PrismInput | None = None


@dataclass(frozen=True)
class RxInput:
    right_eye: EyeInput | None = None
    left_eye: EyeInput | None = None


@dataclass(frozen=True)
class LensInput:
    style: CatalogRef | None = None
    material: CatalogRef | None = None
    color: CatalogRef | None = None
    coats: tuple[CatalogRef, ...] = ()
    tint: str | None = None
    tint_instruction: str | None = None


@dataclass(frozen=True)
class FrameInput:
    handling: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    color: str | None = None
    sku: str | None = None
    material: str | None = None
    eye_size: int | None = None
    bridge: int | None = None
    temple: int | None = None
    a: Decimal | None = None
    b: Decimal | None = None
    lens_ed: Decimal | None = None
    vertex: Decimal | None = None
    pantoscopic_tilt: Decimal | None = None
    wrap: Decimal | None = None
    tracing: str | None = None


@dataclass(frozen=True)
class RedoInput:
    type: str | None = None
    reason: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class MultiPairInput:
    reference: str | None = None


@dataclass(frozen=True)
class ShippingInput:
    name: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    postal_code: str | None = None


@dataclass(frozen=True)
class LabOrderRequest:
    """A lab order as the order-entry tool sent it (plain values, nothing checked yet)."""

    submission_type: str | None = None
    order_type: str | None = None
    lab: CatalogRef | None = None
    account_number: str | None = None
    patient: PatientInput | None = None
    mounting_option: str | None = None
    lens: LensInput | None = None
    frame: FrameInput | None = None
    rx: RxInput | None = None
    services: tuple[str, ...] | None = None
    special_instructions: str | None = None
    redo_data: RedoInput | None = None
    multi_pair_data: MultiPairInput | None = None
    shipping: ShippingInput | None = None


@dataclass
class _Checked:
    """What validation resolved on the way (the account, the catalog names)."""

    account: LabAccountView | None = None
    lens: dict[str, Any] | None = None
    errors: list[FieldError] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))


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
    checked, rx = _validated(session, actor, request, submit=submit)
    assert request.patient is not None and checked.account is not None
    patient = _patient_for(session, actor, request.patient)
    now = utcnow()
    lab_fields = _lab_fields(request, checked.account)
    if submit:
        lab_fields |= {"submitted_at": now, "submitted_by_user_id": actor.user_id}
    frame = request.frame
    return place_order(
        session,
        actor,
        NewOrder(
            type=(
                OrderType.SPECTACLES if request.order_type == RX_ORDER_TYPE else OrderType.OTHER
            ).value,
            status=OrderStatus.RECEIVED if submit else OrderStatus.DRAFT,
            patient_id=patient.id,
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


# -- the rules ------------------------------------------------------------------------------


def _check_basics(
    session: Session, actor: Actor, request: LabOrderRequest, checked: _Checked, *, submit: bool
) -> None:
    add = checked.add
    if request.submission_type is None:
        add("submission_type", "Submission type is required.")
    elif request.submission_type not in SUBMISSION_TYPES:
        add("submission_type", f"Submission type must be one of: {', '.join(SUBMISSION_TYPES)}.")
    _check_lab(session, actor, request, checked)
    account = checked.account
    order_types = (
        (RX_ORDER_TYPE, *(t for t in account.order_types if t != RX_ORDER_TYPE))
        if (account)
        else (RX_ORDER_TYPE,)
    )
    is_rx = request.order_type == RX_ORDER_TYPE
    if request.order_type is None:
        add("order_type", "Order type is required.")
    elif account is not None and request.order_type not in order_types:
        add("order_type", _one_of("Order type", order_types))
    _check_patient(request.patient, add)
    if request.mounting_option is None:
        if is_rx:
            add("mounting_option", "Mounting option is required when the order type is rx.")
    elif account is not None and request.mounting_option not in account.mounting_options:
        add("mounting_option", _one_of("Mounting option", account.mounting_options))
    if request.lens is not None:
        _check_lens(session, request.lens, checked)
    elif is_rx and submit:
        add("lens", "Lens is required when the order type is rx and the order is submitted.")
    if request.frame is None:
        add("frame", "Frame is required.")
    else:
        _check_frame(request.frame, account, add, submit=submit)
    if request.rx is None and is_rx:
        add("rx", "Rx is required when the order type is rx.")
    for index, service in enumerate(request.services or ()):
        if account is not None and service not in account.services:
            add(f"services.{index}", _one_of("Service", account.services))
    _max_length(
        add, "special_instructions", "Special instructions", request.special_instructions, 1000
    )
    _check_redo(request, account, add)
    if request.shipping is not None:
        _check_shipping(request.shipping, add)


def _check_lab(session: Session, actor: Actor, request: LabOrderRequest, checked: _Checked) -> None:
    if request.lab is None:
        checked.add("lab", "Lab is required.")
    if request.account_number is None or not request.account_number.strip():
        checked.add("account_number", "Account number is required.")
    if request.lab is None or request.account_number is None:
        return
    accounts = [
        a for a in catalog.lab_accounts(session, actor.practice_id) if a.lab_id == request.lab.id
    ]
    if not accounts:
        checked.add("lab", f"No lab {request.lab.raw} among this practice's labs (GET /v1/labs).")
        return
    checked.account = next(
        (a for a in accounts if a.account_number == request.account_number), None
    )
    if checked.account is None:
        checked.add(
            "account_number",
            f"This practice has no account {request.account_number} with that lab.",
        )


def _check_patient(patient: PatientInput | None, add: Any) -> None:
    if patient is None:
        add("patient", "Patient is required.")
        return
    for name, label in (("first_name", "First name"), ("last_name", "Last name")):
        value = getattr(patient, name)
        if value is None or not value.strip():
            add(f"patient.{name}", f"{label} is required.")
        else:
            _max_length(add, f"patient.{name}", label, value, 50)
    if patient.email is not None and (
        len(patient.email) > 254 or not EMAIL_RE.match(patient.email)
    ):
        add("patient.email", "Email must be a valid email address.")
    # The vendor's only rule for a phone: at most 20 characters (any format, any country).
    _max_length(add, "patient.phone_number", "Phone number", patient.phone_number, 20)


def _check_lens(session: Session, lens: LensInput, checked: _Checked) -> None:
    add = checked.add
    account = checked.account
    for name in ("style", "material", "color"):
        if getattr(lens, name) is None:
            add(f"lens.{name}", f"Lens {name} is required.")
    if lens.tint is not None and (
        lens.tint_instruction is None or not lens.tint_instruction.strip()
    ):
        add("lens.tint_instruction", "Tint instruction is required when a tint is given.")
    _max_length(add, "lens.tint_instruction", "Tint instruction", lens.tint_instruction, 250)
    if account is None:
        return  # the catalog is the lab's: nothing to check it against
    lab_id = account.lab_id
    style = lens.style
    lens_type = None
    if style is not None:
        lens_type = (
            catalog.style_lens_type(session, lab_id, style.id) if style.id is not None else None
        )
        if lens_type is None:
            add("lens.style", f"No lens style {style.raw} at this lab (GET /v1/catalogs/styles).")
    known_style = style.id if style is not None and lens_type is not None else None
    material = lens.material
    material_ok = False
    if material is not None and known_style is not None:
        material_ok = material.id is not None and catalog.offers_material(
            session, lab_id, known_style, material.id
        )
        if not material_ok:
            add(
                "lens.material",
                f"The lab offers no material {material.raw} for this style"
                " (GET /v1/catalogs/materials).",
            )
    elif material is not None and not _lab_has_material(session, lab_id, material.id):
        add(
            "lens.material",
            f"The lab offers no material {material.raw} (GET /v1/catalogs/materials).",
        )
    # Colours, coats and the tint are judged whatever happened to the style and material:
    # against what the lab offers for both when they are known, otherwise against what it
    # offers at all (for the style, when that is known), so no violation waits for a retry.
    if material_ok:
        assert known_style is not None and material is not None and material.id is not None
        offered = catalog.addons(session, lab_id, known_style, material.id)
        where = "for this style and material"
    else:
        offered = _addons_with_any_material(session, lab_id, known_style)
        where = "for this style" if known_style is not None else "at this lab"
    colors = {c.id: c.name for c in offered.colors}
    coats = {coat_id: name for coat_id, name, _ in offered.coats}
    if lens.color is not None and lens.color.id not in colors:
        add("lens.color", f"No color {lens.color.raw} {where} (GET /v1/catalogs/addons).")
    for index, coat in enumerate(lens.coats):
        if coat.id not in coats:
            add(f"lens.coats.{index}", f"No coat {coat.raw} {where} (GET /v1/catalogs/addons).")
    if lens.tint is not None and lens.tint not in offered.tints:
        add("lens.tint", _one_of("Tint", offered.tints))
    if material_ok:
        checked.lens = _lens_choice(session, lens, lab_id, lens_type, colors, coats)


def _lab_has_material(session: Session, lab_id: uuid.UUID, material_id: uuid.UUID | None) -> bool:
    """Whether the lab has that lens material, for any of its styles."""
    if material_id is None:
        return False
    found = session.scalar(
        select(LensMaterial.id).where(LensMaterial.lab_id == lab_id, LensMaterial.id == material_id)
    )
    return found is not None


def _addons_with_any_material(
    session: Session, lab_id: uuid.UUID, style_id: uuid.UUID | None
) -> catalog.Addons:
    """What the lab offers with some material: for that style, or with any style when it is
    None (the catalog's drill-down, ``catalog.addons``, needs both)."""
    query = select(LensAddon.id, LensAddon.kind, LensAddon.name, LensAddon.coat_type).where(
        LensAddon.lab_id == lab_id
    )
    if style_id is not None:
        query = query.where(or_(LensAddon.style_id.is_(None), LensAddon.style_id == style_id))
    rows = session.execute(query.order_by(LensAddon.kind, LensAddon.name)).all()
    return catalog.Addons(
        coats=tuple((r.id, r.name, r.coat_type) for r in rows if r.kind == "coat"),
        colors=tuple(catalog.CatalogItem(r.id, r.name) for r in rows if r.kind == "color"),
        tints=tuple(dict.fromkeys(r.name for r in rows if r.kind == "tint")),
    )


def _lens_choice(
    session: Session,
    lens: LensInput,
    lab_id: uuid.UUID,
    lens_type: str | None,
    colors: dict[uuid.UUID, str],
    coats: dict[uuid.UUID, str],
) -> dict[str, Any]:
    """The lens as stored on the order: names (what partners read) and catalog ids."""
    assert lens.style is not None and lens.style.id is not None
    assert lens.material is not None and lens.material.id is not None
    style_names = {s.id: s.name for s in catalog.styles(session, lab_id)}
    material_names = {m.id: m.name for m in catalog.materials(session, lab_id, lens.style.id)}
    color_id = lens.color.id if lens.color is not None else None
    return {
        "lens_type": lens_type,
        "style": style_names.get(lens.style.id),
        "style_id": str(lens.style.id),
        "material": material_names.get(lens.material.id),
        "material_id": str(lens.material.id),
        "color": colors.get(color_id) if color_id is not None else None,
        "color_id": str(color_id) if color_id is not None else None,
        "coats": [coats[c.id] for c in lens.coats if c.id is not None and c.id in coats],
        "coat_ids": [str(c.id) for c in lens.coats],
        "tint": lens.tint,
        "tint_instruction": lens.tint_instruction,
    }


def _check_frame(
    frame: FrameInput, account: LabAccountView | None, add: Any, *, submit: bool
) -> None:
    if submit:
        for name in FRAME_REQUIRED_ON_SUBMIT + FRAME_SIZES_REQUIRED_ON_SUBMIT:
            value = getattr(frame, name)
            if value is None or (isinstance(value, str) and not value.strip()):
                add(f"frame.{name}", f"Frame {name.replace('_', ' ')} is required to submit.")
    if (
        frame.handling is not None
        and account is not None
        and frame.handling not in account.frame_handling_options
    ):
        add("frame.handling", _one_of("Frame handling", account.frame_handling_options))
    for name in ("manufacturer", "model", "color", "sku"):
        _max_length(add, f"frame.{name}", f"Frame {name}", getattr(frame, name), 50)
    if frame.material is not None and frame.material not in FRAME_MATERIALS:
        add("frame.material", _one_of("Frame material", FRAME_MATERIALS))
    measured = rx_rules.FrameMeasurements(
        eye_size=_decimal(frame.eye_size),
        bridge=_decimal(frame.bridge),
        a=frame.a,
        b=frame.b,
        ed=frame.lens_ed,
        temple=_decimal(frame.temple),
        vertex=frame.vertex,
        pantoscopic_tilt=frame.pantoscopic_tilt,
        wrap=frame.wrap,
    )
    for violation in rx_rules.validate_frame_measurements(measured):
        prefix, _, name = violation.field.partition(".")
        add(f"{prefix}.{_FRAME_FIELD.get(name, name)}", violation.message)
    if frame.tracing is not None:
        _check_tracing(frame.tracing, add)


def _check_tracing(text: str, add: Any) -> None:
    try:
        document = oma.parse(text)
    except oma.OmaFormatError as error:
        add("frame.tracing", f"The OMA tracing is not valid: {error}")
        return
    if not document.trace_blocks():
        add("frame.tracing", "The OMA tracing has no TRCFMT trace record.")


def _check_redo(request: LabOrderRequest, account: LabAccountView | None, add: Any) -> None:
    redo, multi = request.redo_data, request.multi_pair_data
    if request.submission_type == "redo" and redo is None:
        add("redo_data", "Redo data is required when the submission type is redo.")
    elif redo is not None and request.submission_type != "redo":
        add("redo_data", "Redo data is only for orders whose submission type is redo.")
    if redo is not None:
        if redo.type is not None and account is not None and redo.type not in account.redo_types:
            add("redo_data.type", _one_of("Redo type", account.redo_types))
        if redo.reason is None or not redo.reason.strip():
            add("redo_data.reason", "Redo reason is required.")
        _max_length(add, "redo_data.reason", "Redo reason", redo.reason, 250)
        _reference(add, "redo_data.reference", redo.reference)
    if request.submission_type == "multi_pair" and multi is None:
        add(
            "multi_pair_data", "Multi-pair data is required when the submission type is multi_pair."
        )
    elif multi is not None and request.submission_type != "multi_pair":
        add("multi_pair_data", "Multi-pair data is only for multi_pair orders.")
    if multi is not None:
        _reference(add, "multi_pair_data.reference", multi.reference)


def _reference(add: Any, path: str, value: str | None) -> None:
    if value is None or not value.strip():
        add(path, "Reference is required: the invoice, tray or Rx number of the earlier order.")
    else:
        _max_length(add, path, "Reference", value, 100)


def _check_shipping(shipping: ShippingInput, add: Any) -> None:
    for name, label in (
        ("address_line1", "Address line 1"),
        ("city", "City"),
        ("state", "State"),
        ("postal_code", "Postal code"),
    ):
        value = getattr(shipping, name)
        if value is None or not value.strip():
            add(f"shipping.{name}", f"{label} is required in a shipping address.")
    _max_length(add, "shipping.name", "Name", shipping.name, 50)
    for name in ("address_line1", "address_line2", "city"):
        _max_length(
            add,
            f"shipping.{name}",
            name.replace("_", " ").capitalize(),
            getattr(shipping, name),
            100,
        )
    if shipping.state is not None and shipping.state.strip() and shipping.state not in US_STATES:
        add("shipping.state", "State must be a 2-letter US state or territory code, e.g. CA.")
    if shipping.country is not None and shipping.country != "US":
        add("shipping.country", "Country must be US (the only country labs ship to).")
    if (
        shipping.postal_code is not None
        and shipping.postal_code.strip()
        and not ZIP_RE.match(shipping.postal_code)
    ):
        add("shipping.postal_code", "Postal code must be a US ZIP code: 12345 or 12345-6789.")


def _one_of(label: str, allowed: Sequence[str]) -> str:
    if not allowed:
        return f"{label}: the lab account lists no options for it."
    return f"{label} must be one of: {', '.join(allowed)}."


def _max_length(add: Any, path: str, label: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        add(path, f"{label} must be at most {limit} characters.")


# -- translations ---------------------------------------------------------------------------


def _decimal(value: int | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _eye(eye: EyeInput | None) -> rx_rules.EyeRx | None:
    if eye is None:
        return None

    def prism(p: PrismInput | None) -> rx_rules.Prism | None:
        # A missing power or direction is a violation the domain reports.
        return None if p is None else rx_rules.Prism(p.power, p.direction or "")  # type: ignore[arg-type]

    return rx_rules.EyeRx(
        sphere=eye.sphere,
        cylinder=eye.cylinder,
        axis=eye.axis,
        add=eye.add,
        prism_horizontal=prism(eye.horizontal_prism),
        prism_vertical=prism(eye.vertical_prism),
        distance_pd=eye.pd,
        near_pd=eye.near_pd,
        seg_height=eye.seg_height,
        oc_height=eye.oc_height,
    )


def _spectacle_rx(rx: RxInput) -> rx_rules.SpectacleRx:
    return rx_rules.SpectacleRx(right=_eye(rx.right_eye), left=_eye(rx.left_eye))


def _rx_path(path: str) -> str:
    """``right.prism_horizontal.amount`` → ``rx.right_eye.horizontal_prism.power``."""
    if path == "rx":
        return path
    side, *rest = path.split(".")
    names = [_SIDE.get(side, side)]
    if rest:
        names.append(_EYE_FIELD.get(rest[0], rest[0]))
    names += [_PRISM_FIELD.get(name, name) for name in rest[1:]]
    return "rx." + ".".join(names)


def _rx_message(violation: rx_rules.RxViolation) -> str:
    if ".prism_" in violation.field:
        return violation.message.replace("Prism amount", "Prism power").replace(
            "Prism base", "Prism direction"
        )
    if violation.field == "rx":
        return "At least one eye (right_eye or left_eye) is required."
    return violation.message.replace("Distance PD", "PD")


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


def _patient_for(session: Session, actor: Actor, given: PatientInput) -> Patient:
    """The practice's patient with the same names and email, or a new one."""
    assert given.first_name is not None and given.last_name is not None
    first, last = given.first_name.strip(), given.last_name.strip()
    email = given.email.strip().lower() if given.email else None
    if email is not None:
        found = session.scalar(
            select(Patient)
            .where(
                Patient.practice_id == actor.practice_id,
                func.lower(Patient.last_name) == last.lower(),
                func.lower(Patient.first_name) == first.lower(),
                func.lower(Patient.email) == email,
            )
            .order_by(Patient.created_at.desc(), Patient.id)
            .limit(1)
        )
        if found is not None:
            return found
    return create_patient(
        session,
        actor,
        PatientDetails(first_name=first, last_name=last, email=email, phone=given.phone_number),
    )


# -- validation and stored values shared by creating and finalizing ------------------------


def _validated(
    session: Session, actor: Actor, request: LabOrderRequest, *, submit: bool
) -> tuple[_Checked, rx_rules.SpectacleRx | None]:
    """Every rule (the submit rules when ``submit``); raises ``ValidationFailed`` with all
    violations. Reads only: nothing is written."""
    checked = _Checked()
    _check_basics(session, actor, request, checked, submit=submit)
    rx = _spectacle_rx(request.rx) if request.rx is not None else None
    if rx is not None:
        for violation in rx_rules.validate_spectacle_rx(rx, multifocal=True):
            checked.add(_rx_path(violation.field), _rx_message(violation))
    if checked.errors:
        raise ValidationFailed(checked.errors)
    return checked, rx


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
    checked, rx = _validated(session, actor, request, submit=False)
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
    checked, rx = _validated(session, actor, request, submit=True)
    _store(session, actor, draft, request, checked, rx)
    draft.order.submitted_at = utcnow()
    draft.order.submitted_by_user_id = actor.user_id
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
    checked: _Checked,
    rx: rx_rules.SpectacleRx | None,
) -> None:
    assert request.patient is not None and checked.account is not None
    order = draft.order
    if request.patient != draft.request.patient or order.patient_id is None:
        order.patient_id = _patient_for(session, actor, request.patient).id
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
