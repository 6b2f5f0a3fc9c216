"""What the lab create's prepared lookups and writes keep: the acting user is looked up in
the token's practice only, the order points to the Rx it put on file (with the stored row
as the ORM would have written it), and the ``prescriptions.recorded`` reaction runs for a
patient who was already on file, never for one created with the order (who has no other
order waiting for an Rx)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from optihub.db.models import AuditEntry, Patient, Prescription
from optihub.services import prescriptions
from tests.api.labs.conftest import OTHER_STAFF
from tests.api.labs.test_orders import ORDERS, order_row, valid_body

VIA_ROUTE = {"via": "route"}


@pytest.fixture
def reactions(monkeypatch) -> list[uuid.UUID]:
    """The patient ids ``prescriptions.recorded`` fired for (its reactions still run)."""
    fired: list[uuid.UUID] = []
    hook = prescriptions.recorded
    monkeypatch.setattr(
        hook, "_reactions", [*hook._reactions, lambda _s, _a, patient_id: fired.append(patient_id)]
    )
    return fired


@pytest.mark.parametrize("params", [None, VIA_ROUTE])
def test_a_user_of_another_practice_is_refused(lab, lab_world, db, params):
    answer = lab.post(
        ORDERS, json=valid_body(lab_world), headers={"User-Email": OTHER_STAFF}, params=params
    )
    assert answer.status_code == 403, answer.text


@pytest.mark.parametrize("params", [None, VIA_ROUTE])
def test_only_a_patient_already_on_file_fires_the_recorded_reactions(
    lab, lab_world, db, reactions, params
):
    first = lab.post(ORDERS, json=valid_body(lab_world), params=params)
    assert first.status_code == 200, first.text
    assert reactions == []  # a new patient: nothing of theirs can be waiting for an Rx
    changed = valid_body(lab_world, **{"rx.left_eye.sphere": -2.5})
    second = lab.post(ORDERS, json=changed, params=params)
    assert second.status_code == 200, second.text
    one, two = order_row(db, first.json()["id"]), order_row(db, second.json()["id"])
    assert one.patient_id == two.patient_id
    assert reactions == [one.patient_id]


def test_the_order_points_to_its_rx_and_rows_read_back_as_written(lab, lab_world, db):
    answer = lab.post(ORDERS, json=valid_body(lab_world))
    assert answer.status_code == 200, answer.text
    order = order_row(db, answer.json()["id"])
    assert order.prescription_id is not None
    assert order.updated_at >= order.created_at
    with Session(db.engine) as reader:
        rx = reader.get(Prescription, order.prescription_id, options=[selectinload("*")])
        patient = reader.get(Patient, order.patient_id)
        assert rx is not None and patient is not None
        assert rx.practice_id == patient.practice_id == lab_world.practice_id
        assert rx.patient_id == patient.id and rx.kind == "spectacle"
        assert rx.notes == f"From lab order {order.number}"
        assert {eye.side for eye in rx.eyes} == {"right", "left"}
        assert all(eye.practice_id == lab_world.practice_id for eye in rx.eyes)
        assert patient.country == "US" and patient.notify_eyewear_email is False
        actions: list[Any] = list(
            reader.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.target_id.in_([str(patient.id), str(rx.id), str(order.id)]))
                .order_by(AuditEntry.id)
            )
        )
    assert actions == ["patient.created", "order.created", "prescription.created"]
