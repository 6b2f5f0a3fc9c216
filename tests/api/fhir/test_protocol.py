"""The protocol around the resources: the CapabilityStatement, content negotiation
(``_format``, ``Accept``), and every refusal as an OperationOutcome in fhir+json —
unknown paths, wrong methods, framework validation, tokens — never a stack trace."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.api.fhir.conftest import FHIR_JSON, Clinic, FhirClient, outcome, valid

from optihub.surfaces.fhir import surface


def test_metadata_needs_no_token_and_lists_exactly_what_is_served(https: TestClient, clinic):
    response = https.get("/fhir/r5/metadata")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    body = valid(response.json())
    assert body["fhirVersion"] == "5.0.0"
    assert body["kind"] == "instance"
    assert set(body["format"]) == {"json", FHIR_JSON}
    [rest] = body["rest"]
    served = {
        r["type"]: (
            {i["code"] for i in r["interaction"]},
            {p["name"] for p in r.get("searchParam", [])},
        )
        for r in rest["resource"]
    }
    assert served == {
        "VisionPrescription": (
            {"read", "search-type", "create"},
            {
                "patient",
                "datewritten",
                "status",
                "prescriber",
                "_count",
                "_offset",
                "_sort",
                "_summary",
                "_elements",
                "_format",
            },
        ),
        "Patient": (
            {"read", "search-type"},
            {
                "identifier",
                "name",
                "birthdate",
                "telecom",
                "_count",
                "_offset",
                "_summary",
                "_elements",
                "_format",
            },
        ),
        "Practitioner": ({"read"}, set()),
        "Organization": ({"read"}, set()),
    }
    assert rest["interaction"] == [{"code": "transaction"}]
    # What the statement says is served is exactly the route table.
    routes = {path for (_, path) in surface.scopes}
    for name, (interactions, _) in served.items():
        if "read" in interactions:
            assert f"/{name}/{{resource_id}}" in routes
        if interactions & {"search-type", "create"}:
            assert f"/{name}" in routes
    security = rest["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    token = security["extension"][0]["extension"][0]
    oauth = https.get("/.well-known/oauth-authorization-server").json()
    assert token == {"url": "token", "valueUri": oauth["token_endpoint"]}
    documentation = rest["resource"][0]["documentation"]
    for name in ("distance-pd", "near-pd", "segment-height", "oc-height", "prescription-expiry"):
        assert f"http://testserver/fhir/StructureDefinition/{name}" in documentation


@pytest.mark.parametrize("value", ["json", "application/fhir+json", "application/json"])
def test_format_json_is_served(fhir: FhirClient, value):
    response = fhir.get("/VisionPrescription", params={"_format": value})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)


@pytest.mark.parametrize("value", ["xml", "application/fhir+xml", "text/turtle"])
def test_format_other_than_json_is_406(fhir: FhirClient, clinic: Clinic, value):
    body = outcome(fhir.get("/VisionPrescription", params={"_format": value}), 406)
    assert body["issue"][0]["code"] == "not-supported"
    outcome(fhir.get(f"/Patient/{clinic.patient_id}", params={"_format": value}), 406)
    outcome(fhir.http.get("/fhir/r5/metadata", params={"_format": value}), 406)


@pytest.mark.parametrize(
    ("accept", "status"),
    [
        ("application/fhir+json", 200),
        ("application/json", 200),
        ("*/*", 200),
        ("text/html, */*;q=0.8", 200),
        ("application/fhir+xml", 406),
        ("application/xml", 406),
    ],
)
def test_accept_header(fhir: FhirClient, accept, status):
    response = fhir.get("/VisionPrescription", headers={"Accept": accept})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)


@pytest.mark.parametrize(
    "path", ["/Observation", "/VisionPrescription/a/b", "/Patient/x/_history/1", "/nothing"]
)
def test_unknown_paths_are_404_operation_outcomes(fhir: FhirClient, path):
    assert outcome(fhir.get(path), 404)["issue"][0]["code"] == "not-found"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/VisionPrescription/{rx}"),
        ("PUT", "/VisionPrescription/{rx}"),
        ("POST", "/Patient"),
        ("PATCH", "/VisionPrescription/{rx}"),
        ("POST", "/metadata"),
    ],
)
def test_unsupported_interactions_are_405(fhir: FhirClient, clinic: Clinic, method, path):
    url = "/fhir/r5" + path.format(rx=clinic.prescriptions[0])
    response = fhir.http.request(method, url, headers=fhir.headers({"Content-Type": FHIR_JSON}))
    assert outcome(response, 405)["issue"][0]["code"] == "not-supported"


def test_no_token_is_401_with_www_authenticate(https: TestClient, clinic: Clinic):
    response = https.get("/fhir/r5/VisionPrescription")
    body = outcome(response, 401)
    assert body["issue"][0]["code"] == "login"
    assert response.headers["www-authenticate"].startswith("Bearer")
    bad = https.get("/fhir/r5/Patient", headers={"Authorization": "Bearer not-a-token"})
    assert outcome(bad, 401)["issue"][0]["code"] == "login"
    assert "invalid_token" in bad.headers["www-authenticate"]


def test_a_token_for_several_practices_is_refused(https: TestClient, clinic: Clinic, issue_token):
    token = issue_token([clinic.practice_id, clinic.other_practice_id], "system/*.rs")
    response = https.get("/fhir/r5/Patient", headers={"Authorization": f"Bearer {token}"})
    assert outcome(response, 403)["issue"][0]["code"] == "forbidden"


def test_a_token_in_the_query_string_is_refused(https: TestClient, fhir: FhirClient):
    response = https.get("/fhir/r5/Patient", params={"access_token": fhir.token})
    assert outcome(response, 401)["issue"][0]["code"] in ("invalid", "login")


def test_framework_errors_are_operation_outcomes_too(fhir: FhirClient, clinic: Clinic):
    response = fhir.http.post(
        "/fhir/r5/VisionPrescription",
        content=b'{"resourceType": "VisionPrescription", "status": "active"',
        headers=fhir.headers({"Content-Type": FHIR_JSON}),
    )
    assert outcome(response, 400)["issue"][0]["code"] in ("invalid", "structure")
    huge = fhir.http.post(
        "/fhir/r5/VisionPrescription",
        content=b'{"resourceType": "VisionPrescription", "sphere": 1e999}',
        headers=fhir.headers({"Content-Type": FHIR_JSON}),
    )
    outcome(huge, 400)
    too_big = fhir.http.post(
        "/fhir/r5/VisionPrescription",
        content=b'{"a": "' + b"x" * (2 << 20) + b'"}',
        headers=fhir.headers({"Content-Type": FHIR_JSON}),
    )
    assert outcome(too_big, 413)["issue"][0]["code"] == "too-costly"


def test_a_crash_is_a_500_outcome_with_the_request_id_only(fhir: FhirClient, clinic, monkeypatch):
    from optihub.surfaces.fhir import routes

    def boom(*_a, **_k):
        raise RuntimeError("secret SELECT internals")

    monkeypatch.setattr(routes.rx_reads, "view", boom)
    response = fhir.get(f"/VisionPrescription/{clinic.prescriptions[0]}")
    body = outcome(response, 500)
    assert body["issue"][0]["code"] == "exception"
    assert "secret" not in response.text and "SELECT" not in response.text
    assert response.headers["x-request-id"] in body["issue"][0]["diagnostics"]
