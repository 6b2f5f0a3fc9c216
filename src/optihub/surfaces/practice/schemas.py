"""Wire models of the practice dialect (the vendor's field names), for the OpenAPI
document. Request bodies are checked by ``rules`` (the vendor's messages); their schemas
are built from the same rules (``bodies``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Closed):
    statusCode: int  # noqa: N815 - the vendor's name
    isOperational: bool  # noqa: N815 - the vendor's name


class ErrorEnvelope(Closed):
    status: Literal["ERROR"]
    message: str
    error: ErrorDetail


class ScopeError(Closed):
    message: str = Field(
        examples=[
            "Insufficient permissions. The scope 'read:patients' is required for this operation."
        ]
    )
    required_scope: str
    available_scopes: list[str]


class PracticeError(RootModel[ErrorEnvelope | ScopeError]):
    """The envelope, or (403 for a missing scope) the scope refusal."""


class Pagination(BaseModel):
    page: int
    page_size: int
    total_pages: int
    total_count: int
    sort: str


class Patient(BaseModel):
    patient_id: str
    name_first: str
    name_last: str
    email: str | None
    phone: str | None
    dob: str | None = Field(description="YYYY-MM-DD")
    address_1: str | None
    address_2: str | None
    city: str | None
    state: str | None
    zip: str | None
    country: str
    store_id: str | None = Field(description="The patient's home store, if any.")
    create_date: str
    update_date: str
    notify_eyewear_email: bool = Field(
        False,
        description="OptiHub extension: the patient agreed to an e-mail when their eyewear "
        "is ready for pickup.",
    )
    notify_eyewear_sms: bool = Field(
        False,
        description="OptiHub extension: the patient agreed to a text message when their "
        "eyewear is ready (stored; OptiHub sends no SMS).",
    )


class PatientList(BaseModel):
    data: list[Patient]
    pagination: Pagination


class PatientBulk(BaseModel):
    data: list[Patient]


class Hours(BaseModel):
    day: str
    open: str = Field(description="HH:MM, the store's local time")
    close: str


class Store(BaseModel):
    store_id: str
    name: str
    phone: str | None
    email: str | None
    address_1: str | None
    address_2: str | None
    city: str | None
    state: str | None
    zip: str | None
    country: str
    hours: list[Hours]
    create_date: str
    update_date: str


class StoreList(BaseModel):
    data: list[Store]
    pagination: Pagination


class Employee(BaseModel):
    employee_id: str
    name_first: str
    name_last: str
    title: str | None
    email: str | None
    npi: str | None
    is_doctor: bool
    in_house: bool
    is_active: bool
    store_ids: list[str]
    create_date: str
    update_date: str


class EmployeeList(BaseModel):
    data: list[Employee]
    pagination: Pagination


class OrderItem(BaseModel):
    description: str
    quantity: int
    unit_price: float
    tax: float
    sku: str | None


class Order(BaseModel):
    order_id: str
    order_number: str
    external_id: str | None
    status: str
    type: str
    patient_id: str | None
    store_id: str | None
    employee_id: str | None = Field(description="The doctor (physician) of the order.")
    currency: str
    subtotal: float
    tax_total: float
    total: float
    amount_paid: float
    balance: float
    items: list[OrderItem]
    create_date: str
    update_date: str


class OrderList(BaseModel):
    data: list[Order]
    pagination: Pagination


class OrderBulk(BaseModel):
    data: list[Order]


class Appointment(BaseModel):
    appointment_id: str
    store_id: str
    patient_id: str
    employee_id: str | None = Field(description="The doctor or staff member seeing the patient.")
    start_time: str = Field(description="ISO-8601, UTC")
    end_time: str
    type: str = Field(examples=["eye_exam", "follow_up", "contact_lens_fitting"])
    status: str = Field(
        examples=["scheduled", "confirmed", "checked_in", "completed", "cancelled", "no_show"]
    )
    create_date: str
    update_date: str


class AppointmentList(BaseModel):
    data: list[Appointment]
    pagination: Pagination


class InvoiceLine(BaseModel):
    description: str
    quantity: int
    unit_price: float
    tax: float
    amount: float = Field(description="Quantity × unit price, before tax.")


class InvoicePayment(BaseModel):
    payment_id: str
    amount: float
    method: str
    payer: str = Field(examples=["patient", "insurance"])
    paid_date: str


class Invoice(BaseModel):
    invoice_id: str
    invoice_number: str
    order_id: str | None
    patient_id: str | None
    status: str = Field(examples=["open", "paid"])
    currency: str
    subtotal: float
    tax_total: float
    total: float
    amount_paid: float
    balance: float
    lines: list[InvoiceLine]
    payments: list[InvoicePayment]
    create_date: str
    update_date: str


class InvoiceList(BaseModel):
    data: list[Invoice]
    pagination: Pagination


class PricebookItem(BaseModel):
    item_id: str = Field(description="frames: the catalog frame's id; tierprices: the tier's.")
    kind: str
    code: str = Field(description="frames: the SKU; tierprices: the tier's name.")
    name: str = Field(description="frames: brand and model.")
    retail_price: float | None
    cost: float | None
    attributes: dict[str, Any] = Field(
        description="frames: brand, model, color, material, upc, measurements, currency, "
        "is_active; tierprices: discount_percent, description, is_default; other kinds: the "
        "item's own attributes."
    )
    create_date: str
    update_date: str


class PricebookList(BaseModel):
    data: list[PricebookItem]
    pagination: Pagination


class PricebookBulk(BaseModel):
    data: list[PricebookItem]


class PriceTier(BaseModel):
    pricetier_id: str
    name: str
    description: str | None
    discount_percent: float
    is_default: bool
    create_date: str
    update_date: str


class PriceTierList(BaseModel):
    data: list[PriceTier]
    pagination: Pagination
