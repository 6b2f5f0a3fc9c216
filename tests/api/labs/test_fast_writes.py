"""``POST /v1/orders`` on the kit's fast path (``kit.fast_write``): a plain order is answered
before routing exactly as the route answers it — the same status, body shape, headers and
stored effects, every refusal in the same envelope — and whatever is unusual (a query
string, an ``Idempotency-Key``, a body the request model refuses, invalid JSON) goes to
the route."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from optihub.db.models import AuditEntry, Event, Order
from optihub.reads import documents
from tests.api.fast_paths import record_fast_answers, stored_documents_are_fresh
from tests.api.labs.test_orders import order_row, refused, valid_body

# Any query string sends the request to the route: the reference it is compared with.
VIA_ROUTE = {"via": "route"}
# Each order's own: its id, number and times (two orders a second apart differ in them).
OWN = (
    "id",
    "order_number",
    "created",
    "updated",
    "created_at",
    "updated_at",
    "submitted_at",
    "url",
)
SAME_HEADERS_BUT = {"x-request-id", "content-length"}


@pytest.fixture
def served(app) -> list[bool]:
    return record_fast_answers(app, lambda path: path == "/v1/orders")


def both(lab, body: Any = None, **kw: Any) -> tuple[Any, Any]:
    """The same request sent as it is, then with a query string (the route)."""
    if body is not None:
        kw["json"] = body
    fast = lab.post("/v1/orders", **kw)
    route = lab.post("/v1/orders", params=VIA_ROUTE, **kw)
    return fast, route


def headers(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in SAME_HEADERS_BUT}


def mine(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k not in OWN}


def same_refusal(fast: Any, route: Any) -> None:
    assert fast.status_code == route.status_code
    assert headers(fast) == headers(route)
    assert fast.json() == route.json()


def rows(db) -> dict[str, int]:
    with db.transaction() as reader:
        return {
            model.__tablename__: reader.scalar(select(func.count()).select_from(model)) or 0
            for model in (Order, AuditEntry, Event)
        }


@pytest.mark.parametrize("mode", ["submit", "draft"])
def test_an_order_is_the_routes_answer_and_stored_alike(lab, lab_world, db, served, mode):
    body = valid_body(lab_world, mode=mode)
    start = rows(db)
    fast = lab.post("/v1/orders", json=body)
    middle = rows(db)
    # Another patient: the same one would be reused, with the Rx it has on file.
    body["patient"]["email"] = "ada.other@example.com"
    route = lab.post("/v1/orders", json=body, params=VIA_ROUTE)
    end = rows(db)
    assert served == [True, False]
    assert fast.status_code == route.status_code == 200, fast.text
    assert headers(fast) == headers(route)
    created, reference = fast.json(), route.json()
    assert mine(created) == mine(reference)
    assert ("url" in created) == ("url" in reference) == (mode == "draft")
    # Each wrote one order, with the same audit entries and events.
    written = {k: middle[k] - start[k] for k in start}
    assert written == {k: end[k] - middle[k] for k in start}
    assert written["orders"] == written["events"] == 1
    one, other = order_row(db, created["id"]), order_row(db, reference["id"])
    for column in ("status", "lab_id", "lab_account_number", "lens", "rx_snapshot", "created_via"):
        assert getattr(one, column) == getattr(other, column), column
    assert (one.prescription_id is None) == (other.prescription_id is None) == (mode == "draft")


def test_a_rule_violation_is_the_routes_refusal_and_writes_nothing(lab, lab_world, db, served):
    # Comfort Progressive comes in polycarbonate only; the mirror coat is for single vision.
    body = valid_body(lab_world, **{"lens.style": lab_world.ids["prog"]})
    body["lens"]["material"] = lab_world.ids["cr39"]
    before = rows(db)
    fast, route = both(lab, body)
    assert served == [True, False]
    assert fast.status_code == 400
    same_refusal(fast, route)
    assert {param for param, _ in refused(fast)} == {"lens.material", "lens.coats.2"}
    assert rows(db) == before


@pytest.mark.parametrize(
    ("headers_sent", "status"),
    [
        ({"User-Email": ""}, 400),
        ({"User-Email": "nobody@example.com"}, 403),
        ({"Authorization": "Bearer not-a-token"}, 401),
    ],
)
def test_a_refused_caller_is_the_routes_refusal(lab, lab_world, db, served, headers_sent, status):
    before = rows(db)
    fast, route = both(lab, valid_body(lab_world), headers=headers_sent)
    assert served == [True, False]
    assert fast.status_code == status, fast.text
    same_refusal(fast, route)
    assert rows(db) == before


def test_what_the_request_model_refuses_goes_to_the_route(lab, lab_world, db, served):
    body = valid_body(lab_world)
    body["mode"] = "later"
    before = rows(db)
    fast, route = both(lab, body)
    assert served == [False, False]
    same_refusal(fast, route)
    assert fast.status_code == 400
    invalid = lab.post(
        "/v1/orders", content=b'{"mode": ', headers={"Content-Type": "application/json"}
    )
    assert served[-1] is False
    assert invalid.status_code == 400
    assert rows(db) == before


def test_an_idempotency_key_goes_to_the_route_which_replays(lab, lab_world, db, served):
    body = valid_body(lab_world)
    first = lab.post("/v1/orders", json=body, headers={"Idempotency-Key": "k-1"})
    again = lab.post("/v1/orders", json=body, headers={"Idempotency-Key": "k-1"})
    assert served == [False, False]
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()


@pytest.mark.parametrize("mode", ["submit", "draft"])
def test_the_documents_stored_with_an_order_are_what_a_read_renders(lab, lab_world, db, mode):
    body = valid_body(lab_world, mode=mode)
    every = len(documents.registered())
    new = lab.post("/v1/orders", json=body)  # a new patient: stored from the rows written
    assert new.status_code == 200, new.text
    assert stored_documents_are_fresh(db, lab_world.practice_id, new.json()["id"]) == every
    again = lab.post("/v1/orders", json=body)  # the same patient again: read at the commit
    assert again.status_code == 200, again.text
    assert stored_documents_are_fresh(db, lab_world.practice_id, again.json()["id"]) == every
