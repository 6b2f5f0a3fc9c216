"""POST /fhir/r5 (and /fhir/r5/Bundle) with a transaction Bundle: Patient entries matched by
identifier or created, prescriptions referencing them by urn:uuid, all or nothing."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.api.fhir.conftest import (
    Clinic,
    FhirClient,
    example_for,
    expressions,
    hl7_example,
    outcome,
)

from optihub.db.models import Patient, Prescription


def counts(db) -> tuple[int, int]:
    with db.transaction() as s:
        patients = s.scalar(select(func.count()).select_from(Patient)) or 0
        prescriptions = s.scalar(select(func.count()).select_from(Prescription)) or 0
    return int(patients), int(prescriptions)


def patient_entry(full_url: str, mrn: str, family: str = "Lindqvist") -> dict[str, Any]:
    return {
        "fullUrl": full_url,
        "resource": {
            "resourceType": "Patient",
            "identifier": [{"system": "http://clinic.example/mrn", "value": mrn}],
            "name": [{"family": family, "given": ["Elin"]}],
            "telecom": [
                {"system": "email", "value": "elin@example.com"},
                {"system": "phone", "value": "6175550199"},
            ],
            "birthDate": "1991-02-03",
            "address": [
                {"line": ["5 Elm St"], "city": "Salem", "state": "MA", "postalCode": "01970"}
            ],
        },
        "request": {"method": "POST", "url": "Patient"},
    }


def rx_entry(example: dict[str, Any], patient_ref: str) -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:{uuid.uuid4()}",
        "resource": example_for(example, patient_ref),
        "request": {"method": "POST", "url": "VisionPrescription"},
    }


def bundle(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


@pytest.mark.parametrize("path", ["", "/Bundle"])
def test_a_transaction_creates_the_patient_and_both_prescriptions(
    fhir: FhirClient, clinic: Clinic, testdata: Path, db, path: str
):
    spectacles = hl7_example(testdata, "r5-VisionPrescription-33123.json")
    contacts = hl7_example(testdata, "r5-VisionPrescription-33124.json")
    urn = f"urn:uuid:{uuid.uuid4()}"
    sent = bundle(rx_entry(spectacles, urn), patient_entry(urn, "MRN-77"), rx_entry(contacts, urn))
    before = counts(db)
    answer = fhir.post(path, sent)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["type"] == "transaction-response"
    statuses = [entry["response"]["status"] for entry in body["entry"]]
    assert statuses == ["201 Created", "201 Created", "201 Created"]
    assert counts(db) == (before[0] + 1, before[1] + 2)
    patient = body["entry"][1]["resource"]
    assert patient["name"] == [{"family": "Lindqvist", "given": ["Elin"]}]
    assert patient["birthDate"] == "1991-02-03"
    for index in (0, 2):
        prescription = body["entry"][index]["resource"]
        assert prescription["patient"] == {"reference": f"Patient/{patient['id']}"}
        location = body["entry"][index]["response"]["location"]
        read = fhir.get(location.removeprefix("http://testserver/fhir/r5").split("/_history")[0])
        assert read.status_code == 200
        assert read.json() == prescription


def test_a_patient_entry_matches_the_practices_patient_by_identifier(
    fhir: FhirClient, clinic: Clinic, testdata: Path, db
):
    urn = f"urn:uuid:{uuid.uuid4()}"
    example = hl7_example(testdata, "r5-VisionPrescription-33123.json")
    before = counts(db)
    answer = fhir.post("", bundle(patient_entry(urn, "MRN-1001"), rx_entry(example, urn)))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["entry"][0]["response"]["status"] == "200 OK"
    assert body["entry"][0]["resource"]["id"] == str(clinic.patient_id)
    assert body["entry"][1]["resource"]["patient"]["reference"] == f"Patient/{clinic.patient_id}"
    assert counts(db) == (before[0], before[1] + 1)


def test_a_prescription_may_reference_an_existing_patient(fhir, clinic: Clinic, testdata: Path):
    example = hl7_example(testdata, "r5-VisionPrescription-33124.json")
    answer = fhir.post("", bundle(rx_entry(example, f"Patient/{clinic.second_patient_id}")))
    assert answer.status_code == 200, answer.text


def test_one_bad_entry_writes_nothing_at_all(fhir: FhirClient, clinic: Clinic, testdata: Path, db):
    urn = f"urn:uuid:{uuid.uuid4()}"
    good = hl7_example(testdata, "r5-VisionPrescription-33123.json")
    bad = hl7_example(testdata, "r5-VisionPrescription-33123.json")
    bad["lensSpecification"][1]["axis"] = 200
    before = counts(db)
    refused = outcome(
        fhir.post(
            "", bundle(patient_entry(urn, "MRN-88"), rx_entry(good, urn), rx_entry(bad, urn))
        ),
        422,
    )
    assert expressions(refused) == ["Bundle.entry[2].resource.lensSpecification[1].axis"]
    assert counts(db) == before


def test_a_patient_entry_breaking_the_patient_rules_names_its_element(fhir, clinic: Clinic, db):
    urn = f"urn:uuid:{uuid.uuid4()}"
    entry = patient_entry(urn, "MRN-99")
    entry["resource"]["name"] = [{"family": "Lindqvist"}]
    entry["resource"]["telecom"] = [{"system": "email", "value": "not-an-email"}]
    before = counts(db)
    refused = outcome(fhir.post("", bundle(entry)), 422)
    assert set(expressions(refused)) == {
        "Bundle.entry[0].resource.name[0].given[0]",
        "Bundle.entry[0].resource.telecom",
    }
    assert counts(db) == before


def test_an_unknown_urn_is_refused(fhir, clinic: Clinic, testdata: Path, db):
    example = hl7_example(testdata, "r5-VisionPrescription-33123.json")
    refused = outcome(fhir.post("", bundle(rx_entry(example, "urn:uuid:nobody"))), 422)
    assert expressions(refused) == ["Bundle.entry[0].resource.patient"]


@pytest.mark.parametrize(
    ("sent", "expression", "code"),
    [
        ({"resourceType": "Bundle", "type": "batch", "entry": []}, "Bundle.type", "not-supported"),
        ({"resourceType": "Parameters"}, "Bundle.resourceType", "structure"),
        (
            {"resourceType": "Bundle", "type": "transaction", "entry": []},
            "Bundle.entry",
            "structure",
        ),
        (
            {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [
                    {
                        "resource": {"resourceType": "Patient"},
                        "request": {"method": "PUT", "url": "Patient/1"},
                    }
                ],
            },
            "Bundle.entry[0].request",
            "not-supported",
        ),
        (
            {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [{"request": {"method": "POST", "url": "Patient"}}],
            },
            "Bundle.entry[0].resource",
            "structure",
        ),
        (
            {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [
                    {
                        "resource": {"resourceType": "Patient", "gender": 7},
                        "request": {"method": "POST", "url": "Patient"},
                    }
                ],
            },
            "Bundle.entry[0].resource.gender",
            "structure",
        ),
    ],
)
def test_malformed_bundles_are_400(fhir, clinic: Clinic, db, sent, expression, code):
    before = counts(db)
    refused = outcome(fhir.post("", sent), 400)
    assert expressions(refused) == [expression]
    assert refused["issue"][0]["code"] == code
    assert counts(db) == before


def test_a_transaction_needs_the_create_scope(scoped, clinic: Clinic, testdata: Path, db):
    reader = scoped("system/*.rs")
    example = hl7_example(testdata, "r5-VisionPrescription-33123.json")
    refused = outcome(
        reader.post("", bundle(rx_entry(example, f"Patient/{clinic.patient_id}"))), 403
    )
    assert refused["issue"][0]["code"] == "forbidden"
