"""Partner API (Eyekiosk dialect), mounted at ``/api/v1/partner``."""

from optihub.surfaces.kit import Surface, WebhookShape
from optihub.surfaces.partner.errors import envelope
from optihub.surfaces.partner.mapping import ROUTE_SCOPES, STATUSES, WEBHOOK_EVENTS
from optihub.surfaces.partner.projection import ORDERS
from optihub.surfaces.partner.routes import FAST_READS, router
from optihub.surfaces.partner.schemas import ErrorEnvelope
from optihub.surfaces.partner.webhooks import delivery_body

surface = Surface(
    name="partner",
    title="Partner API",
    prefix="/api/v1/partner",
    router=router,
    envelope=envelope,
    error_model=ErrorEnvelope,
    scopes=ROUTE_SCOPES,
    vocabulary=STATUSES,
    projection=ORDERS,
    webhooks=WebhookShape(events=WEBHOOK_EVENTS, render=delivery_body),
    fast_reads=FAST_READS,
)

__all__ = ["surface"]
