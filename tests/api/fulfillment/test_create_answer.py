"""POST /orders with a new patient answers from the rows it has just written (no read
back): the answer, and every surface's stored document of the order, are exactly what
loading the order afterwards renders."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from optihub.db.models import Order, OrderDocument
from optihub.reads import documents
from optihub.reads.order_views import load
from tests.api.fulfillment.conftest import World

ADDRESS = {"address_1": "3 Langley Blvd", "city": "Hampton", "state": "VA", "zip_code": "23665"}


def _bodies(world: World) -> dict[str, dict[str, Any]]:
    every_field = {
        "patient": {
            "external_id": "PAT-KJ",
            "first_name": "  Katherine ",
            "last_name": "Johnson",
            "email": "kj@example.com",
            "phone": " 617 555 0199 ",
            "date_of_birth": "1918-08-26",
        },
        "address": ADDRESS | {"address_2": "Bldg 1244", "country": "CA"},
        "custom_shipping": {
            "label_url": "https://labels.example.com/1.pdf",
            "tracking_number": "1Z999",
            "tracking_url": "https://track.example.com/1Z999",
            "carrier": "UPS",
        },
        "external_id": "SHOP-NEW-1",
        "shipping": {"carrier": "UPS", "service_level": "ground"},
        "priority_requested": True,
        "products": {
            "prescription": [{"sku": "LNS-PAL-167"}, {"sku": "CL-AO6", "quantity": 4}],
            "non_prescription": [
                {"sku": world.frame_sku},
                {"sku": "SOL-MPS-360", "quantity": 3},
                {"id": str(world.ids["SUN-PLANO-BLK"])},
            ],
        },
    }
    fewest = {
        "patient": {"first_name": "Mary", "last_name": "Jackson"},
        "address": ADDRESS,
        "products": {"prescription": [], "non_prescription": [{"sku": "SOL-MPS-360"}]},
    }
    return {"every field": every_field, "fewest fields": fewest}


@pytest.mark.parametrize("case", ["every field", "fewest fields"])
def test_the_answer_and_stored_documents_are_the_order_as_loaded(api, world, db, case):
    body = _bodies(world)[case]
    response = api.post("/orders", json=body, params={"force_new": "true"})
    assert response.status_code == 201, response.text
    order_id = uuid.UUID(response.json()["id"])
    with db.reading() as reader:
        [view] = load(reader, world.practice_id, Order.id == order_id)
        rows = reader.execute(
            select(
                OrderDocument.projection, OrderDocument.summary, OrderDocument.detail_extra
            ).where(OrderDocument.order_id == order_id)
        )
        stored = {name: (summary, extra) for name, summary, extra in rows}
    projections = documents.registered()
    assert set(stored) == {p.name for p in projections}
    for each in projections:
        assert stored[each.name] == each.render(view), each.name
    assert response.content == documents.projection("fulfillment").detail(view)
    assert api.get(f"/orders/{order_id}").content == response.content


def test_an_existing_patients_order_is_answered_as_loaded(api, world, db):
    body = {
        "patient_id": str(world.patient_id),
        "address": ADDRESS,
        "products": {"prescription": [{"sku": "LNS-SV-POLY"}], "non_prescription": []},
    }
    response = api.post("/orders", json=body)
    assert response.status_code == 201, response.text
    order_id = uuid.UUID(response.json()["id"])
    with db.reading() as reader:
        [view] = load(reader, world.practice_id, Order.id == order_id)
    assert response.content == documents.projection("fulfillment").detail(view)
