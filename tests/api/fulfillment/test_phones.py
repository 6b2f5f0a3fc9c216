"""A new patient's ``phone`` on POST /orders: Blend documents no format, so any text up to
the core's 20 characters is taken, kept as given (with its E.164 form beside it) and read
back as given; 21 characters are a 400 in the dialect's envelope and write nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from optihub.db.models import Patient
from tests.api.fulfillment.conftest import order_body, table_counts
from tests.phone_numbers import PHONES, TOO_LONG

ADDRESS = {"address_1": "3 Langley Blvd", "city": "Hampton", "state": "VA", "zip_code": "23665"}


def new_patient_order(world, phone: str) -> dict:
    body = order_body(
        world,
        patient={"first_name": "Katherine", "last_name": "Johnson", "phone": phone},
        address=ADDRESS,
    )
    del body["patient_id"]
    return body


@pytest.mark.parametrize(("given", "e164"), PHONES)
def test_a_new_patients_phone_is_kept_and_read_back_as_given(api, world, db, given, e164):
    response = api.post("/orders", json=new_patient_order(world, given))
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["patient"]["phone"] == given
    assert api.get(f"/orders/{order['id']}").json()["patient"]["phone"] == given
    with db.read_sessions() as reader:
        patient = reader.scalar(select(Patient).where(Patient.last_name == "Johnson"))
    assert patient is not None
    assert (patient.phone, patient.phone_e164) == (given, e164)


def test_a_phone_over_20_characters_is_refused_and_writes_nothing(api, world, db):
    before = table_counts(db)
    response = api.post("/orders", json=new_patient_order(world, TOO_LONG))
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": {
            "code": "invalid_request",
            "message": "patient.phone: String should have at most 20 characters",
            "field": "patient.phone",
        }
    }
    assert table_counts(db) == before
