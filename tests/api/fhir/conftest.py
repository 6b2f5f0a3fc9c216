"""A practice with patients, a prescriber and prescriptions, another practice beside it, and
an app connected to the first practice that gets its token by client credentials.

Every FHIR body a test reads goes through ``valid`` (``FhirClient`` calls it on each
answer): the fhir.resources R5 model of its resourceType, plus the code values the models
do not enforce.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from fhir.resources import get_fhir_model_class
from tests import factories

from optihub.domain import rx as rx_rules
from optihub.services import oauth_clients, synced_rows
from optihub.services import prescriptions as rx_service
from optihub.services.context import Actor

BASE = "/fhir/r5"
FHIR_JSON = "application/fhir+json"
ALL_SCOPES = (
    "system/VisionPrescription.crs system/Patient.rs system/Practitioner.rs system/Organization.rs"
)
# The app may also ask for each narrower scope alone (the scope tests do).
NARROW_SCOPES = "system/VisionPrescription.rs system/VisionPrescription.c system/*.rs"
STATUSES = {"active", "cancelled", "draft", "entered-in-error"}
EYES = {"right", "left"}
BASES = {"up", "down", "in", "out"}
SEVERITIES = {"fatal", "error", "warning", "information", "success"}
ISSUE_TYPES = {
    "invalid", "structure", "required", "value", "invariant", "security", "login", "unknown",
    "expired", "forbidden", "suppressed", "processing", "not-supported", "duplicate",
    "multiple-matches", "not-found", "deleted", "too-long", "code-invalid", "extension",
    "too-costly", "business-rule", "conflict", "limited-filter", "transient", "lock-error",
    "no-store", "exception", "timeout", "incomplete", "throttled", "informational", "success",
}  # fmt: skip
BUNDLE_TYPES = {"searchset", "transaction-response"}


def _codes(resource: dict[str, Any]) -> None:
    kind = resource["resourceType"]
    if kind == "VisionPrescription":
        assert resource["status"] in STATUSES, resource["status"]
        for spec in resource["lensSpecification"]:
            assert spec["eye"] in EYES, spec["eye"]
            for prism in spec.get("prism", []):
                assert prism["base"] in BASES, prism["base"]
    elif kind == "OperationOutcome":
        for issue in resource["issue"]:
            assert issue["severity"] in SEVERITIES, issue
            assert issue["code"] in ISSUE_TYPES, issue
    elif kind == "Bundle":
        assert resource["type"] in BUNDLE_TYPES, resource["type"]
        for entry in resource.get("entry", []):
            if "resource" in entry:
                _codes(entry["resource"])


def valid(body: Any) -> dict[str, Any]:
    """The body, once it has passed its R5 model and the code checks."""
    assert isinstance(body, dict) and "resourceType" in body, body
    model = get_fhir_model_class(body["resourceType"])
    model.model_validate(body)
    _codes(body)
    if body["resourceType"] == "Bundle":
        for entry in body.get("entry", []):
            if "resource" in entry:
                valid(entry["resource"])
    return body


def outcome(response: httpx.Response, status: int) -> dict[str, Any]:
    """The OperationOutcome a refusal carries, in fhir+json, with the expected status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON), response.headers
    body = valid(response.json())
    assert body["resourceType"] == "OperationOutcome", body
    assert "Traceback" not in response.text
    return body


def expressions(body: dict[str, Any]) -> list[str]:
    return [e for issue in body["issue"] for e in issue.get("expression", [])]


def hl7_example(testdata: Path, name: str) -> dict[str, Any]:
    return json.loads((testdata / "fhir" / name).read_text())


class FhirClient:
    """The test client with the app's bearer token; every JSON answer is validated."""

    def __init__(self, http: TestClient, token: str) -> None:
        self.http = http
        self.token = token

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def _checked(self, response: httpx.Response) -> httpx.Response:
        if response.content and response.headers.get("content-type", "").startswith(FHIR_JSON):
            valid(response.json())
        return response

    def get(self, path: str, **kw: Any) -> httpx.Response:
        headers = self.headers(kw.pop("headers", None))
        return self._checked(self.http.get(BASE + path, headers=headers, **kw))

    def post(self, path: str, body: Any, **kw: Any) -> httpx.Response:
        headers = self.headers({"Content-Type": FHIR_JSON, **kw.pop("headers", {})})
        content = body if isinstance(body, bytes) else json.dumps(body, default=str).encode()
        return self._checked(self.http.post(BASE + path, content=content, headers=headers, **kw))


@dataclass
class Clinic:
    practice_id: int
    other_practice_id: int
    patient_id: uuid.UUID
    second_patient_id: uuid.UUID
    foreign_patient_id: uuid.UUID
    prescriber_id: uuid.UUID
    foreign_prescriber_id: uuid.UUID
    # Spectacle prescriptions by issue date (oldest first), one contact-lens one.
    prescriptions: list[uuid.UUID] = field(default_factory=list)
    contact_lens_id: uuid.UUID | None = None
    foreign_prescription_id: uuid.UUID | None = None
    client_id: str = ""
    client_secret: str = ""


def _employee(s: Any, practice_id: int, first: str, last: str) -> uuid.UUID:
    return synced_rows.save_employee(
        s,
        factories.actor(practice_id),
        None,
        synced_rows.EmployeeValues(
            first_name=first,
            last_name=last,
            email=f"{first.lower()}@example.com",
            is_active=True,
            is_doctor=True,
        ),
    )


ISSUE_DATES = [date(2025, 11, 20), date(2026, 1, 5), date(2026, 3, 1), date(2026, 3, 31)]


def rich_rx() -> rx_rules.SpectacleRx:
    return rx_rules.SpectacleRx(
        right=rx_rules.EyeRx(
            sphere=Decimal("-2.25"),
            cylinder=Decimal("-0.75"),
            axis=90,
            add=Decimal("2.00"),
            prism_horizontal=rx_rules.Prism(Decimal("1.00"), "in"),
            prism_vertical=rx_rules.Prism(Decimal("0.50"), "down"),
            distance_pd=Decimal("31.5"),
            near_pd=Decimal("30.0"),
            seg_height=Decimal("18.0"),
            oc_height=Decimal("22.0"),
        ),
        left=rx_rules.EyeRx(sphere=Decimal("-1.75"), distance_pd=Decimal("31.0")),
    )


@pytest.fixture
def clinic(db) -> Clinic:
    with db.transaction() as s:
        practice = factories.practice(s, "Harbor Optical")
        other = factories.practice(s, "Hilltop Vision")
        patient = factories.patient(
            s,
            practice.id,
            first_name="Maya",
            last_name="Okafor",
            email="maya@example.com",
            phone="6175550123",
            date_of_birth=date(1984, 5, 17),
            external_id="MRN-1001",
            address_line1="1 Harbor Way",
            city="Boston",
            state="MA",
            postal_code="02110",
        )
        second = factories.patient(
            s,
            practice.id,
            first_name="Theo",
            last_name="Brandt",
            phone="6175550177",
            date_of_birth=date(1990, 1, 2),
        )
        foreign = factories.patient(s, other.id, first_name="Maya", last_name="Okafor")
        prescriber = _employee(s, practice.id, "Ana", "Ruiz")
        foreign_prescriber = _employee(s, other.id, "Ben", "Cho")
        actor = Actor(practice_id=practice.id, via="test", label="test")
        ids = []
        for n, issued in enumerate(ISSUE_DATES):
            ids.append(
                rx_service.create_spectacle_prescription(
                    s,
                    actor,
                    patient_id=patient.id if n % 2 == 0 else second.id,
                    rx=rich_rx() if n == 0 else factories.spectacle_rx(),
                    issued_on=issued,
                    expires_on=date(issued.year + 2, issued.month, 1),
                    prescriber_id=prescriber if n < 3 else None,
                    prescriber_name="Dr. Ana Ruiz, OD" if n < 3 else "Dr. Walk-in",
                    external_id=f"RX-{n}",
                ).id
            )
        contact = rx_service.create_contact_lens_prescription(
            s,
            actor,
            patient_id=patient.id,
            rx=rx_rules.ContactLensRx(
                right=rx_rules.ContactLensEyeRx(
                    power=Decimal("-2.75"),
                    base_curve=Decimal("8.6"),
                    diameter=Decimal("14.2"),
                    brand="Acuvue Oasys",
                ),
                left=rx_rules.ContactLensEyeRx(
                    power=Decimal("-3.00"),
                    base_curve=Decimal("8.6"),
                    diameter=Decimal("14.2"),
                    cylinder=Decimal("-0.75"),
                    axis=180,
                    brand="Acuvue Oasys",
                ),
            ),
            issued_on=date(2025, 6, 1),
            prescriber_id=prescriber,
            notes="Right eye colour: blue\nRight eye wear duration: 2 wk\nRefit in a year",
        )
        foreign_rx = rx_service.create_spectacle_prescription(
            s,
            Actor(practice_id=other.id, via="test", label="test"),
            patient_id=foreign.id,
            rx=factories.spectacle_rx(),
            issued_on=date(2026, 2, 2),
        )
        app = oauth_clients.register_client(
            s,
            name="Clinic EHR",
            scope=f"{ALL_SCOPES} {NARROW_SCOPES}",
            redirect_uris=[],
            practice_ids=[practice.id],
        )
    return Clinic(
        practice.id,
        other.id,
        patient.id,
        second.id,
        foreign.id,
        prescriber,
        foreign_prescriber,
        ids,
        contact.id,
        foreign_rx.id,
        app.client.client_id,
        app.client_secret or "",
    )


@pytest.fixture
def https(app) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        yield c


def client_credentials(http: TestClient, clinic: Clinic, scope: str = ALL_SCOPES) -> str:
    """A token as the app gets one: client credentials for its one connected practice."""
    answer = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(clinic.client_id, clinic.client_secret),
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


@pytest.fixture
def fhir(https: TestClient, clinic: Clinic) -> FhirClient:
    return FhirClient(https, client_credentials(https, clinic))


@pytest.fixture
def scoped(https: TestClient, clinic: Clinic):
    """A client whose token holds only ``scope``."""

    def make(scope: str) -> FhirClient:
        return FhirClient(https, client_credentials(https, clinic, scope))

    return make


def example_for(
    example: dict[str, Any], patient: str, prescriber: dict[str, Any] | None = None
) -> dict[str, Any]:
    """HL7's example pointed at one of our patients (and a prescriber we know)."""
    body = copy.deepcopy(example)
    body.pop("id", None)
    body["patient"] = {"reference": patient}
    body["prescriber"] = prescriber or {"display": "Dr. Adam Careful"}
    return body
