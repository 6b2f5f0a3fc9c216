"""What ``POST /v2/{id}/patients`` leaves in the store besides its answer: the patient row
as the other channels write it (defaults, the phone's E.164 form), one audit entry per
patient, and nothing at all when it refuses."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from optihub.db.models import AuditEntry, Patient
from optihub.services import patients as patient_service
from optihub.services.context import Actor
from tests.api.practice.conftest import count, error

NEW = {
    "name_first": " Jordan ",
    "name_last": "Rivera",
    "email": "jordan@example.com",
    "phone": "6175550123",
    "dob": "1991-08-30",
    "city": "Boston",
    "state": "MA",
    "zip": "02116",
}


def _audit(db, patient_id: str) -> list[tuple[str, str, str | None, str]]:
    with db.reading() as reader:
        return [
            (row.action, row.via, row.actor_client_id, row.target_type)
            for row in reader.execute(
                select(AuditEntry).where(AuditEntry.target_id == patient_id).order_by(AuditEntry.id)
            )
        ]


def _row(db, patient_id: str) -> Patient:
    with db.transaction() as s:
        return s.scalars(select(Patient).where(Patient.id == uuid.UUID(patient_id))).one()


def test_a_created_patient_is_stored_audited_and_answered_as_read_back(api, db, world):
    response = api.post("/patients", json=NEW)
    assert response.status_code == 201, response.text
    created = response.json()
    assert api.get(f"/patients/{created['patient_id']}").json() == created
    row = _row(db, created["patient_id"])
    assert row.practice_id == world.practice_id
    assert (row.first_name, row.phone, row.phone_e164) == ("Jordan", "6175550123", "+16175550123")
    assert (row.country, row.notify_eyewear_email, row.notify_eyewear_sms) == ("US", False, False)
    assert row.external_id is None and row.home_location_id is None
    assert created["create_date"] == created["update_date"]
    assert _audit(db, created["patient_id"]) == [
        ("patient.created", "practice", "practice-app", "patient")
    ]


def test_each_patient_of_a_bulk_is_audited(api, db):
    records = [{**NEW, "name_last": f"Bulk{n}"} for n in range(3)]
    response = api.post("/patients", json=records)
    assert response.status_code == 201, response.text
    for created in response.json()["data"]:
        assert [a[0] for a in _audit(db, created["patient_id"])] == ["patient.created"]


def test_a_refused_bulk_writes_no_patient_and_no_audit_entry(api, db):
    patients, entries = count(db, Patient), count(db, AuditEntry)
    records = [{**NEW, "name_last": "Fine"}, {**NEW, "email": "not-an-email"}]
    error(api.post("/patients", json=records), 400)
    assert (count(db, Patient), count(db, AuditEntry)) == (patients, entries)


def test_add_patient_writes_what_create_patient_writes(db, world):
    """The Core path (``add_patient``) and the ORM's (``create_patient``) store the same
    row and the same audit entry for the same details."""
    actor = Actor(practice_id=world.practice_id, via="practice", client_id="app", label="app")
    details = patient_service.PatientDetails(
        first_name=" Ana ", last_name="Lee", email="ana@example.com", phone="(617) 555-0100"
    )
    with db.transaction() as s:
        added = patient_service.add_patient(s, actor, details)
        created = patient_service.create_patient(s, actor, details)
    columns = [
        c.key for c in Patient.__table__.columns if c.key not in {"id", "created_at", "updated_at"}
    ]
    first, second = _row(db, str(added.id)), _row(db, str(created.id))
    assert {c: getattr(first, c) for c in columns} == {c: getattr(second, c) for c in columns}
    assert first.created_at == added.created_at and first.updated_at == added.updated_at
    assert _audit(db, str(added.id)) == [("patient.created", "practice", "app", "patient")]
    assert _audit(db, str(created.id)) == [("patient.created", "practice", "app", "patient")]
