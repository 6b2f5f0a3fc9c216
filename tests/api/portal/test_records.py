"""Every portal resource: create, read back, update, idempotent re-send, delete, and the
400s for a missing external id or a missing required member."""

from __future__ import annotations

import uuid

import pytest

from optihub.services import external_records
from tests import factories
from tests.api.portal._support import (
    CHANGES,
    NOUNS,
    REQUIRED,
    RESOURCES,
    body,
    events,
    expected,
    invalid,
    prepare,
)
from tests.api.portal.conftest import table_counts


@pytest.fixture
def linked(basics, post) -> None:
    prepare(post)


@pytest.mark.parametrize("resource", RESOURCES)
def test_create_read_update_resend_delete(resource, linked, post, get, client, sync, db) -> None:
    sent = body(resource)
    external_id = sent["externalId"]
    before = table_counts(db)

    created = post(resource, sent)
    assert created.status_code == 200, created.text
    assert created.headers["X-Portal-Change"] == "created"
    assert created.headers["content-type"].startswith("application/json")
    identifier = created.json()["id"]
    assert uuid.UUID(identifier)
    assert created.json() == expected(resource, sent, identifier)
    assert table_counts(db) != before

    read = get(resource, external_id)
    assert read.status_code == 200, read.text
    assert read.json() == expected(resource, sent, identifier)

    # The same body again: same id, nothing written (no row, no audit entry, no event).
    counts = table_counts(db)
    again = post(resource, sent)
    assert again.status_code == 200, again.text
    assert again.headers["X-Portal-Change"] == "unchanged"
    assert again.json()["id"] == identifier
    assert table_counts(db) == counts

    changed = {**sent, **CHANGES[resource]}
    updated = post(resource, changed)
    assert updated.status_code == 200, updated.text
    assert updated.headers["X-Portal-Change"] == "updated"
    assert updated.json()["id"] == identifier
    assert get(resource, external_id).json() == expected(resource, changed, identifier)

    deleted = client.delete(
        "/api/" + resource, params={"externalId": external_id}, headers=sync.headers
    )
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["externalId"] == external_id

    gone = get(resource, external_id)
    assert gone.status_code == 404
    assert gone.json() == {
        "Message": f"No {NOUNS[resource]} with ExternalId '{external_id}' exists."
    }
    again = client.delete(
        "/api/" + resource, params={"externalId": external_id}, headers=sync.headers
    )
    assert again.status_code == 404
    assert again.json() == {
        "Message": f"No {NOUNS[resource]} with ExternalId '{external_id}' exists."
    }

    # Sent again after the delete it is a new record.
    recreated = post(resource, sent)
    assert recreated.status_code == 200, recreated.text
    assert recreated.headers["X-Portal-Change"] == "created"
    if resource == "Orders":
        assert len(events(db, "order.created")) == 2


@pytest.mark.parametrize("resource", RESOURCES)
def test_unknown_external_id_is_404(resource, get, sync) -> None:
    response = get(resource, "nope")
    assert response.status_code == 404
    assert response.json() == {"Message": f"No {NOUNS[resource]} with ExternalId 'nope' exists."}


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("params", [{}, {"externalId": ""}, {"externalId": "   "}])
def test_external_id_parameter_is_required(resource, method, params, client, sync) -> None:
    response = client.request(method, f"/api/{resource}", params=params, headers=sync.headers)
    assert response.status_code == 400, response.text
    assert response.json() == {
        "Message": "The request is invalid.",
        "ModelState": {"externalId": ["The externalId field is required."]},
    }


@pytest.mark.parametrize("resource", RESOURCES)
def test_missing_required_members(resource, linked, post, db) -> None:
    counts = table_counts(db)
    sent = body(resource)
    member = REQUIRED.get(resource, "externalId")
    del sent[member]
    response = post(resource, sent)
    key = "model." + member[:1].upper() + member[1:]
    invalid(response, key, "required")
    blank = post(resource, {**body(resource), member: "  "})
    invalid(blank, key, "required")
    assert table_counts(db) == counts


def test_doctor_requires_active_and_in_house(linked, post, db) -> None:
    counts = table_counts(db)
    response = post("Doctors", {"externalId": "D9", "lastName": "Kim"})
    assert response.status_code == 400
    state = response.json()["ModelState"]
    assert set(state) == {"model.Active", "model.InHouse"}
    assert table_counts(db) == counts


def test_everything_missing_names_every_required_member(linked, post, db) -> None:
    counts = table_counts(db)
    response = post("Orders", {})
    assert response.status_code == 400
    state = response.json()["ModelState"]
    assert {"model.ExternalId", "model.PatientExternalId", "model.LocationExternalId"} <= set(state)
    assert table_counts(db) == counts


def test_glasses_prescription_needs_one_eye(linked, post, db) -> None:
    counts = table_counts(db)
    response = post("GlassesPrescriptions", {"externalId": "G9", "patientExternalId": "P1"})
    invalid(response, "model.RightEyePrescriptionDetails", "At least one eye")
    assert table_counts(db) == counts


def test_a_record_after_a_core_delete_is_created_again(linked, post, get, db) -> None:
    from sqlalchemy import delete

    from optihub.db.models import Patient

    first = post("Patients", body("Patients")).json()["id"]
    with db.transaction() as s:
        s.execute(delete(Patient).where(Patient.id == uuid.UUID(first)))
    assert get("Patients", "PX").status_code == 404
    again = post("Patients", body("Patients"))
    assert again.status_code == 200
    assert again.headers["X-Portal-Change"] == "created"
    assert again.json()["id"] != first
    assert get("Patients", "PX").json()["id"] == again.json()["id"]


def test_a_patient_whose_external_id_was_taken_since_the_lookup_is_a_conflict(
    post, sync, db, monkeypatch
) -> None:
    # Another channel's patient holds P-RACE; this request looked before it was written
    # (a concurrent transaction on PostgreSQL): the lookup found it free.
    with db.transaction() as s:
        factories.patient(s, sync.practice_id, external_id="P-RACE")

    def looked_before_it_was_written(session, practice_id, kind, external_id, held):
        session.info.setdefault(external_records._FREE, set()).add(
            (kind.row, practice_id, external_id)
        )
        return None

    monkeypatch.setattr(external_records, "_adopt", looked_before_it_was_written)
    before = table_counts(db)
    answer = post("Patients", {"externalId": "P-RACE", "LastName": "Okafor"})
    assert answer.status_code == 409, answer.text
    assert "P-RACE is being written by another request" in answer.text
    assert table_counts(db) == before


def test_a_patient_another_channel_made_with_the_external_id_is_adopted(
    linked, post, get, sync, db
) -> None:
    # The practice wrote the patient itself with the portal's id for them; the portal's
    # first record of that id names that patient rather than making a second one.
    from sqlalchemy import func, select

    from optihub.db.models import Patient

    with db.transaction() as s:
        made = factories.patient(s, sync.practice_id, external_id="P-ADOPT", last_name="Old")
        made_id = str(made.id)
        patients_before = s.scalar(select(func.count()).select_from(Patient))

    answer = post("Patients", {"externalId": "P-ADOPT", "FirstName": "Ada", "LastName": "Okafor"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == made_id
    assert answer.headers["X-Portal-Change"] == "updated"
    assert get("Patients", "P-ADOPT").json()["id"] == made_id
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Patient)) == patients_before
        assert s.get(Patient, uuid.UUID(made_id)).last_name == "Okafor"


def test_a_location_another_channel_made_with_the_external_id_is_adopted(
    basics, post, sync, db
) -> None:
    from sqlalchemy import func, select

    from optihub.db.models import Location

    with db.transaction() as s:
        held = factories.location(s, sync.practice_id, name="Harbour Street")
        held.external_id = "L-ADOPT"
        held_id = str(held.id)
        count = s.scalar(select(func.count()).select_from(Location))

    answer = post("Locations", {"externalId": "L-ADOPT", "Name": "Harbour Street East"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == held_id
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Location)) == count
        assert s.get(Location, uuid.UUID(held_id)).name == "Harbour Street East"


def test_a_core_row_another_record_names_is_not_adopted(linked, post, sync, db) -> None:
    # The patient the record P-NAMED was kept under now carries another external id (the
    # practice changed it): a record of that id makes its own patient, the first keeps its.
    from sqlalchemy import update

    from optihub.db.models import Patient

    first = post("Patients", {"externalId": "P-NAMED", "LastName": "Okafor"}).json()["id"]
    with db.transaction() as s:
        s.execute(update(Patient).where(Patient.id == uuid.UUID(first)).values(external_id="P-NEW"))
    answer = post("Patients", {"externalId": "P-NEW", "LastName": "Mensah"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Portal-Change"] == "created"
    assert answer.json()["id"] != first
