"""Phones in the practice API. Its document gives a patient's ``phone`` as "10 digits" and
the ``phone`` filter the pattern ``^\\d{10}$``: a patient body's phone must match that
pattern (ten digits, nothing else) and is refused with the vendor's message otherwise.
Reading a patient back returns the phone as stored, as given, whichever surface wrote it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from optihub.db.models import Patient
from tests import factories
from tests.api.practice.conftest import count, error
from tests.phone_numbers import PHONES, TOO_LONG


def _refusal(value: str) -> str:
    return f'"phone" with value "{value}" fails to match the required pattern: /^\\d{{10}}$/'


# What a patient body may hold: the pattern's ten digits, nothing else.
ACCEPTED = {"6175550100"}


@pytest.mark.parametrize(("given", "e164"), [*PHONES, pytest.param(TOO_LONG, None, id="21")])
def test_a_patient_body_takes_ten_digits_only(api, db, given, e164):
    before = count(db, Patient)
    response = api.post("/patients", json={"name_first": "Ada", "name_last": "L", "phone": given})
    if given not in ACCEPTED:
        assert error(response, 400) == _refusal(given)
        assert count(db, Patient) == before
        return
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["phone"] == given
    assert api.get(f"/patients/{created['patient_id']}").json()["phone"] == given
    with db.read_sessions() as reader:
        patient = reader.scalar(select(Patient).where(Patient.first_name == "Ada"))
    assert patient is not None
    assert (patient.phone, patient.phone_e164) == (given, e164)


@pytest.mark.parametrize("given", ["6175550100\n", "٦١٧٥٥٥٠١٠٠", " 6175550100"])
def test_the_pattern_is_the_vendors_ascii_digits_and_nothing_after(api, given):
    """``^\\d{10}$`` as the vendor's JavaScript reads it: no trailing newline, ASCII digits."""
    response = api.post("/patients", json={"name_first": "Ada", "name_last": "L", "phone": given})
    assert error(response, 400) == _refusal(given)
    assert error(api.get("/patients", params={"phone": given}), 400) == _refusal(given)


@pytest.mark.parametrize(("given", "e164"), PHONES)
def test_a_patient_written_elsewhere_reads_back_with_its_phone_as_given(
    api, db, world, given, e164
):
    with db.transaction() as s:
        patient = factories.patient(s, world.practice_id, first_name="Kit", phone=given)
    shown = api.get(f"/patients/{patient.id}").json()
    assert shown["phone"] == given
    listed = api.get("/patients", params={"name_first": "Kit"}).json()["data"]
    assert [p["phone"] for p in listed] == [given]


def test_the_phone_filter_keeps_the_vendors_pattern(api):
    assert [p["name_first"] for p in api.get("/patients?phone=6175550199").json()["data"]] == [
        "Liam"
    ]
    for value in ("(617) 555-0199", "+16175550199", "617555019"):
        assert error(api.get("/patients", params={"phone": value}), 400) == _refusal(value)


@pytest.mark.parametrize("written", ["(617) 555-0142", "+1 617-555-0142", "617.555.0142"])
def test_the_phone_filter_finds_the_same_number_however_another_channel_wrote_it(
    api, db, world, written
):
    with db.transaction() as s:
        factories.patient(s, world.practice_id, first_name="Noor", phone=written)
    found = api.get("/patients", params={"phone": "6175550142"}).json()["data"]
    assert [(p["name_first"], p["phone"]) for p in found] == [("Noor", written)]
