"""FHIR R5 (``/fhir/r5``): VisionPrescription, Patient, Practitioner and Organization for
clinical systems, with SMART v2 system scopes. Every answer and refusal is
``application/fhir+json``; refusals are OperationOutcomes (``errors.py``)."""

# Registers the write routes on ``router`` before the surface is built from it.
from optihub.surfaces.fhir import writes  # noqa: F401
from optihub.surfaces.fhir.errors import envelope, render
from optihub.surfaces.fhir.mapping import FHIR_JSON, ROUTE_SCOPES
from optihub.surfaces.fhir.routes import router
from optihub.surfaces.fhir.schemas import OperationOutcome
from optihub.surfaces.kit import Surface

surface = Surface(
    name="fhir",
    title="FHIR R5",
    prefix="/fhir/r5",
    router=router,
    envelope=envelope,
    error_model=OperationOutcome,
    scopes=ROUTE_SCOPES,
    media_type=FHIR_JSON,
    render=render,
    error_statuses=(400, 401, 403, 404, 413, 415, 422, 429, 500),
)

__all__ = ["surface"]
