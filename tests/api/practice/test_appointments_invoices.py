"""GET /v2/{client_id}/appointments and /invoices[/{id}]: the practice's appointments (days
in the practice's time zone) and invoices with their lines and payments, through
``reads.appointments`` / ``reads.invoices``, with the shared list grammar."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from optihub.services import appointments, invoices, orders
from tests import factories
from tests.api.practice.conftest import error

NY = ZoneInfo("America/New_York")  # the practices' time zone (the model's default)


@pytest.fixture
def booked(db, world):
    """Four appointments of the world's practice, one of the other practice."""
    with db.transaction() as s:
        actor = factories.actor(world.practice_id)

        def book(day, hour, store, patient, kind="eye_exam", employee=None):
            start = datetime(2026, 3, day, hour, 0, tzinfo=NY)
            return str(
                appointments.create_appointment(
                    s,
                    actor,
                    appointments.AppointmentDetails(
                        location_id=uuid.UUID(world.stores[store]),
                        patient_id=uuid.UUID(world.patients[patient]),
                        starts_at=start,
                        ends_at=start + timedelta(minutes=30),
                        kind=kind,
                        employee_id=uuid.UUID(world.employees[employee]) if employee else None,
                    ),
                ).id
            )

        ids = {
            "9th": book(9, 10, "main", "maya", employee="doctor"),
            "10th_late": book(10, 23, "bay", "liam", "follow_up"),  # 03:00 UTC on the 11th
            "11th": book(11, 8, "main", "liam", "contact_lens_fitting"),
            "20th": book(20, 16, "bay", "maya", "follow_up"),
        }
        start = datetime(2026, 3, 10, 12, tzinfo=NY)
        appointments.create_appointment(
            s,
            factories.actor(world.other_practice_id),
            appointments.AppointmentDetails(
                location_id=uuid.UUID(world.other["store"]),
                patient_id=uuid.UUID(world.other["patient"]),
                starts_at=start,
                ends_at=start + timedelta(hours=1),
            ),
        )
    return ids


def listed(api, path, **params):
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_appointments_in_the_vendors_words(api, world, booked):
    body = listed(api, "/appointments")
    assert [a["appointment_id"] for a in body["data"]] == [
        booked["9th"],
        booked["10th_late"],
        booked["11th"],
        booked["20th"],
    ]
    assert body["pagination"] == {
        "page": 1,
        "page_size": 10,
        "total_pages": 1,
        "total_count": 4,
        "sort": "start_time",
    }
    first = body["data"][0]
    assert first == {
        "appointment_id": booked["9th"],
        "store_id": world.stores["main"],
        "patient_id": world.patients["maya"],
        "employee_id": world.employees["doctor"],
        "start_time": "2026-03-09T14:00:00Z",
        "end_time": "2026-03-09T14:30:00Z",
        "type": "eye_exam",
        "status": "scheduled",
        "create_date": first["create_date"],
        "update_date": first["update_date"],
    }
    assert first["create_date"].endswith("Z")
    assert body["data"][1]["start_time"] == "2026-03-11T03:00:00Z"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # Days are the practice's: the 23:00 appointment of the 10th is on the 10th.
        ({"date_from": "2026-03-10", "date_to": "2026-03-10"}, ["10th_late"]),
        ({"date_from": "2026-03-11"}, ["11th", "20th"]),
        ({"date_to": "2026-03-10"}, ["9th", "10th_late"]),
        ({"date_from": "2026-03-10T18:00:00", "date_to": "2026-03-11"}, ["10th_late", "11th"]),
        ({"date_from": "2026-03-12", "date_to": "2026-03-10"}, []),
        ({"store_id": "bay"}, ["10th_late", "20th"]),
        ({"patient_id": "maya"}, ["9th", "20th"]),
        ({"patient_id": "maya", "store_id": "main"}, ["9th"]),
        ({"sort": "-start_time"}, ["20th", "11th", "10th_late", "9th"]),
        ({"sort": "-end_time"}, ["20th", "11th", "10th_late", "9th"]),
        ({"sort": "type,-start_time"}, ["11th", "9th", "20th", "10th_late"]),
        ({"sort": "-type,start_time"}, ["10th_late", "20th", "9th", "11th"]),
        ({"page_size": "5", "page": "2"}, []),
    ],
)
def test_appointment_filters_and_sorts(api, world, booked, params, expected):
    resolved = {
        k: world.stores.get(v, world.patients.get(v, v)) if k.endswith("_id") else v
        for k, v in params.items()
    }
    body = listed(api, "/appointments", **resolved)
    assert [a["appointment_id"] for a in body["data"]] == [booked[k] for k in expected]


@pytest.mark.parametrize("key", ["appointment_id", "create_date", "update_date", "status"])
def test_every_appointment_sort_field_is_accepted_both_ways(api, booked, key):
    up = [a["appointment_id"] for a in listed(api, "/appointments", sort=key)["data"]]
    down = [a["appointment_id"] for a in listed(api, "/appointments", sort=f"-{key}")["data"]]
    assert sorted(up) == sorted(down) == sorted(booked.values())
    if key == "appointment_id":
        assert up == sorted(booked.values()) and down == up[::-1]


def test_appointments_of_another_practice_are_not_listed(api, world, booked):
    body = listed(api, "/appointments", patient_id=world.other["patient"])
    assert body["data"] == [] and body["pagination"]["total_count"] == 0


APPOINTMENT_SORT = (
    "appointment_id|start_time|end_time|store_id|patient_id|type|status|create_date|update_date"
)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"date_from": "10/03/2026", "store_id": "main-street"},
            'date_from must be YYYY-MM-DD or YYYY-MM-DDTHH:mm:ss,"store_id" must be a valid GUID',
        ),
        ({"date_to": "2026-02-30"}, "date_to must be YYYY-MM-DD or YYYY-MM-DDTHH:mm:ss"),
        ({"patient_id": ""}, '"patient_id" is not allowed to be empty'),
        (
            {"page": "0", "page_size": "251", "sort": "dob"},
            '"page" must be greater than or equal to 1,'
            '"page_size" must be less than or equal to 250,'
            f'"sort" with value "dob" fails to match the required pattern: '
            f"/^(-?({APPOINTMENT_SORT})(,-?({APPOINTMENT_SORT}))*$)/",
        ),
        ({"page": "9007199254740993"}, '"page" must be a safe number'),
        ({"status": "scheduled"}, '"status" is not allowed'),
    ],
)
def test_appointment_list_messages(api, booked, params, message):
    assert error(api.get("/appointments", params=params), 400) == message


# --------------------------------------------------------------------------- invoices


@pytest.fixture
def billed(db, world):
    with db.transaction() as s:
        actor = factories.actor(world.practice_id)
        maya, liam = uuid.UUID(world.patients["maya"]), uuid.UUID(world.patients["liam"])
        order = orders.place_order(
            s,
            actor,
            orders.NewOrder(
                patient_id=maya,
                lines=[
                    orders.LineItem("Ray-Ban RB5154", 1, Decimal("189.00")),
                    orders.LineItem("Lenses (pair)", 2, Decimal("75.50"), tax=Decimal("9.44")),
                ],
            ),
        )
        from_order = invoices.create_invoice(s, actor, order_id=order.id)
        exam = invoices.create_invoice(
            s,
            actor,
            patient_id=liam,
            lines=[invoices.InvoiceLineDetails("Comprehensive eye exam", 1, Decimal("150.00"))],
        )
        invoices.record_payment(s, actor, exam.id, amount=Decimal("150.00"), method="card")
        small = invoices.create_invoice(
            s,
            actor,
            patient_id=maya,
            lines=[
                invoices.InvoiceLineDetails("Lens cleaning kit", 2, Decimal("7.50"), Decimal("1.2"))
            ],
        )
        invoices.record_payment(s, actor, small.id, amount=Decimal("5.00"), method="cash")
        foreign = invoices.create_invoice(
            s,
            factories.actor(world.other_practice_id),
            lines=[invoices.InvoiceLineDetails("Exam", 1, Decimal("90.00"))],
        )
        numbers = {i.id: i.number for i in (from_order, exam, small)}
    return {
        "order": str(order.id),
        "from_order": str(from_order.id),
        "exam": str(exam.id),
        "small": str(small.id),
        "foreign": str(foreign.id),
        "numbers": {str(k): v for k, v in numbers.items()},
    }


def test_an_invoice_in_the_vendors_words(api, world, billed):
    body = api.get(f"/invoices/{billed['small']}").json()
    payment = body["payments"][0]
    assert body == {
        "invoice_id": billed["small"],
        "invoice_number": billed["numbers"][billed["small"]],
        "order_id": None,
        "patient_id": world.patients["maya"],
        "status": "open",
        "currency": "USD",
        "subtotal": 15.0,
        "tax_total": 1.2,
        "total": 16.2,
        "amount_paid": 5.0,
        "balance": 11.2,
        "lines": [
            {
                "description": "Lens cleaning kit",
                "quantity": 2,
                "unit_price": 7.5,
                "tax": 1.2,
                "amount": 15.0,
            }
        ],
        "payments": [
            {
                "payment_id": payment["payment_id"],
                "amount": 5.0,
                "method": "cash",
                "payer": "patient",
                "paid_date": payment["paid_date"],
            }
        ],
        "create_date": body["create_date"],
        "update_date": body["update_date"],
    }
    from_order = api.get(f"/invoices/{billed['from_order']}").json()
    assert from_order["order_id"] == billed["order"]
    assert from_order["total"] == 349.44
    assert [line["description"] for line in from_order["lines"]] == [
        "Ray-Ban RB5154",
        "Lenses (pair)",
    ]


def test_invoices_list_newest_first_by_default(api, billed):
    body = listed(api, "/invoices")
    assert [i["invoice_id"] for i in body["data"]] == [
        billed["small"],
        billed["exam"],
        billed["from_order"],
    ]
    assert body["pagination"]["sort"] == "-create_date"
    assert body["pagination"]["total_count"] == 3


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "paid"}, ["exam"]),
        ({"status": "open", "sort": "total"}, ["small", "from_order"]),
        ({"patient_id": "maya", "sort": "create_date"}, ["from_order", "small"]),
        ({"order_id": "order"}, ["from_order"]),
        ({"sort": "-total"}, ["from_order", "exam", "small"]),
        ({"sort": "balance,-total"}, ["exam", "small", "from_order"]),
        (
            {"date_from": "2000-01-01", "date_to": "2999-12-31", "sort": "total"},
            ["small", "exam", "from_order"],
        ),
        ({"date_to": "2000-01-01"}, []),
        ({"date_from": "2999-01-01"}, []),
    ],
)
def test_invoice_filters_and_sorts(api, world, billed, params, expected):
    resolved = dict(params)
    if "patient_id" in resolved:
        resolved["patient_id"] = world.patients[resolved["patient_id"]]
    if "order_id" in resolved:
        resolved["order_id"] = billed["order"]
    body = listed(api, "/invoices", **resolved)
    assert [i["invoice_id"] for i in body["data"]] == [billed[k] for k in expected]


@pytest.mark.parametrize(
    "key", ["invoice_id", "invoice_number", "status", "total", "balance", "update_date"]
)
def test_every_invoice_sort_field_is_accepted(api, billed, key):
    found = listed(api, "/invoices", sort=f"-{key}")
    assert found["pagination"]["sort"] == f"-{key}"
    assert {i["invoice_id"] for i in found["data"]} == {
        billed["from_order"],
        billed["exam"],
        billed["small"],
    }


INVOICE_SORT = "invoice_id|invoice_number|status|total|balance|create_date|update_date"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "void"}, '"status" must be one of [open, paid]'),
        (
            {"order_id": "42", "patient_id": "x", "date_from": "yesterday"},
            '"patient_id" must be a valid GUID,"order_id" must be a valid GUID,'
            "date_from must be YYYY-MM-DD or YYYY-MM-DDTHH:mm:ss",
        ),
        (
            {"sort": "total,-number", "page_size": "4"},
            '"page_size" must be greater than or equal to 5,'
            '"sort" with value "total,-number" fails to match the required pattern: '
            f"/^(-?({INVOICE_SORT})(,-?({INVOICE_SORT}))*$)/",
        ),
        ({"page": "1.5"}, '"page" must be an integer'),
        ({"customer": "maya"}, '"customer" is not allowed'),
    ],
)
def test_invoice_list_messages(api, billed, params, message):
    assert error(api.get("/invoices", params=params), 400) == message


def test_another_practices_invoice_is_not_found(api, billed):
    assert error(api.get(f"/invoices/{billed['foreign']}"), 404)
    assert error(api.get("/invoices/not-a-guid"), 404)
    assert error(api.get(f"/invoices/{uuid.uuid4()}"), 404)
    assert billed["foreign"] not in {i["invoice_id"] for i in listed(api, "/invoices")["data"]}
