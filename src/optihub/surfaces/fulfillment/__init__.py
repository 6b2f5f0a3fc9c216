"""Fulfillment API (Blend dialect), mounted at ``/fulfillment/v1``: retailers and online
stores send eyewear and contact-lens orders to the fulfillment operation that picks,
verifies and ships them, with the vendor's order shape and names."""

from optihub.surfaces.fulfillment.errors import envelope
from optihub.surfaces.fulfillment.mapping import ROUTE_SCOPES, STATUSES, SURFACE
from optihub.surfaces.fulfillment.projection import ORDERS
from optihub.surfaces.fulfillment.routes import router
from optihub.surfaces.fulfillment.schemas import ErrorEnvelope
from optihub.surfaces.kit import Surface

surface = Surface(
    name=SURFACE,
    prefix="/fulfillment/v1",
    router=router,
    envelope=envelope,
    error_model=ErrorEnvelope,
    scopes=ROUTE_SCOPES,
    vocabulary=STATUSES,
    projection=ORDERS,
    # Refused input is a 400 (rule violations included); conflicts with the order's state 409.
    statuses={422: 400},
    error_statuses=(400, 401, 403, 404, 409, 413, 429, 500),
)

__all__ = ["surface"]
