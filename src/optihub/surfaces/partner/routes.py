"""The ten partner endpoints. Routes translate; services decide."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from optihub.auth.resource import Principal, require_scopes
from optihub.db.base import utcnow
from optihub.domain.orders import OrderStatus
from optihub.errors import Conflict, FieldError, ValidationFailed
from optihub.services import frames as frame_service
from optihub.services import orders as order_service
from optihub.services import webhooks as webhook_service
from optihub.services.context import Actor
from optihub.services.frame_queries import list_frames
from optihub.services.order_queries import get_order_row, list_orders
from optihub.surfaces.partner import schemas, serializers
from optihub.surfaces.partner.errors import PartnerError, render
from optihub.surfaces.partner.mapping import HIDDEN_FROM_PARTNERS, STATUSES, canonical_states_for
from optihub.web import DbSession

PREFIX = "/api/v1/partner"
MAX_BODY = 1024 * 1024
HIDDEN = [s.value for s in HIDDEN_FROM_PARTNERS]

router = APIRouter(
    prefix=PREFIX,
    tags=["Partner API (Eyekiosk dialect)"],
    responses={
        code: {"model": schemas.ErrorEnvelope} for code in (400, 401, 403, 404, 409, 413, 422, 429)
    },
)

OrdersRead = Annotated[Principal, Depends(require_scopes("orders:read"))]
OrdersFull = Annotated[Principal, Depends(require_scopes("orders:full"))]
FramesRead = Annotated[Principal, Depends(require_scopes("frames:read"))]
PrescriptionsRead = Annotated[Principal, Depends(require_scopes("prescriptions:read"))]
InventoryWrite = Annotated[Principal, Depends(require_scopes("inventory:write"))]
WebhooksRead = Annotated[Principal, Depends(require_scopes("webhooks:read"))]
WebhooksWrite = Annotated[Principal, Depends(require_scopes("webhooks:write"))]

Limit = Annotated[int, Query(ge=1, le=100, description="1–100")]
Offset = Annotated[int, Query(ge=0)]


def json(body: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")


def actor(principal: Principal) -> Actor:
    return Actor(
        practice_id=principal.practice_id,
        via="partner",
        client_id=principal.client_id,
        label=f"partner app {principal.client_id}",
    )


def page(data: list[Any], limit: int, offset: int, total: int) -> dict[str, Any]:
    return {
        "data": data,
        "pagination": {
            "limit": limit,
            "offset": offset,
            "total": total,
            "has_more": offset + len(data) < total,
        },
    }


def parse_statuses(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    names = [part.strip() for part in raw.split(",") if part.strip()]
    unknown = [n for n in names if n not in STATUSES.names]
    if unknown or not names:
        raise PartnerError(
            400,
            "invalid_status",
            f"Unknown status {', '.join(unknown) or '(empty)'}; "
            f"allowed: {', '.join(STATUSES.names)}",
            [{"field": "status", "allowed": list(STATUSES.names)}],
        )
    return [s.value for s in canonical_states_for(names)]


def aware(value: datetime | None) -> datetime | None:
    from datetime import UTC

    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@router.get("/orders", response_model=schemas.OrderList, summary="List orders")
def get_orders(
    principal: OrdersRead,
    session: DbSession,
    limit: Limit = 20,
    offset: Offset = 0,
    status: Annotated[str | None, Query(description="Comma-separated partner statuses")] = None,
    since: Annotated[datetime | None, Query(description="ISO-8601; updated at or after")] = None,
    cursor: Annotated[
        str | None,
        Query(description="OptiHub extension: `pagination.next_cursor` of the previous poll"),
    ] = None,
) -> Response:
    position = parse_cursor(cursor) if cursor is not None else None
    if position is not None and (since is not None or offset):
        raise PartnerError(
            400,
            "invalid_request",
            "cursor: use it alone (without since or offset)",
            [{"field": "cursor", "message": "cannot be combined with since or offset"}],
        )
    polling = since is not None or position is not None
    result = list_orders(
        session,
        principal.practice_id,
        limit=limit,
        offset=offset,
        statuses=parse_statuses(status),
        hidden_statuses=HIDDEN,
        updated_since=aware(since),
        after=position,
        settled_before=utcnow() - SETTLE if polling else None,
    )
    data = [serializers.order(row, detail=False) for row in result.rows]
    body = page(data, limit, offset, result.total)
    if polling:
        last = result.rows[-1].order if result.rows else None
        if last is not None:
            body["pagination"]["next_cursor"] = make_cursor(last.updated_at, last.id)
        elif position is not None:
            body["pagination"]["next_cursor"] = cursor
        else:  # nothing settled yet: continue from just before `since` (inclusive)
            start = aware(since)
            assert start is not None
            body["pagination"]["next_cursor"] = make_cursor(
                start - timedelta(microseconds=1), uuid.UUID(int=(1 << 128) - 1)
            )
    return json(body)


# Changes younger than this are held back from polls until they settle, so a transaction
# that commits a little after a later one is never paged past (see docs/partner-api.md).
SETTLE = timedelta(seconds=2)


def make_cursor(updated_at: datetime, order_id: uuid.UUID) -> str:
    raw = f"{updated_at.isoformat()}|{order_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_cursor(raw: str) -> tuple[datetime, uuid.UUID]:
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        moment, order_id = text.split("|")
        parsed = datetime.fromisoformat(moment)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC), uuid.UUID(order_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PartnerError(
            400,
            "invalid_request",
            "cursor: not a cursor from this API",
            [{"field": "cursor", "message": "not a cursor from this API"}],
        ) from exc


@router.get("/orders/{order_id}", response_model=schemas.OrderDetail, summary="One order")
def get_order(order_id: uuid.UUID, principal: OrdersRead, session: DbSession) -> Response:
    row = get_order_row(session, principal.practice_id, order_id, HIDDEN)
    return json(serializers.order(row, detail=True))


@router.patch("/orders/{order_id}", response_model=schemas.OrderDetail, summary="Change status")
def patch_order(
    order_id: uuid.UUID, body: schemas.StatusUpdate, principal: OrdersFull, session: DbSession
) -> Response:
    get_order_row(session, principal.practice_id, order_id, HIDDEN)
    try:
        order_service.change_order_status(
            session,
            actor(principal),
            order_id,
            STATUSES.to_canonical(body.status),
            note=body.note,
            tracking_number=body.tracking_number,
        )
    except Conflict as conflict:
        allowed = STATUSES.allowed_names(tuple(OrderStatus(s) for s in conflict.allowed))
        raise PartnerError(
            409,
            "invalid_transition",
            conflict.message.split(";")[0] + f"; allowed next: {', '.join(allowed) or 'none'}",
            [{"field": "status", "allowed": allowed}],
        ) from conflict
    return json(
        serializers.order(get_order_row(session, principal.practice_id, order_id), detail=True)
    )


@router.get("/frames", response_model=schemas.FrameList, summary="Frame inventory with stock")
def get_frames(
    principal: FramesRead,
    session: DbSession,
    limit: Limit = 20,
    offset: Offset = 0,
    brand: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    in_stock: bool | None = None,
    updated_since: datetime | None = None,
) -> Response:
    result = list_frames(
        session,
        principal.practice_id,
        limit=limit,
        offset=offset,
        brand=brand,
        in_stock=in_stock,
        updated_since=aware(updated_since),
    )
    return json(page([serializers.frame(r) for r in result.rows], limit, offset, result.total))


@router.get("/prescriptions", response_model=schemas.PrescriptionList, summary="Rx of orders")
def get_prescriptions(
    principal: PrescriptionsRead,
    session: DbSession,
    limit: Limit = 20,
    offset: Offset = 0,
    order_id: uuid.UUID | None = None,
    since: datetime | None = None,
) -> Response:
    result = list_orders(
        session,
        principal.practice_id,
        limit=limit,
        offset=offset,
        hidden_statuses=HIDDEN,
        updated_since=aware(since),
        with_prescription_only=True,
        order_id=order_id,
    )
    data = [serializers.prescription(row.order) for row in result.rows]
    return json(page(data, limit, offset, result.total))


@router.post(
    "/inventory", response_model=schemas.InventoryResponse, summary="Batch stock and price updates"
)
def post_inventory(
    batch: schemas.InventoryBatch, principal: InventoryWrite, session: DbSession
) -> Response:
    who = actor(principal)
    locations = frame_service.location_ids(session, who.practice_id)
    changes, errors, resolved = [], [], []
    for index, update in enumerate(batch.updates):
        frame = (
            frame_service.get_frame_by_sku(session, who.practice_id, update.sku)
            if update.sku is not None
            else frame_service.find_frame(session, who.practice_id, update.frame_id)
        )
        if frame is None:
            field = "sku" if update.sku is not None else "frame_id"
            errors.append(FieldError(field, "No such frame in this practice.", index))
            continue
        location_id = update.location_id
        if location_id is None:
            if len(locations) != 1:
                errors.append(
                    FieldError(
                        "location_id", "Required: the practice has several locations.", index
                    )
                )
                continue
            location_id = locations[0]
        resolved.append((index, frame, location_id))
        changes.append(
            frame_service.StockChange(
                frame.id,
                location_id,
                quantity=update.quantity,
                price=update.price,
                wholesale_price=update.wholesale_price,
            )
        )
    if errors:
        raise ValidationFailed(errors)
    frame_service.apply_stock_changes(session, who, changes)
    levels = frame_service.stock_levels(session, who.practice_id, {f.id for _, f, _ in resolved})
    data = [
        {
            "index": index,
            "frame_id": str(frame.id),
            "sku": frame.sku,
            "location_id": str(location_id),
            "quantity": dict(levels[frame.id]).get(location_id, 0),
            "total_quantity": sum(q for _, q in levels[frame.id]),
        }
        for index, frame, location_id in resolved
    ]
    return json({"data": data})


@router.get(
    "/webhooks", response_model=schemas.WebhookList, summary="Subscriptions and delivery status"
)
def get_webhooks(principal: WebhooksRead, session: DbSession) -> Response:
    rows = webhook_service.list_subscriptions(session, principal.practice_id)
    return json({"data": [serializers.webhook(r) for r in rows]})


@router.post(
    "/webhooks",
    response_model=schemas.WebhookCreated,
    status_code=201,
    summary="Create a subscription",
)
def post_webhook(
    request: Request, body: schemas.WebhookCreate, principal: WebhooksWrite, session: DbSession
) -> Response:
    subscription, secret = webhook_service.create_subscription(
        session,
        actor(principal),
        url=str(body.url),
        events=list(body.events),
        enabled=body.enabled,
        description=body.description,
        key=request.app.state.instance_key,
        allowed_hosts=request.app.state.settings.webhook_allowed_hosts,
    )
    status = webhook_service.SubscriptionStatus(subscription, 0)
    return json(serializers.webhook(status) | {"secret": secret}, status_code=201)


@router.patch(
    "/webhooks/{webhook_id}", response_model=schemas.WebhookOut, summary="Update a subscription"
)
def patch_webhook(
    webhook_id: uuid.UUID,
    request: Request,
    body: schemas.WebhookUpdate,
    principal: WebhooksWrite,
    session: DbSession,
) -> Response:
    subscription = webhook_service.update_subscription(
        session,
        actor(principal),
        webhook_id,
        url=str(body.url) if body.url is not None else None,
        events=list(body.events) if body.events is not None else None,
        enabled=body.enabled,
        description=body.description,
        allowed_hosts=request.app.state.settings.webhook_allowed_hosts,
    )
    pending = {
        s.subscription.id: s.pending_deliveries
        for s in webhook_service.list_subscriptions(session, principal.practice_id)
    }
    return json(
        serializers.webhook(
            webhook_service.SubscriptionStatus(subscription, pending.get(subscription.id, 0))
        )
    )


@router.delete("/webhooks/{webhook_id}", status_code=204, summary="Delete a subscription")
def delete_webhook(webhook_id: uuid.UUID, principal: WebhooksWrite, session: DbSession) -> Response:
    webhook_service.delete_subscription(session, actor(principal), webhook_id)
    return Response(status_code=204)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=schemas.DeliveryList,
    summary="Recent deliveries and their attempts",
)
def get_deliveries(webhook_id: uuid.UUID, principal: WebhooksRead, session: DbSession) -> Response:
    records = webhook_service.list_deliveries(session, principal.practice_id, webhook_id)
    return json({"data": [serializers.delivery(r) for r in records]})


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    response_model=schemas.DeliveryOut,
    summary="Send a delivery again now (OptiHub extension)",
)
def redeliver(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, principal: WebhooksWrite, session: DbSession
) -> Response:
    record = webhook_service.redeliver(session, principal.practice_id, webhook_id, delivery_id)
    return json(serializers.delivery(record))


class BodyLimit:
    """Refuse partner request bodies over 1 MiB before anything parses them (413).

    A declared Content-Length over the limit is refused at once; otherwise the body is read
    here (never more than the limit plus one chunk) and handed on, so a chunked body
    without a length is held to the same limit.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not scope["path"].startswith(PREFIX)
            or scope["method"] in {"GET", "HEAD", "DELETE", "OPTIONS"}
        ):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
            await too_large(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                await too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Any:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def too_large(send: Send) -> None:
    body = orjson.dumps(
        {
            "error": {
                "code": "payload_too_large",
                "message": "The body is over 1 MiB",
                "details": [{"field": "body", "max_bytes": MAX_BODY}],
            }
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def install(app: FastAPI) -> None:
    from optihub.surfaces.partner.events import render_event

    app.state.webhook_renderer = render_event
    app.include_router(router)
    app.add_middleware(BodyLimit)
    app.state.error_renderers.register(PREFIX, render)
