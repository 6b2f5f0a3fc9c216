"""The draft review form: a lab order's values as form fields and back, and how the page
names them.

Field names are the lab-order contract's paths (``rx.right_eye.axis``, ``frame.temple``,
``lens.style``...), so the service's violations land next to the field they name. Parsing
only turns text into numbers and ids; every rule is the service's (``services.lab_orders``).
Staff never read a path or an enum value: ``label`` names each field as the page does
(``Right eye (OD) sphere``), ``option_label`` shows a value in the trade's words and
``for_staff`` rewrites the service's messages, which are written for API integrators.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
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


# -- what the page calls things ----------------------------------------------------------------

EYE_LABELS = {"right_eye": "Right eye (OD)", "left_eye": "Left eye (OS)"}
EYE_FIELD_LABELS = {
    "sphere": "sphere",
    "cylinder": "cylinder",
    "axis": "axis",
    "add": "add",
    "pd": "PD",
    "near_pd": "near PD",
    "seg_height": "seg height",
    "oc_height": "OC height",
    "horizontal_prism": "horizontal prism",
    "horizontal_prism.power": "horizontal prism",
    "horizontal_prism.direction": "horizontal prism base",
    "vertical_prism": "vertical prism",
    "vertical_prism.power": "vertical prism",
    "vertical_prism.direction": "vertical prism base",
}
LABELS: dict[str, str] = {
    "patient": "Patient",
    "patient.first_name": "First name",
    "patient.last_name": "Last name",
    "patient.email": "Email",
    "patient.phone_number": "Phone number",
    "rx": "Prescription",
    "frame": "Frame",
    "frame.handling": "Frame handling",
    "frame.manufacturer": "Frame manufacturer",
    "frame.model": "Frame model",
    "frame.color": "Frame colour",
    "frame.sku": "Frame SKU",
    "frame.material": "Frame material",
    "frame.eye_size": "Eye size (A, mm)",
    "frame.bridge": "Bridge (DBL, mm)",
    "frame.temple": "Temple (mm)",
    "frame.a": "A (box width, mm)",
    "frame.b": "B (box height, mm)",
    "frame.lens_ed": "ED (effective diameter, mm)",
    "frame.vertex": "Vertex distance (mm)",
    "frame.pantoscopic_tilt": "Pantoscopic tilt (°)",
    "frame.wrap": "Wrap (°)",
    "frame.tracing": "Frame tracing",
    "lens": "Lens",
    "lens.style": "Lens style",
    "lens.material": "Lens material",
    "lens.color": "Lens colour",
    "lens.tint": "Tint",
    "lens.tint_instruction": "Tint instruction",
    "lens.coats": "Coats",
    LAB_ACCOUNT: "Lab and account",
    "submission_type": "Submission type",
    "order_type": "Order type",
    "mounting_option": "Mounting option",
    "services": "Services",
    "redo_data": "Redo",
    "redo_data.type": "Redo type",
    "redo_data.reason": "Redo reason",
    "redo_data.reference": "Redo reference",
    "multi_pair_data": "Multi-pair",
    "multi_pair_data.reference": "Multi-pair reference",
    "shipping": "Shipping address",
    "shipping.name": "Ship to (name)",
    "shipping.address_line1": "Address line 1",
    "shipping.address_line2": "Address line 2",
    "shipping.city": "City",
    "shipping.state": "State",
    "shipping.postal_code": "ZIP code",
    "shipping.country": "Country",
    "special_instructions": "Instructions for the lab",
}


def label(path: str) -> str:
    """A field's name as the page shows it: ``rx.right_eye.sphere`` → ``Right eye (OD)
    sphere``. A path the form does not know is named by its parts, never shown raw."""
    key = error_key(path)
    if key in LABELS:
        return LABELS[key]
    parts = key.split(".")
    if parts[0] == "rx" and len(parts) > 1 and parts[1] in EYE_LABELS:
        eye = EYE_LABELS[parts[1]]
        rest = ".".join(parts[2:])
        return f"{eye} {EYE_FIELD_LABELS.get(rest, rest.replace('_', ' '))}".strip()
    return " ".join(part.replace("_", " ") for part in parts).capitalize()


# Values whose words are the contract's, shown as an optician reads them.
FRAME_MATERIAL_LABELS = {
    "three_d_printed": "3D printed",
    "carbon_fiber": "Carbon fibre",
    "drilled_and_grooved_rimless": "Drilled and grooved rimless",
    "drilled_rimless": "Drilled rimless",
    "grooved_industrial_safety": "Grooved industrial safety",
    "grooved_rimless": "Grooved rimless (nylon supra)",
    "high_wrap": "High wrap",
    "horn": "Horn",
    "industrial_safety": "Industrial safety",
    "leather": "Leather",
    "metal": "Metal",
    "metal_grooved": "Metal grooved (supra)",
    "step_shelf_bevel": "Step / shelf bevel",
    "wood": "Wood",
    "zyl": "Zyl (acetate)",
}
OPTION_LABELS: dict[str, dict[str, str]] = {
    "submission_type": {"new": "New job", "redo": "Redo (remake)", "multi_pair": "Multi-pair"},
    "order_type": {
        "rx": "Rx (prescription lenses)",
        "stock": "Stock lenses",
        "sunglass": "Sunglasses",
        "frame": "Frame only",
        "uncut": "Uncut lenses",
    },
    "frame.material": FRAME_MATERIAL_LABELS,
    "rx.horizontal_prism.direction": {"in": "BI", "out": "BO"},
    "rx.vertical_prism.direction": {"up": "BU", "down": "BD"},
}
_CODE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def option_label(field_name: str, value: str) -> str:
    """A choice as the page shows it: the trade's word for a contract value
    (``drilled_and_grooved_rimless`` → ``Drilled and grooved rimless``); a name a lab or
    practice wrote (``Frame to follow``) as written."""
    if field_name.startswith("rx.") and field_name.endswith("prism.direction"):
        field_name = "rx." + ".".join(field_name.split(".")[2:])
    known = OPTION_LABELS.get(field_name, {})
    if value in known:
        return known[value]
    if _CODE.match(value):
        return value.replace("_", " ").capitalize()
    return value


# The service's messages speak to API integrators (catalog endpoints, raw ids, enum values);
# on the page each is said in the words of the form.
_ONE_OF = re.compile(r"^(?P<label>.+) must be one of: (?P<values>.+)\.$")
_API_HINT = re.compile(r"\s*\(GET /v1/[^)]*\)")
_STAFF_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), message)
    for pattern, message in (
        (r"^No lab .* among this practice's labs", "This practice has no account with that lab."),
        (r"^Lab is required\.$", "Choose the lab and account."),
        (r"^Account number is required\.$", "Choose the lab and account."),
        (
            r"^Lens is required when the order type is rx and the order is submitted\.$",
            "Choose the lens (style, material and colour) before submitting an Rx order.",
        ),
        (r"^Rx is required when the order type is rx\.$", "An Rx order needs the prescription."),
        (
            r"^Mounting option is required when the order type is rx\.$",
            "Choose a mounting option: an Rx order needs one.",
        ),
        (r"^No lens style .* at this lab", "The chosen lab does not offer this lens style."),
        (
            r"^The lab offers no material .* for this style",
            "The lab does not offer this material for the chosen style.",
        ),
        (
            r"^No color .* for this style and material",
            "The lab does not offer this colour for the chosen style and material.",
        ),
        (
            r"^No coat .* for this style and material",
            "The lab does not offer this coat for the chosen style and material.",
        ),
        (r"^Lens (style|material|color) is required\.$", "Choose one."),
        (
            r"^Redo data is required when the submission type is redo\.$",
            "A redo needs its type, reason and the earlier order's reference.",
        ),
        (
            r"^Redo data is only for orders whose submission type is redo\.$",
            "Clear the redo fields, or choose the submission type Redo (remake).",
        ),
        (
            r"^Multi-pair data is required when the submission type is multi_pair\.$",
            "A multi-pair job needs the earlier order's reference.",
        ),
        (
            r"^Multi-pair data is only for multi_pair orders\.$",
            "Clear the multi-pair reference, or choose the submission type Multi-pair.",
        ),
        (r"^At least one eye .* is required\.$", "Enter the Rx of at least one eye (OD or OS)."),
        (r"^Prism direction must be in or out\.$", "Choose the base: BI (in) or BO (out)."),
        (r"^Prism direction must be up or down\.$", "Choose the base: BU (up) or BD (down)."),
        (r"^Prism direction is required\.$", "Choose the prism's base."),
        (r"^Frame (.+) is required to submit\.$", "Needed to submit the job to the lab."),
    )
)


def for_staff(error: FieldError) -> str:
    """The service's message for ``error`` said as the form would say it."""
    message = error.message
    for pattern, rewritten in _STAFF_MESSAGES:
        if pattern.search(message):
            return rewritten
    one_of = _ONE_OF.match(message)
    if one_of is not None:
        values = one_of["values"].split(", ")
        key = error_key(error.field)
        if len(values) > 6:
            return f"Choose {one_of['label'].lower()} from the list."
        shown = ", ".join(option_label(key, value) for value in values)
        return f"{one_of['label']} must be one of: {shown}."
    return _API_HINT.sub("", message)


@dataclass(frozen=True)
class Problem:
    """One violation as the page lists it: the field it belongs to, its label, the text."""

    key: str
    label: str
    message: str

    @property
    def after_label(self) -> str | None:
        """The message's words after the label when it starts with it (``First name`` +
        `` is required.``): the list then reads as one sentence."""
        if self.message.startswith(self.label + " "):
            return self.message[len(self.label) :]
        return None


def problems(errors: Iterable[FieldError]) -> list[Problem]:
    """Violations in the form's order (top to bottom), each once, in the form's words."""
    seen: set[tuple[str, str]] = set()
    found: list[Problem] = []
    for error in errors:
        key = error_key(error.field)
        message = for_staff(error)
        if (key, message) in seen:
            continue
        seen.add((key, message))
        found.append(Problem(key, label(error.field), message))
    return sorted(found, key=lambda p: _position(p.key))


def errors_by_field(found: Iterable[Problem]) -> dict[str, list[str]]:
    shown: dict[str, list[str]] = {}
    for problem in found:
        shown.setdefault(problem.key, []).append(problem.message)
    return shown


def merged(
    parse_errors: Sequence[FieldError], rule_errors: Sequence[FieldError]
) -> list[FieldError]:
    """The form's own errors and the service's, together; a field the form could not read
    was None to the service, so the service's word on it is dropped."""
    unreadable = {error_key(e.field) for e in parse_errors}
    return [*parse_errors, *(e for e in rule_errors if error_key(e.field) not in unreadable)]


def _position(key: str) -> int:
    try:
        return FORM_ORDER.index(key)
    except ValueError:
        parent = key.rpartition(".")[0]
        return FORM_ORDER.index(parent) if parent in FORM_ORDER else len(FORM_ORDER)


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


# The fields top to bottom as the page draws them (the problems are listed in this order).
FORM_ORDER: tuple[str, ...] = (
    "patient",
    *(f"patient.{n}" for n in PATIENT_FIELDS),
    "rx",
    *(
        f"rx.{side}{part}"
        for side, _eye in SIDES
        for part in (
            "",
            ".sphere",
            ".cylinder",
            ".axis",
            ".add",
            ".horizontal_prism",
            ".horizontal_prism.power",
            ".horizontal_prism.direction",
            ".vertical_prism",
            ".vertical_prism.power",
            ".vertical_prism.direction",
            ".pd",
            ".near_pd",
            ".seg_height",
            ".oc_height",
        )
    ),
    "frame",
    *(f"frame.{n}" for n in (*FRAME_TEXT, *FRAME_WHOLE, *FRAME_NUMBERS)),
    "frame.tracing",
    "lens",
    "lens.style",
    "lens.material",
    "lens.color",
    "lens.tint",
    "lens.tint_instruction",
    "lens.coats",
    LAB_ACCOUNT,
    "submission_type",
    "order_type",
    "mounting_option",
    "services",
    "redo_data",
    "redo_data.type",
    "redo_data.reason",
    "redo_data.reference",
    "multi_pair_data",
    "multi_pair_data.reference",
    "shipping",
    *(f"shipping.{n}" for n in SHIPPING_FIELDS),
    "special_instructions",
)
