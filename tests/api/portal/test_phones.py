"""Phones of portal Patients and Locations: the portal's document gives a phone no format,
so any text up to the core's 20 characters is taken and read back as sent; the patient's
number also gets its E.164 form. 21 characters are the vendor's 400 and write nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from optihub.db.models import Location, Patient
from tests.api.portal._support import invalid
from tests.api.portal.conftest import table_counts
from tests.phone_numbers import PHONES, TOO_LONG

TOO_LONG_MESSAGE = "The field Phone must be a string with a maximum length of 20."


def _stored(db, model, external_id: str):
    with db.read_sessions() as reader:
        row = reader.scalar(select(model).where(model.external_id == external_id))
    assert row is not None
    return row


@pytest.mark.parametrize(("given", "e164"), PHONES)
def test_a_patient_phone_is_kept_and_read_back_as_given(post, get, db, given, e164):
    response = post("Patients", {"externalId": "P-PHONE", "lastName": "Lind", "phone": given})
    assert response.status_code == 200, response.text
    patient = _stored(db, Patient, "P-PHONE")
    assert (patient.phone, patient.phone_e164) == (given, e164)
    assert get("Patients", "P-PHONE").json()["phone"] == given


@pytest.mark.parametrize(("given", "e164"), PHONES)
def test_a_location_phone_is_kept_and_read_back_as_given(post, get, db, given, e164):
    response = post("Locations", {"externalId": "L-PHONE", "name": "Canal St", "phone": given})
    assert response.status_code == 200, response.text
    assert _stored(db, Location, "L-PHONE").phone == given
    assert get("Locations", "L-PHONE").json()["phone"] == given


@pytest.mark.parametrize("resource", ["Patients", "Locations"])
def test_a_phone_over_20_characters_is_refused_and_writes_nothing(resource, post, db):
    before = table_counts(db)
    record = {"externalId": "X-LONG", "lastName": "Lind", "name": "Canal St", "phone": TOO_LONG}
    if resource == "Locations":
        del record["lastName"]
    response = post(resource, record)
    assert invalid(response, "model.Phone") == [TOO_LONG_MESSAGE]
    assert response.json() == {
        "Message": "The request is invalid.",
        "ModelState": {"model.Phone": [TOO_LONG_MESSAGE]},
    }
    assert table_counts(db) == before


def test_a_patient_phone_changed_elsewhere_reads_as_the_core_keeps_it(post, get, db):
    sent = {"externalId": "P-MOVED", "lastName": "Lind", "phone": "555-0100"}
    assert post("Patients", sent).status_code == 200
    with db.transaction() as s:
        patient = s.scalar(select(Patient).where(Patient.external_id == "P-MOVED"))
        assert patient is not None
        patient.phone = "+44 20 7946 0958"
    assert get("Patients", "P-MOVED").json()["phone"] == "+44 20 7946 0958"
