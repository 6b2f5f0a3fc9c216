"""The practice dialect's tables: its scope table, modules, list grammars, body rules and
how OptiHub's records read in its words (snake_case, ``*_id``, ``create_date``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from optihub.domain.orders import ORDER_TYPES, OrderStatus
from optihub.reads.appointments import AppointmentView
from optihub.reads.employees import EmployeeView
from optihub.reads.invoices import InvoiceView
from optihub.reads.locations import LocationView, OpeningHoursView
from optihub.reads.order_views import OrderView
from optihub.reads.patients import PatientView
from optihub.reads.pricebooks import KINDS, PricebookRow
from optihub.surfaces.practice.listing import ListSpec
from optihub.surfaces.practice.rules import Rule

SURFACE = "practice"
# The vendor's pricebooks (the read layer's kinds, in the same order): one route each.
PRICEBOOK_KINDS: tuple[str, ...] = KINDS

# (method, path below /v2) → scope, from the vendor's scope list.
ROUTE_SCOPES: dict[tuple[str, str], str | None] = {
    ("GET", "/{client_id}/patients"): "read:patients",
    ("POST", "/{client_id}/patients"): "create:patients",
    ("GET", "/{client_id}/patients/{id}"): "read:patients",
    ("GET", "/{client_id}/stores"): "read:stores",
    ("GET", "/{client_id}/stores/{id}"): "read:stores",
    ("GET", "/{client_id}/employees"): "read:employees",
    ("GET", "/{client_id}/employees/{id}"): "read:employees",
    ("GET", "/{client_id}/orders"): "read:orders",
    ("POST", "/{client_id}/orders"): "create:orders",
    ("GET", "/{client_id}/orders/{id}"): "read:orders",
    ("GET", "/{client_id}/appointments"): "read:appointments",
    ("GET", "/{client_id}/invoices"): "read:invoices",
    ("GET", "/{client_id}/invoices/{id}"): "read:invoices",
    # One route per pricebook, so each has its own scope.
    **{
        ("GET", f"/{{client_id}}/pricebooks/{kind}"): f"read:pricebooks:{kind}"
        for kind in PRICEBOOK_KINDS
    },
    ("POST", "/{client_id}/pricebooks/frames"): "create:pricebooks:frames",
    ("PATCH", "/{client_id}/pricebooks/frames/{id}"): "update:pricebooks:frames",
    ("GET", "/{client_id}/configurations/pricetiers"): "read:configurations:pricetiers",
    ("POST", "/{client_id}/configurations/pricetiers"): "create:configurations:pricetiers",
    ("GET", "/{client_id}/configurations/pricetiers/{id}"): "read:configurations:pricetiers",
    ("PATCH", "/{client_id}/configurations/pricetiers/{id}"): "update:configurations:pricetiers",
    ("DELETE", "/{client_id}/configurations/pricetiers/{id}"): "delete:configurations:pricetiers",
}


def module_of(path: str) -> str:
    """The rate-limit module of a path below ``/v2``: the resource after the client id
    (``/123/patients/…`` → ``patients``), so each practice resource has its own budget."""
    segments = path.strip("/").split("/")
    return segments[1] if len(segments) > 1 else segments[0]


# Records one bulk POST may carry (the whole body stays under the surface's 1 MiB too).
MAX_BULK = 100

NAME = Rule("string", max_length=50)
TEXT_FILTER = Rule("string", max_length=100)
DOB_FILTER = Rule("date")

# Each list's sort fields: the dialect's name → the read layer's sort key.
PATIENT_SORT = {
    "patient_id": "id",
    "name_first": "first_name",
    "name_last": "last_name",
    "email": "email",
    "dob": "date_of_birth",
    "create_date": "created_at",
}
STORE_SORT = {"store_id": "id", "name": "name", "create_date": "created_at"}
EMPLOYEE_SORT = {
    "employee_id": "id",
    "name_first": "first_name",
    "name_last": "last_name",
    "create_date": "created_at",
}
APPOINTMENT_SORT = {
    "appointment_id": "id",
    "start_time": "starts_at",
    "end_time": "ends_at",
    "store_id": "location_id",
    "patient_id": "patient_id",
    "type": "kind",
    "status": "status",
    "create_date": "created_at",
    "update_date": "updated_at",
}
INVOICE_SORT = {
    "invoice_id": "id",
    "invoice_number": "number",
    "status": "status",
    "total": "total",
    "balance": "balance",
    "create_date": "created_at",
    "update_date": "updated_at",
}
PRICEBOOK_SORT = {
    "item_id": "id",
    "code": "code",
    "name": "name",
    "retail_price": "retail_price",
    "cost": "cost",
    "create_date": "created_at",
    "update_date": "updated_at",
}
PRICETIER_SORT = {
    "pricetier_id": "id",
    "name": "name",
    "create_date": "created_at",
    "update_date": "updated_at",
}

PATIENT_LIST = ListSpec(
    filters={
        "email": Rule("email"),
        "phone": Rule("phone"),
        "dob": DOB_FILTER,
        "name_first": NAME,
        "name_last": NAME,
    },
    sort_fields=tuple(PATIENT_SORT),
    default_sort="name_last,name_first",
    filter_descriptions={
        "email": "Exact email (case-insensitive).",
        "phone": "Exact phone: 10 digits.",
        "dob": "Date of birth: YYYY-MM-DD or YYYY-MM-DDTHH:mm:ss (the date part counts).",
        "name_first": "First name starts with (case-insensitive).",
        "name_last": "Last name starts with (case-insensitive).",
    },
)

STORE_LIST = ListSpec(
    filters={"name": TEXT_FILTER},
    sort_fields=tuple(STORE_SORT),
    default_sort="name",
    filter_descriptions={"name": "Store name starts with (case-insensitive)."},
)

EMPLOYEE_LIST = ListSpec(
    filters={
        "name_first": NAME,
        "name_last": NAME,
        "is_doctor": Rule("boolean"),
        "is_active": Rule("boolean"),
        "store_id": Rule("guid"),
    },
    sort_fields=tuple(EMPLOYEE_SORT),
    default_sort="name_last,name_first",
    filter_descriptions={
        "name_first": "First name starts with (case-insensitive).",
        "name_last": "Last name starts with (case-insensitive).",
        "is_doctor": "true: doctors only; false: other staff only.",
        "is_active": "true: active employees only; false: former ones only.",
        "store_id": "Employees working at this store.",
    },
)

ORDER_STATUSES = tuple(s.value for s in OrderStatus)
ORDER_LIST = ListSpec(
    filters={
        "patient_id": Rule("guid"),
        "status": Rule("choice", choices=ORDER_STATUSES),
        "date_from": Rule("date"),
        "date_to": Rule("date"),
    },
    # The shared order read sorts by creation only (each sort matches an index).
    sort_fields=("create_date",),
    default_sort="-create_date",
    filter_descriptions={
        "patient_id": "Orders of this patient.",
        "status": "Orders in this status: " + ", ".join(ORDER_STATUSES) + ".",
        "date_from": "Created on or after this date (or date-time, UTC).",
        "date_to": "Created on or before this date (a date includes the whole day, UTC).",
    },
)

APPOINTMENT_LIST = ListSpec(
    filters={
        "date_from": Rule("date"),
        "date_to": Rule("date"),
        "store_id": Rule("guid"),
        "patient_id": Rule("guid"),
    },
    sort_fields=tuple(APPOINTMENT_SORT),
    default_sort="start_time",
    filter_descriptions={
        "date_from": "Starting on or after this day (the practice's time zone; a date-time "
        "counts by its date).",
        "date_to": "Starting on or before this day (inclusive, the practice's time zone).",
        "store_id": "Appointments at this store.",
        "patient_id": "Appointments of this patient.",
    },
)

INVOICE_STATUSES = ("open", "paid")
INVOICE_LIST = ListSpec(
    filters={
        "patient_id": Rule("guid"),
        "order_id": Rule("guid"),
        "status": Rule("choice", choices=INVOICE_STATUSES),
        "date_from": Rule("date"),
        "date_to": Rule("date"),
    },
    sort_fields=tuple(INVOICE_SORT),
    default_sort="-create_date",
    filter_descriptions={
        "patient_id": "Invoices of this patient.",
        "order_id": "Invoices of this order.",
        "status": "Invoices in this status: " + ", ".join(INVOICE_STATUSES) + ".",
        "date_from": "Created on or after this day (the practice's time zone).",
        "date_to": "Created on or before this day (inclusive, the practice's time zone).",
    },
)

PRICEBOOK_LIST = ListSpec(
    filters={"search": TEXT_FILTER, "updated_since": Rule("date")},
    sort_fields=tuple(PRICEBOOK_SORT),
    default_sort="name",
    filter_descriptions={
        "search": "Name or code starts with (case-insensitive); frames: brand, model or SKU.",
        "updated_since": "Changed on or after this date (or date-time, UTC).",
    },
)

PRICETIER_LIST = ListSpec(
    filters={"name": TEXT_FILTER},
    sort_fields=tuple(PRICETIER_SORT),
    default_sort="name",
    filter_descriptions={"name": "Tier name starts with (case-insensitive)."},
)

MONEY = Rule("number", minimum=0, maximum=Decimal("1000000"))

PATIENT_IN: Mapping[str, Rule] = {
    "name_first": Rule("string", required=True, max_length=50),
    "name_last": Rule("string", required=True, max_length=50),
    "email": Rule("email"),
    "phone": Rule("phone"),
    "dob": Rule("date", not_future=True),
    "address_1": Rule("string", max_length=200),
    "address_2": Rule("string", max_length=200),
    "city": Rule("string", max_length=100),
    "state": Rule("string", max_length=50),
    "zip": Rule("string", max_length=20),
    # OptiHub extensions (docs/practice-api.md): the eyewear-ready consents.
    "notify_eyewear_email": Rule("boolean"),
    "notify_eyewear_sms": Rule("boolean"),
}

ORDER_IN: Mapping[str, Rule] = {
    "patient_id": Rule("guid"),
    "store_id": Rule("guid"),
    "employee_id": Rule("guid"),
    "external_id": Rule("string", max_length=100),
    "type": Rule("choice", choices=ORDER_TYPES),
    "status": Rule("choice", choices=(OrderStatus.DRAFT.value, OrderStatus.RECEIVED.value)),
    "amount_paid": MONEY,
}
# ``items`` is an array of these (checked apart: the rules above are for scalars).
ORDER_ITEM_IN: Mapping[str, Rule] = {
    "description": Rule("string", required=True, max_length=300),
    "quantity": Rule("integer", minimum=1, maximum=1000),
    "unit_price": Rule("number", required=True, minimum=0, maximum=Decimal("1000000")),
    "tax": MONEY,
    "sku": Rule("string", max_length=50),
}
MAX_ITEMS = 50

# A pricebook frame: a frame of the practice's catalog (``retail_price``: its price,
# ``cost``: its wholesale price). Measurement bounds are the catalog's (``domain.rx``).
FRAME_IN: Mapping[str, Rule] = {
    "sku": Rule("string", required=True, max_length=50),
    "brand": Rule("string", required=True, max_length=100),
    "model": Rule("string", required=True, max_length=100),
    "upc": Rule("string", max_length=14),
    "color": Rule("string", max_length=100),
    "material": Rule("string", max_length=50),
    "eye_size": Rule("integer", minimum=10, maximum=100),
    "bridge": Rule("integer", minimum=10, maximum=100),
    "temple": Rule("integer", minimum=100, maximum=200),
    "a": Rule("number", minimum=10, maximum=100),
    "b": Rule("number", minimum=10, maximum=100),
    "ed": Rule("number", minimum=10, maximum=100),
    "retail_price": MONEY,
    "cost": MONEY,
}
FRAME_PATCH: Mapping[str, Rule] = {
    "brand": Rule("string", max_length=100),
    "model": Rule("string", max_length=100),
    "upc": Rule("string", max_length=14),
    "color": Rule("string", max_length=100),
    "material": Rule("string", max_length=50),
    "retail_price": MONEY,
    "cost": MONEY,
}
FRAME_FIELDS = {"price": "retail_price", "wholesale_price": "cost"}

PRICETIER_IN: Mapping[str, Rule] = {
    "name": Rule("string", required=True, max_length=100),
    "description": Rule("string", max_length=500),
    "discount_percent": Rule("number", minimum=0, maximum=100),
    "is_default": Rule("boolean"),
}
PRICETIER_PATCH: Mapping[str, Rule] = {
    "name": Rule("string", max_length=100),
    "description": Rule("string", max_length=500),
    "discount_percent": Rule("number", minimum=0, maximum=100),
    "is_default": Rule("boolean"),
}

# OptiHub field names (as services report them) → the dialect's, for service errors.
PATIENT_FIELDS = {"first_name": "name_first", "last_name": "name_last", "date_of_birth": "dob"}
ORDER_FIELDS = {"location_id": "store_id", "physician_id": "employee_id", "lines": "items"}

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def dialect_field(name: str, table: Mapping[str, str]) -> str:
    """``lines[0].quantity`` → ``items[0].quantity`` (the first segment renamed)."""
    head = name.split(".", 1)[0].split("[", 1)[0]
    return table.get(head, head) + name[len(head) :]


def timestamp(moment: datetime | None) -> str | None:
    """ISO-8601 in UTC with ``Z``."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _id(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _clock(value: time) -> str:
    return value.strftime("%H:%M")


def _money(value: Decimal) -> float:
    return float(value)


def patient_out(patient: PatientView) -> dict[str, Any]:
    return {
        "patient_id": str(patient.id),
        "name_first": patient.first_name,
        "name_last": patient.last_name,
        "email": patient.email,
        "phone": patient.phone,
        "dob": _day(patient.date_of_birth),
        "address_1": patient.address_line1,
        "address_2": patient.address_line2,
        "city": patient.city,
        "state": patient.state,
        "zip": patient.postal_code,
        "country": patient.country,
        "store_id": _id(patient.home_location_id),
        "create_date": timestamp(patient.created_at),
        "update_date": timestamp(patient.updated_at),
        "notify_eyewear_email": patient.notify_eyewear_email,
        "notify_eyewear_sms": patient.notify_eyewear_sms,
    }


def _hours_out(hours: tuple[OpeningHoursView, ...]) -> list[dict[str, Any]]:
    return [
        {"day": WEEKDAYS[h.weekday], "open": _clock(h.opens_at), "close": _clock(h.closes_at)}
        for h in hours
    ]


def store_out(store: LocationView) -> dict[str, Any]:
    return {
        "store_id": str(store.id),
        "name": store.name,
        "phone": store.phone,
        "email": store.email,
        "address_1": store.address_line1,
        "address_2": store.address_line2,
        "city": store.city,
        "state": store.state,
        "zip": store.postal_code,
        "country": store.country,
        "hours": _hours_out(store.hours),
        "create_date": timestamp(store.created_at),
        "update_date": timestamp(store.updated_at),
    }


def employee_out(employee: EmployeeView) -> dict[str, Any]:
    return {
        "employee_id": str(employee.id),
        "name_first": employee.first_name,
        "name_last": employee.last_name,
        "title": employee.title,
        "email": employee.email,
        "npi": employee.npi,
        "is_doctor": employee.is_doctor,
        "in_house": employee.in_house,
        "is_active": employee.is_active,
        "store_ids": [str(s) for s in employee.location_ids],
        "create_date": timestamp(employee.created_at),
        "update_date": timestamp(employee.updated_at),
    }


def appointment_out(appointment: AppointmentView) -> dict[str, Any]:
    return {
        "appointment_id": str(appointment.id),
        "store_id": str(appointment.location_id),
        "patient_id": str(appointment.patient_id),
        "employee_id": _id(appointment.employee_id),
        "start_time": timestamp(appointment.starts_at),
        "end_time": timestamp(appointment.ends_at),
        "type": appointment.kind,
        "status": appointment.status,
        "create_date": timestamp(appointment.created_at),
        "update_date": timestamp(appointment.updated_at),
    }


def invoice_out(invoice: InvoiceView) -> dict[str, Any]:
    return {
        "invoice_id": str(invoice.id),
        "invoice_number": invoice.number,
        "order_id": _id(invoice.order_id),
        "patient_id": _id(invoice.patient_id),
        "status": invoice.status,
        "currency": invoice.currency,
        "subtotal": _money(invoice.subtotal),
        "tax_total": _money(invoice.tax_total),
        "total": _money(invoice.total),
        "amount_paid": _money(invoice.amount_paid),
        "balance": _money(invoice.balance),
        "lines": [
            {
                "description": line.description,
                "quantity": line.quantity,
                "unit_price": _money(line.unit_price),
                "tax": _money(line.tax),
                "amount": _money(line.amount),
            }
            for line in invoice.lines
        ],
        "payments": [
            {
                "payment_id": str(payment.id),
                "amount": _money(payment.amount),
                "method": payment.method,
                "payer": payment.payer,
                "paid_date": timestamp(payment.paid_at),
            }
            for payment in invoice.payments
        ],
        "create_date": timestamp(invoice.created_at),
        "update_date": timestamp(invoice.updated_at),
    }


def _plain(value: Any) -> Any:
    """An attribute as JSON takes it (amounts and measurements as numbers)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def pricebook_out(row: PricebookRow) -> dict[str, Any]:
    return {
        "item_id": str(row.id),
        "kind": row.kind,
        "code": row.code,
        "name": row.name,
        "retail_price": _money(row.retail_price) if row.retail_price is not None else None,
        "cost": _money(row.cost) if row.cost is not None else None,
        "attributes": _plain(row.attributes),
        "create_date": timestamp(row.created_at),
        "update_date": timestamp(row.updated_at),
    }


def pricetier_out(row: PricebookRow) -> dict[str, Any]:
    """A price tier, read as a row of the ``tierprices`` pricebook."""
    attributes = row.attributes
    discount = attributes.get("discount_percent")
    return {
        "pricetier_id": str(row.id),
        "name": row.name,
        "description": attributes.get("description"),
        "discount_percent": float(discount) if discount is not None else 0.0,
        "is_default": bool(attributes.get("is_default")),
        "create_date": timestamp(row.created_at),
        "update_date": timestamp(row.updated_at),
    }


def order_out(order: OrderView) -> dict[str, Any]:
    return {
        "order_id": str(order.id),
        "order_number": order.number,
        "external_id": order.external_id,
        "status": order.status,
        "type": order.type,
        "patient_id": _id(order.patient_id),
        "store_id": _id(order.location_id),
        "employee_id": _id(order.physician_id),
        "currency": order.currency,
        "subtotal": _money(order.subtotal),
        "tax_total": _money(order.tax_total),
        "total": _money(order.total),
        "amount_paid": _money(order.amount_paid),
        "balance": _money(order.balance),
        "items": [
            {
                "description": line.description,
                "quantity": line.quantity,
                "unit_price": _money(line.unit_price),
                "tax": _money(line.tax),
                "sku": line.sku,
            }
            for line in order.lines
        ],
        "create_date": timestamp(order.created_at),
        "update_date": timestamp(order.updated_at),
    }
