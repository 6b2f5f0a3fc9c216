"""Partner frames, prescriptions and the inventory batch."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from optihub.db.models import Event, FrameStock
from optihub.surfaces.partner import schemas
from tests.api.partner.conftest import BASE


def test_frames_list_with_stock(client, shop, auth):
    response = client.get(f"{BASE}/frames", headers=auth("frames:read"))
    assert response.status_code == 200
    body = response.json()
    schemas.FrameList.model_validate(body)
    assert body["pagination"]["total"] == 3
    by_sku = {f["sku"]: f for f in body["data"]}
    assert by_sku["RB-1"]["quantity"] == 4
    assert by_sku["RB-1"]["in_stock"] is True
    assert sorted(s["quantity"] for s in by_sku["RB-1"]["stock"]) == [1, 3]
    assert by_sku["TF-1"]["in_stock"] is False
    assert by_sku["RB-1"]["price"] == "189.00"
    assert "OTHER-1" not in by_sku


def test_frames_filters(client, shop, auth):
    brand = client.get(f"{BASE}/frames?brand=RAY-BAN", headers=auth()).json()
    assert sorted(f["sku"] for f in brand["data"]) == ["RB-1", "RB-2"]
    assert client.get(f"{BASE}/frames?brand=Ray", headers=auth()).json()["data"] == []
    stocked = client.get(f"{BASE}/frames?in_stock=true", headers=auth()).json()
    assert [f["sku"] for f in stocked["data"]] == ["RB-1"]
    unstocked = client.get(f"{BASE}/frames?in_stock=false", headers=auth()).json()
    assert sorted(f["sku"] for f in unstocked["data"]) == ["RB-2", "TF-1"]
    paged = client.get(f"{BASE}/frames?limit=1&offset=1", headers=auth()).json()
    assert paged["pagination"] == {"limit": 1, "offset": 1, "total": 3, "has_more": True}
    bad = client.get(f"{BASE}/frames?in_stock=maybe", headers=auth())
    assert bad.status_code == 400
    assert bad.json()["error"]["details"][0]["field"] == "in_stock"


def test_updated_since_sees_stock_changes(client, shop, auth):
    mark = (datetime.now(UTC) - timedelta(milliseconds=1)).isoformat()
    client.post(
        f"{BASE}/inventory",
        headers=auth(),
        json={"updates": [{"sku": "TF-1", "location_id": str(shop.locations[0]), "quantity": 7}]},
    )
    body = client.get(f"{BASE}/frames", params={"updated_since": mark}, headers=auth()).json()
    assert [f["sku"] for f in body["data"]] == ["TF-1"]
    assert body["data"][0]["quantity"] == 7


def test_prescriptions_of_orders(client, shop, auth):
    body = client.get(f"{BASE}/prescriptions", headers=auth("prescriptions:read")).json()
    schemas.PrescriptionList.model_validate(body)
    assert body["pagination"]["total"] == 3
    one = client.get(
        f"{BASE}/prescriptions", params={"order_id": str(shop.orders[1])}, headers=auth()
    ).json()
    assert [p["order_id"] for p in one["data"]] == [str(shop.orders[1])]
    assert one["data"][0]["left"]["sphere"] == "-1.75"
    foreign = client.get(
        f"{BASE}/prescriptions", params={"order_id": str(shop.foreign_order)}, headers=auth()
    ).json()
    assert foreign["data"] == []
    bad = client.get(f"{BASE}/prescriptions?order_id=12", headers=auth())
    assert bad.status_code == 400
    assert bad.json()["error"]["details"][0]["field"] == "order_id"


def stock(db, frame_id):
    with db.transaction() as s:
        return {
            str(r.location_id): r.quantity
            for r in s.scalars(select(FrameStock).where(FrameStock.frame_id == frame_id))
        }


def inventory_events(db):
    with db.transaction() as s:
        return list(
            s.scalars(
                select(Event).where(Event.type == "inventory.updated").order_by(Event.created_at)
            )
        )


def test_inventory_batch_applies_and_emits_one_event_per_frame(client, shop, auth, db):
    before = len(inventory_events(db))
    a, b = (str(x) for x in shop.locations)
    response = client.post(
        f"{BASE}/inventory",
        headers=auth("inventory:write"),
        json={
            "updates": [
                {"sku": "RB-1", "location_id": a, "quantity": 10, "price": "199.00"},
                {"frame_id": str(shop.frames[0]), "location_id": b, "quantity": 2},
                {"sku": "TF-1", "location_id": a, "quantity": 1, "wholesale_price": "80.50"},
            ]
        },
    )
    assert response.status_code == 200
    data = response.json()["data"]
    schemas.InventoryResponse.model_validate(response.json())
    assert [(r["index"], r["sku"], r["quantity"], r["total_quantity"]) for r in data] == [
        (0, "RB-1", 10, 12),
        (1, "RB-1", 2, 12),
        (2, "TF-1", 1, 1),
    ]
    assert stock(db, shop.frames[0]) == {a: 10, b: 2}
    assert len(inventory_events(db)) - before == 2
    frames = {f["sku"]: f for f in client.get(f"{BASE}/frames", headers=auth()).json()["data"]}
    assert frames["RB-1"]["price"] == "199.00"
    assert frames["TF-1"]["wholesale_price"] == "80.50"


def test_one_bad_row_rejects_the_whole_batch(client, shop, auth, db):
    before_events = len(inventory_events(db))
    a = str(shop.locations[0])
    response = client.post(
        f"{BASE}/inventory",
        headers=auth(),
        json={
            "updates": [
                {"sku": "RB-1", "location_id": a, "quantity": 50},
                {"sku": "NOPE", "location_id": a, "quantity": 1},
                {"frame_id": str(shop.foreign_frame), "location_id": a, "quantity": 1},
                {"sku": "TF-1", "quantity": 1},
            ]
        },
    )
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert [(d["index"], d["field"]) for d in details] == [
        (1, "sku"),
        (2, "frame_id"),
        (3, "location_id"),
    ]
    assert stock(db, shop.frames[0])[a] == 3
    assert len(inventory_events(db)) == before_events


@pytest.mark.parametrize(
    ("update", "field"),
    [
        ({"sku": "RB-1", "quantity": -1}, "updates.0.quantity"),
        ({"sku": "RB-1", "quantity": "many"}, "updates.0.quantity"),
        ({"sku": "RB-1", "quantity": 1, "price": "-2"}, "updates.0.price"),
        ({"quantity": 1}, "updates.0"),
        ({"sku": "RB-1", "frame_id": str(uuid.uuid4()), "quantity": 1}, "updates.0"),
        ({"sku": "RB-1", "quantity": 1, "colour": "red"}, "updates.0.colour"),
    ],
)
def test_invalid_rows_are_400_naming_the_field(client, shop, auth, db, update, field):
    response = client.post(f"{BASE}/inventory", headers=auth(), json={"updates": [update]})
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == field
    assert stock(db, shop.frames[0])[str(shop.locations[0])] == 3


def test_batch_size_limits(client, shop, auth):
    row = {"sku": "RB-1", "location_id": str(shop.locations[0]), "quantity": 1}
    too_many = client.post(f"{BASE}/inventory", headers=auth(), json={"updates": [row] * 101})
    assert too_many.status_code == 400
    assert too_many.json()["error"]["details"][0]["field"] == "updates"
    assert "100" in too_many.json()["error"]["message"]
    empty = client.post(f"{BASE}/inventory", headers=auth(), json={"updates": []})
    assert empty.status_code == 400
    hundred = client.post(f"{BASE}/inventory", headers=auth(), json={"updates": [row] * 100})
    assert hundred.status_code == 200


def test_bodies_over_one_mib_are_413(client, shop, auth):
    big = b'{"updates": [' + b" " * (1024 * 1024) + b"]}"
    response = client.post(
        f"{BASE}/inventory", content=big, headers=auth() | {"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"

    def chunks():
        yield b'{"updates": ['
        for _ in range(20):
            yield b" " * 65536
        yield b"]}"

    streamed = client.post(
        f"{BASE}/inventory", content=chunks(), headers=auth() | {"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413


def test_concurrent_batches_lose_no_update(client, shop, auth, db):
    a = str(shop.locations[0])
    headers = auth()
    results = []

    def set_quantity(quantity):
        results.append(
            client.post(
                f"{BASE}/inventory",
                headers=headers,
                json={"updates": [{"sku": "RB-1", "location_id": a, "quantity": quantity}]},
            ).status_code
        )

    threads = [threading.Thread(target=set_quantity, args=(q,)) for q in range(10, 18)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 8
    final = stock(db, shop.frames[0])[a]
    assert final in range(10, 18)
    events = [e for e in inventory_events(db) if e.data["sku"] == "RB-1"]
    # every applied batch left its event, and the last event agrees with the stored stock
    last = {x["location_id"]: x["quantity"] for x in events[-1].data["stock"]}
    assert last[a] == final
