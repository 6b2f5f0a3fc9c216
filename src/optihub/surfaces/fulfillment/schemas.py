"""The fulfillment dialect's wire models: requests (unknown fields refused), the order
object, and the error envelope."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from optihub.surfaces.fulfillment.notifications import ALL, EVENTS
from optihub.surfaces.kit import WebhookUrl

Text = Annotated[str, Field(min_length=1, max_length=200)]
ShortText = Annotated[str, Field(min_length=1, max_length=100)]
Url = Annotated[str, Field(min_length=1, max_length=2000)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AddressIn(Request):
    address_1: Text
    address_2: Annotated[str, Field(max_length=200)] | None = None
    city: ShortText
    state: Annotated[str, Field(max_length=50)] | None = None
    zip_code: Annotated[str, Field(min_length=1, max_length=20)]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "US"


class CustomShippingIn(Request):
    """A prepaid label: all four keys."""

    label_url: Url
    tracking_number: ShortText
    tracking_url: Url
    carrier: Annotated[str, Field(min_length=1, max_length=50)]


class ShippingIn(Request):
    carrier: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    service_level: Annotated[str, Field(min_length=1, max_length=50)] | None = None


class PatientIn(Request):
    """``{"id"}``, ``{"external_id"}`` (an existing patient) or a new patient's data."""

    id: uuid.UUID | None = None
    external_id: ShortText | None = None
    first_name: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    last_name: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    email: Annotated[str, Field(max_length=254)] | None = None
    # Blend documents no format: any text up to the core's 20 characters (OptiHub).
    phone: Annotated[str, Field(max_length=20)] | None = None
    date_of_birth: date | None = None

    @model_validator(mode="after")
    def one_way(self) -> PatientIn:
        data = {"first_name", "last_name", "email", "phone", "date_of_birth"}
        given = {name for name in data if getattr(self, name) is not None}
        if self.id is not None and (given or self.external_id is not None):
            raise ValueError("give the patient's id alone, or its external_id, or new data")
        if self.id is None and self.external_id is None and not given:
            raise ValueError("give id, external_id or the new patient's data")
        if given and (self.first_name is None or self.last_name is None):
            raise ValueError("a new patient needs first_name and last_name")
        return self


class ProductIn(Request):
    id: uuid.UUID | None = None
    sku: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    quantity: Annotated[StrictInt, Field(ge=1, le=1000)] = 1

    @model_validator(mode="after")
    def id_or_sku(self) -> ProductIn:
        if (self.id is None) == (self.sku is None):
            raise ValueError("give the product's id or its sku (one of them)")
        return self


class ProductsIn(Request):
    prescription: Annotated[list[ProductIn], Field(max_length=50)] = []
    non_prescription: Annotated[list[ProductIn], Field(max_length=50)] = []


class OrderCreate(Request):
    patient_id: uuid.UUID | None = None
    patient: PatientIn | None = None
    address: AddressIn | None = None
    custom_shipping: CustomShippingIn | None = None
    external_id: ShortText | None = None
    prescription_ids: Annotated[list[uuid.UUID], Field(max_length=20)] = []
    products: ProductsIn
    shipping: ShippingIn | None = None
    priority_requested: StrictBool = False

    @model_validator(mode="after")
    def one_patient(self) -> OrderCreate:
        if (self.patient_id is None) == (self.patient is None):
            raise ValueError("give patient_id or patient (one of them)")
        return self


class OrderUpdate(Request):
    address: AddressIn | None = None
    external_id: ShortText | None = None
    custom_shipping: CustomShippingIn | None = None
    shipping: ShippingIn | None = None


class CancellationRequest(Request):
    comments: Annotated[str, Field(max_length=1000)] | None = None


class ReplacementRequest(Request):
    reason: Annotated[str, Field(min_length=1, max_length=250)]


class PrescriptionLink(Request):
    prescription_id: uuid.UUID


# -- responses ------------------------------------------------------------------------------

Status = Literal["received", "picked", "verified", "paused", "shipped", "delivered", "cancelled"]


class AddressOut(BaseModel):
    id: str
    address_1: str | None
    address_2: str | None
    city: str | None
    state: str | None
    zip_code: str | None
    country: str | None
    type: Literal["shipping"]


class CustomShippingOut(BaseModel):
    label_url: str | None
    tracking_number: str | None
    tracking_url: str | None
    carrier: str | None


class ShippingOut(BaseModel):
    carrier: str | None
    service_level: str | None


class PatientOut(BaseModel):
    id: str
    external_id: str | None
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    date_of_birth: str | None


class ProductOut(BaseModel):
    id: str | None
    sku: str | None
    name: str
    quantity: int
    price: str = Field(description="Unit price, a decimal string (e.g. `62.00`)")
    prescription_id: str | None = Field(description="OptiHub: the linked Rx, null while unmatched")


class ProductsOut(BaseModel):
    prescription: list[ProductOut]
    non_prescription: list[ProductOut]


class ShipmentOut(BaseModel):
    carrier: str | None
    service_level: str | None
    tracking_number: str | None
    tracking_url: str | None
    estimated_delivery_date: str | None
    created_at: str | None


class Order(BaseModel):
    id: str
    created_at: str
    updated_at: str
    order_number: str
    status: Status
    customer_id: int
    external_id: str | None
    address: AddressOut | None
    custom_shipping: CustomShippingOut | None
    shipping: ShippingOut
    is_replacement: bool
    original_order_id: str | None
    replacement_order_ids: list[str]
    replacement_reason: str | None
    prescription_count: int
    priority_requested: bool
    cancellation_requested: bool
    has_replacement_request: bool = Field(description="Deprecated: replacement_request_status")
    replacement_request_status: Literal["pending", "fulfilled", "declined", "cancelled"] | None
    replacement_requested_at: str | None
    replacement_request_reason: str | None
    patient: PatientOut | None
    products: ProductsOut
    prescription_ids: list[str]
    shipments: list[ShipmentOut]


class SearchResult(Order):
    rank: int


class SearchResults(BaseModel):
    results: list[SearchResult]


class UpdatedBy(BaseModel):
    id: str | None
    first_name: str | None
    last_name: str | None


class StatusHistoryEntry(BaseModel):
    status: Status
    updated_at: str
    duration: int = Field(description="Seconds the order spent in the previous status")
    updated_by: UpdatedBy


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None


class ErrorEnvelope(BaseModel):
    error: ErrorBody


# -- notifications --------------------------------------------------------------------------


def _known_codes(codes: list[str] | str) -> list[str] | str:
    if isinstance(codes, str):
        if codes != ALL:
            raise ValueError('give a list of event codes or "all"')
        return codes
    unknown = [code for code in codes if code not in EVENTS]
    if unknown:
        raise ValueError(
            f'unknown event code {", ".join(unknown)}; allowed: {", ".join(EVENTS)} or "all"'
        )
    if not codes:
        raise ValueError('give at least one event code (or "all")')
    return codes


EventCode = Annotated[str, Field(min_length=1, max_length=100)]
EventCodes = Annotated[
    list[EventCode] | str,
    Field(max_length=20, description='Event codes (GET /notifications/events) or "all"'),
]


class NotificationCreate(Request):
    url: WebhookUrl
    event_codes: EventCodes

    @field_validator("event_codes")
    @classmethod
    def known(cls, value: list[str] | str) -> list[str] | str:
        return _known_codes(value)


class NotificationUpdate(Request):
    """Either or both; what is left out stays."""

    url: WebhookUrl | None = None
    event_codes: EventCodes | None = None

    @field_validator("event_codes")
    @classmethod
    def known(cls, value: list[str] | str | None) -> list[str] | str | None:
        return None if value is None else _known_codes(value)


class SampleRequest(Request):
    event_code: EventCode
    webhook_url: WebhookUrl

    @field_validator("event_code")
    @classmethod
    def known(cls, value: str) -> str:
        _known_codes([value])
        return value


class EventInfo(BaseModel):
    event_code: str
    description: str


class Subscription(BaseModel):
    id: str
    url: str
    event_codes: list[str] | str = Field(description='The codes, or "all"')
    enabled: bool
    created_at: str | None
    updated_at: str | None
    last_delivery_at: str | None
    last_status: str | None = Field(description="delivered, failing or disabled")
    disabled_reason: str | None


class SubscriptionCreated(Subscription):
    secret: str = Field(description="The signing secret (whsec_…): shown only here, once")


class Sample(BaseModel):
    event_code: str
    payload_preview: dict[str, Any] = Field(description='The delivery body: {"event_code","data"}')


class SampleSent(BaseModel):
    event_code: str
    webhook_url: str
    webhook_id: str = Field(description="The X-Webhook-Id sent (test_…)")
    delivered: bool = Field(description="The receiver answered 2xx")
    status_code: int | None = Field(description="The receiver's status (null: no answer)")
    error: str | None = Field(description="Why there was no answer (refused, timeout, …)")


# -- auth -----------------------------------------------------------------------------------


class Login(Request):
    email: Annotated[str, Field(min_length=1, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=1000)]
    practice_id: StrictInt | None = Field(
        default=None, description="OptiHub: the practice, for a user of several"
    )


class NoBody(Request):
    """Nothing: the refresh token is the bearer."""


class User(BaseModel):
    id: str
    email: str
    first_name: str
    last_name: str
    role: str
    is_active: bool
    created_at: str | None
    updated_at: str | None


class Tokens(BaseModel):
    access_token: str
    refresh_token: str
    expires_at: str = Field(description="When the access token expires (60 minutes)")
    user: User
