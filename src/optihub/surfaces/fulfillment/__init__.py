"""Fulfillment API (Blend dialect), mounted at ``/fulfillment/v1``: retailers and online
stores send eyewear and contact-lens orders to the fulfillment operation that picks,
verifies and ships them, with the vendor's order shape and names."""

from fastapi import APIRouter

from optihub.surfaces.fulfillment import auth_routes, notification_routes, routes
from optihub.surfaces.fulfillment.errors import envelope
from optihub.surfaces.fulfillment.mapping import ROUTE_SCOPES, STATUSES, SURFACE
from optihub.surfaces.fulfillment.notifications import EVENT_CODES, delivery_body, event_codes
from optihub.surfaces.fulfillment.projection import ORDERS
from optihub.surfaces.fulfillment.schemas import ErrorEnvelope
from optihub.surfaces.kit import Surface, WebhookShape

router = APIRouter()
for part in (auth_routes.router, routes.router, notification_routes.router):
    router.include_router(part)

surface = Surface(
    name=SURFACE,
    title="Fulfillment API",
    prefix="/fulfillment/v1",
    router=router,
    envelope=envelope,
    error_model=ErrorEnvelope,
    scopes=ROUTE_SCOPES,
    vocabulary=STATUSES,
    projection=ORDERS,
    fast_reads=routes.FAST_READS,
    fast_writes=routes.FAST_WRITES,
    webhooks=WebhookShape(events=EVENT_CODES, match=event_codes, render_code=delivery_body),
    # Refused input is a 400 (rule violations included); conflicts with the order's state 409.
    statuses={422: 400},
    error_statuses=(400, 401, 403, 404, 409, 413, 429, 500),
)

__all__ = ["surface"]
