"""GET/POST /v2/{client_id}/orders, GET /orders/{id}: lists through the shared order read,
creates through the order service (``order.created``), bulk all-or-nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from optihub.db.models import Event, Order, OrderLine
from tests.api.practice.conftest import count, error


def order_body(world, **more):
    return {
        "patient_id": world.patients["maya"],
        "store_id": world.stores["main"],
        "employee_id": world.employees["doctor"],
        "external_id": "EC-1001",
        "type": "spectacles",
        "amount_paid": 50,
        "items": [
            {"description": "Frame: Ray-Ban RB5154", "unit_price": 129.95, "sku": "RB5154"},
            {"description": "Single vision lenses", "quantity": 2, "unit_price": 45.5, "tax": 3.1},
        ],
    } | more


def created_events(db) -> list[dict]:
    with db.reading() as reader:
        rows = reader.execute(select(Event.type, Event.data).order_by(Event.id)).all()
    return [data for kind, data in rows if kind == "order.created"]


def test_create_an_order_fires_order_created(api, world, db):
    response = api.post("/orders", json=order_body(world))
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "received"
    assert order["patient_id"] == world.patients["maya"]
    assert order["store_id"] == world.stores["main"]
    assert order["employee_id"] == world.employees["doctor"]
    assert order["external_id"] == "EC-1001"
    assert order["subtotal"] == 220.95
    assert order["tax_total"] == 3.1
    assert order["total"] == 224.05
    assert order["balance"] == 174.05
    assert order["items"][1] == {
        "description": "Single vision lenses",
        "quantity": 2,
        "unit_price": 45.5,
        "tax": 3.1,
        "sku": None,
    }
    events = created_events(db)
    assert [e["id"] for e in events] == [order["order_id"]]
    assert api.get(f"/orders/{order['order_id']}").json() == order


def test_bulk_orders_are_all_or_nothing(api, world, db):
    ok = api.post("/orders", json=[order_body(world), order_body(world, external_id="EC-2")])
    assert ok.status_code == 201
    assert len(ok.json()["data"]) == 2
    before = (count(db, Order), count(db, OrderLine), count(db, Event))
    bad = [
        order_body(world, external_id="EC-3"),
        order_body(world, external_id="EC-4", patient_id=world.other["patient"]),
    ]
    response = api.post("/orders", json=bad)
    assert error(response, 400) == '"[1].patient_id" no such patient in this practice'
    assert (count(db, Order), count(db, OrderLine), count(db, Event)) == before


def test_a_duplicate_external_id_in_a_bulk_names_the_record(api, world, db):
    before = count(db, Order)
    response = api.post("/orders", json=[order_body(world), order_body(world)])
    assert error(response, 400) == '"[1]" An order with external id EC-1001 already exists'
    assert count(db, Order) == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"items": [{"unit_price": 1}]},
            '"items[0].description" is required',
        ),
        (
            {"items": [{"description": "x", "unit_price": 1.234, "quantity": 0}]},
            '"items[0].quantity" must be greater than or equal to 1,'
            '"items[0].unit_price" must have no more than 2 decimal places',
        ),
        ({"items": "frame"}, '"items" must be an array'),
        ({"type": "glasses"}, '"type" must be one of [frames, spectacles, contacts, other]'),
        ({"status": "shipped"}, '"status" must be one of [draft, received]'),
        ({"patient_id": "p-1"}, '"patient_id" must be a valid GUID'),
        ({"amount_paid": 10**30}, '"amount_paid" must be a safe number'),
        ({"amount_paid": "10"}, '"amount_paid" must be a number'),
        ({"amount_paid": True}, '"amount_paid" must be a number'),
        ({"amount_paid": 1000001}, '"amount_paid" must be less than or equal to 1000000'),
        ({"priority": True}, '"priority" is not allowed'),
    ],
)
def test_bad_order_bodies_write_nothing(api, db, body, message):
    before = (count(db, Order), count(db, Event))
    assert error(api.post("/orders", json=body), 400) == message
    assert (count(db, Order), count(db, Event)) == before


def test_the_list_reads_orders_with_filters_and_sort(api, world):
    first = api.post("/orders", json=order_body(world, external_id="A")).json()
    second = api.post(
        "/orders",
        json=order_body(world, external_id="B", patient_id=world.patients["zoe"], status="draft"),
    ).json()
    body = api.get("/orders").json()
    assert [o["order_id"] for o in body["data"]] == [second["order_id"], first["order_id"]]
    assert body["pagination"] == {
        "page": 1,
        "page_size": 10,
        "total_pages": 1,
        "total_count": 2,
        "sort": "-create_date",
    }
    oldest = api.get("/orders", params={"sort": "create_date"}).json()["data"]
    assert [o["order_id"] for o in oldest] == [first["order_id"], second["order_id"]]
    by_patient = api.get("/orders", params={"patient_id": world.patients["zoe"]}).json()
    assert [o["external_id"] for o in by_patient["data"]] == ["B"]
    drafts = api.get("/orders", params={"status": "draft"}).json()
    assert [o["external_id"] for o in drafts["data"]] == ["B"]
    day = first["create_date"][:10]
    today = api.get("/orders", params={"date_from": day, "date_to": day}).json()
    assert today["pagination"]["total_count"] == 2
    none = api.get("/orders", params={"date_to": "2000-01-01"}).json()
    assert none["pagination"]["total_count"] == 0


def test_order_list_messages(api):
    response = api.get(
        "/orders", params={"status": "lost", "date_from": "yesterday", "sort": "total"}
    )
    assert error(response, 400) == (
        '"status" must be one of [draft, received, in_progress, completed, shipped, delivered, '
        "cancelled],date_from must be YYYY-MM-DD or YYYY-MM-DDTHH:mm:ss,"
        '"sort" with value "total" fails to match the required pattern: '
        "/^(-?(create_date)(,-?(create_date))*$)/"
    )


def test_another_practices_order_is_not_found(api, world, issue_token, client):
    token = issue_token(world.other_practice_id, "create:orders read:orders")
    theirs = client.post(
        f"/v2/{world.other_practice_id}/orders",
        json={"items": [{"description": "Exam", "unit_price": 80}]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert theirs.status_code == 201, theirs.text
    assert error(api.get(f"/orders/{theirs.json()['order_id']}"), 404)
    assert api.get("/orders").json()["pagination"]["total_count"] == 0
