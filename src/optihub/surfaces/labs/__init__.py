"""Lab-order API (SpecCheck dialect), mounted at ``/v1``: order-entry tools send Rx jobs
to labs with the vendor's names, over OptiHub's store."""

from optihub.surfaces.kit import Surface

# Registers the order routes on ``router`` before the surface is built from it.
from optihub.surfaces.labs import orders
from optihub.surfaces.labs.errors import envelope
from optihub.surfaces.labs.mapping import LAB_STATUSES, ROUTE_SCOPES
from optihub.surfaces.labs.projection import ORDERS
from optihub.surfaces.labs.routes import router
from optihub.surfaces.labs.schemas import ErrorEnvelope

surface = Surface(
    name="labs",
    title="Lab ordering API",
    prefix="/v1",
    router=router,
    envelope=envelope,
    error_model=ErrorEnvelope,
    scopes=ROUTE_SCOPES,
    vocabulary=LAB_STATUSES,
    projection=ORDERS,
    fast_reads=orders.FAST_READS,
    fast_writes=orders.FAST_WRITES,
    # The vendor answers every refused input with 400, unknown ids with 404.
    statuses={422: 400, 409: 400},
    error_statuses=(400, 401, 403, 404, 413, 429, 500),
)

__all__ = ["surface"]
