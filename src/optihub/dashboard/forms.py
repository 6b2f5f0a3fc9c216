"""The draft review form: a lab order's values as form fields and back.

Field names are the lab-order contract's paths (``rx.right_eye.axis``, ``frame.temple``,
``lens.style``...), so the service's violations land next to the field they name. Parsing
only turns text into numbers and ids; every rule is the service's (``services.lab_orders``).
What the page calls the fields and their values is ``draft_words``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from typing import Any

from optihub.errors import FieldError
from optihub.services import lab_orders as service

SIDES = (("right_eye", "OD"), ("left_eye", "OS"))
EYE_NUMBERS = ("sphere", "cylinder", "add", "pd", "near_pd", "seg_height", "oc_height")
EYE_FIELDS = (*EYE_NUMBERS, "axis")
POWERS = ("sphere", "cylinder", "add")  # shown signed
PRISMS = ("horizontal_prism", "vertical_prism")
FRAME_TEXT = ("handling", "manufacturer", "model", "color", "sku", "material")
FRAME_WHOLE = ("eye_size", "bridge", "temple")
FRAME_NUMBERS = ("a", "b", "lens_ed", "vertex", "pantoscopic_tilt", "wrap")
PATIENT_FIELDS = ("first_name", "last_name", "email", "phone_number")
SHIPPING_FIELDS = tuple(f.name for f in fields(service.ShippingInput))
LAB_ACCOUNT = "lab_account"  # one select standing for the contract's lab + account_number
MULTI = ("lens.coats", "services")
_WHOLE = re.compile(r"^[+-]?\d{1,9}$")


@dataclass
class FormValues:
    """What the form shows: one text per field, a list for the multi-choice ones."""

    single: dict[str, str] = field(default_factory=dict)
    multi: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.single.get(name, "")

    def getlist(self, name: str) -> list[str]:
        return self.multi.get(name, [])


@dataclass(frozen=True)
class Parsed:
    request: service.LabOrderRequest
    errors: list[FieldError]


def lab_account_value(lab_id: uuid.UUID | str, account_number: str) -> str:
    return f"{lab_id}/{account_number}"


def error_key(path: str) -> str:
    """The form field a violation belongs next to (``services.1`` → ``services``)."""
    head, _, last = path.rpartition(".")
    if head and last.isdigit():
        path = head
    return LAB_ACCOUNT if path in ("lab", "account_number") else path


# -- the stored request as form values -------------------------------------------------------


def _text(value: Any) -> str:
    """A stored value as the form shows it: its digits exactly as stored (``-1.00`` stays
    ``-1.00``), so an unchanged save stores the same text."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _power(value: Decimal | None) -> str:
    """A dioptric power signed as opticians write it (``+2.50``, ``-0.75``)."""
    text = _text(value)
    return f"+{text}" if value is not None and value > 0 else text


def values_of(request: service.LabOrderRequest) -> FormValues:
    single: dict[str, str] = {
        "submission_type": _text(request.submission_type),
        "order_type": _text(request.order_type),
        "mounting_option": _text(request.mounting_option),
        "special_instructions": _text(request.special_instructions),
    }
    if request.lab is not None and request.account_number is not None:
        single[LAB_ACCOUNT] = lab_account_value(request.lab.raw, request.account_number)
    for name in PATIENT_FIELDS:
        single[f"patient.{name}"] = _text(getattr(request.patient, name, None))
    for side, _label in SIDES:
        eye = getattr(request.rx, side, None) if request.rx is not None else None
        for name in EYE_FIELDS:
            show = _power if name in POWERS else _text
            single[f"rx.{side}.{name}"] = show(getattr(eye, name, None))
        for prism in PRISMS:
            given = getattr(eye, prism, None)
            single[f"rx.{side}.{prism}.power"] = _text(getattr(given, "power", None))
            single[f"rx.{side}.{prism}.direction"] = _text(getattr(given, "direction", None))
    for name in (*FRAME_TEXT, *FRAME_WHOLE, *FRAME_NUMBERS):
        single[f"frame.{name}"] = _text(getattr(request.frame, name, None))
    lens = request.lens
    for name in ("style", "material", "color"):
        ref = getattr(lens, name, None)
        single[f"lens.{name}"] = ref.raw if ref is not None else ""
    single["lens.tint"] = _text(getattr(lens, "tint", None))
    single["lens.tint_instruction"] = _text(getattr(lens, "tint_instruction", None))
    for name in ("type", "reason", "reference"):
        single[f"redo_data.{name}"] = _text(getattr(request.redo_data, name, None))
    single["multi_pair_data.reference"] = _text(getattr(request.multi_pair_data, "reference", None))
    for name in SHIPPING_FIELDS:
        single[f"shipping.{name}"] = _text(getattr(request.shipping, name, None))
    multi = {
        "lens.coats": [c.raw for c in lens.coats] if lens is not None else [],
        "services": list(request.services or ()),
    }
    return FormValues(single, multi)


# -- the posted form as a request ------------------------------------------------------------


def values_from(pairs: Sequence[tuple[str, str]]) -> FormValues:
    values = FormValues()
    for name, value in pairs:
        if name in MULTI:
            values.multi.setdefault(name, []).append(value)
        else:
            values.single[name] = value
    return values


class _Reader:
    """Reads typed values out of the form, noting the ones that are not what they claim."""

    def __init__(self, values: FormValues) -> None:
        self.values = values
        self.errors: list[FieldError] = []

    def text(self, name: str) -> str | None:
        value = self.values.get(name).strip()
        if "\x00" in value:
            self.errors.append(FieldError(name, "Remove the control characters from this text."))
            return None
        return value or None

    def whole(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        if not _WHOLE.match(value):
            self.errors.append(FieldError(name, "Enter a whole number, e.g. 90."))
            return None
        return int(value)

    def number(self, name: str) -> Decimal | None:
        value = self.text(name)
        if value is None:
            return None
        value = value.replace("\u2212", "-")  # the typographic minus of printed Rx
        try:
            number = Decimal(value) if len(value) <= 20 else None
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            self.errors.append(FieldError(name, "Enter a number, e.g. -2.25."))
            return None
        return number

    def ref(self, name: str, raw: str | None = None) -> service.CatalogRef | None:
        value = raw if raw is not None else self.text(name)
        if value is None:
            return None
        try:
            return service.CatalogRef(value, uuid.UUID(value))
        except ValueError:
            return service.CatalogRef(value, None)  # the service reports it as not offered


def _all_none(*values: Any) -> bool:
    return all(v is None or v == () for v in values)


def parse(values: FormValues, tracing: str | None) -> Parsed:
    """The posted form as the request the API would build; ``tracing`` is the stored one
    (the form does not edit it). Values that are not numbers or ids are reported."""
    read = _Reader(values)
    patient = service.PatientInput(*(read.text(f"patient.{n}") for n in PATIENT_FIELDS))
    eyes: dict[str, service.EyeInput | None] = {}
    for side, _label in SIDES:
        prisms: dict[str, service.PrismInput | None] = {}
        for prism in PRISMS:
            power = read.number(f"rx.{side}.{prism}.power")
            direction = read.text(f"rx.{side}.{prism}.direction")
            prisms[prism] = (
                None if _all_none(power, direction) else service.PrismInput(power, direction)
            )
        number: dict[str, Any] = {name: read.number(f"rx.{side}.{name}") for name in EYE_NUMBERS}
        axis = read.whole(f"rx.{side}.axis")
        given = (*number.values(), axis, *prisms.values())
        eyes[side] = (
            None
            if _all_none(*given)
            else service.EyeInput(
                **number,
                axis=axis,
                horizontal_prism=prisms["horizontal_prism"],
                vertical_prism=prisms["vertical_prism"],
            )
        )
    frame_values: dict[str, Any] = {n: read.text(f"frame.{n}") for n in FRAME_TEXT}
    frame_values |= {n: read.whole(f"frame.{n}") for n in FRAME_WHOLE}
    frame_values |= {n: read.number(f"frame.{n}") for n in FRAME_NUMBERS}
    frame = (
        None
        if _all_none(*frame_values.values(), tracing)
        else service.FrameInput(**frame_values, tracing=tracing)
    )
    coats = tuple(
        ref
        for raw in values.getlist("lens.coats")
        if raw.strip() and (ref := read.ref("lens.coats", raw.strip())) is not None
    )
    lens_parts: dict[str, Any] = {
        name: read.ref(f"lens.{name}") for name in ("style", "material", "color")
    }
    tint, tint_instruction = read.text("lens.tint"), read.text("lens.tint_instruction")
    lens = (
        None
        if _all_none(*lens_parts.values(), coats, tint, tint_instruction)
        else service.LensInput(
            **lens_parts, coats=coats, tint=tint, tint_instruction=tint_instruction
        )
    )
    redo = service.RedoInput(
        *(read.text(f"redo_data.{n}") for n in ("type", "reason", "reference"))
    )
    multi_pair = read.text("multi_pair_data.reference")
    shipping = service.ShippingInput(*(read.text(f"shipping.{n}") for n in SHIPPING_FIELDS))
    lab, account_number = _lab_account(read)
    services = tuple(s for s in values.getlist("services") if s.strip())
    request = service.LabOrderRequest(
        submission_type=read.text("submission_type"),
        order_type=read.text("order_type"),
        lab=lab,
        account_number=account_number,
        patient=patient,
        mounting_option=read.text("mounting_option"),
        lens=lens,
        frame=frame,
        rx=(
            None
            if _all_none(*eyes.values())
            else service.RxInput(right_eye=eyes["right_eye"], left_eye=eyes["left_eye"])
        ),
        services=services or None,
        special_instructions=read.text("special_instructions"),
        redo_data=None if _all_none(redo.type, redo.reason, redo.reference) else redo,
        multi_pair_data=None if multi_pair is None else service.MultiPairInput(multi_pair),
        shipping=None if _all_none(*(getattr(shipping, n) for n in SHIPPING_FIELDS)) else shipping,
    )
    return Parsed(request, read.errors)


def _lab_account(read: _Reader) -> tuple[service.CatalogRef | None, str | None]:
    value = read.text(LAB_ACCOUNT)
    if value is None:
        return None, None
    lab, _, account_number = value.partition("/")
    return read.ref(LAB_ACCOUNT, lab), account_number or None
