"""GET /v2/{client_id}/stores[/{id}] and /employees[/{id}]: the practice's locations with
their hours, its staff and doctors; the shared list grammar with their own allow-lists."""

from __future__ import annotations

import pytest

from tests.api.practice.conftest import error


def test_stores_with_their_hours(api, world):
    response = api.get("/stores")
    assert response.status_code == 200
    body = response.json()
    assert [s["name"] for s in body["data"]] == ["Bayside", "Main Street"]
    assert body["pagination"]["sort"] == "name"
    main = body["data"][1]
    assert main["store_id"] == world.stores["main"]
    assert main["hours"][0] == {"day": "monday", "open": "09:00", "close": "17:00"}
    assert [h["day"] for h in main["hours"]] == [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
    ]
    one = api.get(f"/stores/{world.stores['main']}")
    assert one.json() == main


def test_stores_filter_and_sort(api):
    assert [s["name"] for s in api.get("/stores", params={"sort": "-name"}).json()["data"]] == [
        "Main Street",
        "Bayside",
    ]
    found = api.get("/stores", params={"name": "main"}).json()
    assert [s["name"] for s in found["data"]] == ["Main Street"]


def test_stores_refuse_the_patients_sort_fields(api):
    assert error(api.get("/stores", params={"sort": "dob", "page_size": 2}), 400) == (
        '"page_size" must be greater than or equal to 5,'
        '"sort" with value "dob" fails to match the required pattern: '
        "/^(-?(store_id|name|create_date)(,-?(store_id|name|create_date))*$)/"
    )


def test_employees(api, world):
    body = api.get("/employees").json()
    assert [e["name_last"] for e in body["data"]] == ["Adams", "Cole", "Reyes"]
    doctor = body["data"][2]
    assert doctor == {
        "employee_id": world.employees["doctor"],
        "name_first": "Ana",
        "name_last": "Reyes",
        "title": "OD",
        "email": None,
        "npi": "1234567890",
        "is_doctor": True,
        "in_house": True,
        "is_active": True,
        "store_ids": [world.stores["main"]],
        "create_date": doctor["create_date"],
        "update_date": doctor["update_date"],
    }
    assert api.get(f"/employees/{world.employees['doctor']}").json() == doctor


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"is_doctor": "true"}, ["Reyes"]),
        ({"is_doctor": "false"}, ["Adams", "Cole"]),
        ({"is_active": "false"}, ["Adams"]),
        ({"name_first": "be"}, ["Cole"]),
        ({"sort": "-name_first"}, ["Adams", "Cole", "Reyes"]),
        ({"sort": "name_first"}, ["Reyes", "Cole", "Adams"]),
    ],
)
def test_employee_filters_and_sort(api, params, expected):
    body = api.get("/employees", params=params).json()
    assert [e["name_last"] for e in body["data"]] == expected


def test_employees_of_a_store(api, world):
    body = api.get("/employees", params={"store_id": world.stores["bay"]}).json()
    assert [e["name_last"] for e in body["data"]] == ["Cole"]


def test_employee_filter_messages(api):
    response = api.get("/employees", params={"is_doctor": "yes", "store_id": "12"})
    assert error(response, 400) == '"is_doctor" must be a boolean,"store_id" must be a valid GUID'
