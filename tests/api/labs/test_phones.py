"""The lab-order patient's ``phone_number``: the vendor's only rule is "at most 20
characters", so any number a practice writes is taken and kept as given, with its E.164
form beside it; 21 characters are refused in the dialect's envelope and write nothing."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from optihub.db.models import Patient
from tests import factories
from tests.api.labs.test_orders import ORDERS, counts, order_row, valid_body
from tests.phone_numbers import PHONES, TOO_LONG

PARTNER_ORDERS = "/api/v1/partner/orders"


def _patient(db, order_id: str) -> Patient:
    order = order_row(db, order_id)
    with Session(db.engine) as reader:
        patient = reader.get(Patient, order.patient_id)
    assert patient is not None
    return patient


@pytest.mark.parametrize(("given", "e164"), PHONES)
def test_a_phone_number_is_kept_as_given(lab, lab_world, db, client, issue_token, given, e164):
    response = lab.post(ORDERS, json=valid_body(lab_world, **{"patient.phone_number": given}))
    assert response.status_code == 200, response.text
    patient = _patient(db, response.json()["id"])
    assert (patient.phone, patient.phone_e164) == (given, e164)
    # The dialect reads no patient back; the partner API shows the order's patient as stored.
    token = issue_token(lab_world.practice_id, "orders:read")
    order_id = order_row(db, response.json()["id"]).id
    shown = client.get(
        f"{PARTNER_ORDERS}/{order_id}", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert shown["patient"]["phone"] == given


def test_a_phone_number_is_trimmed(lab, lab_world, db):
    body = valid_body(lab_world, **{"patient.phone_number": "  (617) 555-0100 "})
    patient = _patient(db, lab.post(ORDERS, json=body).json()["id"])
    assert (patient.phone, patient.phone_e164) == ("(617) 555-0100", "+16175550100")


def test_a_phone_number_over_20_characters_is_refused_and_writes_nothing(lab, lab_world, db):
    before = counts(db)
    response = lab.post(ORDERS, json=valid_body(lab_world, **{"patient.phone_number": TOO_LONG}))
    assert response.status_code == 400
    message = "Phone number must be at most 20 characters."
    assert response.json() == {
        "error": {
            "type": "invalid_request_error",
            "message": message,
            "code": "validation_failed",
            "param": "patient.phone_number",
        },
        "errors": [{"param": "patient.phone_number", "message": message}],
    }
    assert counts(db) == before


def test_a_national_number_is_read_in_the_practices_country(lab, lab_world, db):
    """A practice whose locations are in Great Britain: ``020 7946 0958`` is a London
    number there (it is no valid US number)."""
    with db.transaction() as s:
        factories.location(s, lab_world.practice_id, "Soho").country = "GB"
    body = valid_body(lab_world, **{"patient.phone_number": "020 7946 0958"})
    patient = _patient(db, lab.post(ORDERS, json=body).json()["id"])
    assert (patient.phone, patient.phone_e164) == ("020 7946 0958", "+442079460958")
