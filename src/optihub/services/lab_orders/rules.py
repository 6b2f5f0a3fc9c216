"""The lab-order rules: every check of a ``LabOrderRequest``, reporting every violation at once.

The rules are the lab-order contract's (docs/surfaces/labs.md): Rx and frame ranges come
from ``domain.rx``, the OMA tracing is parsed with ``domain.oma``, US states and ZIP codes
are ``domain.addresses``', and what the lab offers (its catalog) and what the practice's
account allows (its order settings) are read here. Every violation is collected, with its
path in the contract's names (``rx.right_eye.axis``, ``frame.temple``, ``lens.style``...),
and raised together as one ``ValidationFailed`` before anything is written.

Draft orders relax only the rules that hold "when submitting" (the lens, and the frame
fields a lab needs to make the job); ranges, enums and pairings always apply.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from optihub.db.models import LensAddon, LensMaterial
from optihub.domain import oma
from optihub.domain import rx as rx_rules
from optihub.domain.addresses import US_STATES, US_ZIP_CODE
from optihub.errors import FieldError, ValidationFailed
from optihub.reads import catalog
from optihub.reads.catalog import LabAccountView
from optihub.services.context import Actor
from optihub.services.lab_orders.requests import (
    EyeInput,
    FrameInput,
    LabOrderRequest,
    LensInput,
    PatientInput,
    PrismInput,
    RxInput,
    ShippingInput,
)
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


@dataclass
class Checked:
    """What validation resolved on the way (the account, the catalog names)."""

    account: LabAccountView | None = None
    lens: dict[str, Any] | None = None
    errors: list[FieldError] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))


def validate(
    session: Session, actor: Actor, request: LabOrderRequest, *, submit: bool
) -> tuple[Checked, rx_rules.SpectacleRx | None]:
    """Every rule (the submit rules when ``submit``); raises ``ValidationFailed`` with all
    violations. Reads only: nothing is written.

    The catalog reads run on the session's connection (``db.prepared``: none of the ORM's
    or the engine's execution steps, no autoflush): what they read, the ORM never holds
    pending."""
    checked = Checked()
    _check_basics(session, actor, request, checked, submit=submit)
    rx = _spectacle_rx(request.rx) if request.rx is not None else None
    if rx is not None:
        for violation in rx_rules.validate_spectacle_rx(rx, multifocal=True):
            checked.add(_rx_path(violation.field), _rx_message(violation))
    if checked.errors:
        raise ValidationFailed(checked.errors)
    return checked, rx


def _check_basics(
    session: Session, actor: Actor, request: LabOrderRequest, checked: Checked, *, submit: bool
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


def _check_lab(session: Session, actor: Actor, request: LabOrderRequest, checked: Checked) -> None:
    if request.lab is None:
        checked.add("lab", "Lab is required.")
    if request.account_number is None or not request.account_number.strip():
        checked.add("account_number", "Account number is required.")
    if request.lab is None or request.account_number is None:
        return
    held, account = (
        catalog.account_at_lab(session, actor.practice_id, request.lab.id, request.account_number)
        if request.lab.id is not None
        else (False, None)
    )
    if not held:
        checked.add("lab", f"No lab {request.lab.raw} among this practice's labs.")
        return
    checked.account = account
    if account is None:
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


def _check_lens(session: Session, lens: LensInput, checked: Checked) -> None:
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
    style, material = lens.style, lens.material
    # The style, the material and what goes with them in one statement (``lens_choice``).
    choice = (
        catalog.lens_choice(session, lab_id, style.id, material.id if material else None)
        if style is not None and style.id is not None
        else None
    )
    if style is not None and choice is None:
        add("lens.style", f"No lens style {style.raw} at this lab.")
    material_ok = choice is not None and choice.material_name is not None
    if material is not None and choice is not None:
        if not material_ok:
            add(
                "lens.material",
                f"The lab offers no material {material.raw} for this style.",
            )
    elif material is not None and not _lab_has_material(session, lab_id, material.id):
        add(
            "lens.material",
            f"The lab offers no material {material.raw}.",
        )
    # Colours, coats and the tint are judged whatever happened to the style and material:
    # against what the lab offers for both when they are known, otherwise against what it
    # offers at all (for the style, when that is known), so no violation waits for a retry.
    if choice is not None:
        offered = choice.addons
        where = "for this style and material" if material_ok else "for this style"
    else:
        offered = _addons_at_lab(session, lab_id)
        where = "at this lab"
    colors = {c.id: c.name for c in offered.colors}
    coats = {coat_id: name for coat_id, name, _ in offered.coats}
    if lens.color is not None and lens.color.id not in colors:
        add("lens.color", f"No color {lens.color.raw} {where}.")
    for index, coat in enumerate(lens.coats):
        if coat.id not in coats:
            add(f"lens.coats.{index}", f"No coat {coat.raw} {where}.")
    if lens.tint is not None and lens.tint not in offered.tints:
        add("lens.tint", _one_of("Tint", offered.tints))
    if material_ok:
        assert choice is not None
        checked.lens = _lens_choice(lens, choice, colors, coats)


def _lab_has_material(session: Session, lab_id: uuid.UUID, material_id: uuid.UUID | None) -> bool:
    """Whether the lab has that lens material, for any of its styles."""
    if material_id is None:
        return False
    found = session.scalar(
        select(LensMaterial.id).where(LensMaterial.lab_id == lab_id, LensMaterial.id == material_id)
    )
    return found is not None


def _addons_at_lab(session: Session, lab_id: uuid.UUID) -> catalog.Addons:
    """What the lab offers with some style and material (when the style is not known)."""
    rows = session.execute(
        select(LensAddon.id, LensAddon.kind, LensAddon.name, LensAddon.coat_type)
        .where(LensAddon.lab_id == lab_id)
        .order_by(LensAddon.kind, LensAddon.name)
    ).all()
    return catalog.Addons(
        coats=tuple((r.id, r.name, r.coat_type) for r in rows if r.kind == "coat"),
        colors=tuple(catalog.CatalogItem(r.id, r.name) for r in rows if r.kind == "color"),
        tints=tuple(dict.fromkeys(r.name for r in rows if r.kind == "tint")),
    )


def _lens_choice(
    lens: LensInput,
    choice: catalog.LensChoice,
    colors: dict[uuid.UUID, str],
    coats: dict[uuid.UUID, str],
) -> dict[str, Any]:
    """The lens as stored on the order: names (what partners read) and catalog ids."""
    assert lens.style is not None and lens.style.id is not None
    assert lens.material is not None and lens.material.id is not None
    color_id = lens.color.id if lens.color is not None else None
    return {
        "lens_type": choice.lens_type,
        "style": choice.style_name,
        "style_id": str(lens.style.id),
        "material": choice.material_name,
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
        and not US_ZIP_CODE.match(shipping.postal_code)
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
