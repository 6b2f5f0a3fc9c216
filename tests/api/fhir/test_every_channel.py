"""The same prescriptions and patients through every dialect that holds them.

- An Rx the portal sync API writes (spectacle and contact lens) reads back through FHIR
  with the same values; so does a patient the practice API creates.
- An Rx imported through FHIR is the Rx of an order placed with it: the partner API's
  ``GET /prescriptions`` lists it (that list holds orders' Rx only, see docs/fhir.md) and
  the dashboard's order page shows it in the trade's notation.

The practice API writes no prescriptions (its vendor's API has none). A lab order's Rx goes
on file when it is submitted: ``tests/api/labs/test_rx_on_file.py`` reads it back here.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from tests.api.dashboard.conftest import Agent, text_of
from tests.api.fhir.conftest import ALL_SCOPES, FhirClient, example_for, hl7_example
from tests.api.portal.conftest import Sync, basics, get, post, sync

from optihub.services import oauth_clients, users
from optihub.services import orders as order_service
from optihub.services.context import Actor

__all__ = ["basics", "get", "post", "sync"]  # the portal's fixtures, imported to be found here

PARTNER = "/api/v1/partner"


def fhir_for(db, https: TestClient, practice_id: int) -> FhirClient:
    """A clinical system's app connected to ``practice_id``, with its token."""
    with db.transaction() as s:
        app = oauth_clients.register_client(
            s, name="EHR", scope=ALL_SCOPES, redirect_uris=[], practice_ids=[practice_id]
        )
    token = https.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": ALL_SCOPES},
        auth=(app.client.client_id, app.client_secret or ""),
    )
    assert token.status_code == 200, token.text
    return FhirClient(https, token.json()["access_token"])


def d(value: Any) -> Decimal:
    return Decimal(str(value))


def only(bundle: dict[str, Any]) -> dict[str, Any]:
    [entry] = bundle["entry"]
    return entry["resource"]


def test_the_portals_prescriptions_read_back_through_fhir(
    db, https: TestClient, sync: Sync, basics, post
):
    glasses = {
        "externalId": "G1",
        "patientExternalId": "P1",
        "rightEyePrescriptionDetails": "-2.00 -0.50 x 180 add +2.00",
        "leftEyePrescriptionDetails": "+1.25 DS",
        "rightEyeComments": "Anti-glare",
        "prescribedDate": "2026-01-05T00:00:00+00:00",
    }
    assert post("GlassesPrescriptions", glasses).status_code == 200
    contacts = {
        "externalId": "C1",
        "patientExternalId": "P1",
        "lensNameRightEye": "Acuvue Oasys",
        "prescriptionRightEye": "-2.00 BC 8.6 DIA 14.2",
        "prescribedDate": "2026-02-01T00:00:00+00:00",
    }
    assert post("ContactLensPrescriptions", contacts).status_code == 200
    fhir = fhir_for(db, https, sync.practice_id)

    patient = only(fhir.get("/Patient", params={"name": "Lind"}).json())
    assert patient["name"] == [{"family": "Lind", "given": ["Maya"]}]
    assert {"system": "email", "value": "maya@example.com"} in patient["telecom"]
    assert {"system": "phone", "value": "(218) 555-0142"} in patient["telecom"]
    # The same number however it is written.
    same = fhir.get("/Patient", params={"telecom": "phone|2185550142"}).json()
    assert only(same)["id"] == patient["id"]

    spectacles = only(
        fhir.get(
            "/VisionPrescription", params={"patient": patient["id"], "datewritten": "2026-01"}
        ).json()
    )
    right, left = spectacles["lensSpecification"]
    assert spectacles["dateWritten"] == "2026-01-05"
    assert (d(right["sphere"]), d(right["cylinder"]), right["axis"], d(right["add"])) == (
        Decimal("-2.00"),
        Decimal("-0.50"),
        180,
        Decimal("2.00"),
    )
    assert right["note"] == [{"text": "Anti-glare"}]
    assert d(left["sphere"]) == Decimal("1.25") and "cylinder" not in left

    lenses = only(
        fhir.get(
            "/VisionPrescription", params={"patient": patient["id"], "datewritten": "2026-02"}
        ).json()
    )
    [lens] = lenses["lensSpecification"]
    assert lens["product"]["coding"][0]["code"] == "contact"
    assert (d(lens["power"]), d(lens["backCurve"]), d(lens["diameter"]), lens["brand"]) == (
        Decimal("-2.00"),
        Decimal("8.6"),
        Decimal("14.2"),
        "Acuvue Oasys",
    )


def test_a_patient_the_practice_api_creates_reads_back_through_fhir(
    db, https: TestClient, issue_token, clinic
):
    token = issue_token(clinic.practice_id, "create:patients")
    created = https.post(
        f"/v2/{clinic.practice_id}/patients",
        json={
            "name_first": "Ada",
            "name_last": "Lovelace",
            "email": "ada@example.com",
            "phone": "2025550143",
            "dob": "1985-12-10",
            "address_1": "12 Harbor Way",
            "city": "Boston",
            "state": "MA",
            "zip": "02110",
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201, created.text
    fhir = fhir_for(db, https, clinic.practice_id)
    body = fhir.get(f"/Patient/{created.json()['patient_id']}").json()
    assert body["name"] == [{"family": "Lovelace", "given": ["Ada"]}]
    assert body["birthDate"] == "1985-12-10"
    assert body["telecom"] == [
        {"system": "phone", "value": "2025550143"},
        {"system": "email", "value": "ada@example.com"},
    ]
    assert body["address"] == [
        {
            "line": ["12 Harbor Way"],
            "city": "Boston",
            "state": "MA",
            "postalCode": "02110",
            "country": "US",
        }
    ]


def test_an_rx_imported_through_fhir_is_the_rx_of_an_order_in_the_partner_api_and_dashboard(
    db, https: TestClient, clinic, issue_token, testdata: Path
):
    fhir = fhir_for(db, https, clinic.practice_id)
    example = hl7_example(testdata, "r5-VisionPrescription-33123.json")
    created = fhir.post("/VisionPrescription", example_for(example, f"Patient/{clinic.patient_id}"))
    assert created.status_code == 201, created.text
    prescription_id = uuid.UUID(created.json()["id"])
    staff = "optician@harbor.example"
    with db.transaction() as s:
        users.create_user(
            s,
            email=staff,
            password="harbor-password-1",
            practice_id=clinic.practice_id,
            role="staff",
        )
        order = order_service.place_order(
            s,
            Actor(practice_id=clinic.practice_id, via="partner", label="partner app"),
            order_service.NewOrder(
                patient_id=clinic.patient_id,
                prescription_id=prescription_id,
                lines=[order_service.LineItem("Lenses", 1, Decimal("120.00"))],
            ),
        )
        order_id = order.id

    token = issue_token(clinic.practice_id, "prescriptions:read")
    listed = https.get(
        f"{PARTNER}/prescriptions",
        params={"order_id": str(order_id)},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["data"]
    assert item["id"] == str(prescription_id)
    assert item["issued_on"] == "2014-06-15"
    right, left = item["right"], item["left"]
    assert d(right["sphere"]) == Decimal("-2") and right["cylinder"] is None
    assert d(right["add"]) == 2
    assert right["prism_vertical"]["base"] == "down" and d(
        right["prism_vertical"]["amount"]
    ) == Decimal("0.5")
    assert (d(left["sphere"]), d(left["cylinder"]), left["axis"]) == (
        Decimal("-1"),
        Decimal("-0.5"),
        180,
    )
    assert left["prism_vertical"]["base"] == "up"

    agent = Agent(https)
    page = agent.get("/login")
    assert page.status_code == 200
    from tests.api.dashboard.conftest import csrf_of

    signed = agent.request(
        "POST",
        "/login",
        data={"email": staff, "password": "harbor-password-1", "csrf_token": csrf_of(page.text)},
    )
    assert signed.status_code == 303, signed.text
    html = agent.get(f"/dashboard/orders/{order_id}").text
    shown = text_of(html)
    assert "OD \u22122.00 DS" in shown, shown
    assert "OS \u22121.00 \u22120.50 \u00d7 180" in shown, shown
    assert "0.50 \u0394 BD" in shown and "0.50 \u0394 BU" in shown
