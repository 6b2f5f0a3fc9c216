"""PUT /orders/{id}, unpause, cancellation and replacement requests (and staff fulfilling
or declining them), and linking a prescription product to a prescription."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from optihub.db.models import Event, Patient
from optihub.services import fulfillment
from tests.api.fulfillment.conftest import move, order_body, staff, table_counts

ADDRESS = {
    "address_1": "9 Pier Street",
    "address_2": "Unit 4",
    "city": "Salem",
    "state": "MA",
    "zip_code": "01970",
}
LABEL = {
    "label_url": "https://labels.example.com/2.pdf",
    "tracking_number": "9400111",
    "tracking_url": "https://track.example.com/9400111",
    "carrier": "USPS",
}


@pytest.fixture
def order(api, world):
    response = api.post("/orders", json=order_body(world, external_id="SHOP-5"))
    assert response.status_code == 201
    return response.json()


def test_put_changes_address_external_id_and_shipping(api, world, db, order):
    response = api.put(
        f"/orders/{order['id']}",
        json={
            "address": ADDRESS,
            "external_id": "SHOP-5b",
            "custom_shipping": LABEL,
            "shipping": {"carrier": "USPS", "service_level": "priority"},
        },
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["address"]["address_1"] == "9 Pier Street"
    assert changed["address"]["id"] == order["address"]["id"]  # the address keeps its id
    assert changed["external_id"] == "SHOP-5b"
    assert changed["custom_shipping"] == LABEL
    assert changed["shipping"] == {"carrier": "USPS", "service_level": "priority"}
    assert api.get("/orders/SHOP-5b").json() == changed
    with db.transaction() as s:
        patient = s.get(Patient, world.patient_id)
        assert patient.address_line1 == "12 Harbor Road"  # not without update_patient


def test_put_update_patient_also_moves_the_patients_address(api, world, db, order):
    response = api.put(
        f"/orders/{order['id']}", params={"update_patient": "true"}, json={"address": ADDRESS}
    )
    assert response.status_code == 200
    with db.transaction() as s:
        patient = s.get(Patient, world.patient_id)
        assert (patient.address_line1, patient.city, patient.postal_code) == (
            "9 Pier Street",
            "Salem",
            "01970",
        )


def test_put_refuses_other_fields_and_a_taken_external_id(api, world, db, order):
    other = api.post("/orders?force_new=true", json=order_body(world, external_id="TAKEN"))
    before = table_counts(db)
    for body in ({"status": "shipped"}, {"patient_id": str(world.patient_id)}, {"products": {}}):
        response = api.put(f"/orders/{order['id']}", json=body)
        assert response.status_code == 400, body
    taken = api.put(f"/orders/{order['id']}", json={"external_id": "TAKEN"})
    assert taken.status_code == 409
    assert other.json()["order_number"] in taken.json()["error"]["message"]
    assert table_counts(db) == before


def test_shipping_changes_after_verified_are_409(api, world, db, order):
    move(db, world.practice_id, order["id"], "picked")
    assert (
        api.put(f"/orders/{order['id']}", json={"shipping": {"carrier": "UPS"}}).status_code == 200
    )
    move(db, world.practice_id, order["id"], "verified")
    before = table_counts(db)
    for body in ({"shipping": {"carrier": "FedEx"}}, {"custom_shipping": LABEL}):
        response = api.put(f"/orders/{order['id']}", json=body)
        assert response.status_code == 409, body
        assert "verified" in response.json()["error"]["message"]
    assert table_counts(db) == before
    # The address may still change until it ships.
    assert api.put(f"/orders/{order['id']}", json={"address": ADDRESS}).status_code == 200
    move(db, world.practice_id, order["id"], "shipped")
    assert api.put(f"/orders/{order['id']}", json={"address": ADDRESS}).status_code == 409


def test_unpause_only_from_paused(api, world, db, order):
    assert api.put(f"/orders/{order['id']}/unpause").status_code == 409
    move(db, world.practice_id, order["id"], "picked", "verified", "paused")
    assert api.get(f"/orders/{order['id']}").json()["status"] == "paused"
    response = api.put(f"/orders/{order['id']}/unpause")
    assert response.status_code == 200
    assert response.json()["status"] == "verified"  # back where it was paused
    again = api.put(f"/orders/{order['id']}/unpause")
    assert again.status_code == 409
    assert "not paused" in again.json()["error"]["message"]
    history = api.get(f"/orders/{order['id']}/status_history").json()
    assert [h["status"] for h in history] == [
        "received",
        "picked",
        "verified",
        "paused",
        "verified",
    ]
    with db.reading() as reader:
        changed = reader.scalars(select(Event.type).where(Event.type == "order.status_changed"))
        assert len(changed.all()) == 4


def test_cancellation_request(api, world, db, order):
    path = f"/orders/{order['id']}/cancellation_request"
    response = api.post(path, json={"comments": "Ordered twice"})
    assert response.status_code == 200
    assert response.json()["cancellation_requested"] is True
    assert response.json()["status"] == "received"  # staff decide
    again = api.post(path, json={"comments": "really"})
    assert again.status_code == 409
    assert "already" in again.json()["error"]["message"]


@pytest.mark.parametrize("steps", [("picked",), ("picked", "verified")])
def test_cancellation_request_while_picked_or_verified(api, world, db, order, steps):
    move(db, world.practice_id, order["id"], *steps)
    response = api.post(f"/orders/{order['id']}/cancellation_request", json={})
    assert response.status_code == 200
    assert response.json()["status"] == steps[-1]


def test_cancellation_request_after_shipping_is_409(api, world, db, order):
    move(db, world.practice_id, order["id"], "picked", "verified", "shipped")
    before = table_counts(db)
    response = api.post(f"/orders/{order['id']}/cancellation_request", json={"comments": "late"})
    assert response.status_code == 409
    assert "shipped" in response.json()["error"]["message"]
    assert table_counts(db) == before


def test_replacement_request_then_staff_fulfil_it(api, world, db, order):
    path = f"/orders/{order['id']}/replacement_request"
    early = api.post(path, json={"reason": "Scratched"})
    assert early.status_code == 409  # not shipped yet
    move(db, world.practice_id, order["id"], "picked", "verified", "shipped", "delivered")
    assert api.post(path, json={}).status_code == 400  # a reason is required
    response = api.post(path, json={"reason": "Lens scratched in transit"})
    assert response.status_code == 200
    requested = response.json()
    assert requested["replacement_request_status"] == "pending"
    assert requested["has_replacement_request"] is True
    assert requested["replacement_request_reason"] == "Lens scratched in transit"
    assert requested["replacement_requested_at"].endswith("Z")
    assert requested["shipments"][0]["created_at"].endswith("Z")
    assert api.post(path, json={"reason": "again"}).status_code == 409
    with db.transaction() as s:
        replacement = fulfillment.fulfil_replacement(
            s, staff(world.practice_id), uuid.UUID(order["id"])
        )
        replacement_id = str(replacement.id)
    original = api.get(f"/orders/{order['id']}").json()
    assert original["replacement_request_status"] == "fulfilled"
    assert original["replacement_order_ids"] == [replacement_id]
    copy = api.get(f"/orders/{replacement_id}").json()
    assert copy["is_replacement"] is True
    assert copy["original_order_id"] == order["id"]
    assert copy["replacement_reason"] == "Lens scratched in transit"
    assert copy["status"] == "received"
    assert copy["order_number"] != order["order_number"]
    assert [p["sku"] for p in copy["products"]["prescription"]] == ["LNS-SV-POLY"]
    assert copy["prescription_ids"] == order["prescription_ids"]
    assert api.post(path, json={"reason": "more"}).status_code == 409  # fulfilled: closed
    with db.transaction() as s, pytest.raises(fulfillment.Conflict):
        fulfillment.decline_replacement(s, staff(world.practice_id), uuid.UUID(order["id"]))


def test_staff_decline_a_replacement_request(api, world, db, order):
    move(db, world.practice_id, order["id"], "picked", "verified", "shipped")
    api.post(f"/orders/{order['id']}/replacement_request", json={"reason": "Wrong color"})
    with db.transaction() as s:
        fulfillment.decline_replacement(s, staff(world.practice_id), uuid.UUID(order["id"]))
    declined = api.get(f"/orders/{order['id']}").json()
    assert declined["replacement_request_status"] == "declined"
    assert declined["replacement_order_ids"] == []
    with db.transaction() as s, pytest.raises(fulfillment.Conflict):
        fulfillment.fulfil_replacement(s, staff(world.practice_id), uuid.UUID(order["id"]))
    # After a decline the customer may ask again.
    again = api.post(f"/orders/{order['id']}/replacement_request", json={"reason": "Still wrong"})
    assert again.json()["replacement_request_status"] == "pending"


@pytest.fixture
def unmatched(api, world):
    body = order_body(
        world,
        patient_id=str(world.bare_patient_id),
        address={"address_1": "1 Way", "city": "X", "zip_code": "1"},
        products={
            "prescription": [{"sku": "LNS-SV-POLY"}, {"sku": "CL-AO6"}],
            "non_prescription": [{"sku": world.frame_sku}],
        },
    )
    return api.post("/orders", json=body).json()


def test_link_a_prescription(api, world, db, order):
    # Relink the lens of Ada's order to her older (still valid) spectacle Rx.
    lens = order["products"]["prescription"][0]
    path = f"/orders/{order['id']}/products/{lens['id']}/prescription"
    response = api.post(path, json={"prescription_id": str(world.older_spectacle_rx)})
    assert response.status_code == 200, response.text
    linked = response.json()
    assert linked["products"]["prescription"][0]["prescription_id"] == str(world.older_spectacle_rx)
    assert linked["prescription_ids"] == [str(world.older_spectacle_rx)]


@pytest.mark.parametrize(
    ("which", "rx", "status", "words"),
    [
        ("lens", "expired_rx", 400, "expired"),
        ("lens", "other_patient_rx", 400, "another patient"),
        ("lens", "contact_rx", 400, "contact-lens prescription cannot"),
        ("lens", "missing", 400, "no prescription"),
        ("frame", "spectacle_rx", 409, "not a prescription product"),
    ],
)
def test_link_refusals(api, world, db, order, which, rx, status, words):
    product = (
        order["products"]["prescription"][0]
        if which == "lens"
        else order["products"]["non_prescription"][0]
    )
    prescription = str(uuid.uuid4()) if rx == "missing" else str(getattr(world, rx))
    before = table_counts(db)
    response = api.post(
        f"/orders/{order['id']}/products/{product['id']}/prescription",
        json={"prescription_id": prescription},
    )
    assert response.status_code == status, response.text
    assert words in response.json()["error"]["message"]
    assert table_counts(db) == before


def test_link_to_a_missing_product_or_order_is_404(api, world, order):
    body = {"prescription_id": str(world.spectacle_rx)}
    assert (
        api.post(
            f"/orders/{order['id']}/products/{uuid.uuid4()}/prescription", json=body
        ).status_code
        == 404
    )
    lens = order["products"]["prescription"][0]["id"]
    assert (
        api.post(f"/orders/{uuid.uuid4()}/products/{lens}/prescription", json=body).status_code
        == 404
    )


def test_matching_runs_when_a_prescription_is_recorded(api, world, db, unmatched):
    from tests.api.fulfillment.conftest import contact_lens_rx, spectacle

    with db.transaction() as s:
        # A contact-lens Rx stored directly (no service records those yet): nothing runs.
        contact = contact_lens_rx(s, world.practice_id, world.bare_patient_id)
        # Recording a spectacle Rx through the service matches the patient's open orders.
        glasses = spectacle(s, world.practice_id, world.bare_patient_id, 1, 364)
        linked = fulfillment.match_patient_orders(
            s, staff(world.practice_id), world.bare_patient_id
        )
    assert linked == 0  # both matched already, when the spectacle Rx was recorded
    order = api.get(f"/orders/{unmatched['id']}").json()
    assert [p["prescription_id"] for p in order["products"]["prescription"]] == [
        str(glasses),
        str(contact.id),
    ]
    assert order["prescription_count"] == 2
    assert api.get("/orders", params={"has_unmatched_prescriptions": "true"}).json() == []
