"""Webhooks: every subscription of the practice, of every dialect, with its latest
deliveries.

All dialects keep their subscriptions in one engine (``services.webhooks``; a
subscription's ``surface`` says whose shape its deliveries take: the partner API's
``/webhooks``, the fulfillment API's ``/notifications``...). Apps create and change them
through their API; here a manager or owner sees how deliveries went, sends one again
(``redeliver``: same event id and body, queued now) and re-enables a subscription the
worker disabled after failing (``update_subscription(enabled=True)``, which clears the
failure count and reason). Staff see the same page without the buttons.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from optihub.auth.pages import see_other
from optihub.auth.routes import Params
from optihub.dashboard.common import (
    actor,
    may,
    not_found,
    render,
    staff_action,
    staff_page,
)
from optihub.db.models import WebhookSubscription
from optihub.errors import NotFound
from optihub.services import oauth_clients
from optihub.services import webhooks as webhook_service
from optihub.shell import Workplace
from optihub.web import DbSession

router = APIRouter(include_in_schema=False)

WEBHOOKS = "/dashboard/webhooks"
SECTION = "webhooks"
LATEST = 10  # deliveries shown per subscription

DELIVERY_STATES = {
    "pending": ("Queued", "badge"),
    "delivered": ("Delivered", "badge badge-good"),
    "failed": ("Failed", "badge badge-bad"),
}


@dataclass(frozen=True)
class SubscriptionView:
    subscription: WebhookSubscription
    pending: int
    app_name: str | None
    events: list[str]
    deliveries: list[dict[str, Any]]

    @property
    def state(self) -> tuple[str, str]:
        """(label, badge class) of the subscription."""
        s = self.subscription
        if not s.enabled:
            return "Disabled", "badge badge-bad"
        if s.last_status == "failing":
            return "Failing", "badge badge-warn"
        return "Active", "badge badge-good"


def _delivery(record: webhook_service.DeliveryRecord) -> dict[str, Any]:
    d = record.delivery
    label, badge = DELIVERY_STATES.get(d.status, (d.status.capitalize(), "badge"))
    if d.status == "pending" and d.attempt_count:
        label, badge = "Retrying", "badge badge-warn"
    if d.last_response_code is not None:
        outcome = f"HTTP {d.last_response_code}"
        if d.last_error and d.last_error != outcome:
            outcome += f": {d.last_error}"
    else:
        outcome = d.last_error or ("Not sent yet" if not d.attempt_count else "No answer")
    return {
        "delivery": d,
        "event_type": record.event_type,
        "code": record.event_code,
        "label": label,
        "badge": badge,
        "outcome": outcome,
        "attempts": record.attempts,
    }


def _titles(request: Request) -> dict[str, str]:
    surfaces = getattr(request.app.state, "surfaces", None) or ()
    return {s.name: s.title or s.name for s in surfaces}


def _views(session: Session, place: Workplace) -> list[SubscriptionView]:
    names: dict[str, str | None] = {}
    views = []
    for row in webhook_service.practice_subscriptions(session, place.practice_id):
        s = row.subscription
        if s.client_id and s.client_id not in names:
            client = oauth_clients.get_client(session, s.client_id)
            names[s.client_id] = client.name if client is not None else None
        records = webhook_service.list_deliveries(
            session, place.practice_id, s.surface, s.id, limit=LATEST
        )
        views.append(
            SubscriptionView(
                subscription=s,
                pending=row.pending_deliveries,
                app_name=names.get(s.client_id or ""),
                events=["every event"] if "*" in s.events else [str(e) for e in s.events],
                deliveries=[_delivery(r) for r in records],
            )
        )
    return views


@router.get(WEBHOOKS)
def webhooks_page(request: Request, session: DbSession) -> Response:
    place = staff_page(request, session)
    if isinstance(place, Response):
        return place
    titles = _titles(request)
    groups: dict[str, list[SubscriptionView]] = {}
    for view in _views(session, place):
        groups.setdefault(view.subscription.surface, []).append(view)
    return render(
        request,
        place,
        "webhooks.html",
        {
            "title": "Webhooks",
            "groups": [
                {
                    "surface": surface,
                    "title": titles.get(surface, surface.capitalize()),
                    "subs": subs,
                }
                for surface, subs in groups.items()
            ],
            "can_act": may(place, "manager"),
            "latest": LATEST,
        },
        section=SECTION,
    )


def _subscription(
    request: Request, params: Params, session: Session, raw_id: str
) -> tuple[Workplace, WebhookSubscription] | Response:
    """The practice's subscription for a manager's change, or the answer instead (CSRF
    refusal, sign-in, 403 for staff, 404 for another practice's or an unknown one)."""
    place = staff_action(request, dict(params["form"]), session, "manager", SECTION)
    if isinstance(place, Response):
        return place
    try:
        found = webhook_service.find_subscription(session, place.practice_id, uuid.UUID(raw_id))
    except (ValueError, NotFound):
        return not_found(request, place, "webhook", SECTION)
    return place, found


@router.post(WEBHOOKS + "/{subscription_id}/enable")
def enable(subscription_id: str, request: Request, params: Params, session: DbSession) -> Response:
    """Turn a disabled subscription back on (its failure count and reason cleared)."""
    opened = _subscription(request, params, session, subscription_id)
    if isinstance(opened, Response):
        return opened
    place, subscription = opened
    webhook_service.update_subscription(
        session,
        actor(place),
        subscription.surface,
        subscription.id,
        url=None,
        events=None,
        enabled=True,
        description=None,
        allowed_hosts=request.app.state.settings.webhook_allowed_hosts,
    )
    request.session["flash"] = f"Deliveries to {subscription.url} are on again."
    return see_other(f"{WEBHOOKS}#sub-{subscription.id}")


@router.post(WEBHOOKS + "/{subscription_id}/deliveries/{delivery_id}/redeliver")
def redeliver(
    subscription_id: str, delivery_id: str, request: Request, params: Params, session: DbSession
) -> Response:
    """Queue one delivery again now (same event id and body)."""
    opened = _subscription(request, params, session, subscription_id)
    if isinstance(opened, Response):
        return opened
    place, subscription = opened
    try:
        record = webhook_service.redeliver(
            session,
            place.practice_id,
            subscription.surface,
            subscription.id,
            uuid.UUID(delivery_id),
        )
    except (ValueError, NotFound):
        return not_found(request, place, "delivery", SECTION)
    request.session["flash"] = (
        f"{record.event_code} is queued to be sent again to {subscription.url}"
        + ("" if subscription.enabled else " once the subscription is re-enabled")
        + "."
    )
    return see_other(f"{WEBHOOKS}#sub-{subscription.id}")
