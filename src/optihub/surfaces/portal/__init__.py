"""Portal sync API (MVE / Eye Reach Patients dialect), mounted at ``/api`` (and its token
call at ``/token`` too): a practice-management system keeps the patient portal's records
in sync by the integrating system's own ids, in JSON or DataContract XML."""

from optihub.surfaces.kit import Surface
from optihub.surfaces.portal.errors import ErrorBody, envelope, render
from optihub.surfaces.portal.routes import (
    FAST_READS,
    FAST_WRITES,
    ROUTE_SCOPES,
    root_router,
    router,
)

SURFACE = "portal"

surface = Surface(
    name=SURFACE,
    title="Patient portal sync",
    prefix="/api",
    router=router,
    root_router=root_router,
    envelope=envelope,
    render=render,
    error_model=ErrorBody,
    scopes=ROUTE_SCOPES,
    fast_reads=FAST_READS,
    fast_writes=FAST_WRITES,
    # Prescriptions carry their PDF (up to 10 MiB) as base64 text inside the body.
    max_body=16 << 20,
    # The vendor answers every refused body with 400 and its ModelState.
    statuses={422: 400},
    # Its codec decodes the bodies (exact decimals, JSON or XML) and refuses what a member
    # cannot take, lone surrogates included, naming the member as the vendor does.
    checks_json=False,
    error_statuses=(400, 401, 403, 404, 409, 413, 415, 500),
)

__all__ = ["surface"]
