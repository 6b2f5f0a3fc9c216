"""Lab-order routes: create an order (draft or submit) and list a lab's orders.

Thin: the rules are ``services.lab_orders``'s, the list is ``reads.orders.views``; this
module turns the vendor's wire shapes into plain values and back.

No ``from __future__ import annotations`` here (see routes.py): FastAPI must see the
dependency aliases evaluated.
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from optihub.db.session import Database
from optihub.errors import BadRequest, NotFound
from optihub.reads import catalog
from optihub.reads import orders as order_reads
from optihub.reads import staff as staff_reads
from optihub.reads.order_views import Keyset, OrderFilter, OrderView, Sort
from optihub.services import lab_orders as service
from optihub.services.context import Actor
from optihub.surfaces import kit
from optihub.surfaces.kit.fast import (
    FastAnswer,
    FastRead,
    FastRequest,
    IntParameter,
    TextParameter,
    hot_answer,
)
from optihub.surfaces.kit.fast_write import FastWrite, WriteRequest
from optihub.surfaces.labs import schemas
from optihub.surfaces.labs.ids import row_id
from optihub.surfaces.labs.mapping import (
    COAT,
    COLOR,
    LAB,
    MATERIAL,
    ORDER,
    STYLE,
)
from optihub.surfaces.labs.projection import order_item
from optihub.surfaces.labs.routes import (
    AccountParam,
    Acting,
    LabParam,
    account_of,
    acting,
    member_or_refusal,
    required_email,
    router,
)
from optihub.web import database, in_transaction

SURFACE = "labs"
OrderWriter = Annotated[Acting, Depends(acting("lab_orders:write"))]
OrderReader = Annotated[Acting, Depends(acting("lab_orders:read"))]

# Unix seconds of 9999-12-31T23:59:59Z: later (or negative) bounds are refused, never overflow.
MAX_EPOCH = 253_402_300_799


def _epoch_param(alias: str, meaning: str) -> Any:
    return Annotated[
        int | None,
        Query(alias=alias, ge=0, le=MAX_EPOCH, description=f"{meaning} (Unix seconds)."),
    ]


CreatedGt = _epoch_param("created[gt]", "Orders created after this time (exclusive)")
CreatedGte = _epoch_param("created[gte]", "Orders created at or after this time")
CreatedLt = _epoch_param("created[lt]", "Orders created before this time (exclusive)")
CreatedLte = _epoch_param("created[lte]", "Orders created at or before this time")
Cursor = Annotated[
    str | None, Query(max_length=100, description="An order id (`ord_…`) of this list.")
]
Limit = kit.limit_param(100)


def _parsed(prefix: str, raw: str) -> uuid.UUID | None:
    """The row id in a public id, or None when it is not an id of that kind."""
    try:
        return row_id(prefix, raw, kind=prefix)
    except NotFound:
        return None


def _ref(prefix: str, raw: str | None) -> service.CatalogRef | None:
    return None if raw is None else service.CatalogRef(raw, _parsed(prefix, raw))


def _prism(p: schemas.PrismIn | None) -> service.PrismInput | None:
    return None if p is None else service.PrismInput(p.power, p.direction)


def _eye(eye: schemas.EyeIn | None) -> service.EyeInput | None:
    if eye is None:
        return None
    values = eye.model_dump(exclude={"horizontal_prism", "vertical_prism"})
    return service.EyeInput(
        **values,
        horizontal_prism=_prism(eye.horizontal_prism),
        vertical_prism=_prism(eye.vertical_prism),
    )


def _lens(lens: schemas.LensIn | None) -> service.LensInput | None:
    if lens is None:
        return None
    return service.LensInput(
        style=_ref(STYLE, lens.style),
        material=_ref(MATERIAL, lens.material),
        color=_ref(COLOR, lens.color),
        coats=tuple(service.CatalogRef(c, _parsed(COAT, c)) for c in lens.coats or ()),
        tint=lens.tint,
        tint_instruction=lens.tint_instruction,
    )


def lab_order_request(body: schemas.CreateOrderRequest) -> service.LabOrderRequest:
    """The wire body as the service's plain values (ids resolved, nothing judged)."""

    def plain(model: Any, kind: Any) -> Any:
        return None if model is None else kind(**model.model_dump())

    rx = body.rx
    return service.LabOrderRequest(
        submission_type=body.submission_type,
        order_type=body.order_type,
        lab=_ref(LAB, body.lab),
        account_number=body.account_number,
        patient=plain(body.patient, service.PatientInput),
        mounting_option=body.mounting_option,
        lens=_lens(body.lens),
        frame=plain(body.frame, service.FrameInput),
        rx=(
            None
            if rx is None
            else service.RxInput(right_eye=_eye(rx.right_eye), left_eye=_eye(rx.left_eye))
        ),
        services=tuple(body.services) if body.services is not None else None,
        special_instructions=body.special_instructions,
        redo_data=plain(body.redo_data, service.RedoInput),
        multi_pair_data=plain(body.multi_pair_data, service.MultiPairInput),
        shipping=plain(body.shipping, service.ShippingInput),
    )


@router.post(
    "/orders",
    response_model=schemas.CreatedOrder,
    summary="Create Order",
    description="Creates a lab order, saved as a draft or submitted to the lab. Every rule "
    "violation is reported at once in `errors[]`. Send an `Idempotency-Key` to retry safely.",
)
async def create_order(
    body: schemas.CreateOrderRequest,
    request: Request,
    who: OrderWriter,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Up to 255 characters; a retry with the same key and body replays "
            "the first response.",
        ),
    ] = None,
) -> Response:
    return await _created(
        partial(in_transaction, request),
        request.app.state.settings.issuer,
        body,
        lambda _session: who,
        idempotency_key,
    )


async def _created(
    transaction: Callable[[Callable[[Session], Response]], Awaitable[Response]],
    issuer: str,
    body: schemas.CreateOrderRequest,
    who_in: Callable[[Session], Acting],
    idempotency_key: str | None,
) -> Response:
    """The created order's answer: the replay check, the order and the stored answer in
    one ``transaction`` (one trip through the thread pool): the route's and the fast
    path's (``FAST_WRITES``) one code. ``who_in(session)``: the acting user."""
    submit = body.mode == "submit"

    def write(session: Session) -> Response:
        who = who_in(session)
        actor = Actor(
            practice_id=who.practice_id,
            via="labs",
            user_id=who.user.user_id,
            client_id=who.principal.client_id,
            label=who.user.label,
        )

        def run() -> Response:
            order = service.create_lab_order(session, actor, lab_order_request(body), submit=submit)
            created = order_item(order)
            if not submit:
                created["url"] = f"{issuer}/dashboard/drafts/{order.id}"
            return kit.json_response(created)

        if idempotency_key is None:
            return run()  # what ``kit.idempotent`` does without a key: no fingerprint needed
        return kit.idempotent(
            session,
            practice_id=who.practice_id,
            client_id=who.principal.client_id,
            key=idempotency_key,
            # The acting user is part of the request: another user's retry is another request.
            request_fingerprint=kit.fingerprint(
                "POST", "/v1/orders", {"user": who.user.email, "body": body.model_dump(mode="json")}
            ),
            run=run,
        )

    return await transaction(write)


async def _fast_create(request: WriteRequest) -> FastAnswer:
    """``POST /orders`` on the kit's fast path: a body the model takes, then the route's
    code; the acting user is looked up in the write's own transaction."""
    try:
        body = schemas.CreateOrderRequest.model_validate(request.body)
    except ValidationError:
        return None  # the route's own 400, rendered as it renders it
    email = required_email(request.header(b"user-email"))
    practice_id = request.practice_id
    assert practice_id is not None

    def who_in(session: Session) -> Acting:
        user = staff_reads.member(session, practice_id, email)
        return Acting(request.principal, practice_id, member_or_refusal(user))

    issuer = request.scope["app"].state.settings.issuer
    return hot_answer(await _created(request.transaction, issuer, body, who_in, None))


# One order (a JSON object, no Idempotency-Key); anything unusual goes to the route.
FAST_WRITES = (FastWrite("/orders", _fast_create, idempotency_key=True),)


def _cursor_position(
    request: Request, who: Acting, base: OrderFilter, param: str, raw: str
) -> Keyset:
    """Where a cursor order sits in the list; one outside this list is a 400 naming it."""
    order_id = _parsed(ORDER, raw)
    found: list[OrderView] = []
    if order_id is not None:
        flt = OrderFilter(
            order_id=order_id, lab_id=base.lab_id, lab_account_number=base.lab_account_number
        )
        with database(request).reading() as reader:
            found = order_reads.views(reader, who.practice_id, flt, limit=1, with_total=False).views
    if not found:
        raise BadRequest(
            f"{param}: no order {raw} in this lab account's list",
            code="resource_missing",
            field=param,
        )
    return Keyset(found[0].created_at, found[0].id)


def _moment(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


@router.get(
    "/orders",
    response_model=schemas.OrderList,
    summary="List Orders",
    description="A lab account's orders (drafts included), newest first, paged with "
    "`starting_after` / `ending_before` and filtered by creation time.",
)
async def list_orders(
    request: Request,
    who: OrderReader,
    lab: LabParam,
    account_number: AccountParam,
    created_gt: CreatedGt = None,
    created_gte: CreatedGte = None,
    created_lt: CreatedLt = None,
    created_lte: CreatedLte = None,
    starting_after: Cursor = None,
    ending_before: Cursor = None,
    limit: Limit = 10,
) -> Response:
    if starting_after is not None and ending_before is not None:
        raise BadRequest(
            "ending_before: use one cursor, starting_after or ending_before",
            field="ending_before",
        )
    account = await run_in_threadpool(account_of, request, who, lab, account_number)
    plain = OrderFilter(lab_id=account.lab_id, lab_account_number=account.account_number)
    base = OrderFilter(
        lab_id=account.lab_id,
        lab_account_number=account.account_number,
        created_after=_moment(created_gt),
        created_from=_moment(created_gte),
        created_before=_moment(created_lt),
        created_until=_moment(created_lte),
    )
    flt, sort = base, Sort.NEWEST
    if starting_after is not None:
        position = await run_in_threadpool(
            _cursor_position, request, who, base, "starting_after", starting_after
        )
        flt = replace(base, older_than=position)
    elif ending_before is not None:
        position = await run_in_threadpool(
            _cursor_position, request, who, base, "ending_before", ending_before
        )
        flt, sort = replace(base, newer_than=position), Sort.OLDEST
    if flt == base == plain:
        db = database(request)
        body = await _newest(db, who.practice_id, account.lab_id, account.account_number, limit)
        assert body is not None  # no guard: the route's own checks ran
        return kit.raw_json(body)
    # One row past the page says whether there are more in the direction of travel.
    found = await run_in_threadpool(_views, request, who.practice_id, flt, limit + 1, sort)
    page = found[:limit]
    if sort is Sort.OLDEST:
        page.reverse()
    return kit.json_response(
        {"has_more": len(found) > limit, "data": [order_item(order) for order in page]}
    )


def _views(
    request: Request, practice_id: int, flt: OrderFilter, limit: int, sort: Sort
) -> list[OrderView]:
    with database(request).reading() as reader:
        return order_reads.views(
            reader, practice_id, flt, limit=limit, sort=sort, with_total=False
        ).views


async def _newest(
    db: Database,
    practice_id: int,
    lab_id: uuid.UUID,
    account_number: str,
    limit: int,
    guard: order_reads.Guard | None = None,
) -> bytes | None:
    """The account's newest orders from their stored documents, one past the page saying
    whether more follow (None: ``guard`` refused). The body is assembled once per page
    read: a page served again from its copy is served with the same bytes."""
    page = await order_reads.stored_lab_page_async(
        db, practice_id, SURFACE, lab_id, account_number, limit + 1, guard
    )
    if page is None:
        return None

    def assemble(found: order_reads.DocumentPage) -> bytes:
        more = b"true" if len(found.items) > limit else b"false"
        return kit.json_object(has_more=more, data=kit.json_array(found.items[:limit]))

    return page.body(SURFACE, assemble)


# The list on the kit's fast path (``kit.fast``): a lab account's newest orders, with the
# acting user (``User-Email``) and the account checked in the statement that reads the
# order version; cursors, time filters and every refusal the route's checks make go to the
# route.
async def _fast_orders(request: FastRequest) -> bytes | None:
    email = request.header(b"user-email")
    lab_id = _parsed(LAB, request.texts["lab"])
    account_number = request.texts["account_number"]
    if not email or not email.strip() or lab_id is None:
        return None
    guard = catalog.account_user_guard(
        request.db, request.practice_id, email, lab_id, account_number
    )
    return await _newest(
        request.db, request.practice_id, lab_id, account_number, request.values["limit"], guard
    )


FAST_READS = (
    FastRead(
        "/orders",
        _fast_orders,
        {
            "lab": TextParameter(100),
            "account_number": TextParameter(50),
            "limit": IntParameter(1, 100, 10),
        },
    ),
)
