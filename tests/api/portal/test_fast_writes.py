"""``POST /api/{Resource}`` with a JSON body on the kit's fast path (``kit.fast_write``): a
patient created, updated or sent again unchanged is answered before routing exactly as the
route answers it — status, body, headers (``X-Portal-Change``), stored effects — every
refusal in the vendor's envelope, in the route's order (the practice after the body), one
access-log line and one metrics observation a request; XML, no media type or a query
string go to the route."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from optihub import web
from optihub.db.models import AuditEntry, OrderVersion, Patient, PortalRecord
from tests import factories
from tests.api.fast_paths import record_fast_answers

VIA_ROUTE = {"ignored": "1"}
SAME_HEADERS_BUT = {"x-request-id", "content-length"}


def patient(external_id: str, **more: Any) -> dict[str, Any]:
    return {
        "externalId": external_id,
        "firstName": " Ola",
        "lastName": "Berg",
        "birthday": "1980-04-02T00:00:00+00:00",
        "emailAddress": "ola@example.com",
        "phone": " 218-555-0111 ",
        "address1": "4 Pine St",
        "city": "Duluth",
        "state": "MN",
        "zipCode": "55802",
        "locationExternalId": "L1",
        "active": True,
        "notes": "Prefers mornings",
        "allowEmailReminders": True,
        **more,
    }


@pytest.fixture
def served(app) -> list[bool]:
    return record_fast_answers(app, lambda path: path.startswith("/api/Patients"))


@pytest.fixture
def location(post) -> None:
    response = post("Locations", {"externalId": "L1", "name": "Lakeside Main", "active": True})
    assert response.status_code == 200, response.text


def headers(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in SAME_HEADERS_BUT}


def same_answer(fast: Any, route: Any) -> None:
    assert fast.status_code == route.status_code
    assert headers(fast) == headers(route)
    assert fast.content == route.content


def both(post, fast_body: Any, route_body: Any = None, **kw: Any) -> tuple[Any, Any]:
    fast = post("Patients", fast_body, **kw)
    route = post(
        "Patients", fast_body if route_body is None else route_body, params=VIA_ROUTE, **kw
    )
    return fast, route


def without_own(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k not in ("id", "externalId")}


def test_created_updated_and_unchanged_are_the_routes_answers(
    location, post, get, db, served
) -> None:
    fast, route = both(post, patient("F1"), patient("R1"))
    assert fast.status_code == route.status_code == 200, fast.text
    assert headers(fast) == headers(route) and fast.headers["x-portal-change"] == "created"
    assert without_own(fast.json()) == without_own(route.json())
    assert get("Patients", "F1").json() == fast.json()  # as read back
    # Stored alike: the core row, the record kept, the audit entry.
    with db.transaction() as s:
        rows = {
            p.external_id: p
            for p in s.scalars(select(Patient).where(Patient.external_id.in_(["F1", "R1"])))
        }
        records = {
            r.external_id: r
            for r in s.scalars(
                select(PortalRecord).where(PortalRecord.external_id.in_(["F1", "R1"]))
            )
        }
        audit = {
            e.target_id: e
            for e in s.scalars(
                select(AuditEntry).where(
                    AuditEntry.target_id.in_([str(rows["F1"].id), str(rows["R1"].id)])
                )
            )
        }
        columns = [
            c.key
            for c in Patient.__table__.columns
            if c.key not in ("id", "external_id", "created_at", "updated_at")
        ]
        assert {c: getattr(rows["F1"], c) for c in columns} == {
            c: getattr(rows["R1"], c) for c in columns
        }
        kept = {k: v for k, v in records["F1"].body.items() if k != "ExternalId"}
        assert kept == {k: v for k, v in records["R1"].body.items() if k != "ExternalId"}
        first, second = audit[str(rows["F1"].id)], audit[str(rows["R1"].id)]
        fields = ("practice_id", "actor_client_id", "action", "target_type", "via", "details")
        assert {f: getattr(first, f) for f in fields} == {f: getattr(second, f) for f in fields}
    # The same record again: unchanged; then changed: updated (each compared the same way).
    for change in ({}, {"lastName": "Berg-Olsen", "allowEmailEyeWear": True}):
        fast, route = both(post, patient("F1", **change), patient("R1", **change))
        assert fast.status_code == route.status_code == 200
        assert headers(fast) == headers(route)
        assert without_own(fast.json()) == without_own(route.json())
    assert fast.headers["x-portal-change"] == "updated"
    assert served == [True, False, True, False, True, False]


def test_an_xml_answer_is_the_routes(location, post, served) -> None:
    fast, route = both(post, patient("F1"), patient("R1"), headers={"Accept": "application/xml"})
    assert served == [True, False]
    assert fast.status_code == 200 and fast.headers["content-type"] == "application/xml"
    assert headers(fast) == headers(route)
    own = re.compile(rb"<(Id|ExternalId)( [^>]*)?>[^<]*</")
    assert own.sub(b"", fast.content) == own.sub(b"", route.content)
    assert len(own.findall(fast.content)) == 2


@pytest.mark.parametrize(
    "body",
    [
        {"externalId": "F1", "firstName": "Ola"},  # lastName missing
        patient("F1", locationExternalId="NOPE"),
        patient("F1", birthday="2999-01-01T00:00:00+00:00"),
        patient("F1", lastName="x" * 51),
        {"firstName": "Ola", "lastName": "Berg"},  # no externalId
        [patient("F1")],
    ],
)
def test_a_refused_body_is_the_routes_refusal(location, post, served, body) -> None:
    fast, route = both(post, body)
    assert served == [True, False]
    assert fast.status_code == 400, fast.text
    same_answer(fast, route)


def test_refusals_are_rendered_as_the_route_renders_them(
    location, post, sync, issue_token, served
) -> None:
    several = issue_token([sync.practice_id, sync.other_practice_id], "portal:sync")
    cases = [
        ({"token": "nope"}, patient("F1"), 401),
        ({"headers": {"Authorization": ""}}, patient("F1"), 401),
        ({"token": issue_token(sync.practice_id, "orders:read")}, patient("F1"), 403),
        ({"token": several}, patient("F1"), 403),
        # The route decodes the body before it checks the practice: a refused body first.
        ({"token": several}, {"externalId": "F1"}, 400),
    ]
    for kwargs, body, status in cases:
        served.clear()
        fast, route = both(post, body, **kwargs)
        assert served == [True, False], kwargs
        assert fast.status_code == status, (kwargs, fast.text)
        same_answer(fast, route)


@pytest.mark.parametrize(
    "kw",
    [
        {
            "content": b'{"externalId": "F1", "lastName": ',
            "headers": {"Content-Type": "application/json"},
        },
        {"content": b"<Patient/>", "headers": {"Content-Type": "application/xml"}},
        {"content": b'{"externalId": "F1", "lastName": "Berg"}'},  # no media type
    ],
)
def test_invalid_json_and_other_media_types(location, post, served, kw) -> None:
    fast, route = both(post, None, **kw)
    assert fast.status_code == route.status_code
    if fast.status_code != 200:
        same_answer(fast, route)
    ctype = kw.get("headers", {}).get("Content-Type")
    assert served == ([True, False] if ctype == "application/json" else [False, False])


def test_one_access_line_and_one_observation_a_request(location, post, served, monkeypatch):
    lines: list[tuple[Any, ...]] = []
    observed: list[tuple[Any, ...]] = []
    monkeypatch.setattr(web, "access", lambda *args: lines.append(args))
    observe = web._observe
    monkeypatch.setattr(web, "_observe", lambda *args: (observed.append(args), observe(*args))[1])
    both(post, patient("F1"), patient("R1"))
    post("Patients", {"externalId": "F2"})
    post("Patients", patient("F3"), token="nope")
    assert served == [True, False, True, True]
    assert [(line[0], line[2], line[3]) for line in lines] == [
        ("POST", "/api/Patients", 200),
        ("POST", "/api/Patients", 200),
        ("POST", "/api/Patients", 400),
        ("POST", "/api/Patients", 401),
    ]
    assert [(o[0], o[1], o[2]) for o in observed] == [(line[0], line[2], line[3]) for line in lines]


def test_the_fast_path_keeps_nothing_of_a_refused_record(location, post, db, served) -> None:
    post("Patients", patient("F1", locationExternalId="NOPE"))
    with db.reading() as reader:
        assert (
            reader.scalar(select(PortalRecord.id).where(PortalRecord.external_id == "F1")) is None
        )
        assert reader.scalar(select(Patient.id).where(Patient.external_id == "F1")) is None
    assert served == [True]


def test_a_record_kept_raises_the_order_version_when_a_reading_may_show_it(
    location, post, db, sync
) -> None:
    """Order readings show portal records (their external ids): a record that names a row
    an order may show makes the copies of readings read before it stale (the version
    rises). A new patient's record does not (no order names a patient made by the very
    request that syncs it), nor does the same record again."""

    def version() -> int:
        with db.transaction() as s:
            return (
                s.scalar(
                    select(OrderVersion.version).where(OrderVersion.practice_id == sync.practice_id)
                )
                or 0
            )

    before = version()
    assert post("Patients", patient("V1")).headers["x-portal-change"] == "created"
    assert version() == before
    assert post("Patients", patient("V1", lastName="Bergh")).headers["x-portal-change"] == (
        "updated"
    )
    changed = version()
    assert changed > before
    assert post("Patients", patient("V1", lastName="Bergh")).headers["x-portal-change"] == (
        "unchanged"
    )
    assert version() == changed
    # A patient the practice made itself, first synced now: its orders show the record.
    with db.transaction() as s:
        factories.patient(s, sync.practice_id, external_id="V2", last_name="Held")
    assert post("Patients", patient("V2")).headers["x-portal-change"] == "updated"
    assert version() > changed


def test_a_records_links_are_looked_up_with_it_not_one_by_one(
    location, post, db, monkeypatch
) -> None:
    from optihub.db import prepared
    from optihub.db.models import Location

    sent: list[str] = []
    original = prepared.send

    def send(driver: Any, sql: str, values: Any, many: bool) -> Any:
        sent.append(" ".join(sql.split()))
        return original(driver, sql, values, many)

    monkeypatch.setattr(prepared, "send", send)
    answer = post("Patients", patient("LINKED"))
    assert answer.status_code == 200, answer.text
    lookups = [sql for sql in sent if sql.startswith("SELECT portal_records.record_id")]
    assert lookups == []
    with db.reading() as reader:
        home = reader.scalar(
            select(Patient.home_location_id).where(Patient.external_id == "LINKED")
        )
        assert reader.scalar(select(Location.external_id).where(Location.id == home)) == "L1"
    # A link to a record the practice does not have is refused as before.
    refused = post("Patients", patient("UNLINKED", locationExternalId="NOPE"))
    assert refused.status_code == 400, refused.text
    assert "NOPE" in refused.text
