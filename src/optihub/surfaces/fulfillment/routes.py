"""The fulfillment endpoints. Routes translate; ``services.fulfillment`` decides; order
documents come from the shared read path (``reads.orders``).

The order list is an ``async`` route reading on the event loop; the order create an
``async`` route whose transaction is one trip through the thread pool (``in_transaction``);
every other route is a plain ``def`` route with one transaction (``DbSession``).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from optihub.auth.resource import Principal, require_scopes
from optihub.db.session import Database
from optihub.errors import NotFound
from optihub.reads import documents
from optihub.reads import fulfillment as fulfillment_reads
from optihub.reads import orders as order_reads
from optihub.reads.orders import OrderFilter, Sort
from optihub.services import fulfillment as fulfillment_service
from optihub.services.context import Actor
from optihub.services.patients import PatientDetails
from optihub.surfaces import kit
from optihub.surfaces.fulfillment import schemas
from optihub.surfaces.fulfillment.mapping import (
    DEFAULT_PER_PAGE,
    HIDDEN,
    MAX_PAGE,
    MAX_PER_PAGE,
    SEARCH_LIMIT,
    SURFACE,
    status_filter,
)
from optihub.surfaces.fulfillment.projection import ORDERS, timestamp
from optihub.surfaces.kit.fast import FastAnswer, FastRead, FastRequest, IntParameter, hot_answer
from optihub.surfaces.kit.fast_write import FastWrite, WriteRequest
from optihub.web import DbSession, HotAnswer, database, in_transaction

router = APIRouter(tags=["Fulfillment API (Blend dialect)"])

FulfillmentRead = Annotated[Principal, Depends(require_scopes("fulfillment:read"))]
FulfillmentWrite = Annotated[Principal, Depends(require_scopes("fulfillment:write"))]
OrderRef = Annotated[
    str,
    Path(min_length=1, max_length=100, description="The order's id, order_number or external_id"),
]
PerPage = kit.limit_param(MAX_PER_PAGE)
PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"1–{MAX_PAGE}")]


def actor(principal: Principal) -> Actor:
    return Actor(
        practice_id=kit.single_practice(principal),
        via=SURFACE,
        client_id=principal.client_id,
        label=f"fulfillment app {principal.client_id}",
    )


def _order_body(session: Session, practice_id: int, order_id: uuid.UUID) -> bytes:
    return order_reads.detail(session, practice_id, SURFACE, order_id, HIDDEN)


def _resolve(session: Session, practice_id: int, reference: str) -> uuid.UUID:
    return fulfillment_reads.resolve_order_id(session, practice_id, reference, HIDDEN)


def _link(request: Request, page: int) -> str:
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    query.append(("page", str(page)))
    return str(request.url.replace(query=urlencode(query)))


def page_headers(request: Request, total: int, page: int, per_page: int) -> dict[str, str]:
    """The pagination headers: counts, and an RFC 8288 ``Link`` with the same query."""
    pages = math.ceil(total / per_page)
    links = [(1, "first")]
    if page > 1:
        links.append((min(page - 1, max(pages, 1)), "prev"))
    if page < pages:
        links.append((page + 1, "next"))
    links.append((max(pages, 1), "last"))
    return {
        "X-Total-Count": str(total),
        "X-Page": str(page),
        "X-Page-Size": str(per_page),
        "X-Total-Pages": str(pages),
        "X-Remaining-Count": str(max(total - page * per_page, 0)),
        "Link": ", ".join(f'<{_link(request, number)}>; rel="{rel}"' for number, rel in links),
    }


@router.get(
    "/orders",
    response_model=list[schemas.Order],
    summary="List orders (pagination in the headers)",
)
async def get_orders(
    request: Request,
    principal: FulfillmentRead,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
    status: Annotated[
        str | None,
        Query(
            max_length=200,
            description="One status or a comma-separated list: received, picked, verified, "
            "paused, shipped, delivered, cancelled",
        ),
    ] = None,
    has_unmatched_prescriptions: Annotated[
        bool | None,
        Query(description="true: prescription products not yet linked; false: fully matched"),
    ] = None,
) -> Response:
    practice_id = kit.single_practice(principal)
    statuses, sub_statuses = status_filter(status)
    flt = OrderFilter(
        statuses=statuses,
        hidden_statuses=HIDDEN,
        sub_statuses=sub_statuses,
        unmatched_prescriptions=has_unmatched_prescriptions,
    )
    body, headers = await _orders_page(request, practice_id, flt, page, per_page)
    return kit.raw_json(body, headers=headers)


async def _orders_page(
    request: Request, practice_id: int, flt: OrderFilter, page: int, per_page: int
) -> tuple[bytes, dict[str, str]]:
    """A page of orders, newest first, and its pagination headers."""
    db = database(request)
    found = await order_reads.stored_page_async(
        db,
        practice_id,
        SURFACE,
        flt,
        limit=per_page,
        offset=(page - 1) * per_page,
        sort=Sort.NEWEST,
    )
    total = found.total
    if not found.items and page > 1:
        # An empty page past the end still tells how many there are (off the event loop).
        total = await run_in_threadpool(_total, db, practice_id, flt)
    return kit.json_array(found.items), page_headers(request, total, page, per_page)


def _total(db: Database, practice_id: int, flt: OrderFilter) -> int:
    with db.reading() as reader:
        return order_reads.total(reader, practice_id, flt)


# The order list and detail on the kit's fast path (``kit.fast``): the newest orders
# unfiltered, and one order by its id; a filter, or an order named by its number or
# external id, goes to the routes.
async def _fast_orders(request: FastRequest) -> HotAnswer:
    flt = OrderFilter(hidden_statuses=HIDDEN)
    page, per_page = request.values["page"], request.values["per_page"]
    body, headers = await _orders_page(
        Request(request.scope), request.practice_id, flt, page, per_page
    )
    return HotAnswer(
        body, headers=tuple((k.lower().encode(), v.encode()) for k, v in headers.items())
    )


async def _fast_order(request: FastRequest) -> bytes | None:
    order_id = uuid.UUID(request.segment)
    try:
        return await order_reads.stored_detail_async(
            request.db, request.practice_id, SURFACE, order_id, HIDDEN
        )
    except NotFound:
        return None  # maybe an external id shaped like an id: the route resolves it


def _patient_ref(body: schemas.OrderCreate) -> fulfillment_service.PatientRef:
    if body.patient_id is not None:
        return fulfillment_service.PatientRef(id=body.patient_id)
    given = body.patient
    assert given is not None
    details = None
    if given.first_name is not None and given.last_name is not None:
        details = PatientDetails(
            first_name=given.first_name,
            last_name=given.last_name,
            email=given.email,
            phone=given.phone,
            date_of_birth=given.date_of_birth,
        )
    return fulfillment_service.PatientRef(
        id=given.id, external_id=given.external_id, details=details
    )


def _address(given: schemas.AddressIn | None) -> fulfillment_service.Address | None:
    if given is None:
        return None
    return fulfillment_service.Address(
        address_line1=given.address_1,
        address_line2=given.address_2,
        city=given.city,
        state=given.state,
        postal_code=given.zip_code,
        country=given.country,
    )


def _shipping(given: schemas.ShippingIn | None) -> fulfillment_service.Shipping | None:
    if given is None:
        return None
    return fulfillment_service.Shipping(carrier=given.carrier, service_level=given.service_level)


def _custom_shipping(given: schemas.CustomShippingIn | None) -> dict[str, Any] | None:
    return given.model_dump() if given is not None else None


@router.post(
    "/orders",
    response_model=schemas.Order,
    status_code=201,
    summary="Create an order (merged into the patient's open received order by default)",
    responses={200: {"model": schemas.Order, "description": "Merged into an open order"}},
)
async def post_order(
    request: Request,
    body: schemas.OrderCreate,
    principal: FulfillmentWrite,
    force_new: Annotated[
        bool, Query(description="true: always a new order, never a merge")
    ] = False,
) -> Response:
    return await _placed(partial(in_transaction, request), actor(principal), body, force_new)


async def _placed(
    transaction: Callable[[Callable[[Session], Response]], Awaitable[Response]],
    who: Actor,
    body: schemas.OrderCreate,
    force_new: bool,
) -> Response:
    """The placed (or merged) order's answer, written in one ``transaction`` (one trip
    through the thread pool): the route's and the fast path's (``FAST_WRITES``) one code."""
    products = [
        fulfillment_service.ProductLine(
            group=group, index=index, quantity=item.quantity, id=item.id, sku=item.sku
        )
        for group, items in (
            ("prescription", body.products.prescription),
            ("non_prescription", body.products.non_prescription),
        )
        for index, item in enumerate(items)
    ]
    order_request = fulfillment_service.OrderRequest(
        patient=_patient_ref(body),
        products=products,
        address=_address(body.address),
        custom_shipping=_custom_shipping(body.custom_shipping),
        external_id=body.external_id,
        prescription_ids=list(body.prescription_ids),
        shipping=_shipping(body.shipping),
        priority_requested=body.priority_requested,
    )

    def place(session: Session) -> Response:
        placed = fulfillment_service.place(session, who, order_request, force_new=force_new)
        status_code = 200 if placed.merged else 201
        session.flush()
        view = fulfillment_service.written_view(session, placed)
        if view is None:
            return _rendered(session, who.practice_id, placed.order.id, status_code)
        documents.keep_view(session, who.practice_id, view)  # stored as rendered here
        return kit.raw_json(ORDERS.detail(view), status_code=status_code)

    return await transaction(place)


async def _fast_post_order(request: WriteRequest) -> FastAnswer:
    """``POST /orders`` on the kit's fast path: a body the model takes, then the route's
    code (``force_new`` is a query parameter: such a request goes to the route)."""
    try:
        body = schemas.OrderCreate.model_validate(request.body)
    except ValidationError:
        return None  # the route's own 422, rendered as it renders it
    return hot_answer(await _placed(request.transaction, actor(request.principal), body, False))


# One order (a JSON object, no query string); anything unusual goes to the route.
FAST_WRITES = (FastWrite("/orders", _fast_post_order),)


@router.get("/orders/{order_id}", response_model=schemas.Order, summary="One order")
def get_order(order_id: OrderRef, principal: FulfillmentRead, session: DbSession) -> Response:
    practice_id = kit.single_practice(principal)
    found = _resolve(session, practice_id, order_id)
    return kit.raw_json(_order_body(session, practice_id, found))


FAST_READS = (
    FastRead(
        "/orders",
        _fast_orders,
        {
            "page": IntParameter(1, MAX_PAGE, 1),
            "per_page": IntParameter(1, MAX_PER_PAGE, DEFAULT_PER_PAGE),
        },
    ),
    FastRead("/orders/{order_id}", _fast_order),
)


def _rendered(
    session: Session, practice_id: int, order_id: uuid.UUID, status_code: int = 200
) -> Response:
    """The order as it is now (rendered in the transaction, before the commit)."""
    session.flush()
    view = order_reads.view(session, practice_id, order_id)
    documents.keep_view(session, practice_id, view)  # the commit stores it as rendered here
    return kit.raw_json(ORDERS.detail(view), status_code=status_code)


@router.put(
    "/orders/{order_id}",
    response_model=schemas.Order,
    summary="Change the address, external id, custom shipping or shipping",
)
def put_order(
    order_id: OrderRef,
    body: schemas.OrderUpdate,
    principal: FulfillmentWrite,
    session: DbSession,
    update_patient: Annotated[
        bool, Query(description="true: also write the address to the patient's record")
    ] = False,
) -> Response:
    who = actor(principal)
    found = _resolve(session, who.practice_id, order_id)
    given = frozenset(body.model_fields_set)
    fulfillment_service.update_order(
        session,
        who,
        found,
        fulfillment_service.OrderChanges(
            given=given,
            address=_address(body.address),
            external_id=body.external_id,
            custom_shipping=_custom_shipping(body.custom_shipping),
            shipping=_shipping(body.shipping) if "shipping" in given else None,
        ),
        update_patient=update_patient,
    )
    return _rendered(session, who.practice_id, found)


@router.put("/orders/{order_id}/unpause", response_model=schemas.Order, summary="Unpause")
def put_unpause(order_id: OrderRef, principal: FulfillmentWrite, session: DbSession) -> Response:
    who = actor(principal)
    found = _resolve(session, who.practice_id, order_id)
    fulfillment_service.unpause(session, who, found)
    return _rendered(session, who.practice_id, found)


@router.post(
    "/orders/{order_id}/cancellation_request",
    response_model=schemas.Order,
    summary="Ask for the order to be cancelled (OptiHub path)",
)
def post_cancellation_request(
    order_id: OrderRef,
    body: schemas.CancellationRequest,
    principal: FulfillmentWrite,
    session: DbSession,
) -> Response:
    who = actor(principal)
    found = _resolve(session, who.practice_id, order_id)
    fulfillment_service.request_cancellation(session, who, found, body.comments)
    return _rendered(session, who.practice_id, found)


@router.post(
    "/orders/{order_id}/replacement_request",
    response_model=schemas.Order,
    summary="Ask for a replacement (OptiHub)",
)
def post_replacement_request(
    order_id: OrderRef,
    body: schemas.ReplacementRequest,
    principal: FulfillmentWrite,
    session: DbSession,
) -> Response:
    who = actor(principal)
    found = _resolve(session, who.practice_id, order_id)
    fulfillment_service.request_replacement(session, who, found, body.reason)
    return _rendered(session, who.practice_id, found)


@router.post(
    "/orders/{order_id}/products/{product_id}/prescription",
    response_model=schemas.Order,
    summary="Link a prescription product to a prescription (OptiHub)",
)
def post_product_prescription(
    order_id: OrderRef,
    product_id: uuid.UUID,
    body: schemas.PrescriptionLink,
    principal: FulfillmentWrite,
    session: DbSession,
) -> Response:
    who = actor(principal)
    found = _resolve(session, who.practice_id, order_id)
    fulfillment_service.link_prescription(session, who, found, product_id, body.prescription_id)
    return _rendered(session, who.practice_id, found)


@router.get(
    "/orders/{order_id}/status_history",
    response_model=list[schemas.StatusHistoryEntry],
    summary="The order's statuses, oldest first",
)
def get_status_history(
    order_id: OrderRef, principal: FulfillmentRead, session: DbSession
) -> Response:
    practice_id = kit.single_practice(principal)
    found = _resolve(session, practice_id, order_id)
    entries = fulfillment_reads.status_history(session, practice_id, found)
    return kit.json_response(
        [
            {
                "status": entry.stage,
                "updated_at": timestamp(entry.at),
                "duration": entry.duration_seconds,
                "updated_by": {
                    "id": str(entry.user_id) if entry.user_id else None,
                    "first_name": entry.first_name,
                    "last_name": entry.last_name,
                },
            }
            for entry in entries
        ]
    )


@router.get(
    "/search/orders",
    response_model=schemas.SearchResults,
    summary="Search orders by number, external id, patient name or email",
)
def search_orders(
    principal: FulfillmentRead,
    session: DbSession,
    q: Annotated[str, Query(min_length=1, max_length=100, description="What to look for")],
) -> Response:
    practice_id = kit.single_practice(principal)
    hits = fulfillment_reads.search(session, practice_id, q, limit=SEARCH_LIMIT, hidden=HIDDEN)
    results = [
        b'{"rank":%d,' % hit.rank + _order_body(session, practice_id, hit.order_id)[1:]
        for hit in hits
    ]
    return kit.raw_json(kit.json_object(results=kit.json_array(results)))
