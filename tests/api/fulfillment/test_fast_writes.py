"""``POST /fulfillment/v1/orders`` on the kit's fast path (``kit.fast_write``): a plain order
is answered before routing exactly as the route answers it — the same status, body shape,
headers and stored effects, merges included, every refusal in the same envelope — and
whatever is unusual (a query string such as ``force_new``, a body the request model
refuses, invalid JSON) goes to the route."""

from __future__ import annotations

from typing import Any

import pytest

from optihub.reads import documents
from tests.api.fast_paths import record_fast_answers, stored_documents_are_fresh
from tests.api.fulfillment.conftest import order_body, table_counts

# ``force_new=false`` is the default: the same request, answered by the route.
VIA_ROUTE = {"force_new": "false"}
SAME_HEADERS_BUT = {"x-request-id", "content-length"}
OWN = ("id", "order_number", "created_at", "updated_at", "address", "patient", "products")


@pytest.fixture
def served(app) -> list[bool]:
    return record_fast_answers(app, lambda path: path == "/fulfillment/v1/orders")


def headers(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in SAME_HEADERS_BUT}


def new_patient(world, name: str, **overrides: Any) -> dict[str, Any]:
    body = order_body(
        world,
        patient={"first_name": name, "last_name": "Okafor", "email": f"{name}@example.com"},
        external_id=f"SHOP-{name}",
        address={
            "address_1": "12 Harbor Road",
            "city": "Boston",
            "state": "MA",
            "zip_code": "02110",
            "country": "US",
        },
        **overrides,
    )
    del body["patient_id"]
    return body


# Per-practice counters: the first write makes their row, the next ones update it.
COUNTERS = {"order_counts", "order_versions"}


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in after if after[k] != before[k] and k not in COUNTERS}


def test_an_order_for_a_new_patient_is_the_routes_answer_and_stored_alike(api, world, db, served):
    start = table_counts(db)
    fast = api.post("/orders", json=new_patient(world, "ada"))
    middle = table_counts(db)
    route = api.post("/orders", json=new_patient(world, "bea"), params=VIA_ROUTE)
    end = table_counts(db)
    assert served == [True, False]
    assert fast.status_code == route.status_code == 201, fast.text
    assert headers(fast) == headers(route)
    created, reference = fast.json(), route.json()
    assert created["external_id"] == "SHOP-ada" and reference["external_id"] == "SHOP-bea"
    own = {"external_id", *OWN}
    assert {k: v for k, v in created.items() if k not in own} == {
        k: v for k, v in reference.items() if k not in own
    }
    assert created["patient"] | {"first_name": "bea", "email": "bea@example.com"} == reference[
        "patient"
    ] | {"id": created["patient"]["id"], "external_id": created["patient"]["external_id"]}
    # The same rows in every table (patient, order, lines, history, event, audit, documents).
    assert delta(start, middle) == delta(middle, end)
    assert delta(start, middle)["orders"] == 1
    # Read back as answered.
    assert api.get(f"/orders/{created['id']}").json() == created


def test_a_merge_is_the_same_on_both_paths(api, world, db, served):
    first = api.post("/orders", json=order_body(world))
    merged_by_route = api.post("/orders", json=order_body(world), params=VIA_ROUTE)
    merged_fast = api.post("/orders", json=order_body(world))
    assert served == [True, False, True]
    assert first.status_code == 201, first.text
    assert merged_by_route.status_code == merged_fast.status_code == 200
    assert merged_by_route.json()["id"] == merged_fast.json()["id"] == first.json()["id"]
    assert len(merged_fast.json()["products"]["non_prescription"]) == 3


def test_a_refusal_is_the_routes_and_writes_nothing(api, world, db, served):
    body = new_patient(world, "cy", products={"prescription": [{"sku": "NOPE-1"}]})
    before = table_counts(db)
    fast = api.post("/orders", json=body)
    route = api.post("/orders", json=body, params=VIA_ROUTE)
    assert served == [True, False]
    assert fast.status_code == route.status_code == 400
    assert headers(fast) == headers(route)
    assert fast.json() == route.json()
    assert fast.json()["error"]["code"] == "unknown_product"
    assert table_counts(db) == before


@pytest.mark.parametrize(
    ("sent", "status"),
    [({"Authorization": "Bearer not-a-token"}, 401), ({"Authorization": ""}, 401)],
)
def test_a_refused_token_is_the_routes_refusal(api, world, db, served, sent, status):
    before = table_counts(db)
    fast = api.post("/orders", json=order_body(world), headers=sent)
    route = api.post("/orders", json=order_body(world), headers=sent, params=VIA_ROUTE)
    assert served == [True, False]
    assert fast.status_code == route.status_code == status
    assert headers(fast) == headers(route)
    assert fast.json() == route.json()
    assert table_counts(db) == before


def test_what_the_request_model_refuses_goes_to_the_route(api, world, db, served):
    body = order_body(world)
    body["products"]["prescription"][0]["quantity"] = "many"
    before = table_counts(db)
    refused = api.post("/orders", json=body)
    invalid = api.post(
        "/orders", content=b'{"products": ', headers={"Content-Type": "application/json"}
    )
    assert served == [False, False]
    assert refused.status_code == 400 and invalid.status_code == 400
    assert table_counts(db) == before


def test_the_documents_stored_with_an_order_are_what_a_read_renders(api, world, db):
    every = len(documents.registered())
    new = api.post("/orders", json=new_patient(world, "ada"))  # stored from the rows written
    assert new.status_code == 201, new.text
    assert stored_documents_are_fresh(db, world.practice_id, new.json()["id"]) == every
    # An existing patient's order (the world's own): read back at the commit.
    existing = api.post("/orders", json=order_body(world, external_id="SHOP-existing"))
    assert existing.status_code == 201, existing.text
    assert stored_documents_are_fresh(db, world.practice_id, existing.json()["id"]) == every
