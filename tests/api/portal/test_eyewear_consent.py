"""The portal's ``AllowEmailEyeWear`` / ``AllowSmsEyewear`` become the patient's
eyewear-ready consents in the core (JSON and XML); a record that leaves them out changes
nothing."""

from __future__ import annotations

from sqlalchemy import select

from optihub.db.models import Patient
from tests.api.portal.test_xml import XML, document


def consents(db, external_id: str) -> tuple[bool, bool]:
    with db.transaction() as s:
        patient = s.scalars(select(Patient).where(Patient.external_id == external_id)).one()
        return patient.notify_eyewear_email, patient.notify_eyewear_sms


PATIENT = {
    "externalId": "P9",
    "firstName": "Jordan",
    "lastName": "Rivera",
    "emailAddress": "jordan@example.com",
    "locationExternalId": "L1",
}


def test_json_consents_are_stored_and_read_back(basics, post, get, db) -> None:
    assert consents(db, "P1") == (False, False)  # a patient sent without them
    sent = {**PATIENT, "allowEmailEyeWear": True, "allowSmsEyewear": False}
    assert post("Patients", sent).status_code == 200
    assert consents(db, "P9") == (True, False)
    shown = get("Patients", "P9").json()
    assert shown["allowEmailEyeWear"] is True and shown["allowSmsEyewear"] is False

    withdrawn = {**PATIENT, "allowEmailEyeWear": False, "allowSmsEyewear": True}
    assert post("Patients", withdrawn).status_code == 200
    assert consents(db, "P9") == (False, True)

    # Left out (or null): the stored consent stays as it was.
    assert post("Patients", {**PATIENT, "firstName": "Jordy"}).status_code == 200
    assert consents(db, "P9") == (False, True)


def test_xml_consents_are_stored(basics, post, db) -> None:
    inner = (
        "<AllowEmailEyeWear>true</AllowEmailEyeWear><AllowSmsEyewear>true</AllowSmsEyewear>"
        "<EmailAddress>ola@example.com</EmailAddress><FirstName>Ola</FirstName>"
        "<LastName>Berg</LastName><LocationExternalId>L1</LocationExternalId>"
    )
    response = post(
        "Patients", content=document("PatientModel", "Patients", "PX", inner), headers=XML
    )
    assert response.status_code == 200, response.text
    assert consents(db, "PX") == (True, True)


def test_a_consent_that_is_not_a_boolean_is_refused(basics, post, db) -> None:
    response = post("Patients", {**PATIENT, "allowEmailEyeWear": "sure"})
    assert response.status_code == 400
    assert "AllowEmailEyeWear" in response.text
