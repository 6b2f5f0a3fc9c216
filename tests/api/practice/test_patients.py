"""GET/POST /v2/{client_id}/patients, GET /patients/{id}: the list grammar, every filter,
sort field and bound with the vendor's messages; single and bulk (atomic) creates."""

from __future__ import annotations

import pytest

from optihub.db.models import Patient
from tests.api.practice.conftest import count, error

PATTERN = (
    "/^(-?(patient_id|name_first|name_last|email|dob|create_date)"
    "(,-?(patient_id|name_first|name_last|email|dob|create_date))*$)/"
)


def names(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [p["name_first"] for p in response.json()["data"]]


def test_the_list_is_a_page_with_its_pagination(api, world):
    response = api.get("/patients")
    assert response.status_code == 200
    body = response.json()
    assert body["pagination"] == {
        "page": 1,
        "page_size": 10,
        "total_pages": 1,
        "total_count": 3,
        "sort": "name_last,name_first",
    }
    assert [p["name_first"] for p in body["data"]] == ["Zoe", "Liam", "Maya"]
    maya = body["data"][2]
    assert maya == {
        "patient_id": world.patients["maya"],
        "name_first": "Maya",
        "name_last": "Okafor",
        "email": "maya@example.com",
        "phone": "6175550123",
        "dob": "1984-05-17",
        "address_1": None,
        "address_2": None,
        "city": None,
        "state": None,
        "zip": None,
        "country": "US",
        "store_id": None,
        "create_date": maya["create_date"],
        "update_date": maya["update_date"],
        # OptiHub's extension (docs/practice-api.md): the eyewear-ready consents.
        "notify_eyewear_email": False,
        "notify_eyewear_sms": False,
    }
    assert maya["create_date"].endswith("Z")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"email": "maya@example.com"}, ["Maya"]),
        ({"email": "zoe.brandt@example.com"}, ["Zoe"]),  # case-insensitive
        ({"phone": "6175550199"}, ["Liam"]),
        ({"dob": "1990-12-24"}, ["Zoe"]),
        ({"dob": "1990-12-24T00:00:00"}, ["Zoe"]),
        ({"name_first": "ma"}, ["Maya"]),  # case-insensitive prefix
        ({"name_last": "OKA"}, ["Liam", "Maya"]),
        ({"name_last": "Okafor", "name_first": "Liam"}, ["Liam"]),
        ({"name_last": "%"}, []),  # wildcards are plain characters
        ({"email": "nobody@example.com"}, []),
    ],
)
def test_filters(api, params, expected):
    assert names(api.get("/patients", params=params)) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name_first", ["Liam", "Maya", "Zoe"]),
        ("-name_first", ["Zoe", "Maya", "Liam"]),
        ("name_last,-name_first", ["Zoe", "Maya", "Liam"]),
        ("-name_last,name_first", ["Liam", "Maya", "Zoe"]),
        ("dob", ["Maya", "Zoe", "Liam"]),
        ("-dob", ["Liam", "Zoe", "Maya"]),
        ("create_date", ["Maya", "Liam", "Zoe"]),
    ],
)
def test_sort(api, sort, expected):
    response = api.get("/patients", params={"sort": sort})
    assert names(response) == expected
    assert response.json()["pagination"]["sort"] == sort


@pytest.mark.parametrize(
    ("sort", "expected"), [("email", ["Liam", "Maya"]), ("-email", ["Maya", "Liam"])]
)
def test_sort_by_email(api, sort, expected):
    # Among lower-case emails: how upper case sorts is the database's collation.
    assert names(api.get("/patients", params={"sort": sort, "name_last": "Okafor"})) == expected


def test_sort_by_patient_id(api, world):
    response = api.get("/patients", params={"sort": "-patient_id"})
    ids = [p["patient_id"] for p in response.json()["data"]]
    assert ids == sorted(world.patients.values(), reverse=True)


def test_pages(api, world, db):
    with db.transaction() as s:
        from tests import factories

        for n in range(9):
            factories.patient(s, world.practice_id, first_name=f"P{n}", last_name="Page")
    first = api.get("/patients", params={"page_size": 5, "sort": "create_date"}).json()
    second = api.get("/patients", params={"page_size": 5, "page": 3, "sort": "create_date"})
    assert first["pagination"] == {
        "page": 1,
        "page_size": 5,
        "total_pages": 3,
        "total_count": 12,
        "sort": "create_date",
    }
    assert [p["name_first"] for p in second.json()["data"]] == ["P7", "P8"]
    beyond = api.get("/patients", params={"page": 9_000_000_000_000_000}).json()
    assert beyond["data"] == [] and beyond["pagination"]["total_count"] == 12


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"email": "not-an-email"}, '"email" must be a valid email'),
        ({"email": ""}, '"email" is not allowed to be empty'),
        (
            {"phone": "XXX"},
            '"phone" with value "XXX" fails to match the required pattern: /^\\d{10}$/',
        ),
        (
            {"phone": "617555012"},
            '"phone" with value "617555012" fails to match the required pattern: /^\\d{10}$/',
        ),
        ({"dob": "17/05/1984"}, "dob must be YYYY-MM-DD or YYYY-MM-DDTHH:mm:ss"),
        ({"dob": "1984-02-30"}, "dob must be YYYY-MM-DD or YYYY-MM-DDTHH:mm:ss"),
        ({"dob": "1984-05-17T10:00"}, "dob must be YYYY-MM-DD or YYYY-MM-DDTHH:mm:ss"),
        (
            {"name_first": "x" * 51},
            '"name_first" length must be less than or equal to 50 characters long',
        ),
        ({"name_last": "a\x00b"}, '"name_last" must not contain NUL characters'),
        ({"page": "0"}, '"page" must be greater than or equal to 1'),
        ({"page": "-3"}, '"page" must be greater than or equal to 1'),
        ({"page": "abc"}, '"page" must be a number'),
        ({"page": "1.5"}, '"page" must be an integer'),
        ({"page": "1e400"}, '"page" must be a safe number'),
        ({"page": str(10**30)}, '"page" must be a safe number'),
        ({"page_size": "4"}, '"page_size" must be greater than or equal to 5'),
        ({"page_size": "251"}, '"page_size" must be less than or equal to 250'),
        (
            {"sort": "invalid_sort_field"},
            f'"sort" with value "invalid_sort_field" fails to '
            f"match the required pattern: {PATTERN}",
        ),
        (
            {"sort": "name_first,"},
            f'"sort" with value "name_first," fails to match the required pattern: {PATTERN}',
        ),
        (
            {"sort": "--dob"},
            f'"sort" with value "--dob" fails to match the required pattern: {PATTERN}',
        ),
        ({"sort": ""}, '"sort" is not allowed to be empty'),
        ({"search": "maya"}, '"search" is not allowed'),
    ],
)
def test_each_violation_has_the_vendors_message(api, params, message):
    assert error(api.get("/patients", params=params), 400) == message


def test_bounds_that_are_allowed(api):
    for params in ({"page_size": 5}, {"page_size": 250}, {"page": 1}, {"page": " 2 "}):
        assert api.get("/patients", params=params).status_code == 200


def test_a_repeated_parameter_is_refused(api):
    response = api.get("/patients", params=[("page", "1"), ("page", "2")])
    assert error(response, 400) == '"page" must be a number'


def test_every_violation_is_reported_in_one_message_always_in_the_same_order(api):
    query = (
        "?sort=invalid_sort_field&page_size=1000&page=0&dob=1984&phone=XXX"
        "&email=not-an-email&colour=blue"
    )
    expected = (
        '"email" must be a valid email,'
        '"phone" with value "XXX" fails to match the required pattern: /^\\d{10}$/,'
        "dob must be YYYY-MM-DD or YYYY-MM-DDTHH:mm:ss,"
        '"page" must be greater than or equal to 1,'
        '"page_size" must be less than or equal to 250,'
        f'"sort" with value "invalid_sort_field" fails to match the required pattern: {PATTERN},'
        '"colour" is not allowed'
    )
    first = error(api.get("/patients" + query), 400)
    again = error(api.get("/patients" + query), 400)
    assert first == expected
    assert again == expected


def test_one_patient(api, world):
    response = api.get(f"/patients/{world.patients['zoe']}")
    assert response.status_code == 200
    assert response.json()["name_last"] == "Brandt"
    assert response.json()["email"] == "Zoe.Brandt@Example.com"


# --- creating ---------------------------------------------------------------------------------

NEW = {
    "name_first": "Ada",
    "name_last": "Lovelace",
    "email": "ada@example.com",
    "phone": "2025550143",
    "dob": "1985-12-10",
    "address_1": "12 Harbor Way",
    "address_2": None,
    "city": "Boston",
    "state": "MA",
    "zip": "02110",
}


def test_create_one(api, db):
    response = api.post("/patients", json=NEW)
    assert response.status_code == 201, response.text
    created = response.json()
    assert {k: created[k] for k in NEW} == NEW
    again = api.get(f"/patients/{created['patient_id']}")
    assert again.json() == created


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b'{"name_first": "Ma\\ud800ya", "name_last": "Okafor"}', "name_first"),
        (b'{"name_first": "Ma\xed\xa0\x80ya", "name_last": "Okafor"}', "name_first"),
        (
            b'[{"name_first": "Ana", "name_last": "Ok"},'
            b' {"name_first": "Ma\\udfffya", "name_last": "O"}]',
            "[1].name_first",
        ),
    ],
    ids=["escaped", "raw-bytes", "bulk"],
)
def test_a_name_that_is_not_unicode_is_refused(api, db, content, field):
    before = count(db, Patient)
    response = api.post("/patients", content=content, headers={"Content-Type": "application/json"})
    message = error(response, 400)
    assert message.startswith(f"{field}: Text must be valid Unicode"), message
    assert count(db, Patient) == before


def test_create_with_a_date_time_keeps_the_date(api):
    response = api.post("/patients", json={**NEW, "dob": "1985-12-10T08:30:00"})
    assert response.status_code == 201
    assert response.json()["dob"] == "1985-12-10"


def test_create_several_at_once(api, db):
    before = count(db, Patient)
    records = [{"name_first": f"Bulk{n}", "name_last": "Import"} for n in range(3)]
    response = api.post("/patients", json=records)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert [p["name_first"] for p in data] == ["Bulk0", "Bulk1", "Bulk2"]
    assert count(db, Patient) == before + 3
    # Each is answered as it is stored: the same as reading it back.
    assert data == [api.get(f"/patients/{p['patient_id']}").json() for p in data]


def test_the_answer_to_a_create_is_what_is_stored(api):
    response = api.post("/patients", json={**NEW, "name_first": "  Ann ", "name_last": "Lee  "})
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["name_first"], created["name_last"]) == ("Ann", "Lee")
    assert api.get(f"/patients/{created['patient_id']}").json() == created


def test_a_bulk_with_one_bad_record_writes_nothing_and_names_it(api, db):
    before = count(db, Patient)
    records = [
        {"name_first": "Good", "name_last": "One"},
        {"name_first": "Bad", "name_last": "Two", "email": "nope"},
        {"name_last": "Three", "phone": "123"},
    ]
    response = api.post("/patients", json=records)
    assert error(response, 400) == (
        '"[1].email" must be a valid email,'
        '"[2].name_first" is required,'
        '"[2].phone" with value "123" fails to match the required pattern: /^\\d{10}$/'
    )
    assert count(db, Patient) == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name_last": "X"}, '"name_first" is required'),
        ({"name_first": 12, "name_last": "X"}, '"name_first" must be a string'),
        ({"name_first": "", "name_last": "X"}, '"name_first" is not allowed to be empty'),
        ({"name_first": "A", "name_last": "X", "ssn": "1"}, '"ssn" is not allowed'),
        (
            {"name_first": "A", "name_last": "X", "dob": "2999-01-01"},
            '"dob" must be less than or equal to "now"',
        ),
        ({"name_first": "A", "name_last": "X", "dob": 19850101}, '"dob" must be a string'),
        (
            {"name_first": "A", "name_last": "X", "zip": "1" * 21},
            '"zip" length must be less than or equal to 20 characters long',
        ),
        (
            {"name_first": "A\u0000", "name_last": "X"},
            '"name_first" must not contain NUL characters',
        ),
        ("Ada", '"value" must be an object or an array of objects'),
        (12, '"value" must be an object or an array of objects'),
        ([], '"value" must contain at least 1 items'),
        (
            [{"name_first": "A", "name_last": "B"}] * 101,
            '"value" must contain less than or equal to 100 items',
        ),
        (["Ada"], '"[0]" must be of type object'),
    ],
)
def test_bad_bodies_are_refused_in_the_vendors_words(api, db, body, message):
    before = count(db, Patient)
    assert error(api.post("/patients", json=body), 400) == message
    assert count(db, Patient) == before


@pytest.mark.parametrize(
    "content",
    [b'{"name_first": "A", ', b"\xff", b'{"name_first": "A", "zip": ' + b"9" * 5000 + b"}"],
)
def test_malformed_json_is_400_and_writes_nothing(api, db, content):
    before = count(db, Patient)
    response = api.post("/patients", content=content, headers={"Content-Type": "application/json"})
    assert error(response, 400)
    assert count(db, Patient) == before


def test_an_empty_body_is_400(api):
    response = api.post("/patients", headers={"Content-Type": "application/json"})
    assert error(response, 400) == '"value" is required'
