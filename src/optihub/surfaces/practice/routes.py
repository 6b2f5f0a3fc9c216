"""Practice API routes (EyeCloud Pro dialect) under ``/v2/{client_id}``: patients, stores,
employees, orders. Thin: lists are read with the shared grammar (``listing``), orders
through ``reads.orders``, writes go through the services, bodies are checked by ``bodies``.

No ``from __future__ import annotations`` here: ``acting()`` builds its dependency's
signature from a local (the scope requirement), which FastAPI must see evaluated.
"""

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import Response
from pydantic import WithJsonSchema

from optihub.auth.resource import Principal, require_scopes
from optihub.domain.orders import OrderStatus
from optihub.errors import NotFound
from optihub.reads import orders as order_reads
from optihub.reads.order_views import OrderFilter, Sort
from optihub.services import orders as order_service
from optihub.services import patients as patient_service
from optihub.services.context import Actor
from optihub.surfaces import kit
from optihub.surfaces.practice import bodies, listing, mapping, queries, schemas
from optihub.surfaces.practice.rules import Invalid, Rule, check, day_of
from optihub.web import DbSession, database

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
WriteBody = Annotated[Any, Body(description="One record, or an array of them (bulk, atomic).")]

ORDER_NESTED: bodies.Nested = {"items": (mapping.ORDER_ITEM_IN, mapping.MAX_ITEMS)}


def _object_id(kind: str, raw: str) -> uuid.UUID:
    """The GUID of a path; anything else names no object (404)."""
    try:
        return uuid.UUID(str(check(GUID, raw, "id")))
    except Invalid as exc:
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
    filters = dict(query.filters)
    if "dob" in filters:
        filters["dob"] = day_of(filters["dob"])
    with database(request).reading() as reader:
        found = queries.patients(
            reader,
            who.practice_id,
            **filters,
            sort=query.sort,
            limit=query.page_size,
            offset=query.offset,
        )
    return _listed([mapping.patient_out(row) for row in found.rows], query, found.total)


@router.get(
    "/{client_id}/patients/{id}", response_model=schemas.Patient, summary="Retrieve a patient"
)
def get_patient(request: Request, who: PatientsRead, id: ObjectId) -> Response:
    patient_id = _object_id("Patient", id)
    with database(request).reading() as reader:
        row = queries.patient(reader, who.practice_id, patient_id)
    if row is None:
        raise NotFound("Patient", id)
    return kit.json_response(mapping.patient_out(row))


@router.post(
    "/{client_id}/patients",
    status_code=201,
    response_model=schemas.Patient | schemas.PatientBulk,
    summary="Create patients (one, or an array: all or none)",
    openapi_extra=bodies.request_body(mapping.PATIENT_IN),
)
def create_patients(who: PatientsCreate, session: DbSession, body: WriteBody = None) -> Response:
    records = bodies.records(body, mapping.PATIENT_IN)
    created = []
    for index, record in enumerate(records.items):
        with records.writing(index, mapping.PATIENT_FIELDS):
            patient = patient_service.create_patient(session, who.actor, _patient_details(record))
        created.append(patient.id)
    data = [
        mapping.patient_out(row)
        for row in queries.patients_by_id(session, who.practice_id, created)
    ]
    return kit.json_response({"data": data} if records.bulk else data[0], 201)


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
    with database(request).reading() as reader:
        found = queries.stores(
            reader,
            who.practice_id,
            **query.filters,
            sort=query.sort,
            limit=query.page_size,
            offset=query.offset,
        )
    return _listed([mapping.store_out(row) for row in found.rows], query, found.total)


@router.get("/{client_id}/stores/{id}", response_model=schemas.Store, summary="Retrieve a store")
def get_store(request: Request, who: StoresRead, id: ObjectId) -> Response:
    store_id = _object_id("Store", id)
    with database(request).reading() as reader:
        row = queries.store(reader, who.practice_id, store_id)
    if row is None:
        raise NotFound("Store", id)
    return kit.json_response(mapping.store_out(row))


@router.get(
    "/{client_id}/employees",
    response_model=schemas.EmployeeList,
    summary="List employees and doctors",
    openapi_extra=mapping.EMPLOYEE_LIST.openapi(),
)
def list_employees(request: Request, who: EmployeesRead) -> Response:
    query = listing.parse(mapping.EMPLOYEE_LIST, request.query_params)
    with database(request).reading() as reader:
        found = queries.employees(
            reader,
            who.practice_id,
            **query.filters,
            sort=query.sort,
            limit=query.page_size,
            offset=query.offset,
        )
    return _listed([mapping.employee_out(row) for row in found.rows], query, found.total)


@router.get(
    "/{client_id}/employees/{id}",
    response_model=schemas.Employee,
    summary="Retrieve an employee",
)
def get_employee(request: Request, who: EmployeesRead, id: ObjectId) -> Response:
    employee_id = _object_id("Employee", id)
    with database(request).reading() as reader:
        row = queries.employee(reader, who.practice_id, employee_id)
    if row is None:
        raise NotFound("Employee", id)
    return kit.json_response(mapping.employee_out(row))


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
