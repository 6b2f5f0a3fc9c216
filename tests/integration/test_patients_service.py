"""Patients and prescriptions through the services."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from optihub.db.models import AuditEntry
from optihub.domain import rx as rx_rules
from optihub.errors import Conflict, NotFound, ValidationFailed
from optihub.services import patients, prescriptions
from tests import factories


@pytest.fixture
def practice_id(db):
    with db.transaction() as s:
        return factories.practice(s).id


def test_create_and_update_patient_is_audited(db, practice_id):
    with db.transaction() as s:
        patient = factories.patient(s, practice_id, external_id="PMS-7")
    with db.transaction() as s:
        updated = patients.update_patient(
            s,
            factories.actor(practice_id),
            patient.id,
            patients.PatientDetails(
                first_name="Maya", last_name="Okafor-Reyes", phone="6175550999"
            ),
        )
        assert updated.last_name == "Okafor-Reyes"
    with db.transaction() as s:
        actions = s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["patient.created", "patient.updated"]


def test_patient_rules(db, practice_id):
    with pytest.raises(ValidationFailed) as failure, db.transaction() as s:
        factories.patient(
            s,
            practice_id,
            first_name="",
            email="not-an-email",
            phone="+1 (617) 555-0123 x4567",  # 23 characters: more than 20
            date_of_birth=date(2999, 1, 1),
        )
    assert {e.field for e in failure.value.errors} == {
        "first_name",
        "email",
        "phone",
        "date_of_birth",
    }


def test_a_phone_is_kept_as_given_with_its_e164_form(db, practice_id):
    with db.transaction() as s:
        patient = factories.patient(s, practice_id, phone="  (617) 555-0100 ")
        local = factories.patient(s, practice_id, phone="555-0100")
        blank = factories.patient(s, practice_id, phone="   ")
    assert (patient.phone, patient.phone_e164) == ("(617) 555-0100", "+16175550100")
    assert (local.phone, local.phone_e164) == ("555-0100", None)
    assert (blank.phone, blank.phone_e164) == (None, None)
    with db.transaction() as s:
        details = patients.PatientDetails("Maya", "Okafor", phone="+33 1 23 45 67 89")
        moved = patients.update_patient(s, factories.actor(practice_id), patient.id, details)
        assert (moved.phone, moved.phone_e164) == ("+33 1 23 45 67 89", "+33123456789")
        cleared = patients.update_patient(
            s, factories.actor(practice_id), patient.id, patients.PatientDetails("Maya", "Okafor")
        )
        assert (cleared.phone, cleared.phone_e164) == (None, None)


def test_a_national_number_is_read_in_the_country_of_the_practices_locations(db, practice_id):
    with db.transaction() as s:
        assert patients.practice_region(s, practice_id) == "US"  # no location yet
        factories.location(s, practice_id, "Soho").country = "GB"
        factories.location(s, practice_id, "Camden").country = "GB"
        factories.location(s, practice_id, "Dublin").country = "IE"
        s.flush()
        assert patients.practice_region(s, practice_id) == "GB"
        london = factories.patient(s, practice_id, phone="020 7946 0958")
        boston = factories.patient(s, practice_id, phone="+1 617 555 0100")
    assert london.phone_e164 == "+442079460958"
    assert boston.phone_e164 == "+16175550100"


def test_duplicate_external_id_conflicts(db, practice_id):
    with db.transaction() as s:
        factories.patient(s, practice_id, external_id="PMS-7")
    with pytest.raises(Conflict), db.transaction() as s:
        factories.patient(s, practice_id, external_id="PMS-7")


def test_other_practice_patient_is_not_found(db, practice_id):
    with db.transaction() as s:
        patient = factories.patient(s, practice_id)
        other = factories.practice(s, "Elsewhere")
    with pytest.raises(NotFound), db.transaction() as s:
        patients.get_patient(s, other.id, patient.id)
    with pytest.raises(NotFound), db.transaction() as s:
        patients.get_patient(s, practice_id, uuid.uuid4())


def test_prescription_round_trips_exact_values(db, practice_id):
    with db.transaction() as s:
        patient = factories.patient(s, practice_id)
        rx = rx_rules.SpectacleRx(
            right=rx_rules.EyeRx(
                sphere=Decimal("-2.25"),
                cylinder=Decimal("-0.50"),
                axis=180,
                add=Decimal("2.00"),
                prism_vertical=rx_rules.Prism(Decimal("0.50"), "down"),
                distance_pd=Decimal("31.5"),
                seg_height=Decimal("18"),
            ),
            left=None,
        )
        created = prescriptions.create_spectacle_prescription(
            s,
            factories.actor(practice_id),
            patient_id=patient.id,
            rx=rx,
            issued_on=date(2026, 10, 1),
            expires_on=date(2028, 10, 1),
        )
    with db.transaction() as s:
        stored = prescriptions.get_prescription(s, practice_id, created.id)
        back = prescriptions.spectacle_rx_of(stored)
    assert back.right == rx.right
    assert back.left is None


def test_prescription_rules_report_every_violation(db, practice_id):
    with db.transaction() as s:
        patient = factories.patient(s, practice_id)
    bad = rx_rules.SpectacleRx(right=rx_rules.EyeRx(sphere=Decimal("40"), axis=200), left=None)
    with pytest.raises(ValidationFailed) as failure, db.transaction() as s:
        prescriptions.create_spectacle_prescription(
            s,
            factories.actor(practice_id),
            patient_id=patient.id,
            rx=bad,
            issued_on=date(2026, 10, 1),
            expires_on=date(2026, 1, 1),
        )
    fields = {e.field for e in failure.value.errors}
    assert {"right.sphere", "right.axis", "right.cylinder", "expires_on"} <= fields
