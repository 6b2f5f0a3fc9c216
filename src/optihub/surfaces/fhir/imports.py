"""FHIR resources sent to OptiHub, read as the core's values.

Three kinds of refusal, each naming the element as a FHIRPath expression below ``root``
(``VisionPrescription`` or ``Bundle.entry[2].resource``):

- malformed (400): not the R5 structure (fhir.resources' models), or a code outside its
  value set (``status``, ``eye``, ``prism.base``, which the models do not check);
- not what the core keeps (422): a status other than active, two specifications of one eye,
  spectacle and contact lenses in one prescription, an element of the other product;
- the Rx rules (422): the core's, run by ``services.prescriptions`` — their field paths
  (``right.cylinder``) are renamed here (``lensSpecification[0].cylinder``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fhir.resources.patient import Patient as PatientModel
from fhir.resources.visionprescription import VisionPrescription as VisionPrescriptionModel
from pydantic import ValidationError

from optihub.domain import rx as rx_rules
from optihub.errors import BadRequest, FieldError, ValidationFailed
from optihub.services.patients import PatientDetails
from optihub.surfaces.fhir import mapping, notes
from optihub.surfaces.fhir.mapping import (
    BASES,
    CORE_STATUS,
    EXPIRY_EXTENSION,
    EYE_EXTENSIONS,
    EYES,
    PRODUCTS,
    STATUSES,
    extension_url,
)

SPECTACLE_ONLY = ("sphere", "prism")
CONTACT_ONLY = ("power", "backCurve", "diameter", "duration", "color", "brand")
NOT_FOR = {
    "spectacle": "A contact-lens element; this prescription is for spectacle lenses.",
    "contact_lens": "A spectacle-lens element; this prescription is for contact lenses "
    "(power, not sphere; no prism).",
}


def parse_json(body: bytes) -> Any:
    """The body as JSON with exact decimals (400 when it is not JSON, or nested deeper
    than the parser goes)."""
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest("The body is not valid JSON", code="structure", field="body") from exc


def fhirpath(root: str, location: tuple[Any, ...]) -> str:
    """``("lensSpecification", 0, "cylinder")`` below ``root`` →
    ``root.lensSpecification[0].cylinder``."""
    path = root
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in ("", "__root__"):
            path += f".{part}"
    return path


def _structure(model: Any, data: Any, root: str) -> Any:
    if not isinstance(data, dict):
        raise BadRequest("A resource must be a JSON object", code="structure", field=root)
    expected = model.__name__
    if data.get("resourceType") != expected:
        raise BadRequest(
            f"resourceType must be {expected}", code="structure", field=f"{root}.resourceType"
        )
    try:
        return model.model_validate(data)
    except RecursionError as exc:
        raise BadRequest("The resource is nested too deeply", code="structure", field=root) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = fhirpath(root, tuple(first.get("loc", ())))
        raise BadRequest(
            f"{where}: {first.get('msg', 'invalid')}", code="structure", field=where
        ) from exc


def _code(value: str | None, allowed: tuple[str, ...], where: str) -> None:
    if value is not None and value not in allowed:
        raise BadRequest(
            f"{where}: {value!r} is not one of {', '.join(allowed)}",
            code="code-invalid",
            field=where,
        )


def _day(value: Any, where: str, errors: list[FieldError]) -> date | None:
    """A full date from a FHIR date or dateTime (a partial one is refused)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if value is not None:
        errors.append(FieldError(where, "Must be a full date (YYYY-MM-DD)."))
    return None


@dataclass
class PrescriptionImport:
    """One VisionPrescription as the core's values, and how to name its parts."""

    root: str
    public_url: str
    kind: str
    patient_reference: str
    issued_on: date
    expires_on: date | None
    prescriber_reference: str | None
    prescriber_name: str | None
    external_id: str | None
    notes: str | None
    spectacle: rx_rules.SpectacleRx | None = None
    contact: rx_rules.ContactLensRx | None = None
    # side → index of its lensSpecification; (side, orientation) → index in its prism list.
    spec_index: dict[str, int] = field(default_factory=dict)
    prism_index: dict[tuple[str, str], int] = field(default_factory=dict)

    def expression(self, core_path: str) -> str:
        """A core field path (``right.prism_vertical.amount``) as a FHIRPath expression."""
        head, _, rest = core_path.partition(".")
        if head in self.spec_index:
            spec = f"{self.root}.lensSpecification[{self.spec_index[head]}]"
            name, _, tail = rest.partition(".")
            if name in EYE_EXTENSIONS:
                url = extension_url(self.public_url, EYE_EXTENSIONS[name])
                return f"{spec}.extension('{url}')"
            if name in ("prism_horizontal", "prism_vertical"):
                index = self.prism_index.get((head, name), 0)
                return f"{spec}.prism[{index}]" + (f".{tail}" if tail else "")
            return f"{spec}.{mapping.EYE_FIELDS.get(name, name)}"
        if core_path == "expires_on":
            return f"{self.root}.extension('{extension_url(self.public_url, EXPIRY_EXTENSION)}')"
        return f"{self.root}.{mapping.PRESCRIPTION_FIELDS.get(core_path, core_path)}"


def vision_prescription(data: Any, root: str, public_url: str) -> PrescriptionImport:
    """Read a VisionPrescription; raises ``BadRequest`` (400) or ``ValidationFailed`` (422)
    naming elements below ``root``."""
    model = _structure(VisionPrescriptionModel, data, root)
    _code(model.status, STATUSES, f"{root}.status")
    specs = model.lensSpecification or []
    for i, spec in enumerate(specs):
        _code(spec.eye, EYES, f"{root}.lensSpecification[{i}].eye")
        for j, prism in enumerate(spec.prism or []):
            _code(prism.base, BASES, f"{root}.lensSpecification[{i}].prism[{j}].base")
    errors: list[FieldError] = []
    if model.status != CORE_STATUS:
        errors.append(
            FieldError(f"{root}.status", "Only active prescriptions are kept (status active).")
        )
    if model.modifierExtension:
        errors.append(
            FieldError(f"{root}.modifierExtension", "Modifier extensions are not understood.")
        )
    issued_on = _day(model.dateWritten, f"{root}.dateWritten", errors)
    expires_on = None
    for k, extension in enumerate(model.extension or []):
        if extension.url == extension_url(public_url, EXPIRY_EXTENSION):
            expires_on = _day(extension.valueDate, f"{root}.extension[{k}].valueDate", errors)
    kinds = set()
    for i, spec in enumerate(specs):
        codes = [c.code for c in (spec.product.coding or []) if c.code in PRODUCTS]
        if not codes:
            errors.append(
                FieldError(
                    f"{root}.lensSpecification[{i}].product",
                    f"The product must be coded lens or contact ({mapping.PRODUCT_SYSTEM}).",
                )
            )
        else:
            kinds.add(PRODUCTS[codes[0]])
    if len(kinds) > 1:
        errors.append(
            FieldError(
                f"{root}.lensSpecification",
                "Spectacle lenses and contact lenses are separate prescriptions.",
            )
        )
    kind = kinds.pop() if len(kinds) == 1 else "spectacle"
    imported = PrescriptionImport(
        root=root,
        public_url=public_url,
        kind=kind,
        patient_reference=model.patient.reference or "",
        issued_on=issued_on or date.min,
        expires_on=expires_on,
        prescriber_reference=model.prescriber.reference if model.prescriber else None,
        prescriber_name=model.prescriber.display if model.prescriber else None,
        external_id=model.identifier[0].value if model.identifier else None,
        notes=None,
    )
    if not imported.patient_reference:
        errors.append(FieldError(f"{root}.patient", "A reference to the patient is required."))
    eyes: dict[str, Any] = {}
    lines: list[str] = []
    for i, spec in enumerate(specs):
        where = f"{root}.lensSpecification[{i}]"
        if spec.eye in imported.spec_index:
            errors.append(FieldError(f"{where}.eye", f"The {spec.eye} eye is specified twice."))
            continue
        imported.spec_index[spec.eye] = i
        if spec.modifierExtension:
            errors.append(
                FieldError(f"{where}.modifierExtension", "Modifier extensions are not understood.")
            )
        other = SPECTACLE_ONLY if kind == "contact_lens" else CONTACT_ONLY
        for name in other:
            if getattr(spec, name) not in (None, []):
                errors.append(FieldError(f"{where}.{name}", NOT_FOR[kind]))
        measures = {}
        for k, extension in enumerate(spec.extension or []):
            for core_name, name in EYE_EXTENSIONS.items():
                if extension.url == extension_url(public_url, name):
                    if kind == "contact_lens":
                        errors.append(
                            FieldError(
                                f"{where}.extension[{k}]",
                                "Not kept for contact lenses.",
                            )
                        )
                    measures[core_name] = extension.valueDecimal
        for text in (note.text for note in spec.note or []):
            if text and text.strip():
                lines.append(notes.line(spec.eye, "note", notes.one_line(text)))
        if kind == "contact_lens":
            if spec.color:
                lines.append(notes.line(spec.eye, "colour", notes.one_line(spec.color)))
            if spec.duration is not None:
                unit = spec.duration.code or spec.duration.unit
                if spec.duration.value is None or not unit or not unit.isalpha() or len(unit) > 10:
                    errors.append(
                        FieldError(
                            f"{where}.duration",
                            "A duration needs a value and a unit code (e.g. 1 mo).",
                        )
                    )
                else:
                    lines.append(
                        notes.line(spec.eye, "wear duration", f"{spec.duration.value} {unit}")
                    )
            eyes[spec.eye] = rx_rules.ContactLensEyeRx(
                power=spec.power,
                base_curve=spec.backCurve,
                diameter=spec.diameter,
                cylinder=spec.cylinder,
                axis=spec.axis,
                add=spec.add,
                brand=spec.brand,
            )
        else:
            horizontal = vertical = None
            for j, prism in enumerate(spec.prism or []):
                orientation = (
                    "prism_horizontal"
                    if prism.base in mapping.HORIZONTAL_BASES
                    else "prism_vertical"
                )
                if (spec.eye, orientation) in imported.prism_index:
                    errors.append(
                        FieldError(
                            f"{where}.prism[{j}]",
                            "One horizontal (in/out) and one vertical (up/down) prism per eye.",
                        )
                    )
                    continue
                imported.prism_index[(spec.eye, orientation)] = j
                value = rx_rules.Prism(prism.amount, prism.base)
                if orientation == "prism_horizontal":
                    horizontal = value
                else:
                    vertical = value
            eyes[spec.eye] = rx_rules.EyeRx(
                sphere=spec.sphere,
                cylinder=spec.cylinder,
                axis=spec.axis,
                add=spec.add,
                prism_horizontal=horizontal,
                prism_vertical=vertical,
                **measures,
            )
    if errors:
        raise ValidationFailed(errors)
    imported.notes = "\n".join(lines) or None
    if kind == "contact_lens":
        imported.contact = rx_rules.ContactLensRx(right=eyes.get("right"), left=eyes.get("left"))
    else:
        imported.spectacle = rx_rules.SpectacleRx(right=eyes.get("right"), left=eyes.get("left"))
    return imported


@contextmanager
def named(name: Any) -> Iterator[None]:
    """The core's ``ValidationFailed`` with each field renamed by ``name(core_path)``."""
    try:
        yield
    except ValidationFailed as exc:
        raise ValidationFailed(
            [FieldError(name(e.field), e.message, e.index) for e in exc.errors]
        ) from exc


@dataclass
class PatientImport:
    root: str
    details: PatientDetails
    identifiers: list[str]

    def expression(self, core_path: str) -> str:
        return f"{self.root}.{mapping.PATIENT_FIELDS.get(core_path, core_path)}"


def patient(data: Any, root: str) -> PatientImport:
    """Read a Patient to create or match (400 for a malformed one)."""
    model = _structure(PatientModel, data, root)
    name = (model.name or [None])[0]
    telecom: Mapping[str, str] = {}
    for point in model.telecom or []:
        if point.system in ("email", "phone") and point.value and point.system not in telecom:
            telecom = {**telecom, point.system: point.value}
    address = (model.address or [None])[0]
    lines = list(address.line or []) if address is not None else []
    errors: list[FieldError] = []
    birth = _day(model.birthDate, f"{root}.birthDate", errors) if model.birthDate else None
    if errors:
        raise ValidationFailed(errors)
    identifiers = [i.value for i in model.identifier or [] if i.value]
    details = PatientDetails(
        first_name=" ".join(name.given or []) if name is not None else "",
        last_name=(name.family or "") if name is not None else "",
        email=telecom.get("email"),
        phone=telecom.get("phone"),
        date_of_birth=birth,
        address_line1=lines[0] if lines else None,
        address_line2=lines[1] if len(lines) > 1 else None,
        city=address.city if address is not None else None,
        state=address.state if address is not None else None,
        postal_code=address.postalCode if address is not None else None,
        external_id=identifiers[0] if identifiers else None,
    )
    return PatientImport(root, details, identifiers)


def reference_uuid(reference: str, resource_type: str) -> uuid.UUID | None:
    """The id of a ``Type/{uuid}`` reference (None: not one of ours)."""
    kind, _, raw = reference.partition("/")
    if kind != resource_type or "/" in raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None
