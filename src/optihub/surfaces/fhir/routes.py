"""The FHIR R5 endpoints (``/fhir/r5``). Routes translate; services decide; reads read.

Reads are plain ``def`` routes (run in the thread pool) over one read connection
(``Database.reading``); writes are ``def`` routes in the request's transaction
(``DbSession``): a transaction Bundle commits whole or not at all. Every lookup is scoped by
the token's one practice; another practice's record is a 404, as a missing one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from optihub import __version__
from optihub.auth.resource import Principal, require_scopes
from optihub.auth.routes import metadata as oauth_metadata
from optihub.auth.routes import smart_configuration_document
from optihub.domain import phones
from optihub.errors import NotFound
from optihub.reads import employees as employee_reads
from optihub.reads import patients as patient_reads
from optihub.reads import prescriptions as rx_reads
from optihub.reads.order_views import Reader
from optihub.services import patients as patient_service
from optihub.services import practices as practice_service
from optihub.services.context import Actor
from optihub.surfaces import kit
from optihub.surfaces.fhir import capability, resources, schemas, search
from optihub.surfaces.fhir.mapping import (
    CORE_STATUS,
    FHIR_JSON,
    SEARCH_PARAMS,
    STATUSES,
    identifier_system,
)
from optihub.web import DbSession, database

SURFACE = "fhir"
JSON_MEDIA = {"application/fhir+json", "application/json", "json", "text/json"}
ACCEPTED_ANSWERS = JSON_MEDIA | {"*/*", "application/*"}


async def negotiated(request: Request) -> None:
    """``_format`` and ``Accept``: JSON only; anything else (XML, say) is a 406."""
    wanted = request.query_params.getlist("_format")
    for value in wanted:
        if value.split(";")[0].strip().lower() not in JSON_MEDIA:
            raise HTTPException(
                406, f"_format {value!r}: only json (application/fhir+json) is served"
            )
    accept = request.headers.get("accept")
    if accept and not wanted:
        kinds = {part.split(";")[0].strip().lower() for part in accept.split(",")}
        if not kinds & ACCEPTED_ANSWERS:
            raise HTTPException(406, f"Accept {accept!r}: only application/fhir+json is served")


router = APIRouter(tags=["FHIR R5"], dependencies=[Depends(negotiated)])

VisionPrescriptionRead = Annotated[
    Principal, Depends(require_scopes("system/VisionPrescription.rs"))
]
VisionPrescriptionCreate = Annotated[
    Principal, Depends(require_scopes("system/VisionPrescription.c"))
]
PatientRead = Annotated[Principal, Depends(require_scopes("system/Patient.rs"))]
PractitionerRead = Annotated[Principal, Depends(require_scopes("system/Practitioner.rs"))]
OrganizationRead = Annotated[Principal, Depends(require_scopes("system/Organization.rs"))]


async def raw_body(request: Request) -> bytes:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ("application/fhir+json", "application/json"):
        raise HTTPException(415, "Send application/fhir+json (or application/json)")
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]


def public_url(request: Request) -> str:
    return str(request.app.state.settings.issuer)


def base_url(request: Request) -> str:
    return f"{public_url(request)}/fhir/r5"


def fhir_response(
    body: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status_code, headers=headers, media_type=FHIR_JSON)


def actor(principal: Principal) -> Actor:
    return Actor(
        practice_id=kit.single_practice(principal),
        via=SURFACE,
        client_id=principal.client_id,
        label=f"FHIR app {principal.client_id}",
    )


def _id(kind: str, raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise NotFound(kind, raw) from exc


def etag_of(resource: Mapping[str, Any]) -> str:
    return f'W/"{resource["meta"]["versionId"]}"'


def read_response(request: Request, resource: dict[str, Any]) -> Response:
    """One resource with its ETag; 304 when ``If-None-Match`` names its version."""
    etag = etag_of(resource)
    headers = {"ETag": etag, "Last-Modified": resource["meta"]["lastUpdated"]}
    wanted = request.headers.get("if-none-match")
    if wanted and etag in {value.strip() for value in wanted.split(",")}:
        return Response(status_code=304, headers={"ETag": etag})
    elements = request.query_params.get("_elements")
    if elements is not None:
        resource = resources.subset(resource, [e.strip() for e in elements.split(",")])
    return fhir_response(resource, headers=headers)


def _read_query(request: Request) -> None:
    """A read takes only the shaping parameters (others refused under strict handling)."""
    search.query_of(
        request.query_params.multi_items(),
        ("_elements",),
        refuse_unknown=search.strict(request.headers),
    )


# --- capability ------------------------------------------------------------------------


@router.get(
    "/metadata",
    summary="CapabilityStatement: what this server serves",
    responses=schemas.resource_doc("CapabilityStatement", "The server's capabilities"),
)
def get_metadata(request: Request) -> Response:
    token_endpoint = oauth_metadata(request)["token_endpoint"]
    return fhir_response(
        capability.statement(base_url(request), public_url(request), token_endpoint, __version__)
    )


@router.get(
    "/.well-known/smart-configuration",
    summary="SMART configuration: how to get a token (Backend Services)",
    response_class=JSONResponse,
)
def get_smart_configuration(request: Request) -> JSONResponse:
    """Where SMART clients look for it: beside the FHIR base (the same document as the
    server's own ``/.well-known/smart-configuration``)."""
    return smart_configuration_document(request)


# --- VisionPrescription ----------------------------------------------------------------


def _prescription_filter(
    query: Mapping[str, Sequence[str]],
) -> rx_reads.PrescriptionFilter | None:
    """The core's filter for a VisionPrescription search (None: nothing can match)."""
    patient_id = prescriber_id = None
    for value in query.get("patient", ()):
        found = search.reference_id("patient", value, "Patient")
        if found is None or (patient_id is not None and found != patient_id):
            return None
        patient_id = found
    for value in query.get("prescriber", ()):
        found = search.reference_id("prescriber", value, "Practitioner")
        if found is None or (prescriber_id is not None and found != prescriber_id):
            return None
        prescriber_id = found
    for value in query.get("status", ()):
        codes = value.split(",")
        for code in codes:
            if code not in STATUSES:
                raise search.refuse(
                    "status", f"{code!r} is not one of {', '.join(STATUSES)}", "code-invalid"
                )
        if CORE_STATUS not in codes:
            return None
    bounds = search.DateBounds()
    for value in query.get("datewritten", ()):
        bounds.add("datewritten", search.parse_date("datewritten", value))
    if bounds.empty:
        return None
    return rx_reads.PrescriptionFilter(
        patient_id=patient_id,
        prescriber_id=prescriber_id,
        issued_from=bounds.low,
        issued_to=bounds.high,
        issued_outside=bounds.outside,
    )


SORTS = {"-datewritten": False, "datewritten": True}


@router.get(
    "/VisionPrescription",
    summary="Search prescriptions",
    description=(
        "Search parameters: `patient`, `datewritten` (eq ne gt lt ge le; partial dates), "
        "`status`, `prescriber`; result parameters `_count` (1–100), `_offset`, "
        "`_sort` (`datewritten`, `-datewritten`), `_summary=count`, `_elements`. "
        "A searchset Bundle with `total` and self/next/previous links."
    ),
    responses=schemas.resource_doc("Bundle", "A searchset Bundle"),
)
def search_vision_prescriptions(request: Request, principal: VisionPrescriptionRead) -> Response:
    practice_id = kit.single_practice(principal)
    query = search.query_of(
        request.query_params.multi_items(),
        (*SEARCH_PARAMS["VisionPrescription"], "_sort"),
        refuse_unknown=search.strict(request.headers),
    )
    page = search.paging(query)
    sort = search._one(query, "_sort") or "-datewritten"
    if sort not in SORTS:
        raise search.refuse("_sort", "must be datewritten or -datewritten", "not-supported")
    base, public = base_url(request), public_url(request)
    with database(request).reading() as reader:
        flt = _prescription_filter(query)
        found = (
            rx_reads.page(
                reader,
                practice_id,
                flt,
                limit=0 if page.summary_count else page.count,
                offset=page.offset,
                oldest_issued_first=SORTS[sort],
            )
            if flt is not None
            else rx_reads.PrescriptionPage([], 0)
        )
    result = search.Searchset(f"{base}/VisionPrescription", query, page, found.total)
    for view in found.views if not page.summary_count else ():
        resource = resources.vision_prescription(view, public)
        if page.elements is not None:
            resource = resources.subset(resource, page.elements)
        result.entries.append(
            {
                "fullUrl": f"{base}/VisionPrescription/{view.id}",
                "resource": resource,
                "search": {"mode": "match"},
            }
        )
    return fhir_response(result.bundle())


@router.get(
    "/VisionPrescription/{resource_id}",
    summary="Read a prescription",
    responses=schemas.resource_doc("VisionPrescription", "The prescription"),
)
def read_vision_prescription(
    resource_id: str, request: Request, principal: VisionPrescriptionRead
) -> Response:
    practice_id = kit.single_practice(principal)
    _read_query(request)
    prescription_id = _id("VisionPrescription", resource_id)
    with database(request).reading() as reader:
        view = rx_reads.view(reader, practice_id, prescription_id)
    if view is None:
        raise NotFound("VisionPrescription", resource_id)
    return read_response(request, resources.vision_prescription(view, public_url(request)))


# --- Patient, Practitioner, Organization -----------------------------------------------


def _patient_filter(
    reader: Reader, practice_id: int, query: Mapping[str, Sequence[str]], public: str
) -> patient_reads.PatientFilter | None:
    values: dict[str, Any] = {}
    for raw in query.get("identifier", ()):
        system, value = search.token(raw)
        if system not in (None, "", identifier_system(public)):
            return None
        if values.get("external_id", value) != value:
            return None
        values["external_id"] = value
    for raw in query.get("name", ()):
        if "name" in values:
            raise search.refuse("name", "may be given once")
        values["name"] = raw
    for raw in query.get("birthdate", ()):
        found = search.parse_date("birthdate", raw)
        if found.prefix != "eq" or found.start != found.end:
            raise search.refuse("birthdate", "a full date (YYYY-MM-DD), eq only", "not-supported")
        if values.get("date_of_birth", found.start) != found.start:
            return None
        values["date_of_birth"] = found.start
    for raw in query.get("telecom", ()):
        system, value = search.token(raw)
        if system not in (None, "", "email", "phone"):
            return None
        if system == "email" or (system in (None, "") and "@" in value):
            values["email_any_case"] = value
        else:
            values["phone"] = value
            region = patient_service.practice_region(reader, practice_id)  # type: ignore[arg-type]
            values["phone_e164"] = phones.e164(value, region)
    return patient_reads.PatientFilter(**values)


@router.get(
    "/Patient",
    summary="Search patients",
    description=(
        "Search parameters: `identifier`, `name`, `birthdate`, `telecom`; result parameters "
        "`_count`, `_offset`, `_summary=count`, `_elements`."
    ),
    responses=schemas.resource_doc("Bundle", "A searchset Bundle"),
)
def search_patients(request: Request, principal: PatientRead) -> Response:
    practice_id = kit.single_practice(principal)
    query = search.query_of(
        request.query_params.multi_items(),
        SEARCH_PARAMS["Patient"],
        refuse_unknown=search.strict(request.headers),
    )
    page = search.paging(query)
    base, public = base_url(request), public_url(request)
    with database(request).reading() as reader:
        flt = _patient_filter(reader, practice_id, query, public)
        found = (
            patient_reads.page(
                reader,
                practice_id,
                flt,
                limit=0 if page.summary_count else page.count,
                offset=page.offset,
            )
            if flt is not None
            else patient_reads.PatientPage([], 0)
        )
    result = search.Searchset(f"{base}/Patient", query, page, found.total)
    for view in found.views if not page.summary_count else ():
        resource = resources.patient(view, practice_id, public)
        if page.elements is not None:
            resource = resources.subset(resource, page.elements)
        result.entries.append(
            {
                "fullUrl": f"{base}/Patient/{view.id}",
                "resource": resource,
                "search": {"mode": "match"},
            }
        )
    return fhir_response(result.bundle())


@router.get(
    "/Patient/{resource_id}",
    summary="Read a patient",
    responses=schemas.resource_doc("Patient", "The patient"),
)
def read_patient(resource_id: str, request: Request, principal: PatientRead) -> Response:
    practice_id = kit.single_practice(principal)
    _read_query(request)
    patient_id = _id("Patient", resource_id)
    with database(request).reading() as reader:
        view = patient_reads.view(reader, practice_id, patient_id)
    if view is None:
        raise NotFound("Patient", resource_id)
    return read_response(request, resources.patient(view, practice_id, public_url(request)))


@router.get(
    "/Practitioner/{resource_id}",
    summary="Read a practitioner (a prescriber)",
    responses=schemas.resource_doc("Practitioner", "The practitioner"),
)
def read_practitioner(resource_id: str, request: Request, principal: PractitionerRead) -> Response:
    practice_id = kit.single_practice(principal)
    _read_query(request)
    employee_id = _id("Practitioner", resource_id)
    try:
        with database(request).reading() as reader:
            view = employee_reads.detail(reader, practice_id, employee_id)
    except NotFound as exc:
        raise NotFound("Practitioner", resource_id) from exc
    return read_response(request, resources.practitioner(view, public_url(request)))


@router.get(
    "/Organization/{resource_id}",
    summary="Read the practice as an Organization",
    responses=schemas.resource_doc("Organization", "The practice"),
)
def read_organization(
    resource_id: str, request: Request, principal: OrganizationRead, session: DbSession
) -> Response:
    practice_id = kit.single_practice(principal)
    _read_query(request)
    if resource_id != str(practice_id):
        raise NotFound("Organization", resource_id)
    practice = practice_service.get_practice(session, practice_id)
    return read_response(
        request, resources.organization(practice_id, practice.name, practice.updated_at)
    )
