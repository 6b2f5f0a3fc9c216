"""A FHIR client library (fhirpy, sync) against a really running OptiHub (uvicorn on a
loopback port): search, paging through ``next`` links, read, create, transaction and the
refusals, as an integrator's code would meet them. Every answer it receives is checked
against the R5 models too (a ``requests`` response hook)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import (
    AuthorizationError,
    ForbiddenError,
    OperationOutcome,
    ResourceNotFound,
)
from tests.api.fhir.conftest import ALL_SCOPES, FHIR_JSON, Clinic, example_for, hl7_example, valid
from tests.api.oauth.conftest import live_server

__all__ = ["live_server"]  # the live server fixture, imported to be found here

SEEN: list[str] = []


def check(response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
    assert response.headers.get("content-type", "").startswith(FHIR_JSON) or not response.content
    if response.content:
        valid(response.json())
    SEEN.append(f"{response.request.method} {response.status_code}")


@pytest.fixture
def token(live_server, clinic: Clinic) -> str:
    answer = requests.post(
        f"{live_server.url}/oauth/token",
        data={"grant_type": "client_credentials", "scope": ALL_SCOPES},
        auth=(clinic.client_id, clinic.client_secret),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def client_for(live_server, token: str | None) -> SyncFHIRClient:
    return SyncFHIRClient(
        f"{live_server.url}/fhir/r5",
        authorization=f"Bearer {token}" if token else None,
        requests_config={"hooks": {"response": [check]}, "timeout": 10},
    )


def test_search_paging_read_create_and_transaction(
    live_server, clinic: Clinic, token: str, testdata: Path
):
    SEEN.clear()
    fhir = client_for(live_server, token)

    # Search, paging two at a time by following next links: every prescription once.
    everything = fhir.resources("VisionPrescription").limit(2).fetch_all()
    assert len(everything) == 5
    assert len({r.id for r in everything}) == 5
    assert str(clinic.foreign_prescription_id) not in {r.id for r in everything}
    mine = fhir.resources("VisionPrescription").search(patient=f"Patient/{clinic.patient_id}")
    assert mine.count() == 3
    in_march = fhir.resources("VisionPrescription").search(datewritten="2026-03").fetch()
    assert {r["dateWritten"] for r in in_march} == {"2026-03-01", "2026-03-31"}
    oldest = fhir.resources("VisionPrescription").sort("datewritten").limit(1).fetch()
    assert oldest[0].id == str(clinic.contact_lens_id)

    # Read, and follow a reference.
    one = fhir.reference("VisionPrescription", str(clinic.prescriptions[0])).to_resource()
    assert one["lensSpecification"][0]["axis"] == 90
    patient = fhir.reference(reference=one["patient"]["reference"]).to_resource()
    assert patient["name"][0]["family"] == "Okafor"
    found = fhir.resources("Patient").search(identifier="MRN-1001").get()
    assert found.id == patient.id

    # Create: HL7's contact-lens example, pointed at our patient.
    example = hl7_example(testdata, "r5-VisionPrescription-33124.json")
    created = fhir.resource(
        "VisionPrescription", **example_for(example, f"Patient/{clinic.patient_id}")
    )
    created.save()
    assert created.id is not None
    again = fhir.reference("VisionPrescription", created.id).to_resource()
    assert again["lensSpecification"][0]["brand"] == "OphthaGuard"

    # Transaction: a new patient and an Rx that references it by urn:uuid.
    urn = f"urn:uuid:{uuid.uuid4()}"
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": urn,
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"value": "MRN-2002"}],
                    "name": [{"family": "Achebe", "given": ["Chidi"]}],
                },
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": example_for(
                    hl7_example(testdata, "r5-VisionPrescription-33123.json"), urn
                ),
                "request": {"method": "POST", "url": "VisionPrescription"},
            },
        ],
    }
    response = fhir.execute("", method="post", data=bundle)
    assert response["type"] == "transaction-response"
    assert [e["response"]["status"] for e in response["entry"]] == ["201 Created", "201 Created"]
    new_patient = fhir.resources("Patient").search(identifier="MRN-2002").get()
    assert fhir.resources("VisionPrescription").search(patient=new_patient.id).count() == 1
    assert "POST 201" in SEEN and "POST 200" in SEEN and "GET 200" in SEEN


def test_refusals_reach_the_client_as_its_errors(live_server, clinic: Clinic, token: str):
    SEEN.clear()
    fhir = client_for(live_server, token)
    with pytest.raises(ResourceNotFound):
        fhir.reference("VisionPrescription", str(clinic.foreign_prescription_id)).to_resource()
    with pytest.raises(OperationOutcome) as refused:
        fhir.resource(
            "VisionPrescription",
            status="active",
            created="2026-01-01",
            dateWritten="2026-01-01",
            patient={"reference": f"Patient/{clinic.patient_id}"},
            prescriber={"display": "Dr. Ruiz"},
            lensSpecification=[
                {"product": {"coding": [{"code": "lens"}]}, "eye": "right", "cylinder": -1}
            ],
        ).save()
    issue = refused.value.resource["issue"][0]
    assert issue["code"] == "business-rule"
    assert issue["expression"] == ["VisionPrescription.lensSpecification[0].axis"]
    with pytest.raises(OperationOutcome) as bad_search:
        fhir.resources("VisionPrescription").search(datewritten="sa2026").fetch()
    assert bad_search.value.resource["issue"][0]["code"] == "not-supported"
    with pytest.raises(AuthorizationError):
        client_for(live_server, None).resources("Patient").fetch()
    narrow = requests.post(
        f"{live_server.url}/oauth/token",
        data={"grant_type": "client_credentials", "scope": "system/Patient.rs"},
        auth=(clinic.client_id, clinic.client_secret),
        timeout=10,
    ).json()["access_token"]
    with pytest.raises(ForbiddenError):
        client_for(live_server, narrow).resources("VisionPrescription").fetch()
    statement = client_for(live_server, None).execute("metadata", method="get")
    assert statement["resourceType"] == "CapabilityStatement"
    assert {"GET 404", "POST 422", "GET 400", "GET 401", "GET 403", "GET 200"} <= set(SEEN)
