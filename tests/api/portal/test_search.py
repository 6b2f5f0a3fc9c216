"""The two searches: locations and users, paged."""

from __future__ import annotations

import pytest

from optihub.surfaces.kit.responses import parse_xml

BASE = "http://schemas.datacontract.org/2004/07/GlobalPortal.Api.Models"

LOCATIONS = [
    ("L1", "Lakeside Main", True, "Duluth", "MN"),
    ("L2", "Lakeside North", True, "Two Harbors", "MN"),
    ("L3", "Superior Vision", True, "Superior", "WI"),
    ("L4", "Old Town", False, "Duluth", "MN"),
    ("L5", "Ridge Eye", True, "Ashland", "WI"),
]
USERS = [
    ("U1", "frontdesk", "Sam", "Reyes", True),
    ("U2", "optician1", "Ana", "Ruiz", True),
    ("U3", "optician2", "Sam", "Olsen", False),
    ("U4", "manager", "Lee", "Samson", True),
]


@pytest.fixture
def locations(post) -> None:
    for external_id, name, active, city, state in LOCATIONS:
        sent = {
            "externalId": external_id,
            "name": name,
            "active": active,
            "city": city,
            "state": state,
        }
        assert post("Locations", sent).status_code == 200


@pytest.fixture
def users(post) -> None:
    for external_id, username, first, last, active in USERS:
        sent = {
            "externalId": external_id,
            "username": username,
            "firstName": first,
            "lastName": last,
            "active": active,
        }
        assert post("Users", sent).status_code == 200


def search(client, sync, path: str, token: str | None = None, **params):
    headers = {"Authorization": f"Bearer {token or sync.token}"}
    return client.get(f"/api/{path}/search", params=params, headers=headers)


def page_of(response) -> tuple[tuple[int, ...], list[str]]:
    assert response.status_code == 200, response.text
    payload = response.json()
    assert list(payload) == [
        "totalItems",
        "itemsPerPage",
        "currentPage",
        "totalPages",
        "firstRowOnPage",
        "lastRowOnPage",
        "rows",
    ]
    counts = tuple(payload[k] for k in list(payload)[:6])
    return counts, [row["externalId"] for row in payload["rows"]]


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (1, ((5, 2, 1, 3, 1, 2), ["L1", "L2"])),
        (2, ((5, 2, 2, 3, 3, 4), ["L3", "L4"])),
        (3, ((5, 2, 3, 3, 5, 5), ["L5"])),
        (4, ((5, 2, 4, 3, 0, 0), [])),
    ],
)
def test_location_pages(page, expected, locations, client, sync) -> None:
    assert page_of(search(client, sync, "locations", page=page, itemsPerPage=2)) == expected


def test_location_defaults_and_rows(locations, client, sync) -> None:
    response = search(client, sync, "locations")
    assert page_of(response) == ((5, 10, 1, 1, 1, 5), ["L1", "L2", "L3", "L4", "L5"])
    row = response.json()["rows"][0]
    assert row["name"] == "Lakeside Main" and row["city"] == "Duluth" and row["id"]


@pytest.mark.parametrize(
    ("params", "found"),
    [
        ({"name": "lakeside"}, ["L1", "L2"]),
        ({"name": "NORTH"}, ["L2"]),
        ({"active": "false"}, ["L4"]),
        ({"active": "true"}, ["L1", "L2", "L3", "L5"]),
        ({"city": "duluth"}, ["L1", "L4"]),
        ({"state": "WI"}, ["L3", "L5"]),
        ({"state": "MN", "active": "true"}, ["L1", "L2"]),
        ({"name": "nowhere"}, []),
    ],
)
def test_location_filters(params, found, locations, client, sync) -> None:
    counts, rows = page_of(search(client, sync, "locations", **params))
    assert rows == found
    assert counts[0] == len(found)
    assert counts[3] == (1 if found else 0)


@pytest.mark.parametrize(
    ("params", "found"),
    [
        ({}, ["U1", "U2", "U3", "U4"]),
        ({"active": "false"}, ["U3"]),
        ({"username": "OPTICIAN"}, ["U2", "U3"]),
        ({"firstName": "sam"}, ["U1", "U3"]),
        ({"lastName": "sam"}, ["U4"]),
        ({"firstName": "Sam", "active": "true"}, ["U1"]),
    ],
)
def test_user_filters(params, found, users, client, sync) -> None:
    counts, rows = page_of(search(client, sync, "users", **params))
    assert rows == found and counts[0] == len(found)


def test_user_pages(users, client, sync) -> None:
    assert page_of(search(client, sync, "users", page=2, itemsPerPage=3)) == (
        (4, 3, 2, 2, 4, 4),
        ["U4"],
    )


def test_other_practices_records_are_not_found(locations, client, sync) -> None:
    counts, rows = page_of(search(client, sync, "locations", token=sync.other_token))
    assert counts == (0, 10, 1, 0, 0, 0) and rows == []


def test_deleted_records_leave_the_search(locations, client, sync) -> None:
    assert (
        client.delete(
            "/api/Locations", params={"externalId": "L2"}, headers=sync.headers
        ).status_code
        == 200
    )
    assert page_of(search(client, sync, "locations", name="lakeside"))[1] == ["L1"]


@pytest.mark.parametrize(
    "params",
    [
        {"itemsPerPage": 0},
        {"itemsPerPage": 101},
        {"page": 0},
        {"page": -1},
        {"page": "two"},
        {"itemsPerPage": "1.5"},
        {"active": "maybe"},
    ],
)
@pytest.mark.parametrize("path", ["locations", "users"])
def test_bad_paging_is_400(params, path, client, sync) -> None:
    response = search(client, sync, path, **params)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["Message"] == "The request is invalid."
    assert set(payload["ModelState"]) == set(params)


def test_a_page_in_xml(locations, client, sync) -> None:
    response = client.get(
        "/api/locations/search",
        params={"page": 3, "itemsPerPage": 2},
        headers={**sync.headers, "Accept": "application/xml"},
    )
    assert response.status_code == 200
    root = parse_xml(response.content)
    assert root.tag == f"{{{BASE}}}PagedResultOfLocationModel"
    values = {child.tag.split("}")[1]: child for child in root}
    assert values["TotalItems"].text == "5"
    assert values["TotalPages"].text == "3"
    assert values["FirstRowOnPage"].text == "5"
    assert values["LastRowOnPage"].text == "5"
    rows = list(values["Rows"])
    assert len(rows) == 1
    assert rows[0].tag == f"{{{BASE}.Locations}}LocationModel"
    assert rows[0].find(f"{{{BASE}}}ExternalId").text == "L5"
