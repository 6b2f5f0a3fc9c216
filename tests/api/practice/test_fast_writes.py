"""``POST /v2/{client_id}/patients`` on the kit's fast path (``kit.fast_write``): one patient
is answered before routing exactly as the route answers it — the same status, body, headers
and stored effects, every refusal in the same envelope, one access-log line and one metrics
observation a request — and whatever is unusual (a query string, a bulk array, invalid
JSON, another media type, a body over the limit) goes to the route."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from optihub import web
from optihub.db.models import AuditEntry, Patient
from tests.api.fast_paths import record_fast_answers
from tests.api.practice.conftest import count

# Any query string sends the request to the route: the reference it is compared with.
VIA_ROUTE = {"via": "route"}
NEW = {
    "name_first": "  Ada ",
    "name_last": "Lovelace",
    "email": "ada@example.com",
    "phone": "6175550142",
    "dob": "1985-12-10",
    "address_1": "1 Main St",
    "city": "Boston",
    "state": "MA",
    "zip": "02110",
}
# What differs between two creates of the same record.
OWN = ("patient_id", "create_date", "update_date")
SAME_HEADERS_BUT = {"x-request-id", "content-length"}


@pytest.fixture
def served(app) -> list[bool]:
    return record_fast_answers(app, lambda path: path.startswith("/v2/"))


def both(api, body: Any = None, **kw: Any) -> tuple[Any, Any]:
    """The same request sent as it is, then with a query string (the route)."""
    if body is not None:
        kw["json"] = body
    fast = api.post("/patients", **kw)
    route = api.post("/patients", params=VIA_ROUTE, **kw)
    return fast, route


def headers(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in SAME_HEADERS_BUT}


def same_answer(fast: Any, route: Any) -> None:
    assert fast.status_code == route.status_code
    assert headers(fast) == headers(route)
    assert fast.json() == route.json()


def test_a_created_patient_is_the_routes_answer_and_stored_alike(api, db, world, served):
    fast, route = both(api, NEW)
    assert served == [True, False]
    assert fast.status_code == route.status_code == 201, fast.text
    assert headers(fast) == headers(route)
    created, reference = fast.json(), route.json()
    assert {k: v for k, v in created.items() if k not in OWN} == {
        k: v for k, v in reference.items() if k not in OWN
    }
    # As read back, and stored alike: the row and its audit entry.
    assert api.get(f"/patients/{created['patient_id']}").json() == created
    with db.transaction() as reader:
        rows = {
            str(p.id): p
            for p in reader.scalars(
                select(Patient).where(
                    Patient.id.in_(
                        [uuid.UUID(created["patient_id"]), uuid.UUID(reference["patient_id"])]
                    )
                )
            )
        }
        entries = {
            str(e.target_id): e
            for e in reader.scalars(
                select(AuditEntry).where(
                    AuditEntry.target_id.in_([created["patient_id"], reference["patient_id"]])
                )
            )
        }
    columns = [c.key for c in Patient.__table__.columns if c.key not in ("id", *OWN_COLUMNS)]
    one, other = rows[created["patient_id"]], rows[reference["patient_id"]]
    assert {c: getattr(one, c) for c in columns} == {c: getattr(other, c) for c in columns}
    audit = ("practice_id", "actor_user_id", "actor_client_id", "action", "target_type", "via")
    first, second = entries[created["patient_id"]], entries[reference["patient_id"]]
    assert {a: getattr(first, a) for a in audit} == {a: getattr(second, a) for a in audit}
    assert first.action == "patient.created" and first.details == second.details


OWN_COLUMNS = ("created_at", "updated_at")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name_first": "Ada"}, 400),  # name_last missing
        ({**NEW, "email": "not an email"}, 400),
        ({**NEW, "unknown": 1}, 400),
        ({**NEW, "dob": "2999-01-01"}, 400),  # the service's refusal
        ({}, 400),
    ],
)
def test_a_refused_body_is_the_routes_refusal_and_writes_nothing(api, db, served, body, status):
    before = count(db, Patient), count(db, AuditEntry)
    fast, route = both(api, body)
    assert served == [True, False]
    assert fast.status_code == status
    same_answer(fast, route)
    assert (count(db, Patient), count(db, AuditEntry)) == before


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"token": "nope"}, 401),
        ({"headers": {"Authorization": ""}}, 401),
        ({"scopes": "read:patients"}, 403),
        ({"client_id": "other"}, 403),
        ({"client_id": "abc"}, 400),
    ],
)
def test_refusals_are_rendered_as_the_route_renders_them(api, world, served, kwargs, status):
    if kwargs.get("client_id") == "other":
        kwargs = {"client_id": world.other_practice_id}
    fast, route = both(api, NEW, **kwargs)
    assert served == [True, False]
    assert fast.status_code == status
    same_answer(fast, route)


def test_over_the_rate_both_count_against_one_budget(api, app, served, monkeypatch):
    surface = next(s for s in app.state.surfaces if s.name == "practice")
    monkeypatch.setattr(surface, "rate_limit", "3/minute")
    statuses = [api.post("/patients", json=NEW).status_code for _ in range(2)]
    statuses.append(api.post("/patients", json=NEW, params=VIA_ROUTE).status_code)
    fast, route = both(api, NEW)
    assert statuses == [201, 201, 201]
    assert fast.status_code == 429 and fast.headers.get("retry-after")
    same_answer(fast, route)
    assert served == [True, True, False, True, False]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": [NEW, {**NEW, "email": "b@example.com"}]},  # a bulk array
        {"content": b'{"name_first": "Ada", '},  # invalid JSON
        {"content": b"[]"},
        {"content": b""},
        {"content": b'"text"'},
        {"content": b'{"name_first": "Ada", "name_last": "\\ud800"}'},  # the kit's refusal
        {"content": b'{"name_first": "Ada", "name_last": 12345678901234567890}'},
        {"content": b'{"name_first": "Ada", "name_last": NaN}'},
        {"json": NEW, "headers": {"Content-Type": "text/plain"}},
    ],
)
def test_what_the_fast_path_does_not_take_goes_to_the_route(api, served, kwargs):
    fast, route = both(api, **kwargs)
    assert served == [False, False]
    assert fast.status_code == route.status_code
    if fast.status_code != 201:
        assert fast.content == route.content
    assert headers(fast).keys() == headers(route).keys()


def test_a_body_over_the_limit_is_the_routes_413_unread_by_the_fast_path(api, served):
    body = b'{"name_first": "' + b"x" * (1 << 20) + b'"}'
    fast, route = both(api, content=body, headers={"Content-Type": "application/json"})
    assert served == []  # over the limit: the handler is not even asked
    assert fast.status_code == 413
    same_answer(fast, route)


def test_a_limit_lowered_after_install_is_the_routes_413(api, app, served, monkeypatch):
    surface = next(s for s in app.state.surfaces if s.name == "practice")
    monkeypatch.setattr(surface, "max_body", 10)
    fast, route = both(api, NEW)
    assert served == [False, False]
    assert fast.status_code == 413
    same_answer(fast, route)


def test_one_access_line_and_one_observation_a_request(api, served, monkeypatch):
    lines: list[tuple[Any, ...]] = []
    observed: list[tuple[Any, ...]] = []
    monkeypatch.setattr(web, "access", lambda *args: lines.append(args))
    observe = web._observe
    monkeypatch.setattr(web, "_observe", lambda *args: (observed.append(args), observe(*args))[1])
    both(api, NEW)
    api.post("/patients", json={"name_first": "Ada"})
    api.post("/patients", json=[NEW])
    api.post("/patients", json=NEW, token="nope")
    assert served == [True, False, True, False, True]
    template = "/v2/{client_id}/patients"
    assert [(line[0], line[2], line[3]) for line in lines] == [
        ("POST", template, 201),
        ("POST", template, 201),
        ("POST", template, 400),
        ("POST", template, 201),
        ("POST", template, 401),
    ]
    assert [(o[0], o[1], o[2]) for o in observed] == [(line[0], line[2], line[3]) for line in lines]
    assert len({line[5] for line in lines}) == len(lines)  # a request id each


def test_digits_inside_an_identifier_do_not_send_a_body_to_the_route(api, served):
    # Nineteen digits in a row within a text that goes on from letters (an id's hex, a
    # reference) are no number orjson could misread: the fast path answers.
    body = {**NEW, "address_2": "Unit b1234567890123456789012"}
    fast, route = both(api, body)
    assert served == [True, False]
    assert fast.status_code == route.status_code == 201, fast.text
