"""Practice API routes (EyeCloud Pro dialect) under ``/v2/{client_id}``: patients, stores,
employees, appointments, orders, invoices, pricebooks and price tiers. Thin: list queries
are parsed with the shared grammar (``listing``) and answered by the read layer
(``reads.*``, sorted through ``reads.sorting`` with the sort fields ``mapping`` maps),
writes go through the services, bodies are checked by ``bodies``.

No ``from __future__ import annotations`` here: ``acting()`` builds its dependency's
signature from a local (the scope requirement), which FastAPI must see evaluated.
"""

import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import Response
from pydantic import WithJsonSchema
from sqlalchemy.orm import Session
from starlette.types import Scope

from optihub.auth.resource import Principal, require_scopes
from optihub.domain import phones
from optihub.domain.orders import OrderStatus
from optihub.errors import NotFound
from optihub.reads import appointments as appointment_reads
from optihub.reads import employees as employee_reads
from optihub.reads import invoices as invoice_reads
from optihub.reads import locations as location_reads
from optihub.reads import orders as order_reads
from optihub.reads import patients as patient_reads
from optihub.reads import pricebooks as pricebook_reads
from optihub.reads.order_views import OrderFilter, Sort
from optihub.services import orders as order_service
from optihub.services import patient_messages
from optihub.services import patients as patient_service
from optihub.services import pricebooks as pricebook_service
from optihub.services.context import Actor
from optihub.services.frames import FrameDetails
from optihub.surfaces import kit
from optihub.surfaces.kit.fast import FastRead, FastRequest, IntParameter
from optihub.surfaces.kit.fast_write import FastWrite, WriteRequest
from optihub.surfaces.practice import bodies, listing, mapping, schemas
from optihub.surfaces.practice.rules import Invalid, Rule, check, day_of
from optihub.web import DbSession, HotAnswer, database, in_transaction

router = APIRouter(tags=["Practice (EyeCloud Pro)"])

NOT_AN_INTEGER = (
    "The client_id must be provided as an integer in the URL path. "
    "Example: /v2/123/resource/... instead of /v2/resource?client_id=123"
)
NOT_GRANTED = "You are not authorized to access client_id {id}"
GUID = Rule("guid")

ClientId = Annotated[
    str,
    Path(description="The practice id (an integer) the token was granted."),
    WithJsonSchema({"type": "integer", "minimum": 1}),
]
ObjectId = Annotated[str, Path(description="The object's id (a GUID).")]


@dataclass(frozen=True)
class Acting:
    """The token and the practice its path names (which the token was granted)."""

    principal: Principal
    practice_id: int

    @property
    def actor(self) -> Actor:
        return Actor(
            practice_id=self.practice_id,
            via=mapping.SURFACE,
            client_id=self.principal.client_id,
            label=f"practice app {self.principal.client_id}",
        )


def acting(scope: str) -> Callable[..., Coroutine[Any, Any, Acting]]:
    """A token with ``scope`` (checked first), then the practice the path names."""
    requirement = require_scopes(scope)

    async def dependency(
        client_id: ClientId, principal: Annotated[Principal, Depends(requirement)]
    ) -> Acting:
        practice_id = kit.practice_from_path(
            client_id,
            principal,
            field="client_id",
            not_an_integer=NOT_AN_INTEGER,
            not_granted=NOT_GRANTED,
        )
        return Acting(principal, practice_id)

    return dependency


PatientsRead = Annotated[Acting, Depends(acting("read:patients"))]
PatientsCreate = Annotated[Acting, Depends(acting("create:patients"))]
StoresRead = Annotated[Acting, Depends(acting("read:stores"))]
EmployeesRead = Annotated[Acting, Depends(acting("read:employees"))]
OrdersRead = Annotated[Acting, Depends(acting("read:orders"))]
OrdersCreate = Annotated[Acting, Depends(acting("create:orders"))]
AppointmentsRead = Annotated[Acting, Depends(acting("read:appointments"))]
InvoicesRead = Annotated[Acting, Depends(acting("read:invoices"))]
FramesCreate = Annotated[Acting, Depends(acting("create:pricebooks:frames"))]
FramesUpdate = Annotated[Acting, Depends(acting("update:pricebooks:frames"))]
TiersRead = Annotated[Acting, Depends(acting("read:configurations:pricetiers"))]
TiersCreate = Annotated[Acting, Depends(acting("create:configurations:pricetiers"))]
TiersUpdate = Annotated[Acting, Depends(acting("update:configurations:pricetiers"))]
TiersDelete = Annotated[Acting, Depends(acting("delete:configurations:pricetiers"))]
WriteBody = Annotated[Any, Body(description="One record, or an array of them (bulk, atomic).")]
ObjectBody = Annotated[Any, Body(description="One object.")]

ORDER_NESTED: bodies.Nested = {"items": (mapping.ORDER_ITEM_IN, mapping.MAX_ITEMS)}


def _object_id(kind: str, raw: str) -> uuid.UUID:
    """The GUID of a path; anything else names no object (404)."""
    try:
        return uuid.UUID(str(check(GUID, raw, "id")))
    except Invalid as exc:
        raise NotFound(kind, raw) from exc


@contextmanager
def _named(kind: str, raw: str) -> Iterator[None]:
    """A read's ``NotFound`` reported with the dialect's name for the record."""
    try:
        yield
    except NotFound as exc:
        raise NotFound(kind, raw) from exc


def _listed(data: list[dict[str, Any]], query: listing.ListQuery, total: int) -> Response:
    return kit.json_response({"data": data, "pagination": query.pagination(total)})


# --- patients ---------------------------------------------------------------------------------


@router.get(
    "/{client_id}/patients",
    response_model=schemas.PatientList,
    summary="List patients",
    openapi_extra=mapping.PATIENT_LIST.openapi(),
)
def list_patients(request: Request, who: PatientsRead) -> Response:
    query = listing.parse(mapping.PATIENT_LIST, request.query_params)
    filters = query.filters
    phone = filters.get("phone")
    with database(request).reading() as reader:
        flt = patient_reads.PatientFilter(
            email_any_case=filters.get("email"),
            phone=phone,
            # The same number however another channel wrote it ("(617) 555-0100").
            phone_e164=phones.e164(phone, patient_service.practice_region(reader, who.practice_id))
            if phone
            else None,
            date_of_birth=day_of(filters["dob"]) if "dob" in filters else None,
            first_name=filters.get("name_first"),
            last_name=filters.get("name_last"),
        )
        found = patient_reads.sorted_page(
            reader,
            who.practice_id,
            flt,
            sort=query.sort_by(mapping.PATIENT_SORT),
            limit=query.page_size,
            offset=query.offset,
        )
    return _listed([mapping.patient_out(view) for view in found.views], query, found.total)


@router.get(
    "/{client_id}/patients/{id}", response_model=schemas.Patient, summary="Retrieve a patient"
)
def get_patient(request: Request, who: PatientsRead, id: ObjectId) -> Response:
    patient_id = _object_id("Patient", id)
    with database(request).reading() as reader:
        view = patient_reads.view(reader, who.practice_id, patient_id)
    if view is None:
        raise NotFound("Patient", id)
    return kit.json_response(mapping.patient_out(view))


@router.post(
    "/{client_id}/patients",
    status_code=201,
    response_model=schemas.Patient | schemas.PatientBulk,
    summary="Create patients (one, or an array: all or none)",
    openapi_extra=bodies.request_body(mapping.PATIENT_IN),
)
async def create_patients(
    request: Request, who: PatientsCreate, body: WriteBody = None
) -> Response:
    # One trip through the thread pool for the transaction (``in_transaction``).
    created = await _patients_created(lambda work: in_transaction(request, work), who, body)
    return kit.json_response(created, 201)


Created = list[dict[str, Any]]


async def _patients_created(
    transaction: Callable[[Callable[[Session], Created]], Awaitable[Created]],
    who: Acting,
    body: Any,
) -> Any:
    """The answer of a create (one patient, or ``{"data": [...]}`` for a bulk body), its
    records checked first, then written in one ``transaction``: the route's and the fast
    path's (``FAST_WRITES``) one code."""
    records = bodies.records(body, mapping.PATIENT_IN)

    def write(session: Session) -> Created:
        data = []
        for index, record in enumerate(records.items):
            with records.writing(index, mapping.PATIENT_FIELDS):
                details = _patient_details(record)
                if (
                    record.get("notify_eyewear_email") is None
                    and record.get("notify_eyewear_sms") is None
                ):
                    # Answered from the values written (``add_patient``): no read back.
                    added = patient_service.add_patient(session, who.actor, details)
                    data.append(mapping.patient_out(added))
                    continue
                patient = patient_service.create_patient(session, who.actor, details)
                patient = patient_messages.set_eyewear_consent(
                    session,
                    who.actor,
                    patient.id,
                    email=record.get("notify_eyewear_email"),
                    sms=record.get("notify_eyewear_sms"),
                )
            # Answered from the row just written (its values as stored): no read back.
            data.append(mapping.patient_out(patient_reads.view_of(patient)))
        return data

    data = await transaction(write)
    return {"data": data} if records.bulk else data[0]


def _patient_details(record: dict[str, Any]) -> patient_service.PatientDetails:
    dob = record.get("dob")
    return patient_service.PatientDetails(
        first_name=record["name_first"],
        last_name=record["name_last"],
        email=record.get("email"),
        phone=record.get("phone"),
        date_of_birth=day_of(dob) if dob is not None else None,
        address_line1=record.get("address_1"),
        address_line2=record.get("address_2"),
        city=record.get("city"),
        state=record.get("state"),
        postal_code=record.get("zip"),
    )


# --- stores and employees ---------------------------------------------------------------------


@router.get(
    "/{client_id}/stores",
    response_model=schemas.StoreList,
    summary="List stores",
    openapi_extra=mapping.STORE_LIST.openapi(),
)
def list_stores(request: Request, who: StoresRead) -> Response:
    query = listing.parse(mapping.STORE_LIST, request.query_params)
    flt = location_reads.LocationFilter(name=query.filters.get("name"))
    with database(request).reading() as reader:
        found = location_reads.page(
            reader,
            who.practice_id,
            flt,
            sort=query.sort_by(mapping.STORE_SORT),
            limit=query.page_size,
            offset=query.offset,
        )
    return _listed([mapping.store_out(view) for view in found.views], query, found.total)


@router.get("/{client_id}/stores/{id}", response_model=schemas.Store, summary="Retrieve a store")
def get_store(request: Request, who: StoresRead, id: ObjectId) -> Response:
    store_id = _object_id("Store", id)
    with _named("Store", id), database(request).reading() as reader:
        view = location_reads.detail(reader, who.practice_id, store_id)
    return kit.json_response(mapping.store_out(view))


@router.get(
    "/{client_id}/employees",
    response_model=schemas.EmployeeList,
    summary="List employees and doctors",
    openapi_extra=mapping.EMPLOYEE_LIST.openapi(),
)
def list_employees(request: Request, who: EmployeesRead) -> Response:
    query = listing.parse(mapping.EMPLOYEE_LIST, request.query_params)
    filters = query.filters
    flt = employee_reads.EmployeeFilter(
        first_name=filters.get("name_first"),
        last_name=filters.get("name_last"),
        is_doctor=filters.get("is_doctor"),
        is_active=filters.get("is_active"),
        location_id=filters.get("store_id"),
    )
    with database(request).reading() as reader:
        found = employee_reads.page(
            reader,
            who.practice_id,
            flt,
            sort=query.sort_by(mapping.EMPLOYEE_SORT),
            limit=query.page_size,
            offset=query.offset,
        )
    return _listed([mapping.employee_out(view) for view in found.views], query, found.total)


@router.get(
    "/{client_id}/employees/{id}",
    response_model=schemas.Employee,
    summary="Retrieve an employee",
)
def get_employee(request: Request, who: EmployeesRead, id: ObjectId) -> Response:
    employee_id = _object_id("Employee", id)
    with database(request).reading() as reader:
        view = employee_reads.detail(reader, who.practice_id, employee_id)
    return kit.json_response(mapping.employee_out(view))


# --- appointments -----------------------------------------------------------------------------


@router.get(
    "/{client_id}/appointments",
    response_model=schemas.AppointmentList,
    summary="List appointments",
    openapi_extra=mapping.APPOINTMENT_LIST.openapi(),
)
def list_appointments(request: Request, who: AppointmentsRead) -> Response:
    query = listing.parse(mapping.APPOINTMENT_LIST, request.query_params)
    filters = query.filters
    flt = appointment_reads.AppointmentFilter(
        date_from=day_of(filters["date_from"]) if "date_from" in filters else None,
        date_to=day_of(filters["date_to"]) if "date_to" in filters else None,
        location_id=filters.get("store_id"),
        patient_id=filters.get("patient_id"),
    )
    with database(request).reading() as reader:
        found = appointment_reads.page(
            reader,
            who.practice_id,
            flt,
            sort=query.sort_by(mapping.APPOINTMENT_SORT),
            limit=query.page_size,
            offset=query.offset,
        )
    return _listed([mapping.appointment_out(view) for view in found.views], query, found.total)


# --- orders -----------------------------------------------------------------------------------


def _start(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC)
    return datetime.combine(value, time.min, UTC)


def _end(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC)
    return datetime.combine(value, time.max, UTC)


@router.get(
    "/{client_id}/orders",
    response_model=schemas.OrderList,
    summary="List orders",
    openapi_extra=mapping.ORDER_LIST.openapi(),
)
def list_orders(request: Request, who: OrdersRead) -> Response:
    query = listing.parse(mapping.ORDER_LIST, request.query_params)
    filters = query.filters
    flt = OrderFilter(
        statuses=[filters["status"]] if "status" in filters else None,
        patient_id=filters.get("patient_id"),
        created_from=_start(filters["date_from"]) if "date_from" in filters else None,
        created_until=_end(filters["date_to"]) if "date_to" in filters else None,
    )
    sort = Sort.NEWEST if query.sort[0].descending else Sort.OLDEST
    with database(request).reading() as reader:
        found = order_reads.views(
            reader, who.practice_id, flt, limit=query.page_size, offset=query.offset, sort=sort
        )
    return _listed([mapping.order_out(view) for view in found.views], query, found.total)


@router.get("/{client_id}/orders/{id}", response_model=schemas.Order, summary="Retrieve an order")
def get_order(request: Request, who: OrdersRead, id: ObjectId) -> Response:
    order_id = _object_id("Order", id)
    with database(request).reading() as reader:
        view = order_reads.view(reader, who.practice_id, order_id)
    return kit.json_response(mapping.order_out(view))


# The order list (newest first, the default sort) and one order on the kit's fast path
# (``kit.fast``), from the stored documents; filters, another sort and every refusal of the
# list grammar go to the routes above.
def _path_practice(scope: Scope, principal: Principal) -> int:
    return kit.practice_from_path(
        scope["path"].split("/")[2],
        principal,
        field="client_id",
        not_an_integer=NOT_AN_INTEGER,
        not_granted=NOT_GRANTED,
    )


async def _fast_orders(request: FastRequest) -> bytes:
    page, page_size = request.values["page"], request.values["page_size"]
    query = listing.ListQuery(page, page_size, [], mapping.ORDER_LIST.default_sort, {})
    found = await order_reads.stored_page_async(
        request.db,
        request.practice_id,
        mapping.SURFACE,
        OrderFilter(),
        limit=page_size,
        offset=query.offset,
    )
    pagination = orjson.dumps(query.pagination(found.total))
    return kit.json_object(data=kit.json_array(found.items), pagination=pagination)


async def _fast_order(request: FastRequest) -> bytes:
    order_id = uuid.UUID(request.segment)
    return await order_reads.stored_detail_async(
        request.db, request.practice_id, mapping.SURFACE, order_id
    )


async def _fast_create_patient(request: WriteRequest) -> HotAnswer:
    assert request.practice_id is not None
    who = Acting(request.principal, request.practice_id)
    created = await _patients_created(request.transaction, who, request.body)
    return HotAnswer(orjson.dumps(created), status=201)


# One patient (a JSON object); a bulk array, and anything unusual, go to the route.
FAST_WRITES = (FastWrite("/{client_id}/patients", _fast_create_patient, practice=_path_practice),)

FAST_READS = (
    FastRead(
        "/{client_id}/orders",
        _fast_orders,
        {
            "page": IntParameter(1, 999_999_999, 1),
            "page_size": IntParameter(5, 250, listing.DEFAULT_PAGE_SIZE),
        },
        practice=_path_practice,
    ),
    FastRead("/{client_id}/orders/{id}", _fast_order, practice=_path_practice),
)


@router.post(
    "/{client_id}/orders",
    status_code=201,
    response_model=schemas.Order | schemas.OrderBulk,
    summary="Create orders (one, or an array: all or none)",
    openapi_extra=bodies.request_body(mapping.ORDER_IN, ORDER_NESTED),
)
def create_orders(who: OrdersCreate, session: DbSession, body: WriteBody = None) -> Response:
    records = bodies.records(body, mapping.ORDER_IN, ORDER_NESTED)
    created = []
    for index, record in enumerate(records.items):
        with records.writing(index, mapping.ORDER_FIELDS):
            order = order_service.place_order(session, who.actor, _new_order(record))
        created.append(order.id)
    data = [
        mapping.order_out(order_reads.view(session, who.practice_id, order_id))
        for order_id in created
    ]
    return kit.json_response({"data": data} if records.bulk else data[0], 201)


def _new_order(record: dict[str, Any]) -> order_service.NewOrder:
    return order_service.NewOrder(
        type=record.get("type", "spectacles"),
        status=OrderStatus(record.get("status", OrderStatus.RECEIVED.value)),
        patient_id=record.get("patient_id"),
        location_id=record.get("store_id"),
        physician_id=record.get("employee_id"),
        external_id=record.get("external_id"),
        amount_paid=record.get("amount_paid", Decimal("0")),
        lines=[
            order_service.LineItem(
                description=item["description"],
                quantity=item.get("quantity", 1),
                unit_price=item["unit_price"],
                tax=item.get("tax", Decimal("0")),
                sku=item.get("sku"),
            )
            for item in record.get("items", [])
        ],
    )


# --- invoices ---------------------------------------------------------------------------------


@router.get(
    "/{client_id}/invoices",
    response_model=schemas.InvoiceList,
    summary="List invoices",
    openapi_extra=mapping.INVOICE_LIST.openapi(),
)
def list_invoices(request: Request, who: InvoicesRead) -> Response:
    query = listing.parse(mapping.INVOICE_LIST, request.query_params)
    filters = query.filters
    flt = invoice_reads.InvoiceFilter(
        patient_id=filters.get("patient_id"),
        order_id=filters.get("order_id"),
        status=filters.get("status"),
        created_from=day_of(filters["date_from"]) if "date_from" in filters else None,
        created_to=day_of(filters["date_to"]) if "date_to" in filters else None,
    )
    with database(request).reading() as reader:
        found = invoice_reads.page(
            reader,
            who.practice_id,
            flt,
            sort=query.sort_by(mapping.INVOICE_SORT),
            limit=query.page_size,
            offset=query.offset,
        )
    return _listed([mapping.invoice_out(view) for view in found.views], query, found.total)


@router.get(
    "/{client_id}/invoices/{id}", response_model=schemas.Invoice, summary="Retrieve an invoice"
)
def get_invoice(request: Request, who: InvoicesRead, id: ObjectId) -> Response:
    invoice_id = _object_id("Invoice", id)
    with database(request).reading() as reader:
        view = invoice_reads.detail(reader, who.practice_id, invoice_id)
    return kit.json_response(mapping.invoice_out(view))


# --- pricebooks -------------------------------------------------------------------------------


def _add_pricebook_list(kind: str) -> None:
    """``GET /pricebooks/{kind}``: one route per pricebook, each with its own scope."""
    reading = Annotated[Acting, Depends(acting(f"read:pricebooks:{kind}"))]

    def list_pricebook(request: Request, who: reading) -> Response:
        query = listing.parse(mapping.PRICEBOOK_LIST, request.query_params)
        filters = query.filters
        flt = pricebook_reads.PricebookFilter(
            search=filters.get("search"),
            updated_since=_start(filters["updated_since"]) if "updated_since" in filters else None,
        )
        with database(request).reading() as reader:
            found = pricebook_reads.page(
                reader,
                who.practice_id,
                kind,
                flt,
                sort=query.sort_by(mapping.PRICEBOOK_SORT),
                limit=query.page_size,
                offset=query.offset,
            )
        return _listed([mapping.pricebook_out(row) for row in found.views], query, found.total)

    router.add_api_route(
        f"/{{client_id}}/pricebooks/{kind}",
        list_pricebook,
        methods=["GET"],
        name=f"list_pricebook_{kind}",
        response_model=schemas.PricebookList,
        summary=f"List the {kind} pricebook",
        openapi_extra=mapping.PRICEBOOK_LIST.openapi(),
    )


def _frame_details(record: dict[str, Any]) -> FrameDetails:
    return FrameDetails(
        sku=record["sku"],
        brand=record["brand"],
        model=record["model"],
        upc=record.get("upc"),
        color=record.get("color"),
        material=record.get("material"),
        eye_size=record.get("eye_size"),
        bridge=record.get("bridge"),
        temple=record.get("temple"),
        a=record.get("a"),
        b=record.get("b"),
        ed=record.get("ed"),
        price=record.get("retail_price"),
        wholesale_price=record.get("cost"),
    )


def _frame_out(session: Any, practice_id: int, frame_id: uuid.UUID) -> dict[str, Any]:
    return mapping.pricebook_out(pricebook_reads.detail(session, practice_id, "frames", frame_id))


@router.post(
    "/{client_id}/pricebooks/frames",
    status_code=201,
    response_model=schemas.PricebookItem | schemas.PricebookBulk,
    summary="Add frames to the frames pricebook (one, or an array: all or none)",
    openapi_extra=bodies.request_body(mapping.FRAME_IN),
)
def create_frames(who: FramesCreate, session: DbSession, body: WriteBody = None) -> Response:
    records = bodies.records(body, mapping.FRAME_IN)
    with records.batch(mapping.FRAME_FIELDS):
        frames = pricebook_service.create_frames(
            session, who.actor, [_frame_details(record) for record in records.items]
        )
    data = [_frame_out(session, who.practice_id, frame.id) for frame in frames]
    return kit.json_response({"data": data} if records.bulk else data[0], 201)


@router.patch(
    "/{client_id}/pricebooks/frames/{id}",
    response_model=schemas.PricebookItem,
    summary="Change a pricebook frame (names, retail price, cost)",
    openapi_extra=bodies.object_body(mapping.FRAME_PATCH, some=True),
)
def patch_frame(
    who: FramesUpdate, session: DbSession, id: ObjectId, body: ObjectBody = None
) -> Response:
    frame_id = _object_id("Frame", id)
    record = bodies.record(body, mapping.FRAME_PATCH, some=True)
    patch = pricebook_service.FramePatch(
        brand=record.get("brand"),
        model=record.get("model"),
        color=record.get("color"),
        material=record.get("material"),
        upc=record.get("upc"),
        price=record.get("retail_price"),
        cost=record.get("cost"),
    )
    with bodies.Records([record], bulk=False).writing(0, mapping.FRAME_FIELDS):
        pricebook_service.patch_frame(session, who.actor, frame_id, patch)
    return kit.json_response(_frame_out(session, who.practice_id, frame_id))


for _kind in mapping.PRICEBOOK_KINDS:
    _add_pricebook_list(_kind)


# --- price tiers ------------------------------------------------------------------------------


def _tier_out(reader: Any, practice_id: int, tier_id: uuid.UUID, raw: str) -> dict[str, Any]:
    with _named("Price tier", raw):
        row = pricebook_reads.detail(reader, practice_id, "tierprices", tier_id)
    return mapping.pricetier_out(row)


@router.get(
    "/{client_id}/configurations/pricetiers",
    response_model=schemas.PriceTierList,
    summary="List price tiers",
    openapi_extra=mapping.PRICETIER_LIST.openapi(),
)
def list_pricetiers(request: Request, who: TiersRead) -> Response:
    query = listing.parse(mapping.PRICETIER_LIST, request.query_params)
    flt = pricebook_reads.PricebookFilter(search=query.filters.get("name"))
    with database(request).reading() as reader:
        found = pricebook_reads.page(
            reader,
            who.practice_id,
            "tierprices",
            flt,
            sort=query.sort_by(mapping.PRICETIER_SORT),
            limit=query.page_size,
            offset=query.offset,
        )
    return _listed([mapping.pricetier_out(row) for row in found.views], query, found.total)


@router.get(
    "/{client_id}/configurations/pricetiers/{id}",
    response_model=schemas.PriceTier,
    summary="Retrieve a price tier",
)
def get_pricetier(request: Request, who: TiersRead, id: ObjectId) -> Response:
    tier_id = _object_id("Price tier", id)
    with database(request).reading() as reader:
        return kit.json_response(_tier_out(reader, who.practice_id, tier_id, id))


@router.post(
    "/{client_id}/configurations/pricetiers",
    status_code=201,
    response_model=schemas.PriceTier,
    summary="Create a price tier",
    openapi_extra=bodies.object_body(mapping.PRICETIER_IN),
)
def create_pricetier(who: TiersCreate, session: DbSession, body: ObjectBody = None) -> Response:
    record = bodies.record(body, mapping.PRICETIER_IN)
    details = pricebook_service.PriceTierDetails(
        name=record["name"],
        description=record.get("description"),
        discount_percent=record.get("discount_percent", Decimal("0")),
        is_default=record.get("is_default", False),
    )
    with bodies.Records([record], bulk=False).writing(0, {}):
        tier = pricebook_service.create_price_tier(session, who.actor, details)
    return kit.json_response(_tier_out(session, who.practice_id, tier.id, str(tier.id)), 201)


@router.patch(
    "/{client_id}/configurations/pricetiers/{id}",
    response_model=schemas.PriceTier,
    summary="Change a price tier",
    openapi_extra=bodies.object_body(mapping.PRICETIER_PATCH, some=True),
)
def update_pricetier(
    who: TiersUpdate, session: DbSession, id: ObjectId, body: ObjectBody = None
) -> Response:
    tier_id = _object_id("Price tier", id)
    record = bodies.record(body, mapping.PRICETIER_PATCH, some=True)
    # An explicit null description clears it (the service's "").
    cleared = isinstance(body, dict) and "description" in body and body["description"] is None
    patch = pricebook_service.PriceTierPatch(
        name=record.get("name"),
        description="" if cleared else record.get("description"),
        discount_percent=record.get("discount_percent"),
        is_default=record.get("is_default"),
    )
    with bodies.Records([record], bulk=False).writing(0, {}), _named("Price tier", id):
        pricebook_service.update_price_tier(session, who.actor, tier_id, patch)
    return kit.json_response(_tier_out(session, who.practice_id, tier_id, id))


@router.delete(
    "/{client_id}/configurations/pricetiers/{id}",
    status_code=204,
    response_class=Response,
    summary="Delete a price tier (and the pricebook items priced for it)",
)
def delete_pricetier(who: TiersDelete, session: DbSession, id: ObjectId) -> Response:
    tier_id = _object_id("Price tier", id)
    with _named("Price tier", id):
        pricebook_service.delete_price_tier(session, who.actor, tier_id)
    return Response(status_code=204)
