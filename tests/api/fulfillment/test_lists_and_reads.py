"""GET /orders (headers, filters), GET /orders/{id}, status history and search."""

from __future__ import annotations

import uuid

from optihub.domain.orders import OrderStatus
from optihub.services import orders as order_service
from optihub.services import users
from optihub.services.context import Actor
from tests.api.fulfillment.conftest import move, order_body


def place(api, world, n: int, **kw):
    made = []
    for i in range(n):
        body = order_body(world, external_id=f"EXT-{i}", **kw)
        response = api.post("/orders?force_new=true", json=body)
        assert response.status_code == 201, response.text
        made.append(response.json())
    return made


def test_list_is_a_bare_array_with_pagination_headers(api, world):
    made = place(api, world, 5)
    response = api.get("/orders", params={"per_page": 2, "page": 2})
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list)
    newest_first = [o["id"] for o in reversed(made)]
    assert [o["id"] for o in body] == newest_first[2:4]
    headers = response.headers
    assert headers["X-Total-Count"] == "5"
    assert headers["X-Page"] == "2"
    assert headers["X-Page-Size"] == "2"
    assert headers["X-Total-Pages"] == "3"
    assert headers["X-Remaining-Count"] == "1"
    links = {
        part.split('rel="')[1].rstrip('"'): part.split(">")[0].lstrip("<")
        for part in headers["Link"].split(", ")
    }
    assert set(links) == {"first", "prev", "next", "last"}
    assert links["next"].endswith("/fulfillment/v1/orders?per_page=2&page=3")
    assert links["prev"].endswith("per_page=2&page=1")
    assert links["last"].endswith("page=3")


def test_defaults_and_the_last_page(api, world):
    place(api, world, 3)
    response = api.get("/orders")
    assert len(response.json()) == 3
    assert response.headers["X-Page"] == "1"
    assert response.headers["X-Page-Size"] == "25"
    assert response.headers["X-Remaining-Count"] == "0"
    assert 'rel="next"' not in response.headers["Link"]
    assert 'rel="prev"' not in response.headers["Link"]
    past = api.get("/orders", params={"page": 9})
    assert past.json() == [] and past.headers["X-Total-Count"] == "3"


def test_page_limits_are_400(api, world):
    for params in ({"per_page": 201}, {"per_page": 0}, {"page": 0}, {"page": "x"}):
        response = api.get("/orders", params=params)
        assert response.status_code == 400, params
        assert response.json()["error"]["field"] in {"per_page", "page"}
    assert api.get("/orders", params={"per_page": 200}).status_code == 200


def test_status_filter_one_or_many_and_unknown(api, world, db):
    received, picked, verified, paused, shipped = place(api, world, 5)
    move(db, world.practice_id, picked["id"], "picked")
    move(db, world.practice_id, verified["id"], "picked", "verified")
    move(db, world.practice_id, paused["id"], "picked", "paused")
    move(db, world.practice_id, shipped["id"], "picked", "verified", "shipped")

    def ids(status):
        response = api.get("/orders", params={"status": status})
        assert response.status_code == 200, response.text
        return {o["id"] for o in response.json()}, response.headers["X-Total-Count"]

    assert ids("received") == ({received["id"]}, "1")
    assert ids("picked") == ({picked["id"]}, "1")
    assert ids("paused") == ({paused["id"]}, "1")
    assert ids("picked,verified") == ({picked["id"], verified["id"]}, "2")
    assert ids("received,shipped") == ({received["id"], shipped["id"]}, "2")
    statuses = {o["id"]: o["status"] for o in api.get("/orders").json()}
    assert statuses == {
        received["id"]: "received",
        picked["id"]: "picked",
        verified["id"]: "verified",
        paused["id"]: "paused",
        shipped["id"]: "shipped",
    }
    bad = api.get("/orders", params={"status": "picked,lost"})
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["field"] == "status" and "'lost'" in error["message"]
    assert "received, picked, verified, paused, shipped, delivered, cancelled" in error["message"]


def test_has_unmatched_prescriptions(api, world):
    matched = api.post("/orders?force_new=true", json=order_body(world)).json()
    unmatched = api.post(
        "/orders?force_new=true",
        json=order_body(
            world,
            patient_id=str(world.bare_patient_id),
            address={"address_1": "1 Way", "city": "X", "zip_code": "1"},
        ),
    ).json()
    frames_only = api.post(
        "/orders?force_new=true",
        json=order_body(
            world, products={"prescription": [], "non_prescription": [{"sku": world.frame_sku}]}
        ),
    ).json()
    yes = api.get("/orders", params={"has_unmatched_prescriptions": "true"})
    assert [o["id"] for o in yes.json()] == [unmatched["id"]]
    assert yes.headers["X-Total-Count"] == "1"
    no = api.get("/orders", params={"has_unmatched_prescriptions": "false"})
    assert {o["id"] for o in no.json()} == {matched["id"], frames_only["id"]}
    assert api.get("/orders", params={"has_unmatched_prescriptions": "perhaps"}).status_code == 400


def test_one_order_by_id_number_or_external_id(api, world, db):
    order = api.post("/orders", json=order_body(world, external_id="SHOP-77")).json()
    for reference in (order["id"], order["order_number"], "SHOP-77"):
        response = api.get(f"/orders/{reference}")
        assert response.status_code == 200
        assert response.json() == order
    missing = api.get(f"/orders/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert api.get("/orders/NO-SUCH").status_code == 404


def test_another_practices_orders_and_drafts_are_not_found(api, world, db, issue_token, client):
    order = api.post("/orders", json=order_body(world, external_id="MINE")).json()
    other = issue_token(world.other_practice_id, "fulfillment:read")
    headers = {"Authorization": f"Bearer {other}"}
    for reference in (order["id"], order["order_number"], "MINE"):
        assert client.get(f"/fulfillment/v1/orders/{reference}", headers=headers).status_code == 404
    assert client.get("/fulfillment/v1/orders", headers=headers).json() == []
    with db.transaction() as s:
        draft = order_service.place_order(
            s,
            Actor(practice_id=world.practice_id, via="test"),
            order_service.NewOrder(status=OrderStatus.DRAFT, patient_id=world.patient_id),
        )
    assert api.get(f"/orders/{draft.id}").status_code == 404
    assert [o["id"] for o in api.get("/orders").json()] == [order["id"]]


def test_status_history(api, world, db):
    order = api.post("/orders", json=order_body(world)).json()
    with db.transaction() as s:
        user = users.create_user(
            s,
            email="picker@harbor.example",
            password="picker-password-1",
            practice_id=world.practice_id,
            role="staff",
        )
        user.first_name, user.last_name = "Pat", "Picker"
        order_service.change_order_status(
            s,
            Actor(practice_id=world.practice_id, via="dashboard", user_id=user.id, label="Pat"),
            uuid.UUID(order["id"]),
            OrderStatus.IN_PROGRESS,
            sub_status="picked",
        )
    move(db, world.practice_id, order["id"], "verified")
    response = api.get(f"/orders/{order['order_number']}/status_history")
    assert response.status_code == 200
    history = response.json()
    assert [h["status"] for h in history] == ["received", "picked", "verified"]
    assert history[0]["duration"] == 0
    assert all(isinstance(h["duration"], int) and h["duration"] >= 0 for h in history)
    assert history[1]["updated_by"] == {
        "id": str(user.id),
        "first_name": "Pat",
        "last_name": "Picker",
    }
    assert history[0]["updated_by"] == {
        "id": None,
        "first_name": "fulfillment app blend-store",
        "last_name": None,
    }
    assert history[2]["updated_at"].endswith("Z")
    assert api.get(f"/orders/{uuid.uuid4()}/status_history").status_code == 404


def test_search_ranks_exact_ids_first_then_names_and_emails(api, world, db):
    ada = api.post("/orders?force_new=true", json=order_body(world, external_id="ada-77")).json()
    other = order_body(
        world,
        patient=None,
        external_id="Z-1",
        address={"address_1": "1 Way", "city": "X", "zip_code": "1"},
    )
    other.pop("patient_id")
    other["patient"] = {"first_name": "Adam", "last_name": "Smith", "email": "adam@example.com"}
    adam = api.post("/orders?force_new=true", json=other).json()

    def search(q):
        response = api.get("/search/orders", params={"q": q})
        assert response.status_code == 200, response.text
        return [(r["rank"], r["id"]) for r in response.json()["results"]]

    assert search(ada["order_number"]) == [(100, ada["id"])]
    assert search("ADA-77") == [(100, ada["id"])]
    # "ada": the external id starts with it (80) beats a first name that starts with it (50).
    assert search("ada") == [(80, ada["id"]), (50, adam["id"])]
    assert search("adam@example.com") == [(70, adam["id"])]
    assert search("Lovelace") == [(60, ada["id"])]
    assert search("ada lovelace") == [(60, ada["id"])]
    assert search("love") == [(50, ada["id"])]
    assert search("smi") == [(50, adam["id"])]
    assert search("ith") == [(30, adam["id"])]
    assert search("nobody") == []
    result = api.get("/search/orders", params={"q": "ada-77"}).json()["results"][0]
    assert {k: v for k, v in result.items() if k != "rank"} == ada
    assert api.get("/search/orders").status_code == 400
    assert api.get("/search/orders", params={"q": " "}).status_code == 400
    assert api.get("/search/orders", params={"q": "%"}).json() == {"results": []}
