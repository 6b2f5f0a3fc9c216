"""How the core's records read as FHIR R5 resources (plain dicts, encoded with orjson).

Decimal measures are written as the core stores them (``-2.00``, never a float's
``-2.0000001``): ``orjson.Fragment`` carries their text into the JSON number.

The core keeps what FHIR's ``duration``, ``color`` and per-eye ``note`` say in the
prescription's notes, one line each (``notes.py``); they are read back from there.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from optihub.reads.employees import EmployeeView
from optihub.reads.patients import PatientView
from optihub.reads.prescriptions import EyeView, PrescriptionView
from optihub.surfaces.fhir import mapping, notes
from optihub.surfaces.fhir.mapping import (
    CORE_STATUS,
    DATA_ABSENT,
    EXPIRY_EXTENSION,
    EYE_EXTENSIONS,
    NPI_SYSTEM,
    PRODUCT_OF_KIND,
    PRODUCT_SYSTEM,
    UCUM,
    extension_url,
    identifier_system,
)

# Elements a resource always keeps under ``_elements`` (the mandatory ones, as the
# specification asks of servers), beside resourceType, id and meta.
MANDATORY: Mapping[str, frozenset[str]] = {
    "VisionPrescription": frozenset(
        {"status", "created", "patient", "dateWritten", "prescriber", "lensSpecification"}
    ),
    "Patient": frozenset(),
    "Practitioner": frozenset(),
    "Organization": frozenset(),
}


def number(value: Decimal | int) -> Any:
    """A JSON number written as the core keeps it."""
    if isinstance(value, int):
        return value
    return orjson.Fragment(format(value, "f").encode())


def version_of(updated_at: datetime) -> str:
    """``meta.versionId``: the record's last change in microseconds since the epoch. It
    changes whenever the record does (the core keeps no counter for these records)."""
    return str(int(updated_at.timestamp() * 1_000_000))


def instant(value: datetime) -> str:
    return value.isoformat()


def meta(updated_at: datetime) -> dict[str, Any]:
    return {"versionId": version_of(updated_at), "lastUpdated": instant(updated_at)}


def _eye_spec(
    side: str, eye: EyeView, kind: str, public_url: str, eye_notes: notes.EyeNotes
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "product": {"coding": [{"system": PRODUCT_SYSTEM, "code": PRODUCT_OF_KIND[kind]}]},
        "eye": side,
    }
    contact = kind == "contact_lens"
    values: list[tuple[str, Decimal | int | None]] = [
        ("power" if contact else "sphere", eye.sphere),
        ("cylinder", eye.cylinder),
        ("axis", eye.axis),
    ]
    for name, value in values:
        if value is not None:
            spec[name] = number(value)
    prisms = [
        {"amount": number(amount), "base": base}
        for amount, base in (
            (eye.prism_horizontal, eye.prism_horizontal_base),
            (eye.prism_vertical, eye.prism_vertical_base),
        )
        if amount is not None and base is not None
    ]
    if prisms:
        spec["prism"] = prisms
    if eye.add is not None:
        spec["add"] = number(eye.add)
    if eye.base_curve is not None:
        spec["backCurve"] = number(eye.base_curve)
    if eye.diameter is not None:
        spec["diameter"] = number(eye.diameter)
    if eye_notes.duration is not None:
        value, code = eye_notes.duration
        spec["duration"] = {"value": number(value), "unit": code, "system": UCUM, "code": code}
    if eye_notes.color is not None:
        spec["color"] = eye_notes.color
    if eye.brand is not None:
        spec["brand"] = eye.brand
    if eye_notes.notes:
        spec["note"] = [{"text": text} for text in eye_notes.notes]
    extensions = [
        {"url": extension_url(public_url, name), "valueDecimal": number(value)}
        for field_name, name in EYE_EXTENSIONS.items()
        if (value := getattr(eye, field_name)) is not None
    ]
    if extensions:
        spec["extension"] = extensions
    return spec


def vision_prescription(view: PrescriptionView, public_url: str) -> dict[str, Any]:
    """A prescription on file: one lensSpecification per eye it holds (right first)."""
    read = notes.parse(view.notes)
    resource: dict[str, Any] = {
        "resourceType": "VisionPrescription",
        "id": str(view.id),
        "meta": meta(view.updated_at),
    }
    if view.expires_on is not None:
        resource["extension"] = [
            {
                "url": extension_url(public_url, EXPIRY_EXTENSION),
                "valueDate": view.expires_on.isoformat(),
            }
        ]
    if view.external_id is not None:
        resource["identifier"] = [
            {"system": identifier_system(public_url), "value": view.external_id}
        ]
    resource["status"] = CORE_STATUS
    resource["created"] = instant(view.created_at)
    resource["patient"] = {"reference": f"Patient/{view.patient_id}"}
    resource["dateWritten"] = view.issued_on.isoformat()
    resource["prescriber"] = prescriber_reference(view.prescriber_id, view.prescriber_name)
    resource["lensSpecification"] = [
        _eye_spec(side, eye, view.kind, public_url, read.eye(side))
        for side, eye in (("right", view.right), ("left", view.left))
        if eye is not None
    ]
    return resource


def prescriber_reference(prescriber_id: uuid.UUID | None, name: str | None) -> dict[str, Any]:
    """``Practitioner/{id}`` when the prescriber is on staff, else the name alone; a
    data-absent-reason when the core knows neither (FHIR requires a prescriber)."""
    reference: dict[str, Any] = {}
    if prescriber_id is not None:
        reference["reference"] = f"Practitioner/{prescriber_id}"
    if name:
        reference["display"] = name
    if not reference:
        reference["extension"] = [{"url": DATA_ABSENT, "valueCode": "unknown"}]
    return reference


def patient(view: PatientView, practice_id: int, public_url: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(view.id),
        "meta": meta(view.updated_at),
    }
    if view.external_id is not None:
        resource["identifier"] = [
            {"system": identifier_system(public_url), "value": view.external_id}
        ]
    resource["active"] = True
    resource["name"] = [{"family": view.last_name, "given": [view.first_name]}]
    telecom = []
    if view.phone:
        telecom.append({"system": "phone", "value": view.phone})
    if view.email:
        telecom.append({"system": "email", "value": view.email})
    if telecom:
        resource["telecom"] = telecom
    if view.date_of_birth is not None:
        resource["birthDate"] = view.date_of_birth.isoformat()
    lines = [line for line in (view.address_line1, view.address_line2) if line]
    address = {
        key: value
        for key, value in (
            ("line", lines or None),
            ("city", view.city),
            ("state", view.state),
            ("postalCode", view.postal_code),
        )
        if value
    }
    if address:
        resource["address"] = [address | {"country": view.country}]
    resource["managingOrganization"] = {"reference": f"Organization/{practice_id}"}
    return resource


def practitioner(view: EmployeeView, public_url: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": str(view.id),
        "meta": meta(view.updated_at),
    }
    identifiers = []
    if view.npi:
        identifiers.append({"system": NPI_SYSTEM, "value": view.npi})
    if view.external_id:
        identifiers.append({"system": identifier_system(public_url), "value": view.external_id})
    if identifiers:
        resource["identifier"] = identifiers
    resource["active"] = view.is_active
    name: dict[str, Any] = {"family": view.last_name, "given": [view.first_name]}
    if view.title:
        name["suffix"] = [view.title]
    resource["name"] = [name]
    if view.email:
        resource["telecom"] = [{"system": "email", "value": view.email}]
    return resource


def organization(practice_id: int, name: str, updated_at: datetime) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": str(practice_id),
        "meta": meta(updated_at),
        "active": True,
        "name": name,
    }


def subset(resource: dict[str, Any], elements: Iterable[str]) -> dict[str, Any]:
    """``_elements``: the resource with only the named top-level elements (and its
    mandatory ones), its meta tagged SUBSETTED."""
    keep = set(elements) | MANDATORY[resource["resourceType"]] | {"resourceType", "id"}
    kept = {key: value for key, value in resource.items() if key in keep}
    kept["meta"] = dict(resource.get("meta", {})) | {"tag": [mapping.SUBSETTED]}
    return {"resourceType": kept.pop("resourceType"), **kept}
