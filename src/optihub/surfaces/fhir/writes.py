"""The FHIR R5 writes: ``POST /VisionPrescription`` and transaction Bundles (``POST`` to the
base, or to ``/Bundle``). Each runs in the request's one transaction (``DbSession``) and
stores prescriptions through the core's prescription service, so the Rx rules are every
channel's; a refusal anywhere writes nothing. Registered on ``routes.router``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from optihub.errors import BadRequest, FieldError, NotFound, ValidationFailed
from optihub.reads import employees as employee_reads
from optihub.reads import patients as patient_reads
from optihub.reads import prescriptions as rx_reads
from optihub.services import patients as patient_service
from optihub.services import prescriptions as rx_service
from optihub.services.context import Actor
from optihub.surfaces.fhir import imports, resources, schemas
from optihub.surfaces.fhir.routes import (
    RawBody,
    VisionPrescriptionCreate,
    actor,
    base_url,
    etag_of,
    fhir_response,
    public_url,
    router,
)
from optihub.web import DbSession


def _patient_of(
    session: Session, practice_id: int, imported: imports.PrescriptionImport
) -> uuid.UUID:
    patient_id = imports.reference_uuid(imported.patient_reference, "Patient")
    if patient_id is None or patient_reads.view(session, practice_id, patient_id) is None:
        raise ValidationFailed(
            [
                FieldError(
                    f"{imported.root}.patient",
                    f"{imported.patient_reference!r} is not a patient of this practice.",
                )
            ]
        )
    return patient_id


def _prescriber_of(
    session: Session, practice_id: int, imported: imports.PrescriptionImport
) -> uuid.UUID | None:
    reference = imported.prescriber_reference
    if reference is None:
        return None
    prescriber_id = imports.reference_uuid(reference, "Practitioner")
    known = False
    if prescriber_id is not None:
        try:
            employee_reads.detail(session, practice_id, prescriber_id)
            known = True
        except NotFound:
            known = False
    if not known:
        raise ValidationFailed(
            [
                FieldError(
                    f"{imported.root}.prescriber",
                    f"{reference!r} is not a Practitioner of this practice.",
                )
            ]
        )
    return prescriber_id


def record(
    session: Session, who: Actor, imported: imports.PrescriptionImport, patient_id: uuid.UUID
) -> uuid.UUID:
    """Store one imported prescription through the core's service (its Rx rules)."""
    prescriber_id = _prescriber_of(session, who.practice_id, imported)
    common: dict[str, Any] = {
        "patient_id": patient_id,
        "issued_on": imported.issued_on,
        "expires_on": imported.expires_on,
        "prescriber_id": prescriber_id,
        "prescriber_name": imported.prescriber_name,
        "external_id": imported.external_id,
        "notes": imported.notes,
    }
    with imports.named(imported.expression):
        if imported.contact is not None:
            created = rx_service.create_contact_lens_prescription(
                session, who, rx=imported.contact, **common
            )
        else:
            assert imported.spectacle is not None
            created = rx_service.create_spectacle_prescription(
                session, who, rx=imported.spectacle, **common
            )
    return created.id


def _created_prescription(
    session: Session, request: Request, practice_id: int, prescription_id: uuid.UUID
) -> dict[str, Any]:
    view = rx_reads.view(session, practice_id, prescription_id)
    assert view is not None
    return resources.vision_prescription(view, public_url(request))


def _location(request: Request, resource: Mapping[str, Any]) -> str:
    version = resource["meta"]["versionId"]
    return f"{base_url(request)}/{resource['resourceType']}/{resource['id']}/_history/{version}"


@router.post(
    "/VisionPrescription",
    status_code=201,
    summary="Import a prescription",
    description=(
        "Creates the prescription through the same Rx rules as every channel. The patient "
        "reference must be a Patient of the app's practice. 201 with Location and ETag."
    ),
    openapi_extra=schemas.body_doc("VisionPrescription"),
    responses=schemas.resource_doc("VisionPrescription", "The prescription as stored", 201),
)
def create_vision_prescription(
    request: Request, principal: VisionPrescriptionCreate, session: DbSession, body: RawBody
) -> Response:
    who = actor(principal)
    imported = imports.vision_prescription(
        imports.parse_json(body), "VisionPrescription", public_url(request)
    )
    patient_id = _patient_of(session, who.practice_id, imported)
    prescription_id = record(session, who, imported, patient_id)
    resource = _created_prescription(session, request, who.practice_id, prescription_id)
    headers = {
        "Location": _location(request, resource),
        "ETag": etag_of(resource),
        "Last-Modified": resource["meta"]["lastUpdated"],
    }
    return fhir_response(resource, 201, headers)


# --- transaction -----------------------------------------------------------------------


def _entries(bundle: Any) -> list[dict[str, Any]]:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BadRequest("The body must be a Bundle", code="structure", field="Bundle.resourceType")
    if bundle.get("type") != "transaction":
        raise BadRequest(
            f"Bundle.type: only transaction Bundles are processed, not {bundle.get('type')!r}",
            code="not-supported",
            field="Bundle.type",
        )
    entries = bundle.get("entry", [])
    if not isinstance(entries, list) or not entries:
        raise BadRequest(
            "A transaction needs at least one entry", code="structure", field="Bundle.entry"
        )
    for i, entry in enumerate(entries):
        where = f"Bundle.entry[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            raise BadRequest(
                f"{where}: an entry needs a resource", code="structure", field=f"{where}.resource"
            )
        request = entry.get("request")
        if not isinstance(request, dict):
            raise BadRequest(
                f"{where}: an entry needs a request", code="structure", field=f"{where}.request"
            )
        kind = entry["resource"].get("resourceType")
        if (
            request.get("method") != "POST"
            or request.get("url") != kind
            or kind
            not in (
                "Patient",
                "VisionPrescription",
            )
        ):
            raise BadRequest(
                f"{where}.request: a transaction may POST Patient and VisionPrescription "
                "entries (url Patient or VisionPrescription) only",
                code="not-supported",
                field=f"{where}.request",
            )
    return entries


def _match_or_create_patient(
    session: Session, who: Actor, imported: imports.PatientImport
) -> tuple[uuid.UUID, bool]:
    """The practice's patient with one of the identifiers, else a new one: (id, created)."""
    for value in imported.identifiers:
        found = patient_reads.page(
            session, who.practice_id, patient_reads.PatientFilter(external_id=value), limit=1
        )
        if found.views:
            return found.views[0].id, False
    with imports.named(imported.expression):
        created = patient_service.create_patient(session, who, imported.details)
    return created.id, True


@router.post(
    "",
    summary="Process a transaction Bundle",
    description=(
        "A transaction Bundle of Patient and VisionPrescription POST entries, all or "
        "nothing. A prescription may reference a Patient entry by its fullUrl (urn:uuid:…); "
        "a Patient entry matches the practice's patient with one of its identifiers or "
        "creates one."
    ),
    openapi_extra=schemas.body_doc("Bundle"),
    responses=schemas.resource_doc("Bundle", "A transaction-response Bundle"),
)
def transaction(
    request: Request, principal: VisionPrescriptionCreate, session: DbSession, body: RawBody
) -> Response:
    who = actor(principal)
    entries = _entries(imports.parse_json(body))
    public = public_url(request)
    by_full_url: dict[str, uuid.UUID] = {}
    answers: dict[int, dict[str, Any]] = {}
    for i, entry in enumerate(entries):
        if entry["resource"]["resourceType"] != "Patient":
            continue
        imported = imports.patient(entry["resource"], f"Bundle.entry[{i}].resource")
        patient_id, created = _match_or_create_patient(session, who, imported)
        if isinstance(entry.get("fullUrl"), str):
            by_full_url[entry["fullUrl"]] = patient_id
        view = patient_reads.view(session, who.practice_id, patient_id)
        assert view is not None
        resource = resources.patient(view, who.practice_id, public)
        answers[i] = _entry_answer(request, resource, "201 Created" if created else "200 OK")
    for i, entry in enumerate(entries):
        if entry["resource"]["resourceType"] != "VisionPrescription":
            continue
        root = f"Bundle.entry[{i}].resource"
        prescription = imports.vision_prescription(entry["resource"], root, public)
        reference = prescription.patient_reference
        if reference.startswith("urn:uuid:"):
            if reference not in by_full_url:
                raise ValidationFailed(
                    [
                        FieldError(
                            f"{root}.patient", f"{reference!r} is no Patient entry of this Bundle."
                        )
                    ]
                )
            patient_id = by_full_url[reference]
        else:
            patient_id = _patient_of(session, who.practice_id, prescription)
        prescription_id = record(session, who, prescription, patient_id)
        resource = _created_prescription(session, request, who.practice_id, prescription_id)
        answers[i] = _entry_answer(request, resource, "201 Created")
    return fhir_response(
        {
            "resourceType": "Bundle",
            "type": "transaction-response",
            "entry": [answers[i] for i in range(len(entries))],
        }
    )


def _entry_answer(request: Request, resource: dict[str, Any], status: str) -> dict[str, Any]:
    return {
        "fullUrl": f"{base_url(request)}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "response": {
            "status": status,
            "location": _location(request, resource),
            "etag": etag_of(resource),
            "lastModified": resource["meta"]["lastUpdated"],
        },
    }


@router.post(
    "/Bundle",
    summary="Process a transaction Bundle (as POST to the base)",
    openapi_extra=schemas.body_doc("Bundle"),
    responses=schemas.resource_doc("Bundle", "A transaction-response Bundle"),
)
def transaction_at_bundle(
    request: Request, principal: VisionPrescriptionCreate, session: DbSession, body: RawBody
) -> Response:
    return transaction(request, principal, session, body)
