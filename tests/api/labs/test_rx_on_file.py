"""The Rx a lab order is submitted with is the patient's prescription on file: it reads back
through FHIR (``VisionPrescription``) and the partner API's prescriptions with the values
the lab was sent, once per distinct Rx (a second pair with the same Rx adds none); a draft
puts nothing on file until it is submitted."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import Prescription
from optihub.services import lab_orders
from optihub.services.context import Actor
from tests.api.fhir.conftest import FhirClient
from tests.api.fhir.test_every_channel import fhir_for
from tests.api.labs.test_orders import ORDERS, order_row, valid_body

PARTNER = "/api/v1/partner"


def d(value: Any) -> Decimal:
    return Decimal(str(value))


def prescriptions(db) -> list[Prescription]:
    with Session(db.engine) as reader:
        return list(reader.scalars(select(Prescription)))


def _search(fhir: FhirClient, patient_id: uuid.UUID) -> list[dict[str, Any]]:
    bundle = fhir.get("/VisionPrescription", params={"patient": str(patient_id)}).json()
    assert bundle["total"] == len(bundle.get("entry", []))
    return [entry["resource"] for entry in bundle.get("entry", [])]


def test_a_submitted_lab_orders_rx_reads_back_through_fhir_and_the_partner_api(
    lab, lab_world, db, https, issue_token
):
    answer = lab.post(ORDERS, json=valid_body(lab_world))
    assert answer.status_code == 200, answer.text
    order = order_row(db, answer.json()["id"])
    assert order.prescription_id is not None

    fhir = fhir_for(db, https, lab_world.practice_id)
    [resource] = _search(fhir, order.patient_id)
    assert resource["id"] == str(order.prescription_id)
    assert resource["status"] == "active"
    assert resource["dateWritten"] == utcnow().date().isoformat()
    assert resource["patient"]["reference"] == f"Patient/{order.patient_id}"
    # A lab order names no prescriber: FHIR requires one, so it says the value is unknown.
    assert "reference" not in resource["prescriber"]
    [absent] = resource["prescriber"]["extension"]
    assert absent["valueCode"] == "unknown"
    assert "dateWritten" in resource and "expires" not in str(resource)
    right, left = resource["lensSpecification"]
    assert (right["eye"], left["eye"]) == ("right", "left")
    assert (d(right["sphere"]), d(right["cylinder"]), right["axis"], d(right["add"])) == (
        Decimal("-2.25"),
        Decimal("-0.75"),
        90,
        Decimal("2"),
    )
    prisms = {p["base"]: d(p["amount"]) for p in right["prism"]}
    assert prisms == {"in": Decimal("1"), "up": Decimal("0.5")}
    assert d(left["sphere"]) == Decimal("-2") and "cylinder" not in left
    # VisionPrescription has no note of its own: a note on the whole Rx is every eye's.
    assert {"text": f"From lab order {order.number}"} in right["note"]

    token = issue_token(lab_world.practice_id, "prescriptions:read")
    listed = https.get(
        f"{PARTNER}/prescriptions",
        params={"order_id": str(order.id)},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["data"]
    assert item["id"] == str(order.prescription_id)
    assert d(item["right"]["sphere"]) == Decimal("-2.25")
    assert d(item["right"]["distance_pd"]) == Decimal("32")
    assert d(item["right"]["seg_height"]) == Decimal("18")
    assert d(item["left"]["distance_pd"]) == Decimal("31.5")


def test_a_second_pair_with_the_same_rx_adds_no_prescription_a_new_rx_does(
    lab, lab_world, db, https
):
    first = lab.post(ORDERS, json=valid_body(lab_world))
    second = lab.post(ORDERS, json=valid_body(lab_world, special_instructions="Sun pair"))
    assert first.status_code == second.status_code == 200, second.text
    one, two = order_row(db, first.json()["id"]), order_row(db, second.json()["id"])
    assert one.patient_id == two.patient_id
    assert one.prescription_id == two.prescription_id
    assert len(prescriptions(db)) == 1

    changed = lab.post(ORDERS, json=valid_body(lab_world, **{"rx.left_eye.sphere": -2.5}))
    assert changed.status_code == 200, changed.text
    three = order_row(db, changed.json()["id"])
    assert three.prescription_id not in (None, one.prescription_id)
    fhir = fhir_for(db, https, lab_world.practice_id)
    found = _search(fhir, one.patient_id)
    assert {r["id"] for r in found} == {str(one.prescription_id), str(three.prescription_id)}


def test_a_draft_puts_nothing_on_file_until_it_is_submitted(lab, lab_world, db):
    answer = lab.post(ORDERS, json=valid_body(lab_world, mode="draft"))
    assert answer.status_code == 200, answer.text
    draft = order_row(db, answer.json()["id"])
    assert draft.prescription_id is None and prescriptions(db) == []

    with db.transaction() as s:
        actor = Actor(practice_id=lab_world.practice_id, via="dashboard", label="optician")
        lab_orders.submit_draft(s, actor, draft.id)
    submitted = order_row(db, answer.json()["id"])
    [on_file] = prescriptions(db)
    assert submitted.prescription_id == on_file.id
    assert on_file.patient_id == submitted.patient_id
    assert on_file.notes == f"From lab order {submitted.number}"


def test_a_refused_lab_order_puts_nothing_on_file(lab, lab_world, db):
    refused = lab.post(ORDERS, json=valid_body(lab_world, **{"rx.right_eye.axis": 181}))
    assert refused.status_code == 400, refused.text
    with Session(db.engine) as reader:
        assert reader.scalar(select(func.count()).select_from(Prescription)) == 0
