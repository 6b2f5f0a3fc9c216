"""POST /fhir/r5/VisionPrescription: HL7's own examples import and read back with the same
clinical content; every refusal is an OperationOutcome naming the element, with the status
docs/fhir.md gives, and writes nothing."""

from __future__ import annotations

import copy
from decimal import Decimal
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

from optihub.db.models import AuditEntry, Prescription

CLINICAL = ("eye", "sphere", "cylinder", "axis", "add", "power", "backCurve", "diameter")


def clinical(spec: dict[str, Any]) -> dict[str, Any]:
    """What a lensSpecification says of the lens, numbers as decimals."""
    out: dict[str, Any] = {}
    for name in CLINICAL:
        if name in spec:
            value = spec[name]
            out[name] = value if isinstance(value, str) else Decimal(str(value))
    out["product"] = spec["product"]["coding"][0]["code"]
    out["prism"] = sorted((Decimal(str(p["amount"])), p["base"]) for p in spec.get("prism", []))
    if "duration" in spec:
        out["duration"] = (Decimal(str(spec["duration"]["value"])), spec["duration"]["code"])
    for name in ("color", "brand"):
        if name in spec:
            out[name] = spec[name]
    out["note"] = [n["text"] for n in spec.get("note", [])]
    return out


def count_rows(db) -> int:
    with db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(Prescription)) or 0)


@pytest.mark.parametrize(
    "name", ["r5-VisionPrescription-33123.json", "r5-VisionPrescription-33124.json"]
)
def test_hl7s_examples_import_and_read_back_with_the_same_clinical_content(
    fhir: FhirClient, clinic: Clinic, testdata: Path, name: str
):
    example = hl7_example(testdata, name)
    body = example_for(example, f"Patient/{clinic.patient_id}")
    created = fhir.post("/VisionPrescription", body)
    assert created.status_code == 201, created.text
    resource = created.json()
    location = created.headers["location"]
    assert location == (
        f"http://testserver/fhir/r5/VisionPrescription/{resource['id']}"
        f"/_history/{resource['meta']['versionId']}"
    )
    assert created.headers["etag"] == f'W/"{resource["meta"]["versionId"]}"'
    read = fhir.get(f"/VisionPrescription/{resource['id']}").json()
    assert read == resource
    assert [clinical(s) for s in read["lensSpecification"]] == [
        clinical(s) for s in example["lensSpecification"]
    ]
    assert read["dateWritten"] == example["dateWritten"]
    assert read["status"] == example["status"]
    assert read["identifier"][0]["value"] == example["identifier"][0]["value"]
    assert read["patient"]["reference"] == f"Patient/{clinic.patient_id}"
    assert read["prescriber"] == {"display": "Dr. Adam Careful"}


def test_a_prescriber_on_staff_is_referenced(fhir: FhirClient, clinic: Clinic, testdata: Path):
    body = example_for(
        hl7_example(testdata, "r5-VisionPrescription-33123.json"),
        f"Patient/{clinic.patient_id}",
        {"reference": f"Practitioner/{clinic.prescriber_id}"},
    )
    created = fhir.post("/VisionPrescription", body)
    assert created.status_code == 201, created.text
    assert created.json()["prescriber"]["reference"] == f"Practitioner/{clinic.prescriber_id}"
    found = fhir.get(
        "/VisionPrescription",
        params={"prescriber": str(clinic.prescriber_id), "datewritten": "2014"},
    ).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [created.json()["id"]]


def test_measures_and_expiry_travel_as_the_declared_extensions(fhir: FhirClient, clinic: Clinic):
    ext = "http://testserver/fhir/StructureDefinition/"
    body = {
        "resourceType": "VisionPrescription",
        "status": "active",
        "created": "2026-03-01",
        "patient": {"reference": f"Patient/{clinic.patient_id}"},
        "dateWritten": "2026-03-01",
        "prescriber": {"display": "Dr. Ruiz"},
        "extension": [{"url": ext + "prescription-expiry", "valueDate": "2028-03-01"}],
        "lensSpecification": [
            {
                "product": {"coding": [{"code": "lens"}]},
                "eye": "right",
                "sphere": 1.25,
                "add": 2.5,
                "prism": [{"amount": 2, "base": "out"}, {"amount": 1.5, "base": "up"}],
                "extension": [
                    {"url": ext + "distance-pd", "valueDecimal": 32.5},
                    {"url": ext + "near-pd", "valueDecimal": 31},
                    {"url": ext + "segment-height", "valueDecimal": 19.5},
                    {"url": ext + "oc-height", "valueDecimal": 24},
                ],
                "note": [{"text": "Computer\nglasses"}],
            }
        ],
    }
    created = fhir.post("/VisionPrescription", body)
    assert created.status_code == 201, created.text
    read = created.json()
    [spec] = read["lensSpecification"]
    assert {e["url"]: Decimal(str(e["valueDecimal"])) for e in spec["extension"]} == {
        ext + "distance-pd": Decimal("32.5"),
        ext + "near-pd": Decimal("31"),
        ext + "segment-height": Decimal("19.5"),
        ext + "oc-height": Decimal("24"),
    }
    assert read["extension"] == [{"url": ext + "prescription-expiry", "valueDate": "2028-03-01"}]
    assert spec["note"] == [{"text": "Computer glasses"}]
    assert clinical(spec)["prism"] == [(Decimal("1.5"), "up"), (Decimal("2"), "out")]


def _spectacles(clinic: Clinic, **right: Any) -> dict[str, Any]:
    return {
        "resourceType": "VisionPrescription",
        "status": "active",
        "created": "2026-03-01",
        "patient": {"reference": f"Patient/{clinic.patient_id}"},
        "dateWritten": "2026-03-01",
        "prescriber": {"display": "Dr. Ruiz"},
        "lensSpecification": [
            {"product": {"coding": [{"code": "lens"}]}, "eye": "left", "sphere": -1},
            {"product": {"coding": [{"code": "lens"}]}, "eye": "right", "sphere": -2} | right,
        ],
    }


@pytest.mark.parametrize(
    ("right", "expression"),
    [
        ({"cylinder": -0.75}, "VisionPrescription.lensSpecification[1].axis"),
        ({"axis": 90}, "VisionPrescription.lensSpecification[1].cylinder"),
        ({"sphere": -31}, "VisionPrescription.lensSpecification[1].sphere"),
        ({"cylinder": -21, "axis": 90}, "VisionPrescription.lensSpecification[1].cylinder"),
        ({"cylinder": -1, "axis": 181}, "VisionPrescription.lensSpecification[1].axis"),
        ({"add": 6}, "VisionPrescription.lensSpecification[1].add"),
        (
            {"prism": [{"amount": 60, "base": "in"}]},
            "VisionPrescription.lensSpecification[1].prism[0].amount",
        ),
        (
            {"prism": [{"amount": 1, "base": "up"}, {"amount": 1, "base": "down"}]},
            "VisionPrescription.lensSpecification[1].prism[1]",
        ),
        ({"power": -2}, "VisionPrescription.lensSpecification[1].power"),
        ({"backCurve": 8.6}, "VisionPrescription.lensSpecification[1].backCurve"),
        ({"brand": "Acuvue"}, "VisionPrescription.lensSpecification[1].brand"),
        ({"eye": "left"}, "VisionPrescription.lensSpecification[1].eye"),
        (
            {
                "extension": [
                    {
                        "url": "http://testserver/fhir/StructureDefinition/distance-pd",
                        "valueDecimal": 64,
                    }
                ]
            },
            "VisionPrescription.lensSpecification[1]"
            ".extension('http://testserver/fhir/StructureDefinition/distance-pd')",
        ),
    ],
)
def test_the_core_rx_rules_refuse_with_a_422_naming_the_element(
    fhir: FhirClient, clinic: Clinic, db, right, expression
):
    before = count_rows(db)
    body = outcome(fhir.post("/VisionPrescription", _spectacles(clinic, **right)), 422)
    assert expression in expressions(body), body
    assert all(issue["code"] == "business-rule" for issue in body["issue"])
    assert count_rows(db) == before


def test_a_contact_lens_rx_runs_the_contact_lens_rules(fhir: FhirClient, clinic: Clinic, db):
    body = {
        **_spectacles(clinic),
        "lensSpecification": [
            {
                "product": {"coding": [{"code": "contact"}]},
                "eye": "right",
                "power": -2,
                "backCurve": 11.5,
                "diameter": 14,
                "sphere": -2,
            }
        ],
    }
    refused = outcome(fhir.post("/VisionPrescription", body), 422)
    assert "VisionPrescription.lensSpecification[0].sphere" in expressions(refused)
    body["lensSpecification"][0].pop("sphere")
    refused = outcome(fhir.post("/VisionPrescription", body), 422)
    assert expressions(refused) == ["VisionPrescription.lensSpecification[0].backCurve"]
    assert count_rows(db) == 6


def test_spectacles_and_contacts_in_one_prescription_are_refused(fhir: FhirClient, clinic: Clinic):
    body = _spectacles(clinic)
    body["lensSpecification"][0]["product"] = {"coding": [{"code": "contact"}]}
    refused = outcome(fhir.post("/VisionPrescription", body), 422)
    assert "VisionPrescription.lensSpecification" in expressions(refused)


@pytest.mark.parametrize(
    ("change", "expression"),
    [
        ({"status": "draft"}, "VisionPrescription.status"),
        (
            {"patient": {"reference": "Patient/00000000-0000-4000-8000-000000000000"}},
            "VisionPrescription.patient",
        ),
        ({"patient": {"reference": "Patient/example"}}, "VisionPrescription.patient"),
        ({"prescriber": {"reference": "Practitioner/example"}}, "VisionPrescription.prescriber"),
        ({"dateWritten": "2026-03"}, "VisionPrescription.dateWritten"),
        (
            {"lensSpecification": [{"product": {"coding": [{"code": "frame"}]}, "eye": "right"}]},
            "VisionPrescription.lensSpecification[0].product",
        ),
    ],
)
def test_business_refusals_are_422_with_the_element(fhir, clinic: Clinic, db, change, expression):
    refused = outcome(fhir.post("/VisionPrescription", _spectacles(clinic) | change), 422)
    assert expression in expressions(refused)
    assert count_rows(db) == 6


def test_another_practices_patient_and_prescriber_are_refused(fhir, clinic: Clinic, db):
    foreign = _spectacles(clinic) | {
        "patient": {"reference": f"Patient/{clinic.foreign_patient_id}"}
    }
    assert "VisionPrescription.patient" in expressions(
        outcome(fhir.post("/VisionPrescription", foreign), 422)
    )
    stranger = _spectacles(clinic) | {
        "prescriber": {"reference": f"Practitioner/{clinic.foreign_prescriber_id}"}
    }
    assert "VisionPrescription.prescriber" in expressions(
        outcome(fhir.post("/VisionPrescription", stranger), 422)
    )
    assert count_rows(db) == 6


@pytest.mark.parametrize(
    ("body", "code", "expression"),
    [
        (b"{not json", "structure", None),
        ({"resourceType": "Patient"}, "structure", "VisionPrescription.resourceType"),
        ({"status": "bogus"}, "code-invalid", "VisionPrescription.status"),
        ({"unknownElement": 1}, "structure", "VisionPrescription.unknownElement"),
        (
            {"lensSpecification": [{"product": {"coding": [{"code": "lens"}]}, "eye": "both"}]},
            "code-invalid",
            "VisionPrescription.lensSpecification[0].eye",
        ),
        (
            {
                "lensSpecification": [
                    {
                        "product": {"coding": [{"code": "lens"}]},
                        "eye": "right",
                        "prism": [{"amount": 1, "base": "sideways"}],
                    }
                ]
            },
            "code-invalid",
            "VisionPrescription.lensSpecification[0].prism[0].base",
        ),
        (
            {
                "lensSpecification": [
                    {"product": {"coding": [{"code": "lens"}]}, "eye": "right", "cylinder": "lots"}
                ]
            },
            "structure",
            "VisionPrescription.lensSpecification[0].cylinder",
        ),
    ],
)
def test_malformed_resources_are_400_naming_the_element(
    fhir, clinic: Clinic, db, body, code, expression
):
    sent = body if isinstance(body, bytes) else _spectacles(clinic) | body
    refused = outcome(fhir.post("/VisionPrescription", sent), 400)
    assert refused["issue"][0]["code"] in (code, "invalid")
    if expression is not None:
        assert expressions(refused) == [expression]
        assert refused["issue"][0]["code"] == code
    assert count_rows(db) == 6


def test_the_body_must_be_fhir_json(fhir: FhirClient, clinic: Clinic):
    as_json = fhir.post(
        "/VisionPrescription", _spectacles(clinic), headers={"Content-Type": "application/json"}
    )
    assert as_json.status_code == 201, as_json.text
    as_xml = fhir.post(
        "/VisionPrescription",
        b"<VisionPrescription/>",
        headers={"Content-Type": "application/fhir+xml"},
    )
    assert outcome(as_xml, 415)["issue"][0]["code"] == "not-supported"


def test_an_import_is_audited_as_the_fhir_app(fhir: FhirClient, clinic: Clinic, db):
    created = fhir.post("/VisionPrescription", _spectacles(clinic))
    assert created.status_code == 201
    with db.transaction() as s:
        entry = s.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "prescription.created")
            .order_by(AuditEntry.id.desc())
        ).first()
        assert entry is not None
        assert entry.via == "fhir"
        assert entry.actor_client_id == clinic.client_id


def test_creating_needs_the_create_scope(scoped, clinic: Clinic, db):
    reader = scoped("system/VisionPrescription.rs")
    refused = outcome(reader.post("/VisionPrescription", _spectacles(clinic)), 403)
    assert refused["issue"][0]["code"] == "forbidden"
    creator = scoped("system/VisionPrescription.c")
    assert (
        creator.post("/VisionPrescription", copy.deepcopy(_spectacles(clinic))).status_code == 201
    )
    assert outcome(creator.get("/VisionPrescription"), 403)["issue"][0]["code"] == "forbidden"
    assert count_rows(db) == 7


def test_an_expiry_before_the_issue_date_names_the_expiry_extension(fhir, clinic: Clinic, db):
    url = "http://testserver/fhir/StructureDefinition/prescription-expiry"
    body = _spectacles(clinic) | {"extension": [{"url": url, "valueDate": "2025-01-01"}]}
    refused = outcome(fhir.post("/VisionPrescription", body), 422)
    assert expressions(refused) == [f"VisionPrescription.extension('{url}')"]
    assert count_rows(db) == 6


def test_modifier_extensions_are_refused_and_other_extensions_ignored(fhir, clinic: Clinic, db):
    unknown = {"url": "http://ehr.example/fhir/StructureDefinition/room", "valueString": "3"}
    ignored = fhir.post("/VisionPrescription", _spectacles(clinic) | {"extension": [unknown]})
    assert ignored.status_code == 201, ignored.text
    assert "extension" not in ignored.json()
    body = _spectacles(clinic) | {"modifierExtension": [unknown]}
    refused = outcome(fhir.post("/VisionPrescription", body), 422)
    assert expressions(refused) == ["VisionPrescription.modifierExtension"]
    assert count_rows(db) == 7


def test_a_contact_lens_duration_needs_a_value_and_a_unit(fhir, clinic: Clinic, db):
    spec = {
        "product": {"coding": [{"code": "contact"}]},
        "eye": "right",
        "power": -2,
        "duration": {"value": 1},
    }
    body = _spectacles(clinic) | {"lensSpecification": [spec]}
    refused = outcome(fhir.post("/VisionPrescription", body), 422)
    assert expressions(refused) == ["VisionPrescription.lensSpecification[0].duration"]
    spec["duration"] = {"value": 6, "unit": "months", "code": "mo"}
    stored = fhir.post("/VisionPrescription", body)
    assert stored.status_code == 201, stored.text
    assert stored.json()["lensSpecification"][0]["duration"]["code"] == "mo"
