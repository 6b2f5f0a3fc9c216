"""``/notifications``: the dialect's webhook subscriptions, on the shared engine
(``services.webhooks``; subscriptions of surface ``fulfillment``, ``"all"`` stored as
``["*"]``), its event codes, sample payloads and a test delivery."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from optihub.auth.resource import Principal, require_scopes
from optihub.db.models import WebhookSubscription
from optihub.errors import FieldError, ValidationFailed
from optihub.services import webhooks as webhook_service
from optihub.services.context import Actor
from optihub.surfaces import kit
from optihub.surfaces.fulfillment import notifications, schemas
from optihub.surfaces.fulfillment.mapping import SURFACE
from optihub.surfaces.fulfillment.projection import timestamp
from optihub.web import DbSession, database

router = APIRouter(tags=["Fulfillment API (Blend dialect)"])

FulfillmentRead = Annotated[Principal, Depends(require_scopes("fulfillment:read"))]
FulfillmentWrite = Annotated[Principal, Depends(require_scopes("fulfillment:write"))]
EventCodeParam = Annotated[str, Path(min_length=1, max_length=100, description="An event code")]


def _actor(principal: Principal) -> Actor:
    return Actor(
        practice_id=kit.single_practice(principal),
        via=SURFACE,
        client_id=principal.client_id,
        label=f"fulfillment app {principal.client_id}",
    )


def subscription(s: WebhookSubscription) -> dict[str, Any]:
    return {
        "id": str(s.id),
        "url": s.url,
        "event_codes": notifications.shown_codes(s.events),
        "enabled": s.enabled,
        "created_at": timestamp(s.created_at),
        "updated_at": timestamp(s.updated_at),
        "last_delivery_at": timestamp(s.last_delivery_at),
        "last_status": "disabled" if not s.enabled else s.last_status,
        "disabled_reason": s.disabled_reason,
    }


@router.get(
    "/notifications/events",
    response_model=list[schemas.EventInfo],
    summary="The event codes a subscription may list",
)
def get_events(principal: FulfillmentRead) -> Response:
    kit.single_practice(principal)
    return kit.json_response(
        [{"event_code": code, "description": text} for code, text in notifications.EVENTS.items()]
    )


@router.post(
    "/notifications",
    response_model=schemas.SubscriptionCreated,
    status_code=201,
    summary='Subscribe a URL to event codes (or "all"); the signing secret is shown once',
)
def post_notification(
    request: Request,
    body: schemas.NotificationCreate,
    principal: FulfillmentWrite,
    session: DbSession,
) -> Response:
    created, secret = webhook_service.create_subscription(
        session,
        _actor(principal),
        surface=SURFACE,
        url=body.url,
        events=notifications.subscribed_codes(body.event_codes),
        enabled=True,
        description=None,
        key=request.app.state.instance_key,
        allowed_hosts=request.app.state.settings.webhook_allowed_hosts,
        event_types=notifications.EVENT_CODES,
    )
    return kit.json_response(subscription(created) | {"secret": secret}, status_code=201)


@router.get(
    "/notifications/webhooks",
    response_model=list[schemas.Subscription],
    summary="The practice's subscriptions (OptiHub)",
)
def get_notifications(principal: FulfillmentRead, session: DbSession) -> Response:
    rows = webhook_service.list_subscriptions(session, kit.single_practice(principal), SURFACE)
    return kit.json_response([subscription(row.subscription) for row in rows])


@router.put(
    "/notifications/webhooks/{webhook_id}",
    response_model=schemas.Subscription,
    summary="Change a subscription's URL or event codes",
)
def put_notification(
    webhook_id: uuid.UUID,
    request: Request,
    body: schemas.NotificationUpdate,
    principal: FulfillmentWrite,
    session: DbSession,
) -> Response:
    changed = webhook_service.update_subscription(
        session,
        _actor(principal),
        SURFACE,
        webhook_id,
        url=body.url,
        events=(
            notifications.subscribed_codes(body.event_codes)
            if body.event_codes is not None
            else None
        ),
        enabled=None,
        description=None,
        allowed_hosts=request.app.state.settings.webhook_allowed_hosts,
        event_types=notifications.EVENT_CODES,
    )
    return kit.json_response(subscription(changed))


@router.delete(
    "/notifications/webhooks/{webhook_id}", status_code=204, summary="Delete a subscription"
)
def delete_notification(
    webhook_id: uuid.UUID, principal: FulfillmentWrite, session: DbSession
) -> Response:
    webhook_service.delete_subscription(session, _actor(principal), SURFACE, webhook_id)
    return Response(status_code=204)


@router.get(
    "/notifications/sample/{event_code}",
    response_model=schemas.Sample,
    summary="What a delivery of an event code looks like",
)
def get_sample(event_code: EventCodeParam, principal: FulfillmentRead) -> Response:
    kit.single_practice(principal)
    return kit.json_response(
        {"event_code": event_code, "payload_preview": notifications.sample(event_code)}
    )


@router.post(
    "/notifications/sample",
    response_model=schemas.SampleSent,
    summary="Send a signed test delivery to one of the practice's subscribed URLs",
)
def post_sample(
    request: Request, body: schemas.SampleRequest, principal: FulfillmentWrite
) -> Response:
    """The URL must be one of the practice's subscriptions (OptiHub: the delivery is signed
    with that subscription's secret); sent once, now, after the same address checks as
    every delivery; not retried or recorded."""
    practice_id = kit.single_practice(principal)
    # Read, then send with no transaction open (the receiver has up to 10 s).
    with database(request).reading() as reader:
        ciphertext = webhook_service.secret_for_url(reader, practice_id, SURFACE, body.webhook_url)
    if ciphertext is None:
        raise ValidationFailed(
            [
                FieldError(
                    "webhook_url",
                    "Not the URL of one of this practice's subscriptions: subscribe it first "
                    "(POST /notifications); test deliveries are signed with its secret.",
                )
            ]
        )
    sent = notifications.send_test(
        body.webhook_url,
        request.app.state.instance_key.decrypt(ciphertext),
        notifications.sample(body.event_code),
        request.app.state.settings.webhook_allowed_hosts,
    )
    return kit.json_response(
        {
            "event_code": body.event_code,
            "webhook_url": body.webhook_url,
            "webhook_id": sent.webhook_id,
            "delivered": sent.delivered,
            "status_code": sent.status_code,
            "error": sent.error,
        }
    )
