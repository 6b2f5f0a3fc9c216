"""OptiHub's extension to the practice API's patients: ``notify_eyewear_email`` and
``notify_eyewear_sms`` (optional booleans) set the patient's eyewear-ready consents, and
every patient shows them."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from optihub.db.models import Patient
from tests.api.practice.conftest import error

NEW = {"name_first": "Jordan", "name_last": "Rivera", "email": "jordan@example.com"}


def stored(db, patient_id: str) -> tuple[bool, bool]:
    with db.transaction() as s:
        patient = s.scalars(select(Patient).where(Patient.id == uuid.UUID(patient_id))).one()
        return patient.notify_eyewear_email, patient.notify_eyewear_sms


def test_consents_given_at_creation_are_stored_and_shown(api, db):
    response = api.post("/patients", json={**NEW, "notify_eyewear_email": True})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["notify_eyewear_email"] is True and body["notify_eyewear_sms"] is False
    assert stored(db, body["patient_id"]) == (True, False)
    shown = api.get(f"/patients/{body['patient_id']}").json()
    assert shown["notify_eyewear_email"] is True


def test_without_them_a_patient_has_not_agreed(api, db):
    response = api.post("/patients", json=[NEW, {**NEW, "notify_eyewear_sms": True}])
    assert response.status_code == 201, response.text
    first, second = response.json()["data"]
    assert stored(db, first["patient_id"]) == (False, False)
    assert stored(db, second["patient_id"]) == (False, True)


def test_a_consent_that_is_not_a_boolean_is_refused_and_nothing_written(api, db):
    response = api.post("/patients", json={**NEW, "notify_eyewear_email": "yes"})
    message = error(response, 400)
    assert "notify_eyewear_email" in message
    with db.transaction() as s:
        assert s.scalars(select(Patient).where(Patient.last_name == "Rivera")).all() == []
