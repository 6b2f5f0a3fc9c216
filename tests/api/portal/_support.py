"""Sample bodies for every portal resource and small helpers shared by the portal tests."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import select

from optihub.db.models import Event

# A minimal PDF: the bytes matter (they must come back byte for byte), not the layout.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"\x00\x01\x02\xfe\xff binary tail\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
PDF_B64 = base64.b64encode(PDF).decode("ascii")


def body(resource: str) -> dict[str, Any]:
    """A complete, valid body for ``resource`` (its links exist after ``basics`` plus
    ``prepare``)."""
    return {
        "Locations": {
            "externalId": "LX",
            "name": "North Shore",
            "alias": "NS",
            "active": True,
            "notes": "Parking behind",
            "address1": "12 Lake Ave",
            "address2": "Suite 3",
            "city": "Two Harbors",
            "state": "MN",
            "zipCode": "55616",
            "country": "US",
            "phone": "2185550100",
            "timeZoneId": "Central Standard Time",
            "mondayClosed": False,
            "mondayFrom": "09:00:00",
            "mondayTo": "17:30:00",
            "sundayClosed": True,
        },
        "Doctors": {
            "externalId": "DX",
            "lastName": "Vance",
            "firstName": "Lee",
            "alias": "Dr V",
            "active": True,
            "inHouse": False,
            "locationExternalId": "L1",
            "emailAddress": "lee.vance@example.com",
            "locations": ["L1"],
        },
        "Users": {
            "externalId": "UX",
            "username": "tech2",
            "firstName": "Ana",
            "lastName": "Ruiz",
            "emailAddress": "ana@example.com",
            "active": True,
            "locationExternalId": "L1",
        },
        "Patients": {
            "externalId": "PX",
            "firstName": "Ola",
            "lastName": "Berg",
            "birthday": "1980-04-02T00:00:00+00:00",
            "emailAddress": "ola@example.com",
            "phone": "2185550111",
            "address1": "4 Pine St",
            "city": "Duluth",
            "state": "MN",
            "zipCode": "55802",
            "locationExternalId": "L1",
            "doctorExternalId": "D1",
            "active": True,
            "notes": "Prefers mornings",
            "allowEmailReminders": True,
            "allowSmsReminders": False,
        },
        "PatientRelationships": {
            "externalId": "RX",
            "name": "Spouse",
            "sortOrder": 2,
            "isDefault": False,
        },
        "FamilyMembers": {
            "externalId": "FX",
            "patientExternalId": "P1",
            "relativeExternalId": "P2",
        },
        "OrderStatuses": {"externalId": "SX", "name": "Shipped", "active": True},
        "Orders": {
            "externalId": "OX",
            "created": "2026-01-10T15:00:00+00:00",
            "patientExternalId": "P1",
            "locationExternalId": "L1",
            "physicianExternalId": "D1",
            "userExternalId": "U1",
            "orderStatusExternalId": "S-NEW",
            "orderBalance": 50.25,
            "patientBalance": 20.5,
            "receiptNote": "Call when ready",
            "type": "Spectacles",
            "orderDetails": [
                {
                    "orderDetailExternalId": "OD1",
                    "productDescription": "Frame RB5154",
                    "quantity": 1,
                    "retailPrice": 180.0,
                    "unitPrice": 150.0,
                    "tax1": 7.5,
                    "tax2": 1.25,
                }
            ],
        },
        "GlassesPrescriptions": {
            "externalId": "GX",
            "patientExternalId": "P1",
            "rightEyePrescriptionDetails": "-2.00 -0.50 x 180 add +2.00",
            "leftEyePrescriptionDetails": "-1.75 DS add +2.00",
            "rightEyeExpirationDate": "2027-01-05T00:00:00+00:00",
            "leftEyeExpirationDate": "2027-01-05T00:00:00+00:00",
            "rightEyeComments": "Anti-glare",
            "prescribedDate": "2026-01-05T00:00:00+00:00",
            "portalCreated": False,
            "active": True,
        },
        "ContactLensPrescriptions": {
            "externalId": "CX",
            "patientExternalId": "P1",
            "lensNameRightEye": "Acuvue Oasys",
            "lensNameLeftEye": "Acuvue Oasys",
            "prescriptionRightEye": "-2.00 BC 8.6 DIA 14.2",
            "prescriptionLeftEye": "-2.25 BC 8.6 DIA 14.2",
            "commentRightEye": "Daily wear",
            "expirationDateRightEye": "2027-02-01T00:00:00+00:00",
            "prescribedDate": "2026-02-01T00:00:00+00:00",
            "portalCreated": False,
            "active": True,
        },
        "AppointmentTypes": {"externalId": "ATX", "name": "Eye exam", "isTelemedicine": False},
        "AppointmentStatuses": {
            "externalId": "ASX",
            "name": "Confirmed",
            "isCanceled": False,
            "isRescheduled": False,
            "isConfirmed": True,
            "isCheckedOut": False,
            "isCheckIn": False,
        },
        "Appointments": {
            "externalId": "AX",
            "locationExternalId": "L1",
            "doctorExternalId": "D1",
            "patientExternalId": "P1",
            "appointmentStatusExternalId": "AS1",
            "appointmentTypeExternalId": "AT1",
            "cancelReason": None,
            "start": "2026-07-01T15:00:00+00:00",
            "end": "2026-07-01T15:45:00+00:00",
        },
    }[resource]


# One member changed, per resource, for the update test.
CHANGES: dict[str, dict[str, Any]] = {
    "Locations": {"name": "North Shore Vision"},
    "Doctors": {"firstName": "Leigh"},
    "Users": {"lastName": "Ruiz-Ortega"},
    "Patients": {"lastName": "Berg-Olsen"},
    "PatientRelationships": {"sortOrder": 3},
    "FamilyMembers": {"relativeExternalId": "P3"},
    "OrderStatuses": {"name": "Shipped to patient"},
    "Orders": {"receiptNote": "Text when ready"},
    "GlassesPrescriptions": {"leftEyePrescriptionDetails": "-1.50 DS add +2.00"},
    "ContactLensPrescriptions": {"lensNameLeftEye": "Biofinity"},
    "AppointmentTypes": {"isTelemedicine": True},
    "AppointmentStatuses": {"isCheckIn": True},
    "Appointments": {"start": "2026-07-01T16:00:00+00:00", "end": "2026-07-01T16:30:00+00:00"},
}

# The member each resource requires (besides ExternalId), when it has one.
REQUIRED: dict[str, str] = {
    "Locations": "name",
    "Doctors": "lastName",
    "Patients": "lastName",
    "FamilyMembers": "patientExternalId",
    "OrderStatuses": "name",
    "Orders": "patientExternalId",
    "GlassesPrescriptions": "patientExternalId",
    "ContactLensPrescriptions": "patientExternalId",
    "AppointmentTypes": "name",
    "Appointments": "appointmentStatusExternalId",
}

NOUNS: dict[str, str] = {
    "Locations": "location",
    "Doctors": "doctor",
    "Users": "user",
    "Patients": "patient",
    "PatientRelationships": "patient relationship",
    "FamilyMembers": "family member",
    "OrderStatuses": "order status",
    "Orders": "order",
    "GlassesPrescriptions": "glasses prescription",
    "ContactLensPrescriptions": "contact lens prescription",
    "AppointmentTypes": "appointment type",
    "AppointmentStatuses": "appointment status",
    "Appointments": "appointment",
}

RESOURCES = tuple(NOUNS)


def prepare(post) -> None:
    """Besides ``basics``: two more patients, an appointment type and status."""
    for resource, sent in (
        ("Patients", {"externalId": "P2", "firstName": "Ivar", "lastName": "Lind"}),
        ("Patients", {"externalId": "P3", "firstName": "Elsa", "lastName": "Lind"}),
        ("AppointmentTypes", {"externalId": "AT1", "name": "Contact lens fitting"}),
        ("AppointmentStatuses", {"externalId": "AS1", "name": "Scheduled"}),
    ):
        response = post(resource, sent)
        assert response.status_code == 200, (resource, response.text)


def expected(resource: str, sent: dict[str, Any], identifier: str) -> dict[str, Any]:
    """What ``GET`` answers for ``sent``: every member of the model (``null`` when not
    sent), ``id`` and ``externalId``."""
    from optihub.surfaces.portal.codec import MODELS

    model = MODELS[resource]
    out: dict[str, Any] = {field.name[:1].lower() + field.name[1:]: None for field in model.fields}
    out.update(sent)
    out["id"] = identifier
    return out


def events(db, kind: str) -> list[Event]:
    with db.read_sessions() as reader:
        return list(
            reader.scalars(
                select(Event).where(Event.type == kind).order_by(Event.created_at, Event.id)
            )
        )


def invalid(response, key: str, contains: str | None = None) -> list[str]:
    """Assert ``response`` is the vendor's 400 with ``key`` in its ModelState."""
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["Message"] == "The request is invalid.", payload
    assert key in payload["ModelState"], payload
    messages = payload["ModelState"][key]
    assert messages and all(isinstance(m, str) and m for m in messages)
    if contains is not None:
        assert any(contains in m for m in messages), messages
    return messages
