"""POST /orders: placing, merging, matching prescriptions, and refusals that write nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from optihub.db.models import Event, Order
from tests.api.fulfillment.conftest import order_body, table_counts

ORDER_NUMBER = re.compile(r"^ORD\d{12}[A-Z]{4}$")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_creates_an_order_with_every_field(api, world, db):
    response = api.post("/orders", json=order_body(world, external_id="SHOP-1"))
    assert response.status_code == 201, response.text
    order = response.json()
    assert ORDER_NUMBER.match(order["order_number"])
    assert ISO_Z.match(order["created_at"]) and ISO_Z.match(order["updated_at"])
    assert order["status"] == "received"
    assert order["customer_id"] == world.practice_id
    assert order["external_id"] == "SHOP-1"
    assert order["address"] | {"id": "x"} == {
        "id": "x",
        "address_1": "12 Harbor Road",
        "address_2": None,
        "city": "Boston",
        "state": "MA",
        "zip_code": "02110",
        "country": "US",
        "type": "shipping",
    }
    assert order["custom_shipping"] is None
    assert order["is_replacement"] is False
    assert order["original_order_id"] is None
    assert order["replacement_order_ids"] == []
    assert order["replacement_request_status"] is None
    assert order["has_replacement_request"] is False
    assert order["cancellation_requested"] is False
    assert order["priority_requested"] is False
    assert order["patient"] == {
        "id": str(world.patient_id),
        "external_id": "PAT-ADA",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "phone": "6175550100",
        "date_of_birth": None,
    }
    [lens] = order["products"]["prescription"]
    [frame] = order["products"]["non_prescription"]
    assert lens["sku"] == "LNS-SV-POLY" and lens["price"] == "149.00" and lens["quantity"] == 1
    # Matched automatically with the newest valid spectacle Rx.
    assert lens["prescription_id"] == str(world.spectacle_rx)
    assert frame["sku"] == world.frame_sku and frame["prescription_id"] is None
    assert order["prescription_ids"] == [str(world.spectacle_rx)]
    assert order["prescription_count"] == 1
    assert order["shipments"] == []
    with db.reading() as reader:
        events = reader.execute(select(Event.type, Event.data)).all()
    assert [(t, d["id"]) for t, d in events] == [("order.created", order["id"])]


def test_the_stored_document_serves_the_same_order(api, world, monkeypatch):
    """The answer's view is handed to the commit, which stores the documents from it
    (the order is not loaded a second time), and the stored order is the answer."""
    from optihub.reads import documents

    loads: list[int] = []
    real = documents.load_ids
    monkeypatch.setattr(documents, "load_ids", lambda *a, **k: loads.append(1) or real(*a, **k))
    created = api.post("/orders", json=order_body(world)).json()
    assert loads == []
    assert api.get(f"/orders/{created['id']}").json() == created


def test_contact_lenses_match_a_contact_lens_rx_and_prescription_ids_come_first(api, world):
    body = order_body(
        world,
        prescription_ids=[str(world.older_spectacle_rx)],
        products={
            "prescription": [{"sku": "CL-AO6", "quantity": 4}, {"sku": "LNS-PAL-167"}],
            "non_prescription": [],
        },
    )
    order = api.post("/orders", json=body).json()
    contacts, lenses = order["products"]["prescription"]
    assert contacts["prescription_id"] == str(world.contact_rx)
    assert contacts["quantity"] == 4
    assert lenses["prescription_id"] == str(world.older_spectacle_rx)
    assert order["prescription_count"] == 2


def test_products_by_id(api, world):
    body = order_body(
        world,
        products={
            "prescription": [{"id": str(world.ids["CL-AO6"])}],
            "non_prescription": [{"id": str(world.frame_id)}, {"sku": "SUN-PLANO-BLK"}],
        },
    )
    order = api.post("/orders", json=body).json()
    assert [p["sku"] for p in order["products"]["non_prescription"]] == [
        world.frame_sku,
        "SUN-PLANO-BLK",
    ]


def test_no_valid_rx_leaves_products_unmatched(api, world):
    body = order_body(
        world,
        patient_id=str(world.bare_patient_id),
        address={"address_1": "1 Navy Way", "city": "Arlington", "zip_code": "22201"},
    )
    order = api.post("/orders", json=body).json()
    assert order["products"]["prescription"][0]["prescription_id"] is None
    assert order["prescription_count"] == 0 and order["prescription_ids"] == []
    assert order["address"]["address_1"] == "1 Navy Way"


def test_a_new_patient_and_a_patient_by_external_id(api, world, db):
    new = {
        "first_name": "Katherine",
        "last_name": "Johnson",
        "email": "kj@example.com",
        "external_id": "PAT-KJ",
    }
    address = {"address_1": "3 Langley Blvd", "city": "Hampton", "state": "VA", "zip_code": "23665"}
    body = order_body(world, patient=new, address=address)
    del body["patient_id"]
    first = api.post("/orders", json=body)
    assert first.status_code == 201, first.text
    assert first.json()["patient"]["external_id"] == "PAT-KJ"
    again = order_body(world, patient={"external_id": "PAT-KJ"})
    del again["patient_id"]
    # Same patient, open received order: merged (the address is the order's already).
    second = api.post("/orders", json=again)
    assert second.status_code == 200, second.text
    assert second.json()["id"] == first.json()["id"]
    by_id = order_body(world, patient={"id": str(world.patient_id)})
    del by_id["patient_id"]
    assert api.post("/orders", json=by_id).json()["patient"]["first_name"] == "Ada"


def test_merges_into_the_open_received_order_unless_force_new(api, world, db):
    first = api.post("/orders", json=order_body(world)).json()
    body = order_body(
        world,
        products={"prescription": [], "non_prescription": [{"sku": "SOL-MPS-360", "quantity": 2}]},
        priority_requested=True,
    )
    merged = api.post("/orders", json=body)
    assert merged.status_code == 200
    order = merged.json()
    assert order["id"] == first["id"]
    assert [p["sku"] for p in order["products"]["non_prescription"]] == [
        world.frame_sku,
        "SOL-MPS-360",
    ]
    assert order["priority_requested"] is True
    forced = api.post("/orders?force_new=true", json=body)
    assert forced.status_code == 201
    assert forced.json()["id"] != first["id"]
    with db.reading() as reader:
        assert len(reader.scalars(select(Order.id)).all()) == 2
        created = reader.scalars(select(Event.type).where(Event.type == "order.created")).all()
    assert len(created) == 2


def test_does_not_merge_into_an_order_past_received_or_with_another_external_id(api, world, db):
    from tests.api.fulfillment.conftest import move

    first = api.post("/orders", json=order_body(world, external_id="A-1")).json()
    other_id = api.post("/orders", json=order_body(world, external_id="A-2"))
    assert other_id.status_code == 201
    assert other_id.json()["id"] != first["id"]
    move(db, world.practice_id, other_id.json()["id"], "picked")
    move(db, world.practice_id, first["id"], "picked")
    third = api.post("/orders", json=order_body(world))
    assert third.status_code == 201


def test_a_repeated_external_id_is_409_naming_the_order(api, world, db):
    first = api.post("/orders", json=order_body(world, external_id="SHOP-9")).json()
    before = table_counts(db)
    again = api.post("/orders?force_new=true", json=order_body(world, external_id="SHOP-9"))
    assert again.status_code == 409
    error = again.json()["error"]
    assert error["code"] == "conflict"
    assert first["order_number"] in error["message"] and first["id"] in error["message"]
    assert table_counts(db) == before


def test_unknown_skus_are_400_naming_them_and_nothing_is_written(api, world, db):
    before = table_counts(db)
    body = order_body(
        world,
        patient_id=None,
        patient={"first_name": "New", "last_name": "Person"},
        products={
            "prescription": [{"sku": "NOPE-1"}],
            "non_prescription": [{"sku": "FOREIGN-SKU"}, {"sku": world.frame_sku}],
        },
    )
    del body["patient_id"]
    response = api.post("/orders", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unknown_product" and error["field"] == "products"
    assert "NOPE-1" in error["message"] and "FOREIGN-SKU" in error["message"]
    assert world.frame_sku not in error["message"]
    assert table_counts(db) == before


def test_a_product_in_the_wrong_group_is_400(api, world, db):
    before = table_counts(db)
    body = order_body(
        world, products={"prescription": [{"sku": world.frame_sku}], "non_prescription": []}
    )
    response = api.post("/orders", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "products.prescription[0]"
    assert "non_prescription" in error["message"]
    body = order_body(world, products={"prescription": [], "non_prescription": [{"sku": "CL-AO6"}]})
    assert api.post("/orders", json=body).status_code == 400
    # Professional fees are not products.
    body = order_body(
        world, products={"prescription": [], "non_prescription": [{"sku": "EXAM-COMP"}]}
    )
    assert api.post("/orders", json=body).json()["error"]["code"] == "unknown_product"
    assert table_counts(db) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"patient_id": None}, None),
        ({"products": {"prescription": [], "non_prescription": []}}, "products"),
        ({"prescription_ids": ["00000000-0000-0000-0000-000000000001"]}, "prescription_ids[0]"),
        ({"patient_id": "00000000-0000-0000-0000-000000000001"}, "patient_id"),
    ],
)
def test_bad_references_are_400_and_write_nothing(api, world, db, change, field):
    before = table_counts(db)
    response = api.post("/orders", json=order_body(world) | change)
    assert response.status_code == 400, response.text
    if field:
        assert response.json()["error"]["field"] == field
    assert table_counts(db) == before


def test_another_patients_rx_and_a_foreign_patient_are_refused(api, world, db):
    before = table_counts(db)
    body = order_body(world, prescription_ids=[str(world.other_patient_rx)])
    assert api.post("/orders", json=body).status_code == 400
    body = order_body(world, patient_id=str(world.foreign_patient_id))
    assert api.post("/orders", json=body).status_code == 400
    assert table_counts(db) == before


def test_a_patient_without_an_address_needs_one(api, world, db):
    before = table_counts(db)
    response = api.post("/orders", json=order_body(world, patient_id=str(world.bare_patient_id)))
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "address"
    assert table_counts(db) == before


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"patient_id": ', id="malformed-json"),
        pytest.param(b'{"patient_id": 12, "products": {}}', id="wrong-type-id"),
        pytest.param(
            b'{"patient_id": "%s", "products": {"prescription": [{"sku": "CL-AO6", '
            b'"quantity": "many"}]}}',
            id="wrong-type-quantity",
        ),
        pytest.param(
            b'{"patient_id": "%s", "products": {"prescription": [{"sku": "CL-AO6", '
            b'"quantity": 100000000000000000000000000000}]}}',
            id="huge-integer",
        ),
        pytest.param(
            b'{"patient_id": "%s", "products": {"prescription": []}, "status": "shipped"}',
            id="unknown-field",
        ),
        pytest.param(
            b'{"patient_id": "%s", "products": {"prescription": [{"sku": "CL-AO6", '
            b'"id": "4f1c1ab4-8a43-4a28-9f1e-8a0c4f61c8e3"}]}}',
            id="id-and-sku",
        ),
        pytest.param(
            b'{"patient_id": "%s", "priority_requested": "yes", "products": {}}',
            id="wrong-type-bool",
        ),
        pytest.param(
            b'{"patient_id": "%s", "products": {}, "custom_shipping": {"carrier": "UPS"}}',
            id="custom-shipping-incomplete",
        ),
    ],
)
def test_bad_input_is_400_in_the_envelope_and_writes_nothing(api, world, db, body):
    if b"%s" in body:
        body = body.replace(b"%s", str(world.patient_id).encode())
    before = table_counts(db)
    response = api.post("/orders", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "field"}
    assert "Traceback" not in response.text
    assert table_counts(db) == before


def test_custom_shipping_shipping_and_priority_are_kept(api, world):
    label = {
        "label_url": "https://labels.example.com/1.pdf",
        "tracking_number": "1Z999",
        "tracking_url": "https://track.example.com/1Z999",
        "carrier": "UPS",
    }
    body = order_body(
        world,
        custom_shipping=label,
        shipping={"carrier": "UPS", "service_level": "2nd_day_air"},
        priority_requested=True,
    )
    order = api.post("/orders", json=body).json()
    assert order["custom_shipping"] == label
    assert order["shipping"] == {"carrier": "UPS", "service_level": "2nd_day_air"}
    assert order["priority_requested"] is True


def test_an_order_created_here_shows_in_the_partner_api(api, world, client, issue_token, db):
    from tests.api.fulfillment.conftest import move

    order = api.post("/orders", json=order_body(world)).json()
    partner = {"Authorization": f"Bearer {issue_token(world.practice_id, 'orders:read')}"}
    seen = client.get(f"/api/v1/partner/orders/{order['id']}", headers=partner)
    assert seen.status_code == 200
    assert seen.json()["number"] == order["order_number"]
    assert seen.json()["status"] == "pending"
    move(db, world.practice_id, order["id"], "picked", "verified")
    seen = client.get(f"/api/v1/partner/orders/{order['id']}", headers=partner)
    assert seen.json()["status"] == "in_progress"
    assert api.get(f"/orders/{order['id']}").json()["status"] == "verified"
