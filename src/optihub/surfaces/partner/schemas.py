"""Wire models of the partner dialect (request bodies validated; responses documented)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from optihub.surfaces.kit import WebhookUrl
from optihub.surfaces.partner.mapping import STATUSES, WEBHOOK_EVENTS

# The status and event lists are the mapping's; the wire schema only names them.
PartnerStatus = Literal[STATUSES.names]  # type: ignore[valid-type]
EventName = Literal[(*WEBHOOK_EVENTS, "*")]  # type: ignore[valid-type]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Pagination(BaseModel):
    limit: int
    offset: int
    total: int
    has_more: bool
    next_cursor: str | None = Field(
        default=None,
        description="OptiHub extension, on `since`/`cursor` polls: the next page's `cursor`.",
    )


class PatientRef(BaseModel):
    id: uuid.UUID
    first_name: str
    last_name: str
    email: str | None
    phone: str | None


class LocationRef(BaseModel):
    id: uuid.UUID
    name: str


class FrameInfo(BaseModel):
    id: uuid.UUID | None
    sku: str | None
    brand: str | None
    model: str | None
    color: str | None
    material: str | None
    eye_size: int | None
    bridge: int | None
    temple: int | None
    a: Decimal | None
    b: Decimal | None
    ed: Decimal | None


class LensInfo(BaseModel):
    style: str | None
    material: str | None
    color: str | None
    coats: list[str]
    tint: str | None


class Prism(BaseModel):
    amount: Decimal
    base: str


class EyePrescription(BaseModel):
    sphere: Decimal | None
    cylinder: Decimal | None
    axis: int | None
    add: Decimal | None
    prism_horizontal: Prism | None
    prism_vertical: Prism | None
    distance_pd: Decimal | None
    near_pd: Decimal | None
    seg_height: Decimal | None
    oc_height: Decimal | None


class Prescription(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    patient_id: uuid.UUID | None
    issued_on: date | None
    expires_on: date | None
    prescriber: str | None
    right: EyePrescription | None
    left: EyePrescription | None
    binocular_pd: Decimal | None


class Item(BaseModel):
    description: str
    quantity: int
    unit_price: Decimal
    retail_price: Decimal
    tax: Decimal


class Payment(BaseModel):
    currency: str
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    paid: Decimal
    balance: Decimal
    patient_balance: Decimal


class StatusChange(BaseModel):
    status: PartnerStatus
    at: datetime
    by: str


class OrderSummary(BaseModel):
    id: uuid.UUID
    number: str
    external_id: str | None
    status: PartnerStatus
    created_at: datetime
    updated_at: datetime
    patient: PatientRef | None
    location: LocationRef | None
    type: str
    frame: FrameInfo | None
    lens: LensInfo | None
    items: list[Item]
    payment: Payment
    shipping_address: dict[str, str | None] | None
    tracking_number: str | None
    status_history: list[StatusChange]


class OrderDetail(OrderSummary):
    prescription: Prescription | None


class OrderList(BaseModel):
    data: list[OrderSummary]
    pagination: Pagination


class StatusUpdate(Strict):
    status: PartnerStatus
    tracking_number: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=1000)


class StockLevel(BaseModel):
    location_id: uuid.UUID
    quantity: int


class FrameOut(BaseModel):
    id: uuid.UUID
    sku: str
    upc: str | None
    brand: str
    model: str
    color: str | None
    material: str | None
    eye_size: int | None
    bridge: int | None
    temple: int | None
    a: Decimal | None
    b: Decimal | None
    ed: Decimal | None
    price: Decimal | None
    wholesale_price: Decimal | None
    currency: str
    quantity: int
    stock: list[StockLevel]
    in_stock: bool
    updated_at: datetime


class FrameList(BaseModel):
    data: list[FrameOut]
    pagination: Pagination


class PrescriptionList(BaseModel):
    data: list[Prescription]
    pagination: Pagination


class InventoryUpdate(Strict):
    sku: str | None = Field(default=None, min_length=1, max_length=50)
    frame_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    quantity: StrictInt = Field(ge=0, le=1_000_000)
    price: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)
    wholesale_price: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)

    @model_validator(mode="after")
    def one_identifier(self) -> InventoryUpdate:
        if (self.sku is None) == (self.frame_id is None):
            raise ValueError("give exactly one of sku or frame_id")
        return self


class InventoryBatch(Strict):
    updates: list[InventoryUpdate] = Field(min_length=1, max_length=100)


class InventoryResult(BaseModel):
    index: int
    frame_id: uuid.UUID
    sku: str
    location_id: uuid.UUID
    quantity: int
    total_quantity: int


class InventoryResponse(BaseModel):
    data: list[InventoryResult]


class WebhookCreate(Strict):
    url: WebhookUrl
    events: list[EventName] = Field(min_length=1)
    enabled: StrictBool = True
    description: str | None = Field(default=None, max_length=500)


class WebhookUpdate(Strict):
    url: WebhookUrl | None = None
    events: list[EventName] | None = Field(default=None, min_length=1)
    enabled: StrictBool | None = None
    description: str | None = Field(default=None, max_length=500)


class WebhookOut(BaseModel):
    id: uuid.UUID
    url: str
    events: list[str]
    enabled: bool
    description: str | None
    created_at: datetime
    last_delivery_at: datetime | None
    last_status: Literal["delivered", "failing", "disabled"] | None
    consecutive_failures: int
    pending_deliveries: int
    disabled_reason: str | None


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret, shown only in this response.")


class WebhookList(BaseModel):
    data: list[WebhookOut]


class DeliveryAttempt(BaseModel):
    at: datetime
    response_code: int | None
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    id: uuid.UUID
    event_id: str
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_response_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    attempt_log: list[DeliveryAttempt]


class DeliveryList(BaseModel):
    data: list[DeliveryOut]


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, object]]


class ErrorEnvelope(BaseModel):
    error: ErrorBody
