"""The partner endpoints. Routes translate; services decide; reads serve stored documents.

Order lists and details are ``async`` routes that read on the event loop (one indexed
query and a sum of kept counts; no thread hop); writes are plain ``def`` routes in one
transaction each (``DbSession``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from optihub.auth.resource import Principal, require_scopes
from optihub.db.session import Database
from optihub.errors import FieldError, ValidationFailed
from optihub.reads import frames as frame_reads
from optihub.reads import orders as order_reads
from optihub.reads.frames import FrameFilter, stock_levels
from optihub.reads.orders import OrderFilter, Sort
from optihub.services import frames as frame_service
from optihub.services import orders as order_service
from optihub.services import webhooks as webhook_service
from optihub.services.context import Actor
from optihub.surfaces import kit
from optihub.surfaces.kit.fast import FastRead, FastRequest, IntParameter
from optihub.surfaces.partner import projection, schemas
from optihub.surfaces.partner.mapping import HIDDEN, HIDDEN_FROM_PARTNERS, STATUSES
from optihub.web import DbSession, database

SURFACE = "partner"
router = APIRouter(tags=["Partner API (Eyekiosk dialect)"])

ORDERS_READ = ("orders:read",)
OrdersRead = Annotated[Principal, Depends(require_scopes(*ORDERS_READ))]
OrdersFull = Annotated[Principal, Depends(require_scopes("orders:full"))]
FramesRead = Annotated[Principal, Depends(require_scopes("frames:read"))]
PrescriptionsRead = Annotated[Principal, Depends(require_scopes("prescriptions:read"))]
InventoryWrite = Annotated[Principal, Depends(require_scopes("inventory:write"))]
WebhooksRead = Annotated[Principal, Depends(require_scopes("webhooks:read"))]
WebhooksWrite = Annotated[Principal, Depends(require_scopes("webhooks:write"))]

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
Limit = kit.limit_param(MAX_LIMIT)
Offset = kit.Offset

# Changes younger than this are held back from polls until they settle, so a transaction
# that commits a little after a later one is never paged past (see docs/partner-api.md).
SETTLE = timedelta(seconds=2)


def actor(principal: Principal) -> Actor:
    return Actor(
        practice_id=kit.single_practice(principal),
        via=SURFACE,
        client_id=principal.client_id,
        label=f"partner app {principal.client_id}",
    )


def page_body(items: list[bytes], pagination: dict[str, object]) -> bytes:
    return kit.json_object(data=kit.json_array(items), pagination=orjson.dumps(pagination))


@router.get("/orders", response_model=schemas.OrderList, summary="List orders")
async def get_orders(
    request: Request,
    principal: OrdersRead,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    status: Annotated[str | None, Query(description="Comma-separated partner statuses")] = None,
    since: Annotated[
        kit.Timestamp | None, Query(description="ISO-8601; updated at or after")
    ] = None,
    cursor: Annotated[
        str | None,
        Query(description="OptiHub extension: `pagination.next_cursor` of the previous poll"),
    ] = None,
) -> Response:
    practice_id = kit.single_practice(principal)
    body = await _orders_page(database(request), practice_id, limit, offset, status, since, cursor)
    return kit.raw_json(body)


async def _orders_page(
    db: Database,
    practice_id: int,
    limit: int,
    offset: int,
    status: str | None,
    since: datetime | None,
    cursor: str | None,
) -> bytes:
    poll = kit.Poll.of(since, cursor, offset)
    flt = OrderFilter(
        statuses=kit.status_filter(status, STATUSES, HIDDEN_FROM_PARTNERS),
        hidden_statuses=HIDDEN,
        **poll.window(SETTLE),
    )
    page = await order_reads.stored_page_async(
        db,
        practice_id,
        SURFACE,
        flt,
        limit=limit,
        offset=offset,
        sort=Sort.UPDATED if poll.active else Sort.NEWEST,
        with_last=poll.active,
    )

    def assemble(of: order_reads.DocumentPage) -> bytes:
        pagination = kit.offset_page(of.total, limit, offset, len(of.items))
        if poll.active:
            pagination["next_cursor"] = poll.next_cursor(of.last)
        return page_body(of.items, pagination)

    if poll.active:  # a poll's page is read fresh each time: nothing to keep
        return assemble(page)
    return page.body((SURFACE, limit, offset), assemble)


@router.get("/orders/{order_id}", response_model=schemas.OrderDetail, summary="One order")
async def get_order(order_id: uuid.UUID, request: Request, principal: OrdersRead) -> Response:
    practice_id = kit.single_practice(principal)
    db = database(request)
    body = await order_reads.stored_detail_async(db, practice_id, SURFACE, order_id, HIDDEN)
    return kit.raw_json(body)


# The order list and detail on the kit's fast path (``kit.fast``): a page of the newest
# orders and one order by id, the reads every partner polls; any other query string (a
# status filter, a poll) goes to the routes above.
async def _fast_orders(request: FastRequest) -> bytes:
    limit, offset = request.values["limit"], request.values["offset"]
    return await _orders_page(request.db, request.practice_id, limit, offset, None, None, None)


async def _fast_order(request: FastRequest) -> bytes:
    order_id = uuid.UUID(request.segment)
    return await order_reads.stored_detail_async(
        request.db, request.practice_id, SURFACE, order_id, HIDDEN
    )


FAST_READS = (
    FastRead(
        "/orders",
        _fast_orders,
        {
            "limit": IntParameter(1, MAX_LIMIT, DEFAULT_LIMIT),
            "offset": IntParameter(0, kit.MAX_OFFSET, 0),
        },
    ),
    FastRead("/orders/{order_id}", _fast_order),
)


@router.patch("/orders/{order_id}", response_model=schemas.OrderDetail, summary="Change status")
def patch_order(
    order_id: uuid.UUID, body: schemas.StatusUpdate, principal: OrdersFull, session: DbSession
) -> Response:
    who = actor(principal)
    order_reads.view(session, who.practice_id, order_id, HIDDEN)
    order_service.change_order_status(
        session,
        who,
        order_id,
        STATUSES.to_canonical(body.status),
        note=body.note,
        tracking_number=body.tracking_number,
    )
    changed = order_reads.view(session, who.practice_id, order_id)
    return kit.raw_json(projection.ORDERS.detail(changed))


@router.get("/frames", response_model=schemas.FrameList, summary="Frame inventory with stock")
def get_frames(
    principal: FramesRead,
    session: DbSession,
    limit: Limit = 20,
    offset: Offset = 0,
    brand: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    in_stock: bool | None = None,
    updated_since: kit.Timestamp | None = None,
) -> Response:
    flt = FrameFilter(brand=brand, in_stock=in_stock, updated_since=updated_since)
    found = frame_reads.page(
        session, kit.single_practice(principal), flt, limit=limit, offset=offset
    )
    data = [projection.frame(f) for f in found.views]
    return kit.json_response(
        {"data": data, "pagination": kit.offset_page(found.total, limit, offset, len(data))}
    )


@router.get(
    "/prescriptions",
    response_model=schemas.PrescriptionList,
    summary="Rx of orders",
    description=(
        "The Rx each order was made with. Only orders that carry a spectacle Rx are listed "
        "(and counted in `pagination.total`); an order placed without one is not in the list."
    ),
)
def get_prescriptions(
    principal: PrescriptionsRead,
    session: DbSession,
    limit: Limit = 20,
    offset: Offset = 0,
    order_id: uuid.UUID | None = None,
    since: kit.Timestamp | None = None,
) -> Response:
    flt = OrderFilter(
        hidden_statuses=HIDDEN,
        updated_since=since,
        with_prescription_only=True,
        order_id=order_id,
    )
    found = order_reads.views(
        session,
        kit.single_practice(principal),
        flt,
        limit=limit,
        offset=offset,
        sort=Sort.UPDATED if since is not None else Sort.NEWEST,
    )
    data = [projection.prescription(order) for order in found.views]
    return kit.json_response(
        {"data": data, "pagination": kit.offset_page(found.total, limit, offset, len(data))}
    )


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
    levels = stock_levels(session, who.practice_id, {f.id for _, f, _ in resolved})
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
    return kit.json_response({"data": data})


@router.get(
    "/webhooks", response_model=schemas.WebhookList, summary="Subscriptions and delivery status"
)
def get_webhooks(principal: WebhooksRead, session: DbSession) -> Response:
    rows = webhook_service.list_subscriptions(session, kit.single_practice(principal), SURFACE)
    return kit.json_response({"data": [projection.webhook(r) for r in rows]})


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
        surface=SURFACE,
        url=str(body.url),
        events=list(body.events),
        enabled=body.enabled,
        description=body.description,
        key=request.app.state.instance_key,
        allowed_hosts=request.app.state.settings.webhook_allowed_hosts,
    )
    status = webhook_service.SubscriptionStatus(subscription, 0)
    return kit.json_response(projection.webhook(status) | {"secret": secret}, status_code=201)


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
        SURFACE,
        webhook_id,
        url=str(body.url) if body.url is not None else None,
        events=list(body.events) if body.events is not None else None,
        enabled=body.enabled,
        description=body.description,
        allowed_hosts=request.app.state.settings.webhook_allowed_hosts,
    )
    pending = {
        s.subscription.id: s.pending_deliveries
        for s in webhook_service.list_subscriptions(session, subscription.practice_id, SURFACE)
    }
    return kit.json_response(
        projection.webhook(
            webhook_service.SubscriptionStatus(subscription, pending.get(subscription.id, 0))
        )
    )


@router.delete("/webhooks/{webhook_id}", status_code=204, summary="Delete a subscription")
def delete_webhook(webhook_id: uuid.UUID, principal: WebhooksWrite, session: DbSession) -> Response:
    webhook_service.delete_subscription(session, actor(principal), SURFACE, webhook_id)
    return Response(status_code=204)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=schemas.DeliveryList,
    summary="Recent deliveries and their attempts",
)
def get_deliveries(webhook_id: uuid.UUID, principal: WebhooksRead, session: DbSession) -> Response:
    records = webhook_service.list_deliveries(
        session, kit.single_practice(principal), SURFACE, webhook_id
    )
    return kit.json_response({"data": [projection.delivery(r) for r in records]})


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    response_model=schemas.DeliveryOut,
    summary="Send a delivery again now (OptiHub extension)",
)
def redeliver(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, principal: WebhooksWrite, session: DbSession
) -> Response:
    record = webhook_service.redeliver(
        session, kit.single_practice(principal), SURFACE, webhook_id, delivery_id
    )
    return kit.json_response(projection.delivery(record))
