"""VisionPrescription read and search: the mapping of every field the core keeps, the
search parameters (docs/fhir.md), paging, result parameters, ETags and tenancy."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from tests.api.fhir.conftest import (
    ISSUE_DATES,
    Clinic,
    FhirClient,
    expressions,
    outcome,
)

PUBLIC = "http://testserver"  # OPTIHUB_PUBLIC_URL of the test settings
EXT = f"{PUBLIC}/fhir/StructureDefinition/"


def ids_of(bundle: dict[str, Any]) -> list[str]:
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def search(fhir: FhirClient, **params: Any) -> dict[str, Any]:
    response = fhir.get("/VisionPrescription", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["type"] == "searchset"
    return body


def ext(spec: dict[str, Any], name: str) -> Decimal:
    [value] = [e["valueDecimal"] for e in spec.get("extension", []) if e["url"] == EXT + name]
    return Decimal(str(value))


def test_a_spectacle_prescription_maps_every_field_the_core_keeps(fhir, clinic: Clinic):
    rx_id = clinic.prescriptions[0]
    response = fhir.get(f"/VisionPrescription/{rx_id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == str(rx_id)
    assert body["status"] == "active"
    assert body["dateWritten"] == ISSUE_DATES[0].isoformat()
    assert body["patient"] == {"reference": f"Patient/{clinic.patient_id}"}
    assert body["prescriber"] == {
        "reference": f"Practitioner/{clinic.prescriber_id}",
        "display": "Dr. Ana Ruiz, OD",
    }
    assert body["identifier"] == [{"system": f"{PUBLIC}/fhir/sid/identifier", "value": "RX-0"}]
    assert body["extension"] == [{"url": EXT + "prescription-expiry", "valueDate": "2027-11-01"}]
    right, left = body["lensSpecification"]
    assert right["eye"] == "right" and left["eye"] == "left"
    assert right["product"]["coding"][0]["code"] == "lens"
    assert Decimal(str(right["sphere"])) == Decimal("-2.25")
    assert Decimal(str(right["cylinder"])) == Decimal("-0.75")
    assert right["axis"] == 90
    assert Decimal(str(right["add"])) == 2
    assert [(Decimal(str(p["amount"])), p["base"]) for p in right["prism"]] == [
        (Decimal("1"), "in"),
        (Decimal("0.5"), "down"),
    ]
    assert ext(right, "distance-pd") == Decimal("31.5")
    assert ext(right, "near-pd") == 30
    assert ext(right, "segment-height") == 18
    assert ext(right, "oc-height") == 22
    assert Decimal(str(left["sphere"])) == Decimal("-1.75")
    assert "cylinder" not in left and "prism" not in left
    # Measures are written as the core keeps them, two decimals, never as a float's digits.
    assert '"sphere":-2.25' in response.text
    assert response.headers["etag"] == f'W/"{body["meta"]["versionId"]}"'


def test_a_contact_lens_prescription_maps_power_curve_diameter_brand_and_notes(
    fhir, clinic: Clinic
):
    body = fhir.get(f"/VisionPrescription/{clinic.contact_lens_id}").json()
    right, left = body["lensSpecification"]
    assert right["product"]["coding"][0]["code"] == "contact"
    assert Decimal(str(right["power"])) == Decimal("-2.75")
    assert "sphere" not in right
    assert Decimal(str(right["backCurve"])) == Decimal("8.6")
    assert Decimal(str(right["diameter"])) == Decimal("14.2")
    assert right["brand"] == "Acuvue Oasys"
    assert right["color"] == "blue"
    assert right["duration"]["code"] == "wk" and right["duration"]["value"] == 2
    assert right["duration"]["system"] == "http://unitsofmeasure.org"
    # A notes line about the whole prescription is a note of each eye.
    assert right["note"] == [{"text": "Refit in a year"}]
    assert left["note"] == [{"text": "Refit in a year"}]
    assert (Decimal(str(left["cylinder"])), left["axis"]) == (Decimal("-0.75"), 180)
    assert "color" not in left


def test_references_in_a_prescription_resolve(fhir, clinic: Clinic):
    body = fhir.get(f"/VisionPrescription/{clinic.prescriptions[0]}").json()
    patient = fhir.get("/" + body["patient"]["reference"])
    assert patient.status_code == 200, patient.text
    assert patient.json()["resourceType"] == "Patient"
    prescriber = fhir.get("/" + body["prescriber"]["reference"])
    assert prescriber.status_code == 200, prescriber.text
    assert prescriber.json()["name"][0]["family"] == "Ruiz"
    organization = fhir.get("/" + patient.json()["managingOrganization"]["reference"])
    assert organization.status_code == 200
    assert organization.json()["name"] == "Harbor Optical"


def test_a_prescriber_known_by_name_only_is_a_display(fhir, clinic: Clinic):
    body = fhir.get(f"/VisionPrescription/{clinic.prescriptions[3]}").json()
    assert body["prescriber"] == {"display": "Dr. Walk-in"}


@pytest.mark.parametrize("which", ["foreign", "missing", "not-a-uuid"])
def test_another_practices_prescription_is_not_found(fhir, clinic: Clinic, which: str):
    rx_id = {
        "foreign": str(clinic.foreign_prescription_id),
        "missing": "00000000-0000-4000-8000-000000000000",
        "not-a-uuid": "33123",
    }[which]
    body = outcome(fhir.get(f"/VisionPrescription/{rx_id}"), 404)
    assert body["issue"][0]["code"] == "not-found"


def test_if_none_match_answers_304_while_the_version_holds(fhir, clinic: Clinic):
    first = fhir.get(f"/VisionPrescription/{clinic.prescriptions[0]}")
    etag = first.headers["etag"]
    again = fhir.get(
        f"/VisionPrescription/{clinic.prescriptions[0]}", headers={"If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.content == b""
    other = fhir.get(
        f"/VisionPrescription/{clinic.prescriptions[0]}", headers={"If-None-Match": 'W/"1"'}
    )
    assert other.status_code == 200


def test_search_lists_the_practice_only_newest_first_with_total_and_self(fhir, clinic: Clinic):
    body = search(fhir)
    expected = [str(i) for i in reversed(clinic.prescriptions)] + [str(clinic.contact_lens_id)]
    assert ids_of(body) == expected
    assert body["total"] == 5
    assert str(clinic.foreign_prescription_id) not in ids_of(body)
    [link] = body["link"]
    assert link["relation"] == "self"
    for entry in body["entry"]:
        assert entry["fullUrl"] == f"{PUBLIC}/fhir/r5/VisionPrescription/{entry['resource']['id']}"
        assert entry["search"] == {"mode": "match"}


def test_search_by_patient_as_reference_or_bare_id(fhir, clinic: Clinic):
    expected = {
        str(clinic.prescriptions[0]),
        str(clinic.prescriptions[2]),
        str(clinic.contact_lens_id),
    }
    assert set(ids_of(search(fhir, patient=f"Patient/{clinic.patient_id}"))) == expected
    assert set(ids_of(search(fhir, patient=str(clinic.patient_id)))) == expected
    assert search(fhir, patient=str(clinic.foreign_patient_id))["total"] == 0
    assert search(fhir, patient="unknown")["total"] == 0


def test_search_by_prescriber(fhir, clinic: Clinic):
    found = search(fhir, prescriber=f"Practitioner/{clinic.prescriber_id}")
    assert set(ids_of(found)) == {str(i) for i in clinic.prescriptions[:3]} | {
        str(clinic.contact_lens_id)
    }
    assert search(fhir, prescriber=str(clinic.foreign_prescriber_id))["total"] == 0


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["2026"], [1, 2, 3]),
        (["eq2026-03"], [2, 3]),
        (["2026-03-01"], [2]),
        (["ne2026-03"], [0, 1, "contact"]),
        (["gt2026-01-05"], [2, 3]),
        (["ge2026-01-05"], [1, 2, 3]),
        (["lt2026"], [0, "contact"]),
        (["le2026-01"], [0, 1, "contact"]),
        (["ge2026-01", "lt2026-03-31"], [1, 2]),
        (["gt2026", "lt2025"], []),
    ],
)
def test_search_by_datewritten_prefixes_and_partial_dates(fhir, clinic: Clinic, values, expected):
    found = search(fhir, datewritten=values, _count=100)
    ids = {
        str(clinic.contact_lens_id) if n == "contact" else str(clinic.prescriptions[n])
        for n in expected
    }
    assert set(ids_of(found)) == ids
    assert found["total"] == len(ids)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("sa2026", "not-supported"),
        ("2026-13", "value"),
        ("yesterday", "not-supported"),
        ("20", "value"),
    ],
)
def test_a_datewritten_that_is_no_date_is_refused(fhir, value, code):
    body = outcome(fhir.get("/VisionPrescription", params={"datewritten": value}), 400)
    assert body["issue"][0]["code"] == code
    assert "datewritten" in body["issue"][0]["diagnostics"]


def test_search_by_status(fhir, clinic: Clinic):
    assert search(fhir, status="active")["total"] == 5
    assert search(fhir, status="draft")["total"] == 0
    assert search(fhir, status="cancelled,active")["total"] == 5
    body = outcome(fhir.get("/VisionPrescription", params={"status": "bogus"}), 400)
    assert body["issue"][0]["code"] == "code-invalid"


def test_sort_by_datewritten_both_ways(fhir, clinic: Clinic):
    oldest = ids_of(search(fhir, _sort="datewritten"))
    assert oldest == [str(clinic.contact_lens_id)] + [str(i) for i in clinic.prescriptions]
    assert ids_of(search(fhir, _sort="-datewritten")) == list(reversed(oldest))
    body = outcome(fhir.get("/VisionPrescription", params={"_sort": "patient"}), 400)
    assert body["issue"][0]["code"] == "not-supported"


def test_paging_follows_next_and_previous_links_stably(fhir, clinic: Clinic):
    first = search(fhir, _count=2)
    links = {link["relation"]: link["url"] for link in first["link"]}
    assert set(links) == {"self", "next"}
    seen = ids_of(first)
    page = first
    while "next" in {link["relation"] for link in page["link"]}:
        url = next(link["url"] for link in page["link"] if link["relation"] == "next")
        assert url.startswith(f"{PUBLIC}/fhir/r5/VisionPrescription?")
        assert "_count=2" in url
        page = fhir.get(url.removeprefix(f"{PUBLIC}/fhir/r5")).json()
        assert page["total"] == 5
        seen += ids_of(page)
    assert seen == ids_of(search(fhir, _count=100))
    last_links = {link["relation"]: link["url"] for link in page["link"]}
    assert set(last_links) == {"self", "previous"}
    previous = fhir.get(last_links["previous"].removeprefix(f"{PUBLIC}/fhir/r5")).json()
    assert ids_of(previous) == seen[2:4]
    # The same page asked again is the same page.
    assert ids_of(search(fhir, _count=2, _offset=2)) == seen[2:4]


def test_filters_carry_into_the_paging_links(fhir, clinic: Clinic):
    body = search(fhir, patient=str(clinic.patient_id), _count=1)
    links = {link["relation"]: link["url"] for link in body["link"]}
    assert f"patient={clinic.patient_id}" in links["next"]
    assert body["total"] == 3


@pytest.mark.parametrize("count", ["0", "101", "-1", "many"])
def test_count_out_of_range(fhir, count):
    response = fhir.get("/VisionPrescription", params={"_count": count})
    if count == "0":
        body = response.json()
        assert response.status_code == 200 and body["total"] == 5 and "entry" not in body
    else:
        assert outcome(response, 400)["issue"][0]["code"] == "value"


def test_summary_count_gives_the_total_only(fhir, clinic: Clinic):
    body = search(fhir, _summary="count", patient=str(clinic.patient_id))
    assert body["total"] == 3
    assert "entry" not in body
    assert [link["relation"] for link in body["link"]] == ["self"]
    refused = outcome(fhir.get("/VisionPrescription", params={"_summary": "text"}), 400)
    assert refused["issue"][0]["code"] == "not-supported"


def test_elements_keeps_the_named_and_the_mandatory_elements(fhir, clinic: Clinic):
    body = search(fhir, _elements="identifier", _count=1)
    resource = body["entry"][0]["resource"]
    assert "identifier" in resource and "extension" not in resource
    assert {"status", "patient", "dateWritten", "prescriber", "lensSpecification"} <= set(resource)
    assert resource["meta"]["tag"][0]["code"] == "SUBSETTED"
    one = fhir.get(f"/VisionPrescription/{clinic.prescriptions[0]}", params={"_elements": "status"})
    assert "identifier" not in one.json() and "extension" not in one.json()


def test_an_unknown_search_parameter_is_ignored_and_left_out_of_the_self_link(fhir, clinic):
    body = search(fhir, colour="blue", patient=str(clinic.patient_id))
    assert body["total"] == 3
    [link] = body["link"]
    assert "colour" not in link["url"] and f"patient={clinic.patient_id}" in link["url"]


def test_prefer_strict_handling_refuses_an_unknown_parameter(fhir, clinic):
    strict = {"Prefer": "handling=strict"}
    body = outcome(fhir.get("/VisionPrescription", params={"colour": "blue"}, headers=strict), 400)
    assert "colour" in body["issue"][0]["diagnostics"]
    assert expressions(body) == []
    read = fhir.get(
        f"/VisionPrescription/{clinic.prescriptions[0]}", params={"patient": "x"}, headers=strict
    )
    assert "patient" in outcome(read, 400)["issue"][0]["diagnostics"]
    lenient = fhir.get(f"/VisionPrescription/{clinic.prescriptions[0]}", params={"patient": "x"})
    assert lenient.status_code == 200


def test_datewritten_ne_may_be_given_once(fhir):
    response = fhir.get("/VisionPrescription", params={"datewritten": ["ne2026", "ne2025"]})
    assert outcome(response, 400)["issue"][0]["code"] == "not-supported"


@pytest.mark.parametrize("offset", ["-1", "x", str(2**31)])
def test_offset_out_of_range(fhir, offset):
    response = fhir.get("/VisionPrescription", params={"_offset": offset})
    assert outcome(response, 400)["issue"][0]["code"] == "value"


def test_an_offset_past_the_end_is_an_empty_page_with_the_total(fhir):
    body = search(fhir, _offset=50)
    assert body["total"] == 5 and "entry" not in body
    assert {link["relation"] for link in body["link"]} == {"self", "previous"}


def test_summary_false_is_the_normal_answer(fhir):
    assert search(fhir, _summary="false")["total"] == 5
    assert len(search(fhir, _summary="false")["entry"]) == 5
