"""Partner orders: list, detail, status changes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from optihub.db.models import Event
from optihub.surfaces.partner import schemas
from tests.api.partner.conftest import BASE


def test_list_orders_default_page_newest_first_without_drafts(client, shop, auth):
    response = client.get(f"{BASE}/orders", headers=auth("orders:read"))
    assert response.status_code == 200
    body = response.json()
    schemas.OrderList.model_validate(body)
    assert [o["id"] for o in body["data"]] == [str(i) for i in reversed(shop.orders)]
    assert body["pagination"] == {"limit": 20, "offset": 0, "total": 3, "has_more": False}
    first = body["data"][0]
    assert first["status"] == "pending"
    assert first["patient"]["last_name"] == "Okafor"
    assert first["location"]["name"] == "Downtown"
    assert first["frame"]["sku"] == "RB-1"
    assert first["lens"]["coats"] == ["Crizal Sapphire AR"]
    assert first["payment"] == {
        "currency": "USD",
        "subtotal": "309.00",
        "tax": "7.50",
        "total": "316.50",
        "paid": "50.00",
        "balance": "266.50",
        "patient_balance": "266.50",
    }
    assert first["status_history"][0]["status"] == "pending"
    assert "prescription" not in first
    assert str(shop.draft_order) not in {o["id"] for o in body["data"]}


def test_limit_offset_and_has_more(client, shop, auth):
    body = client.get(f"{BASE}/orders?limit=2&offset=1", headers=auth()).json()
    assert len(body["data"]) == 2
    assert body["pagination"] == {"limit": 2, "offset": 1, "total": 3, "has_more": False}
    body = client.get(f"{BASE}/orders?limit=1", headers=auth()).json()
    assert body["pagination"]["has_more"] is True


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("offset=-1", "offset"),
        ("limit=abc", "limit"),
        ("since=yesterday", "since"),
    ],
)
def test_bad_list_parameters_are_400_naming_the_field(client, shop, auth, query, field):
    response = client.get(f"{BASE}/orders?{query}", headers=auth())
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["details"][0]["field"] == field


def test_status_filter_with_lists_and_unknown_values(client, shop, auth):
    client.patch(f"{BASE}/orders/{shop.orders[0]}", json={"status": "in_progress"}, headers=auth())
    pending = client.get(f"{BASE}/orders?status=pending", headers=auth()).json()
    assert {o["id"] for o in pending["data"]} == {str(shop.orders[1]), str(shop.orders[2])}
    both = client.get(f"{BASE}/orders?status=pending,in_progress", headers=auth()).json()
    assert both["pagination"]["total"] == 3
    bad = client.get(f"{BASE}/orders?status=pending,lost", headers=auth())
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_status"
    assert bad.json()["error"]["details"][0]["allowed"] == [
        "pending",
        "in_progress",
        "completed",
        "shipped",
        "cancelled",
    ]


def test_since_returns_updated_orders_oldest_first(client, shop, auth, monkeypatch):
    from optihub.surfaces.partner import routes

    monkeypatch.setattr(routes, "SETTLE", timedelta(0))
    before = datetime.now(UTC) - timedelta(seconds=1)
    client.patch(f"{BASE}/orders/{shop.orders[1]}", json={"status": "in_progress"}, headers=auth())
    client.patch(f"{BASE}/orders/{shop.orders[0]}", json={"status": "in_progress"}, headers=auth())
    since = datetime.now(UTC) - timedelta(milliseconds=500)
    if since < before:
        since = before
    body = client.get(f"{BASE}/orders", params={"since": since.isoformat()}, headers=auth()).json()
    ids = [o["id"] for o in body["data"]]
    assert ids[-2:] == [str(shop.orders[1]), str(shop.orders[0])]
    updated = [o["updated_at"] for o in body["data"]]
    assert updated == sorted(updated)
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (
        client.get(f"{BASE}/orders", params={"since": future}, headers=auth()).json()["data"] == []
    )


def test_order_detail_has_prescription(client, shop, auth):
    response = client.get(f"{BASE}/orders/{shop.orders[0]}", headers=auth("orders:read"))
    assert response.status_code == 200
    body = response.json()
    schemas.OrderDetail.model_validate(body)
    assert body["prescription"]["right"]["cylinder"] == "-0.75"
    assert body["prescription"]["right"]["axis"] == 90
    assert body["prescription"]["binocular_pd"] == "62.5"


@pytest.mark.parametrize("which", ["foreign", "missing", "draft"])
def test_foreign_missing_and_draft_orders_are_404(client, shop, auth, which):
    order_id = {"foreign": shop.foreign_order, "missing": uuid.uuid4(), "draft": shop.draft_order}[
        which
    ]
    for method in ("get", "patch"):
        kwargs = {"json": {"status": "cancelled"}} if method == "patch" else {}
        response = getattr(client, method)(f"{BASE}/orders/{order_id}", headers=auth(), **kwargs)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert "Okafor" not in response.text


def test_bad_uuid_in_path_is_400(client, shop, auth):
    response = client.get(f"{BASE}/orders/not-a-uuid", headers=auth())
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "order_id"


def events(db, kind):
    with db.transaction() as s:
        return list(s.scalars(select(Event).where(Event.type == kind).order_by(Event.created_at)))


def test_status_walk_emits_events_and_records_tracking(client, shop, auth, db):
    url = f"{BASE}/orders/{shop.orders[0]}"
    for status in ("in_progress", "completed"):
        response = client.patch(
            url, json={"status": status, "note": "bench 3"}, headers=auth("orders:full")
        )
        assert response.status_code == 200
        assert response.json()["status"] == status
    shipped = client.patch(
        url, json={"status": "shipped", "tracking_number": "1Z999AA10123456784"}, headers=auth()
    )
    assert shipped.json()["tracking_number"] == "1Z999AA10123456784"
    assert [h["status"] for h in shipped.json()["status_history"]] == [
        "pending",
        "in_progress",
        "completed",
        "shipped",
    ]
    assert len(events(db, "order.status_changed")) == 3
    assert len(events(db, "order.completed")) == 1


def test_same_status_is_a_noop_without_duplicate_event(client, shop, auth, db):
    url = f"{BASE}/orders/{shop.orders[0]}"
    client.patch(url, json={"status": "in_progress"}, headers=auth())
    again = client.patch(url, json={"status": "in_progress"}, headers=auth())
    assert again.status_code == 200
    assert len(events(db, "order.status_changed")) == 1


def test_illegal_transition_is_409_with_allowed_next(client, shop, auth):
    response = client.patch(
        f"{BASE}/orders/{shop.orders[0]}", json={"status": "shipped"}, headers=auth()
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "invalid_transition"
    assert error["details"][0]["allowed"] == ["in_progress", "cancelled"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "lost"}, "status"),
        ({}, "status"),
        ({"status": 5}, "status"),
        ({"status": "shipped", "color": "red"}, "color"),
        ({"status": "shipped", "tracking_number": "x" * 101}, "tracking_number"),
    ],
)
def test_bad_patch_bodies_change_nothing(client, shop, auth, db, body, field):
    response = client.patch(f"{BASE}/orders/{shop.orders[0]}", json=body, headers=auth())
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == field
    assert events(db, "order.status_changed") == []


def test_malformed_json_is_400_invalid_json(client, shop, auth):
    response = client.patch(
        f"{BASE}/orders/{shop.orders[0]}",
        content=b'{"status": ',
        headers=auth() | {"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_cursor_polling_pages_forward_without_gaps_or_repeats_under_concurrent_updates(
    client, shop, auth, db
):
    """A poller follows next_cursor while another client keeps updating orders: every
    order's latest version is seen, and no version is seen twice."""
    import threading
    import time

    from optihub.db.models import Order

    headers = auth()
    start = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    stop = threading.Event()

    def update_orders() -> None:
        n = 0
        while not stop.is_set():
            for order_id in shop.orders:
                client.patch(
                    f"{BASE}/orders/{order_id}",
                    headers=headers,
                    json={"status": "pending", "tracking_number": f"T{n}"},
                )
                n += 1
                stop.wait(1.0)  # each order changes every ~3 s: versions settle meanwhile

    updater = threading.Thread(target=update_orders)
    updater.start()
    seen: list[tuple[str, str]] = []
    params = {"since": start, "limit": 2}
    deadline = time.monotonic() + 5
    try:
        while time.monotonic() < deadline:
            body = client.get(f"{BASE}/orders", params=params, headers=headers).json()
            seen += [(o["id"], o["updated_at"]) for o in body["data"]]
            params = {"cursor": body["pagination"]["next_cursor"], "limit": 2}
    finally:
        stop.set()
        updater.join()
    time.sleep(2.2)  # let the last changes settle, then drain
    while True:
        body = client.get(f"{BASE}/orders", params=params, headers=headers).json()
        if not body["data"]:
            break
        seen += [(o["id"], o["updated_at"]) for o in body["data"]]
        params = {"cursor": body["pagination"]["next_cursor"], "limit": 2}
    assert len(seen) == len(set(seen)), "a version was delivered twice"
    with db.transaction() as s:
        latest = {
            str(o.id): o.updated_at.isoformat()
            for o in s.query(Order).filter(
                Order.practice_id == shop.practice_id, Order.status != "draft"
            )
        }
    assert all((order_id, at) in seen for order_id, at in latest.items()), "a change was skipped"
    assert len(seen) > len(latest)  # the updates really happened while polling


def test_bad_cursor_and_cursor_with_offset_are_400(client, shop, auth):
    bad = client.get(f"{BASE}/orders?cursor=!!!", headers=auth())
    assert bad.status_code == 400
    assert bad.json()["error"]["details"][0]["field"] == "cursor"
