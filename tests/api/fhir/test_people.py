"""Patient (read, search by identifier, name, birthdate, telecom), Practitioner and
Organization reads, each scoped to the app's practice and needing its own scope."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.fhir.conftest import Clinic, FhirClient, outcome


def ids_of(bundle: dict[str, Any]) -> set[str]:
    return {entry["resource"]["id"] for entry in bundle.get("entry", [])}


def patients(fhir: FhirClient, **params: Any) -> dict[str, Any]:
    response = fhir.get("/Patient", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_patient_reads_with_every_field_the_core_keeps(fhir: FhirClient, clinic: Clinic):
    response = fhir.get(f"/Patient/{clinic.patient_id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["identifier"] == [
        {"system": "http://testserver/fhir/sid/identifier", "value": "MRN-1001"}
    ]
    assert body["name"] == [{"family": "Okafor", "given": ["Maya"]}]
    assert body["telecom"] == [
        {"system": "phone", "value": "6175550123"},
        {"system": "email", "value": "maya@example.com"},
    ]
    assert body["birthDate"] == "1984-05-17"
    assert body["address"] == [
        {
            "line": ["1 Harbor Way"],
            "city": "Boston",
            "state": "MA",
            "postalCode": "02110",
            "country": "US",
        }
    ]
    assert body["managingOrganization"] == {"reference": f"Organization/{clinic.practice_id}"}
    assert response.headers["etag"] == f'W/"{body["meta"]["versionId"]}"'
    again = fhir.get(
        f"/Patient/{clinic.patient_id}", headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("params", "who"),
    [
        ({"identifier": "MRN-1001"}, {"maya"}),
        ({"identifier": "http://testserver/fhir/sid/identifier|MRN-1001"}, {"maya"}),
        ({"identifier": "http://other.example/mrn|MRN-1001"}, set()),
        ({"name": "oka"}, {"maya"}),
        ({"name": "THEO"}, {"theo"}),
        ({"name": "z"}, set()),
        ({"birthdate": "1984-05-17"}, {"maya"}),
        ({"birthdate": "1999-01-01"}, set()),
        ({"telecom": "MAYA@example.com"}, {"maya"}),
        ({"telecom": "email|maya@example.com"}, {"maya"}),
        ({"telecom": "phone|(617) 555-0123"}, {"maya"}),
        ({"telecom": "+16175550123"}, {"maya"}),
        ({"telecom": "fax|6175550123"}, set()),
        ({"name": "maya", "birthdate": "1984-05-17"}, {"maya"}),
    ],
)
def test_patient_search_parameters(fhir: FhirClient, clinic: Clinic, params, who):
    body = patients(fhir, **params)
    expected = {
        {"maya": str(clinic.patient_id), "theo": str(clinic.second_patient_id)}[w] for w in who
    }
    assert ids_of(body) == expected
    assert body["total"] == len(expected)
    # Never the other practice's Maya Okafor.
    assert str(clinic.foreign_patient_id) not in ids_of(body)


def test_patient_search_pages_and_counts(fhir: FhirClient, clinic: Clinic):
    first = patients(fhir, _count=1)
    assert first["total"] == 2
    assert {link["relation"] for link in first["link"]} == {"self", "next"}
    assert patients(fhir, _summary="count")["total"] == 2
    trimmed = patients(fhir, _elements="name")["entry"][0]["resource"]
    assert "telecom" not in trimmed and "name" in trimmed


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"birthdate": "ge1984-05-17"}, "not-supported"),
        ({"birthdate": "1984"}, "not-supported"),
        ({"birthdate": "17/05/1984"}, "value"),
        ({"family": "Okafor"}, "invalid"),
        ({"_sort": "name"}, "invalid"),
    ],
)
def test_patient_search_refusals(fhir: FhirClient, params, code):
    strict = {"Prefer": "handling=strict"}
    response = fhir.get("/Patient", params=params, headers=strict)
    assert outcome(response, 400)["issue"][0]["code"] == code


@pytest.mark.parametrize("which", ["foreign", "bogus"])
def test_another_practices_patient_is_not_found(fhir: FhirClient, clinic: Clinic, which):
    patient_id = str(clinic.foreign_patient_id) if which == "foreign" else "example"
    assert outcome(fhir.get(f"/Patient/{patient_id}"), 404)["issue"][0]["code"] == "not-found"


def test_a_prescriber_reads_as_a_practitioner(fhir: FhirClient, clinic: Clinic):
    body = fhir.get(f"/Practitioner/{clinic.prescriber_id}").json()
    assert body["name"] == [{"family": "Ruiz", "given": ["Ana"]}]
    assert body["active"] is True
    assert body["telecom"] == [{"system": "email", "value": "ana@example.com"}]
    assert outcome(fhir.get(f"/Practitioner/{clinic.foreign_prescriber_id}"), 404)
    assert outcome(fhir.get("/Practitioner/example"), 404)


def test_the_practice_reads_as_an_organization(fhir: FhirClient, clinic: Clinic):
    body = fhir.get(f"/Organization/{clinic.practice_id}").json()
    assert body == body | {"id": str(clinic.practice_id), "name": "Harbor Optical", "active": True}
    assert outcome(fhir.get(f"/Organization/{clinic.other_practice_id}"), 404)
    assert outcome(fhir.get("/Organization/harbor"), 404)


@pytest.mark.parametrize(
    ("scope", "path", "allowed"),
    [
        ("system/Patient.rs", "/Patient", True),
        ("system/Patient.rs", "/VisionPrescription", False),
        ("system/Practitioner.rs", "/Practitioner/{prescriber}", True),
        ("system/Practitioner.rs", "/Patient/{patient}", False),
        ("system/Organization.rs", "/Organization/{practice}", True),
        ("system/Organization.rs", "/Practitioner/{prescriber}", False),
        ("system/VisionPrescription.rs", "/VisionPrescription", True),
        ("system/VisionPrescription.rs", "/Patient", False),
        ("system/*.rs", "/Organization/{practice}", True),
    ],
)
def test_each_resource_needs_its_scope(scoped, clinic: Clinic, scope, path, allowed):
    client = scoped(scope)
    url = path.format(
        prescriber=clinic.prescriber_id, patient=clinic.patient_id, practice=clinic.practice_id
    )
    response = client.get(url)
    if allowed:
        assert response.status_code == 200, response.text
    else:
        body = outcome(response, 403)
        assert body["issue"][0]["code"] == "forbidden"
        assert "insufficient_scope" in response.headers["www-authenticate"]
