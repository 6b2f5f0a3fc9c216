"""Practice API (EyeCloud Pro dialect), mounted at ``/v2``: practice software and
integrators read and add a practice's records at ``/v2/{client_id}/…``, where
``client_id`` is the practice id the token was granted."""

from optihub.surfaces.kit import Surface
from optihub.surfaces.kit.bodies import indexed
from optihub.surfaces.practice.errors import envelope
from optihub.surfaces.practice.mapping import ROUTE_SCOPES, SURFACE, module_of
from optihub.surfaces.practice.projection import ORDERS
from optihub.surfaces.practice.routes import FAST_READS, FAST_WRITES, router
from optihub.surfaces.practice.schemas import PracticeError

surface = Surface(
    name=SURFACE,
    title="Practice management API",
    prefix="/v2",
    router=router,
    envelope=envelope,
    error_model=PracticeError,
    scopes=ROUTE_SCOPES,
    projection=ORDERS,
    fast_reads=FAST_READS,
    fast_writes=FAST_WRITES,
    # 100 a minute per OAuth client and module (patients, stores, orders…).
    rate_limit="100/minute",
    module_of=module_of,
    # The vendor answers every refused input (rule violations, conflicts) with 400.
    statuses={422: 400, 409: 400},
    error_statuses=(400, 401, 403, 404, 413, 429, 500),
    # Paths in bodies as the vendor's validator writes them: ``[2].email``, ``items[0].tax``.
    body_path=indexed,
)

__all__ = ["surface"]
