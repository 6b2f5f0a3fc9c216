"""Bad bodies are 400s (or 413s) naming what is wrong, never 5xx, and write nothing."""

from __future__ import annotations

import base64

import pytest

from tests.api.portal._support import PDF, invalid
from tests.api.portal.conftest import table_counts

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("resource", "raw", "key"),
    [
        (
            "Patients",
            b'{"externalId": "P9", "lastName": "L", "active": "yes please"}',
            "model.Active",
        ),
        ("Patients", b'{"externalId": "P9", "lastName": {"first": "x"}}', "model.LastName"),
        ("Patients", b'{"externalId": "P9", "lastName": ["L"]}', "model.LastName"),
        (
            "Patients",
            b'{"externalId": "P9", "lastName": "L", "birthday": "yesterday"}',
            "model.Birthday",
        ),
        ("Patients", b'{"externalId": {"a": 1}, "lastName": "L"}', "model.ExternalId"),
        (
            "Orders",
            b'{"externalId": "O9", "patientExternalId": "P1", "locationExternalId": "L1",'
            b' "orderDetails": [{"quantity": 99999999999999999999999999999}]}',
            "model.OrderDetails[0].Quantity",
        ),
        (
            "Orders",
            b'{"externalId": "O9", "patientExternalId": "P1", "locationExternalId": "L1",'
            b' "orderDetails": [{"quantity": 1.5}]}',
            "model.OrderDetails[0].Quantity",
        ),
        (
            "Orders",
            b'{"externalId": "O9", "patientExternalId": "P1", "locationExternalId": "L1",'
            b' "orderBalance": 1e400}',
            "model.OrderBalance",
        ),
        (
            "Orders",
            b'{"externalId": "O9", "patientExternalId": "P1", "locationExternalId": "L1",'
            b' "orderBalance": NaN}',
            "model.OrderBalance",
        ),
        (
            "Orders",
            b'{"externalId": "O9", "patientExternalId": "P1", "locationExternalId": "L1",'
            b' "orderDetails": {"quantity": 1}}',
            "model.OrderDetails",
        ),
        (
            "Orders",
            b'{"externalId": "O9", "patientExternalId": "P1", "locationExternalId": "L1",'
            b' "orderBalance": 1e30}',
            "model.OrderBalance",
        ),
        # Too small for the decimal (it would round to 0), as 1e30 is too large.
        (
            "Orders",
            b'{"externalId": "O9", "patientExternalId": "P1", "locationExternalId": "L1",'
            b' "orderBalance": -1e-999999999}',
            "model.OrderBalance",
        ),
        (
            "Orders",
            b'{"externalId": "O9", "patientExternalId": "P1", "locationExternalId": "L1",'
            b' "orderDetails": [{"unitPrice": 1e-29}]}',
            "model.OrderDetails[0].UnitPrice",
        ),
        ("Patients", b'{"externalId": "P9", "lastName": "Li\\ud800nd"}', "model.LastName"),
        ("Patients", b'{"externalId": "P9", "lastName": "Li\xed\xa0\x80nd"}', "model.LastName"),
        (
            "Locations",
            b'{"externalId": "L9", "name": "N", "mondayFrom": "25:00"}',
            "model.MondayFrom",
        ),
        (
            "Locations",
            b'{"externalId": "L9", "name": "N", "mondayFrom": "17:00", "mondayTo": "09:00"}',
            "model.MondayTo",
        ),
        (
            "Doctors",
            b'{"externalId": "D9", "lastName": "K", "active": 1, "inHouse": "x",'
            b' "locations": "L1"}',
            "model.Locations",
        ),
        (
            "Patients",
            b'{"externalId": "P9", "lastName": "L", "phone": "+1 617 555 0100 x12345"}',
            "model.Phone",
        ),
        (
            "Patients",
            b'{"externalId": "P9", "lastName": "L", "birthday": "2999-01-01"}',
            "model.Birthday",
        ),
        ("Patients", b'{"externalId": "' + b"x" * 101 + b'", "lastName": "L"}', "model.ExternalId"),
        ("Patients", b'{"externalId": "P9", "lastName": "' + b"y" * 201 + b'"}', "model.LastName"),
    ],
)
def test_wrong_types_and_values(resource, raw, key, basics, post, db) -> None:
    counts = table_counts(db)
    response = post(resource, content=raw, headers=JSON)
    invalid(response, key)
    assert table_counts(db) == counts


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"externalId": "P9",}', b"[]", b'"P9"', b"null", b"\xff\xfe{}", b"", b"   "],
)
def test_malformed_json(raw, post, db) -> None:
    counts = table_counts(db)
    response = post("Patients", content=raw, headers=JSON)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["Message"]
    assert table_counts(db) == counts


def test_unknown_members_and_the_id_are_ignored(post, get) -> None:
    response = post(
        "Patients",
        {
            "externalId": "P9",
            "lastName": "Lind",
            "favouriteColour": "teal",
            "id": "00000000-0000-0000-0000-000000000001",
            "Nested": {"deep": [1, 2]},
        },
    )
    assert response.status_code == 200, response.text
    shown = get("Patients", "P9").json()
    assert "favouriteColour" not in shown
    assert shown["id"] != "00000000-0000-0000-0000-000000000001"
    # Member names are matched whatever their case.
    assert (
        post("Patients", {"EXTERNALID": "P9", "LastName": "Lind"}).headers["X-Portal-Change"]
        == "unchanged"
    )


def test_numbers_for_strings_but_not_strings_for_booleans(basics, post, get, db) -> None:
    response = post("Patients", {"externalId": "P9", "lastName": "Lind", "zipCode": 55802})
    assert response.status_code == 200, response.text
    assert get("Patients", "P9").json()["zipCode"] == "55802"
    counts = table_counts(db)
    for member, value in (("active", "false"), ("active", 0), ("allowSmsReminders", "true")):
        refused = post("Patients", {"externalId": "P8", "lastName": "Lind", member: value})
        invalid(refused, "model." + member[:1].upper() + member[1:])
    amount = post(
        "Orders",
        {
            "externalId": "O8",
            "patientExternalId": "P1",
            "locationExternalId": "L1",
            "orderBalance": "12.50",
        },
    )
    invalid(amount, "model.OrderBalance")
    assert table_counts(db) == counts


def test_a_body_over_the_limit_is_413(post, db) -> None:
    counts = table_counts(db)
    big = b'{"externalId": "P9", "lastName": "Lind", "notes": "' + b"x" * (16 << 20) + b'"}'
    response = post("Patients", content=big, headers=JSON)
    assert response.status_code == 413
    assert set(response.json()) == {"Message"}
    assert table_counts(db) == counts


def test_a_pdf_over_10_mib_is_413(basics, post, db) -> None:
    counts = table_counts(db)
    content = PDF + b"\0" * ((10 << 20) - len(PDF) + 1)
    sent = {
        "externalId": "G9",
        "patientExternalId": "P1",
        "rightEyePrescriptionDetails": "-1.00 DS",
        "fileName": "big.pdf",
        "fileContent": base64.b64encode(content).decode(),
    }
    response = post("GlassesPrescriptions", sent)
    assert response.status_code == 413, response.text[:200]
    assert set(response.json()) == {"Message"}
    assert table_counts(db) == counts


def test_a_pdf_of_exactly_10_mib_is_accepted(basics, post, get) -> None:
    content = PDF + b"\0" * ((10 << 20) - len(PDF))
    sent = {
        "externalId": "G9",
        "patientExternalId": "P1",
        "rightEyePrescriptionDetails": "-1.00 DS",
        "fileName": "big.pdf",
        "fileContent": base64.b64encode(content).decode(),
    }
    response = post("GlassesPrescriptions", sent)
    assert response.status_code == 200, response.text[:200]
    assert base64.b64decode(get("GlassesPrescriptions", "G9").json()["fileContent"]) == content


def test_nul_characters_are_refused(post, db) -> None:
    counts = table_counts(db)
    response = post("Patients", {"externalId": "P9", "lastName": "Li\u0000nd"})
    assert response.status_code == 400
    assert table_counts(db) == counts
