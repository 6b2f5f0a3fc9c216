"""Stored order documents are never stale, and kept counts are exact.

After every kind of change that shows in an order, what the partner API serves (list and
detail, from stored bytes) equals a fresh render of the order, on each database.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import orjson
import pytest
from sqlalchemy import func, select

from optihub.db.models import Location, Order, OrderCount, OrderDocument, OrderLine
from optihub.domain.orders import OrderStatus
from optihub.reads import documents
from optihub.reads import orders as order_reads
from optihub.services import frames, orders, patients
from optihub.services.prescriptions import create_spectacle_prescription
from optihub.surfaces.partner.projection import ORDERS
from tests import factories

BASE = "/api/v1/partner"


@pytest.fixture
def world(db, client):
    with db.transaction() as s:
        practice = factories.practice(s)
        location = factories.location(s, practice.id)
        patient = factories.patient(s, practice.id)
        frame = factories.frame(s, practice.id)
        order = orders.place_order(
            s,
            factories.actor(practice.id),
            orders.NewOrder(
                patient_id=patient.id,
                location_id=location.id,
                frame_id=frame.id,
                rx=factories.spectacle_rx(),
                lines=[orders.LineItem("Progressive lenses", 1, Decimal("240.00"))],
            ),
        )
        ids = dataclasses.make_dataclass(
            "World", ["practice", "location", "patient", "frame", "order"]
        )(practice.id, location.id, patient.id, frame.id, order.id)
    return ids


def fresh(db, world) -> tuple[bytes, bytes]:
    with db.reading() as reader:
        view = order_reads.view(reader, world.practice, world.order)
    summary, _extra = ORDERS.render(view)
    return summary, ORDERS.detail(view)


def served(client, issue_token, world) -> tuple[bytes, bytes]:
    auth = {"Authorization": f"Bearer {issue_token(world.practice, 'orders:read')}"}
    listed = client.get(f"{BASE}/orders", headers=auth).json()["data"]
    item = next(o for o in listed if o["id"] == str(world.order))
    detail = client.get(f"{BASE}/orders/{world.order}", headers=auth).content
    return orjson.dumps(item), detail


def stored(db, world) -> bytes | None:
    with db.reading() as reader:
        return reader.scalar(
            select(OrderDocument.summary).where(
                OrderDocument.order_id == world.order, OrderDocument.projection == "partner"
            )
        )


def change_status(s, world):
    orders.change_order_status(
        s, factories.actor(world.practice), world.order, OrderStatus.IN_PROGRESS
    )


def add_line(s, world):
    s.add(
        OrderLine(
            practice_id=world.practice,
            order_id=world.order,
            position=1,
            description="Anti-reflective coat",
            quantity=1,
            unit_price=Decimal("60.00"),
            retail_price=Decimal("60.00"),
        )
    )


def edit_patient(s, world):
    patient = patients.get_patient(s, world.practice, world.patient)
    details = patients.PatientDetails(
        first_name="Ada",
        last_name="Okafor-Lovelace",
        email="ada@example.com",
        phone=patient.phone,
        date_of_birth=patient.date_of_birth,
    )
    patients.update_patient(s, factories.actor(world.practice), world.patient, details)


def edit_frame(s, world):
    frame = frames.get_frame(s, world.practice, world.frame)
    details = frames.FrameDetails(
        **{f.name: getattr(frame, f.name) for f in dataclasses.fields(frames.FrameDetails)}
        | {"color": "Black"}
    )
    frames.update_frame(s, factories.actor(world.practice), world.frame, details)


def link_prescription(s, world):
    prescription = create_spectacle_prescription(
        s,
        factories.actor(world.practice),
        patient_id=world.patient,
        rx=factories.spectacle_rx(),
        issued_on=date(2026, 1, 5),
        prescriber_name="Dr. Lin",
    )
    s.get(Order, world.order).prescription_id = prescription.id


def rename_location(s, world):
    s.get(Location, world.location).name = "Harbour Road"


CHANGES = [change_status, add_line, edit_patient, edit_frame, link_prescription, rename_location]


@pytest.mark.parametrize("change", CHANGES, ids=[c.__name__ for c in CHANGES])
def test_reads_equal_a_fresh_render_after_every_kind_of_change(
    db, client, issue_token, world, change
):
    before = fresh(db, world)
    assert served(client, issue_token, world) == before
    with db.transaction() as s:
        change(s, world)
    after = fresh(db, world)
    assert stored(db, world) == after[0]
    assert served(client, issue_token, world) == after
    if change not in (edit_frame,):  # the order keeps its own copy of the frame
        assert after != before


def test_a_rolled_back_change_leaves_documents_and_counts_as_they_were(db, client, world):
    before = stored(db, world)
    with pytest.raises(RuntimeError), db.transaction() as s:
        change_status(s, world)
        raise RuntimeError("abort")
    assert stored(db, world) == before
    with db.reading() as reader:
        counts = dict(reader.execute(select(OrderCount.status, OrderCount.count)).all())
    assert counts == {"received": 1}


def test_kept_counts_match_a_count_of_the_orders(db, client, world):
    with db.transaction() as s:
        for _ in range(3):
            orders.place_order(s, factories.actor(world.practice), orders.NewOrder())
        change_status(s, world)
        extra = orders.place_order(s, factories.actor(world.practice), orders.NewOrder())
        s.flush()
        s.delete(s.get(Order, extra.id))
    with db.reading() as reader:
        kept = dict(
            reader.execute(
                select(OrderCount.status, OrderCount.count).where(OrderCount.count != 0)
            ).all()
        )
        counted = dict(
            reader.execute(select(Order.status, func.count()).group_by(Order.status)).all()
        )
        assert kept == counted == {"received": 3, "in_progress": 1}
        flt = order_reads.OrderFilter(statuses=["received"])
        assert order_reads.total(reader, world.practice, flt) == 3


def test_a_missing_document_is_rendered_on_the_fly_and_rebuild_stores_it(
    db, client, issue_token, world
):
    with db.transaction() as s:
        s.execute(OrderDocument.__table__.delete())
    assert stored(db, world) is None
    assert served(client, issue_token, world) == fresh(db, world)
    assert documents.missing_count(db) == len(documents.registered())  # one per projection
    assert documents.rebuild(db) == 1
    assert stored(db, world) == fresh(db, world)[0]


# -- copies kept in memory under the practice's order version ---------------------------------


def listed(client, issue_token, world) -> dict:
    auth = {"Authorization": f"Bearer {issue_token(world.practice, 'orders:read')}"}
    return client.get(f"{BASE}/orders", headers=auth).json()


def test_an_unchanged_page_is_served_again_after_reading_only_the_version(
    db, client, issue_token, world, monkeypatch
):
    first = listed(client, issue_token, world)
    statements: list[str] = []
    fetch, fetch_async = db.fetch_raw, db.fetch_raw_async

    def counting(sql, parameters):
        statements.append(sql)
        return fetch(sql, parameters)

    async def counting_async(sql, parameters, **options):
        statements.append(sql)
        return await fetch_async(sql, parameters, **options)

    # PostgreSQL reads on the event loop's async connections; SQLite on its own connection.
    if db.dialect == "postgresql":
        monkeypatch.setattr(db, "fetch_raw_async", counting_async)
    else:
        monkeypatch.setattr(db, "fetch_raw", counting)
    assert listed(client, issue_token, world) == first
    assert len(statements) == 1
    assert statements[0].startswith("SELECT version FROM order_versions")
    with db.transaction() as s:
        change_status(s, world)
    statements.clear()
    again = listed(client, issue_token, world)
    assert again["data"][0]["status"] != first["data"][0]["status"]
    assert len(statements) == 2  # the version, then the page with its version


def test_a_page_follows_orders_placed_and_deleted(db, client, issue_token, world):
    before = listed(client, issue_token, world)
    assert before["pagination"]["total"] == 1
    with db.transaction() as s:
        placed = orders.place_order(s, factories.actor(world.practice), orders.NewOrder())
    after = listed(client, issue_token, world)
    assert after["pagination"]["total"] == 2
    assert [o["id"] for o in after["data"]] == [str(placed.id), str(world.order)]
    with db.transaction() as s:
        s.delete(s.get(Order, placed.id))
    assert listed(client, issue_token, world) == before


def test_a_change_made_without_the_projections_is_not_served_from_a_copy(
    db, client, issue_token, world
):
    """A script that changes orders without the surfaces' projections registered deletes
    the documents and raises the version: readers render the order afresh."""
    before = served(client, issue_token, world)
    saved = documents.registered()
    for each in saved:
        documents.unregister(each.name)
    try:
        with db.transaction() as s:
            change_status(s, world)
    finally:
        for each in saved:
            documents.register(each)
    assert stored(db, world) is None
    after = served(client, issue_token, world)
    assert after == fresh(db, world) != before


def _stored(db, world) -> bytes:
    with db.reading() as reader:
        return reader.scalar(
            select(OrderDocument.summary).where(
                OrderDocument.order_id == world.order, OrderDocument.projection == "partner"
            )
        )


def test_a_view_kept_by_a_route_is_stored_as_is_and_dropped_when_written_after(
    db, client, world, monkeypatch
):
    """A route that answered from a view it loaded after its writes hands it to the commit,
    which stores its documents without loading it again; a write after that (an order, its
    patient) drops the kept view, so the stored documents are never the older ones."""
    loads: list[int] = []
    real_load = documents.load_ids

    def counting(*args, **kwargs):
        found = real_load(*args, **kwargs)
        loads.append(len(found))
        return found

    monkeypatch.setattr(documents, "load_ids", counting)
    actor = factories.actor(world.practice)
    with db.transaction() as s:
        orders.change_order_status(s, actor, world.order, OrderStatus.IN_PROGRESS)
        s.flush()
        documents.keep_view(s, world.practice, order_reads.view(s, world.practice, world.order))
    assert loads == []  # stored from the kept view
    assert _stored(db, world) == fresh(db, world)[0]
    assert b'"in_progress"' in _stored(db, world)

    with db.transaction() as s:
        orders.change_order_status(s, actor, world.order, OrderStatus.COMPLETED)
        s.flush()
        documents.keep_view(s, world.practice, order_reads.view(s, world.practice, world.order))
        patients.update_patient(
            s,
            actor,
            world.patient,
            patients.PatientDetails(first_name="Ada", last_name="Renamed-After"),
        )
    assert loads == [1]  # loaded again: the patient was written after the view
    assert _stored(db, world) == fresh(db, world)[0]
    assert b"Renamed-After" in _stored(db, world)


def test_a_view_of_an_order_the_transaction_did_not_write_is_not_kept(db, client, world):
    """Only an order whose own row this transaction wrote (locked until the commit) is
    stored from a kept view."""
    with db.transaction() as s:
        documents.keep_view(s, world.practice, order_reads.view(s, world.practice, world.order))
        assert "optihub.reads.views" not in s.info
