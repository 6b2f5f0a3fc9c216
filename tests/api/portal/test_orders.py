"""Orders sent here are core orders: status names mapped to canonical states, lawful steps
recorded in the history and announced, details as order lines."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from optihub.db.models import Order, OrderLine, OrderStatusChange
from optihub.domain.orders import OrderStatus
from optihub.services import status_names
from tests.api.portal._support import events, invalid
from tests.api.portal.conftest import table_counts


def order(status: str | None = "S-NEW", **members) -> dict:
    sent = {
        "externalId": "O1",
        "patientExternalId": "P1",
        "locationExternalId": "L1",
        "physicianExternalId": "D1",
        "type": "Spectacles",
    }
    if status is not None:
        sent["orderStatusExternalId"] = status
    return {**sent, **members}


def stored(db) -> Order:
    with db.read_sessions() as reader:
        row = reader.scalar(select(Order).where(Order.external_id == "O1"))
        assert row is not None
        return row


def history(db) -> list[tuple[str | None, str]]:
    with db.read_sessions() as reader:
        return [
            (h.from_status, h.to_status)
            for h in reader.scalars(
                select(OrderStatusChange).order_by(OrderStatusChange.at, OrderStatusChange.id)
            )
        ]


def test_a_new_order_is_received_and_announced(basics, post, db) -> None:
    response = post("Orders", order())
    assert response.status_code == 200, response.text
    row = stored(db)
    assert row.status == "received"
    assert row.type == "spectacles"
    assert str(row.id) == response.json()["id"]
    assert len(events(db, "order.created")) == 1
    assert events(db, "order.status_changed") == []
    assert post("Orders", order()).headers["X-Portal-Change"] == "unchanged"
    assert len(events(db, "order.created")) == 1


def test_status_names_map_by_default_and_each_step_is_recorded(basics, post, get, db) -> None:
    assert post("Orders", order()).status_code == 200
    assert post("Orders", order("S-LAB")).status_code == 200
    assert stored(db).status == "in_progress"
    assert post("Orders", order("S-READY")).status_code == 200
    assert stored(db).status == "completed"
    assert len(events(db, "order.completed")) == 1
    assert post("Orders", order("S-GONE")).status_code == 200
    assert stored(db).status == "delivered"
    assert history(db)[-3:] == [
        ("received", "in_progress"),
        ("in_progress", "completed"),
        ("completed", "delivered"),
    ]
    changed = events(db, "order.status_changed")
    assert len(changed) == 3
    assert [e.data["previous_status"] for e in changed] == ["received", "in_progress", "completed"]
    # Read back as sent: the practice's own status id.
    assert get("Orders", "O1").json()["orderStatusExternalId"] == "S-GONE"


def test_a_jump_walks_every_lawful_step(basics, post, db) -> None:
    assert post("Orders", order()).status_code == 200
    assert post("Orders", order("S-GONE")).status_code == 200
    assert stored(db).status == "delivered"
    assert history(db)[-3:] == [
        ("received", "in_progress"),
        ("in_progress", "completed"),
        ("completed", "delivered"),
    ]
    assert len(events(db, "order.status_changed")) == 3


def test_a_pickup_date_means_delivered(basics, post, db) -> None:
    response = post("Orders", order(pickupDate="2026-03-02T17:00:00+00:00"))
    assert response.status_code == 200, response.text
    row = stored(db)
    assert row.status == "delivered"
    assert row.pickup_date.isoformat() == "2026-03-02"
    assert len(events(db, "order.created")) == 1
    assert len(events(db, "order.status_changed")) == 3


def test_the_practices_own_mapping_wins(basics, post, db, sync) -> None:
    assert post("OrderStatuses", {"externalId": "S-X", "name": "Frame arrived"}).status_code == 200
    assert post("Orders", order("S-X")).status_code == 200
    assert stored(db).status == "received"  # an unknown name keeps the order where it is
    with db.transaction() as s:
        status_names.set_status_mapping(s, sync.practice_id, "Frame arrived", OrderStatus.COMPLETED)
        status_names.set_status_mapping(s, sync.practice_id, "At lab", OrderStatus.RECEIVED)
    with db.read_sessions() as reader:
        assert status_names.status_for(reader, sync.practice_id, "frame ARRIVED") == "completed"
        assert status_names.status_for(reader, sync.practice_id, "At lab") == "received"
        assert status_names.status_for(reader, sync.other_practice_id, "At lab") == "in_progress"
        assert status_names.status_for(reader, sync.practice_id, "Ready-for-Pickup") == "completed"
        assert status_names.status_for(reader, sync.practice_id, "Whatever") is None
    assert post("Orders", order("S-LAB", receiptNote="a")).status_code == 200
    assert stored(db).status == "received"
    assert post("Orders", order("S-X", receiptNote="b")).status_code == 200
    assert stored(db).status == "completed"


def test_moving_backwards_is_refused(basics, post, get, db) -> None:
    assert post("Orders", order("S-GONE")).status_code == 200
    before = get("Orders", "O1").json()
    counts = table_counts(db)
    response = post("Orders", order("S-NEW", receiptNote="changed", orderDetails=[{"quantity": 2}]))
    messages = invalid(response, "model.OrderStatusExternalId")
    assert "delivered" in messages[0]
    assert table_counts(db) == counts
    assert stored(db).status == "delivered"
    assert stored(db).special_instructions is None
    assert get("Orders", "O1").json() == before


def test_removing_the_pickup_date_after_delivery_is_refused(basics, post, db) -> None:
    assert post("Orders", order(pickupDate="2026-03-02T00:00:00+00:00")).status_code == 200
    counts = table_counts(db)
    response = post("Orders", order("S-LAB"))
    invalid(response, "model.OrderStatusExternalId")
    assert table_counts(db) == counts


def test_order_details_become_lines(basics, post, get, db) -> None:
    details = [
        {
            "orderDetailExternalId": "OD1",
            "productDescription": "Frame RB5154",
            "quantity": 1,
            "retailPrice": 180.0,
            "unitPrice": 150.0,
            "tax1": 7.5,
            "tax2": 1.25,
        },
        {"productDescription": "Lens cloth", "quantity": 3, "unitPrice": 2.5, "tax1": 0.6},
    ]
    response = post("Orders", order(orderDetails=details, orderBalance=60))
    assert response.status_code == 200, response.text
    with db.read_sessions() as reader:
        row = reader.scalar(select(Order).where(Order.external_id == "O1"))
        lines = reader.scalars(
            select(OrderLine).where(OrderLine.order_id == row.id).order_by(OrderLine.position)
        ).all()
    assert [(line.sku, line.description, line.quantity) for line in lines] == [
        ("OD1", "Frame RB5154", 1),
        (None, "Lens cloth", 3),
    ]
    assert [line.unit_price for line in lines] == [Decimal("150.00"), Decimal("2.50")]
    assert [line.tax for line in lines] == [Decimal("8.75"), Decimal("0.60")]
    assert lines[0].retail_price == Decimal("180.00")
    assert row.subtotal == Decimal("157.50")
    assert row.tax_total == Decimal("9.35")
    assert row.total == Decimal("166.85")
    assert row.amount_paid == Decimal("106.85")
    shown = get("Orders", "O1").json()["orderDetails"]
    assert shown[0]["tax2"] == 1.25 and shown[1]["quantity"] == 3

    # An update replaces the lines.
    again = post("Orders", order(orderDetails=[{"productDescription": "Case", "unitPrice": 10}]))
    assert again.status_code == 200
    assert again.headers["X-Portal-Change"] == "updated"
    with db.read_sessions() as reader:
        row = reader.scalar(select(Order).where(Order.external_id == "O1"))
        lines = reader.scalars(select(OrderLine).where(OrderLine.order_id == row.id)).all()
    assert [(line.description, line.quantity, line.unit_price) for line in lines] == [
        ("Case", 1, Decimal("10.00"))
    ]
    assert row.total == Decimal("10.00")


@pytest.mark.parametrize("quantity", [0, -1, 100001])
def test_bad_quantities(quantity, basics, post, db) -> None:
    counts = table_counts(db)
    response = post(
        "Orders", order(orderDetails=[{"productDescription": "x", "quantity": quantity}])
    )
    invalid(response, "model.OrderDetails[0].Quantity")
    assert table_counts(db) == counts


@pytest.mark.parametrize(
    ("member", "value"), [("unitPrice", -1), ("tax1", -0.01), ("retailPrice", 1e12)]
)
def test_bad_amounts(member, value, basics, post, db) -> None:
    counts = table_counts(db)
    response = post("Orders", order(orderDetails=[{"quantity": 1, member: value}]))
    key = "model.OrderDetails[0]." + member[:1].upper() + member[1:]
    invalid(response, key)
    assert table_counts(db) == counts


def test_order_types(basics, post, db) -> None:
    for index, (sent, kept) in enumerate(
        [("Frames", "frames"), ("contacts", "contacts"), ("Others", "other"), ("Gizmo", "other")]
    ):
        response = post("Orders", order(externalId=f"T{index}", type=sent))
        assert response.status_code == 200, response.text
        with db.read_sessions() as reader:
            assert reader.scalar(select(Order.type).where(Order.external_id == f"T{index}")) == kept


def test_deleting_an_order_deletes_the_core_order(basics, post, client, sync, db) -> None:
    assert post("Orders", order()).status_code == 200
    response = client.delete("/api/Orders", params={"externalId": "O1"}, headers=sync.headers)
    assert response.status_code == 200
    with db.read_sessions() as reader:
        assert reader.scalar(select(Order).where(Order.external_id == "O1")) is None


def test_an_order_moved_on_elsewhere_can_still_be_updated(basics, post, get, db, sync) -> None:
    import uuid

    from optihub.services import orders as order_service
    from optihub.services.context import Actor

    identifier = uuid.UUID(post("Orders", order("S-LAB")).json()["id"])
    lab = Actor(practice_id=sync.practice_id, via="test", label="lab")
    with db.transaction() as s:
        order_service.change_order_status(s, lab, identifier, OrderStatus.COMPLETED)
    # The system still says "At lab" (it has not heard): the note changes, the state stays.
    response = post("Orders", order("S-LAB", receiptNote="call first"))
    assert response.status_code == 200, response.text
    assert response.headers["X-Portal-Change"] == "updated"
    assert (stored(db).status, stored(db).special_instructions) == ("completed", "call first")
    # Asking for an earlier state than it asked before is still refused.
    counts = table_counts(db)
    invalid(post("Orders", order("S-NEW", receiptNote="x")), "model.OrderStatusExternalId")
    assert table_counts(db) == counts
    # And moving on from where the core is works.
    assert post("Orders", order("S-GONE", receiptNote="call first")).status_code == 200
    assert stored(db).status == "delivered"
    assert history(db)[-1] == ("completed", "delivered")


def test_a_draft_status_makes_a_draft_order_that_moves_on(basics, post, db) -> None:
    assert post("OrderStatuses", {"externalId": "S-DRAFT", "name": "Draft"}).status_code == 200
    response = post("Orders", order("S-DRAFT"))
    assert response.status_code == 200, response.text
    assert stored(db).status == "draft"
    assert post("Orders", order("S-NEW")).status_code == 200
    assert stored(db).status == "received"
    assert history(db) == [(None, "draft"), ("draft", "received")]
    # Once received, never a draft again.
    invalid(post("Orders", order("S-DRAFT")), "model.OrderStatusExternalId")
    assert stored(db).status == "received"
