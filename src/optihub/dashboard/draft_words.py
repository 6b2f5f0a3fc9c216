"""What the draft review page calls things: each field's label as the page shows it
(``Right eye (OD) sphere``), each contract value in the trade's words
(``drilled_and_grooved_rimless`` → ``Drilled and grooved rimless``), and the service's
violations, written for API integrators, as a list of problems staff can act on: every one
at once, in the form's order, each linked to its field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from optihub.dashboard.forms import (
    FRAME_NUMBERS,
    FRAME_TEXT,
    FRAME_WHOLE,
    LAB_ACCOUNT,
    PATIENT_FIELDS,
    SHIPPING_FIELDS,
    SIDES,
    error_key,
)
from optihub.domain import notation
from optihub.errors import FieldError

# -- labels ----------------------------------------------------------------

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
# The contract's frame materials in words: one table, the domain's (the order page uses it).
FRAME_MATERIAL_LABELS = notation.FRAME_MATERIAL_LABELS
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
    "rx.horizontal_prism.direction": {d: notation.BASE_WORDS[d] for d in ("in", "out")},
    "rx.vertical_prism.direction": {d: notation.BASE_WORDS[d] for d in ("up", "down")},
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


# The service's messages speak to API integrators (raw ids, enum values; a catalog call
# when a message carries the lab-order API's wording); on the page each is said in the
# words of the form.
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
