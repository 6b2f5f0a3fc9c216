"""Records sent here are the core's rows (read by every surface), links by external id, and
the practices kept apart."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select, update

from optihub.db.models import Appointment, Employee, Location, Patient, PatientRelationship
from optihub.db.models.practice import employee_locations
from tests.api.portal._support import body, invalid, prepare
from tests.api.portal.conftest import table_counts


def rows(payload: Any) -> list[dict[str, Any]]:
    if isinstance(payload, list):
        return payload
    for key in ("data", "items", "results"):
        if isinstance(payload.get(key), list):
            return payload[key]
    raise AssertionError(payload)


def practice_get(client, issue_token, practice_id: int, path: str, scope: str) -> Any:
    token = issue_token(practice_id, scope)
    response = client.get(f"/v2/{practice_id}/{path}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_patient_is_a_core_patient(basics, post, get, client, sync, issue_token, db) -> None:
    identifier = get("Patients", "P1").json()["id"]
    with db.read_sessions() as reader:
        patient = reader.scalar(
            select(Patient).where(
                Patient.practice_id == sync.practice_id, Patient.external_id == "P1"
            )
        )
        location = reader.scalar(select(Location).where(Location.external_id == "L1"))
    assert patient is not None
    assert str(patient.id) == identifier
    assert (patient.first_name, patient.last_name) == ("Maya", "Lind")
    assert patient.email == "maya@example.com"
    assert (patient.phone, patient.phone_e164) == ("(218) 555-0142", "+12185550142")
    assert patient.home_location_id == location.id
    listed = rows(practice_get(client, issue_token, sync.practice_id, "patients", "read:patients"))
    shown = {p["patient_id"]: (p["name_first"], p["name_last"], p["email"]) for p in listed}
    assert shown[identifier] == ("Maya", "Lind", "maya@example.com")


def test_a_patient_renamed_in_the_core_reads_renamed(basics, post, get, db, sync) -> None:
    with db.transaction() as s:
        s.execute(
            update(Patient)
            .where(Patient.practice_id == sync.practice_id, Patient.external_id == "P1")
            .values(last_name="Lind-Berg", email="maya.lb@example.com")
        )
    shown = get("Patients", "P1").json()
    assert shown["lastName"] == "Lind-Berg"
    assert shown["emailAddress"] == "maya.lb@example.com"
    assert shown["firstName"] == "Maya"
    assert shown["phone"] == "(218) 555-0142"  # unchanged in the core: as sent


def test_a_location_is_a_core_location(basics, post, client, sync, issue_token, db) -> None:
    assert post("Locations", body("Locations")).status_code == 200
    with db.read_sessions() as reader:
        row = reader.scalar(select(Location).where(Location.external_id == "LX"))
        assert row is not None
        assert (row.name, row.city, row.state, row.postal_code) == (
            "North Shore",
            "Two Harbors",
            "MN",
            "55616",
        )
        from optihub.db.models import LocationHours

        hours = list(
            reader.scalars(select(LocationHours).where(LocationHours.location_id == row.id))
        )
    assert [(h.weekday, h.opens_at.isoformat(), h.closes_at.isoformat()) for h in hours] == [
        (0, "09:00:00", "17:30:00")
    ]
    stores = rows(practice_get(client, issue_token, sync.practice_id, "stores", "read:stores"))
    assert {"Lakeside Main", "North Shore"} <= {s.get("name") for s in stores}


def test_doctors_and_users_are_employees(basics, post, client, sync, issue_token, db) -> None:
    prepare(post)
    assert post("Doctors", body("Doctors")).status_code == 200
    with db.read_sessions() as reader:
        employees = {
            e.last_name: e
            for e in reader.scalars(
                select(Employee).where(Employee.practice_id == sync.practice_id)
            )
        }
        links = reader.execute(
            select(employee_locations.c.employee_id, employee_locations.c.location_id)
        ).all()
    assert {"Okafor", "Vance", "Reyes"} <= set(employees)
    assert employees["Okafor"].is_doctor and employees["Okafor"].in_house
    assert employees["Vance"].is_doctor and not employees["Vance"].in_house
    assert not employees["Reyes"].is_doctor
    assert employees["Vance"].email == "lee.vance@example.com"
    assert len([link for link in links if link[0] == employees["Vance"].id]) == 1
    listed = rows(
        practice_get(client, issue_token, sync.practice_id, "employees", "read:employees")
    )
    shown = {e["name_last"]: e for e in listed}
    assert {"Okafor", "Vance", "Reyes"} <= set(shown)
    assert shown["Vance"]["is_doctor"] and not shown["Reyes"]["is_doctor"]
    assert shown["Vance"]["employee_id"] == str(employees["Vance"].id)


def test_an_appointment_is_a_core_appointment(basics, post, sync, db) -> None:
    prepare(post)
    sent = {**body("Appointments"), "start": "2026-07-01T10:00:00-05:00", "end": None}
    response = post("Appointments", sent)
    assert response.status_code == 200, response.text
    assert response.json()["start"] == "2026-07-01T10:00:00-05:00"
    with db.read_sessions() as reader:
        row = reader.scalar(select(Appointment).where(Appointment.external_id == "AX"))
        patient = reader.scalar(select(Patient).where(Patient.external_id == "P1"))
    assert row is not None
    assert row.patient_id == patient.id
    assert row.kind == "Contact lens fitting"
    assert row.status == "scheduled"
    assert row.starts_at.replace(tzinfo=None).isoformat() == "2026-07-01T15:00:00"
    assert (row.ends_at - row.starts_at).total_seconds() == 30 * 60


def test_a_family_member_is_a_core_relationship(basics, post, db) -> None:
    prepare(post)
    assert post("FamilyMembers", body("FamilyMembers")).status_code == 200
    with db.read_sessions() as reader:
        link = reader.scalar(select(PatientRelationship))
        p1 = reader.scalar(select(Patient.id).where(Patient.external_id == "P1"))
        p2 = reader.scalar(select(Patient.id).where(Patient.external_id == "P2"))
    assert (link.patient_id, link.related_patient_id) == (p1, p2)
    self_link = post(
        "FamilyMembers",
        {"externalId": "F2", "patientExternalId": "P1", "relativeExternalId": "P1"},
    )
    invalid(self_link, "model.RelativeExternalId", "own relative")


# -- links ----------------------------------------------------------------------------------

LINKS = [
    ("Patients", "locationExternalId", "L9", "location"),
    ("Patients", "doctorExternalId", "D9", "doctor"),
    ("Orders", "patientExternalId", "P9", "patient"),
    ("Orders", "locationExternalId", "L9", "location"),
    ("Orders", "physicianExternalId", "D9", "doctor"),
    ("Orders", "userExternalId", "U9", "user"),
    ("Orders", "orderStatusExternalId", "S9", "order status"),
    ("Doctors", "locationExternalId", "L9", "location"),
    ("FamilyMembers", "relativeExternalId", "P9", "patient"),
    ("GlassesPrescriptions", "patientExternalId", "P9", "patient"),
    ("ContactLensPrescriptions", "patientExternalId", "P9", "patient"),
    ("Appointments", "patientExternalId", "P9", "patient"),
    ("Appointments", "appointmentStatusExternalId", "AS9", "appointment status"),
    ("Appointments", "appointmentTypeExternalId", "AT9", "appointment type"),
]


@pytest.mark.parametrize(("resource", "member", "value", "noun"), LINKS)
def test_unknown_links_are_named(resource, member, value, noun, basics, post, db) -> None:
    prepare(post)
    counts = table_counts(db)
    response = post(resource, {**body(resource), member: value})
    key = "model." + member[:1].upper() + member[1:]
    messages = invalid(response, key)
    assert messages == [f"No {noun} with ExternalId '{value}' exists."]
    assert table_counts(db) == counts


def test_unknown_location_in_a_doctors_list(basics, post, db) -> None:
    counts = table_counts(db)
    response = post("Doctors", {**body("Doctors"), "locations": ["L1", "L404"]})
    assert invalid(response, "model.Locations[1]") == ["No location with ExternalId 'L404' exists."]
    assert table_counts(db) == counts


def test_several_unknown_links_at_once(basics, post, db) -> None:
    counts = table_counts(db)
    response = post(
        "Orders", {"externalId": "O9", "patientExternalId": "P9", "locationExternalId": "L9"}
    )
    assert response.status_code == 400
    assert response.json()["ModelState"] == {
        "model.PatientExternalId": ["No patient with ExternalId 'P9' exists."],
        "model.LocationExternalId": ["No location with ExternalId 'L9' exists."],
    }
    assert table_counts(db) == counts


# -- tenants --------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", ["Patients", "Locations", "OrderStatuses", "Orders"])
def test_the_other_practice_sees_nothing(resource, basics, post, get, client, sync) -> None:
    if resource == "Orders":
        assert post("Orders", body("Orders")).status_code == 200
        external_id = "OX"
    else:
        external_id = {"Patients": "P1", "Locations": "L1", "OrderStatuses": "S-NEW"}[resource]
    assert get(resource, external_id).status_code == 200
    theirs = get(resource, external_id, token=sync.other_token)
    assert theirs.status_code == 404
    removed = client.delete(
        f"/api/{resource}",
        params={"externalId": external_id},
        headers={"Authorization": f"Bearer {sync.other_token}"},
    )
    assert removed.status_code == 404
    assert get(resource, external_id).status_code == 200


def test_the_other_practice_cannot_link_to_ours(basics, post, get, sync, db) -> None:
    counts = table_counts(db)
    response = post(
        "Orders",
        {"externalId": "O1", "patientExternalId": "P1", "locationExternalId": "L1"},
        token=sync.other_token,
    )
    assert response.status_code == 400
    assert set(response.json()["ModelState"]) == {
        "model.PatientExternalId",
        "model.LocationExternalId",
    }
    assert table_counts(db) == counts


def test_the_same_external_id_in_two_practices(basics, post, get, sync, db) -> None:
    theirs = post("Patients", {"externalId": "P1", "lastName": "Other"}, token=sync.other_token)
    assert theirs.status_code == 200
    assert theirs.headers["X-Portal-Change"] == "created"
    assert theirs.json()["id"] != get("Patients", "P1").json()["id"]
    assert get("Patients", "P1").json()["lastName"] == "Lind"
    assert get("Patients", "P1", token=sync.other_token).json()["lastName"] == "Other"
    with db.read_sessions() as reader:
        found = reader.scalars(select(Patient.practice_id).where(Patient.external_id == "P1")).all()
    assert sorted(found) == sorted([sync.practice_id, sync.other_practice_id])
    assert uuid.UUID(theirs.json()["id"])
