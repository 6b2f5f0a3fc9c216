"""The practice dialect's tables: its scope table, modules, list grammars, body rules and
how OptiHub's records read in its words (snake_case, ``*_id``, ``create_date``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from optihub.domain.orders import ORDER_TYPES, OrderStatus
from optihub.reads.order_views import OrderView
from optihub.surfaces.practice.listing import ListSpec
from optihub.surfaces.practice.queries import Hours
from optihub.surfaces.practice.rules import Rule

SURFACE = "practice"

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

PATIENT_LIST = ListSpec(
    filters={
        "email": Rule("email"),
        "phone": Rule("phone"),
        "dob": DOB_FILTER,
        "name_first": NAME,
        "name_last": NAME,
    },
    sort_fields=("patient_id", "name_first", "name_last", "email", "dob", "create_date"),
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
    sort_fields=("store_id", "name", "create_date"),
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
    sort_fields=("employee_id", "name_first", "name_last", "create_date"),
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


def patient_out(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "patient_id": str(row["id"]),
        "name_first": row["first_name"],
        "name_last": row["last_name"],
        "email": row["email"],
        "phone": row["phone"],
        "dob": _day(row["date_of_birth"]),
        "address_1": row["address_line1"],
        "address_2": row["address_line2"],
        "city": row["city"],
        "state": row["state"],
        "zip": row["postal_code"],
        "country": row["country"],
        "store_id": _id(row["home_location_id"]),
        "create_date": timestamp(row["created_at"]),
        "update_date": timestamp(row["updated_at"]),
    }


def _hours_out(hours: list[Hours]) -> list[dict[str, Any]]:
    return [
        {"day": WEEKDAYS[h.weekday], "open": _clock(h.opens_at), "close": _clock(h.closes_at)}
        for h in hours
    ]


def store_out(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "store_id": str(row["id"]),
        "name": row["name"],
        "phone": row["phone"],
        "email": row["email"],
        "address_1": row["address_line1"],
        "address_2": row["address_line2"],
        "city": row["city"],
        "state": row["state"],
        "zip": row["postal_code"],
        "country": row["country"],
        "hours": _hours_out(row["hours"]),
        "create_date": timestamp(row["created_at"]),
        "update_date": timestamp(row["updated_at"]),
    }


def employee_out(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "employee_id": str(row["id"]),
        "name_first": row["first_name"],
        "name_last": row["last_name"],
        "title": row["title"],
        "email": row["email"],
        "npi": row["npi"],
        "is_doctor": row["is_doctor"],
        "in_house": row["in_house"],
        "is_active": row["is_active"],
        "store_ids": [str(s) for s in row["store_ids"]],
        "create_date": timestamp(row["created_at"]),
        "update_date": timestamp(row["updated_at"]),
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
